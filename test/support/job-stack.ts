// An orchestrator with its own NATS server, so job streams and consumers of one test file
// never meet another's; plus helpers to make a small dataset through the public API.
import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { create } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AnnotationType,
  DatasetService,
  ExportService,
  type Item,
  ItemKind,
  ItemSchema,
  ItemService,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { DATA_DIR } from "../../scripts/stack/index.ts";
import { type RunningNats, startNats } from "../../scripts/stack/servers.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./orchestrator.ts";

export interface JobStack {
  /** This stack's own nats-server; `nats.url` carries the orchestrator's credentials. */
  nats: RunningNats;
  orchestrator: TestOrchestrator;
  datasets: Client<typeof DatasetService>;
  items: Client<typeof ItemService>;
  exports: Client<typeof ExportService>;
  close(): Promise<void>;
}

export async function startJobStack(env: Record<string, string> = {}, apiKey?: string): Promise<JobStack> {
  const nats = await startNats({
    dir: join(DATA_DIR, "test-runs", `nats-${randomUUID().slice(0, 8)}`),
    dataDir: DATA_DIR,
  });
  const orchestrator = await startTestOrchestrator({ NATS_URL: nats.url, ...env });
  const transport = createConnectTransport({
    baseUrl: orchestrator.url,
    httpVersion: "1.1",
    interceptors: apiKey
      ? [
          (next) => (req) => {
            req.header.set("x-api-key", apiKey);
            return next(req);
          },
        ]
      : [],
  });
  return {
    nats,
    orchestrator,
    datasets: createClient(DatasetService, transport),
    items: createClient(ItemService, transport),
    exports: createClient(ExportService, transport),
    async close() {
      await orchestrator.close();
      await nats.stop();
    },
  };
}

/**
 * `count` approved images with two boxes each, ids `<idPrefix>-00000`.. (item ids are unique
 * across datasets); returns the dataset id.
 */
export async function seedDataset(stack: JobStack, name: string, count: number, idPrefix = "item"): Promise<string> {
  const { dataset } = await stack.datasets.createDataset({
    name,
    categories: [{ name: "car" }, { name: "person" }],
  });
  const datasetId = dataset?.id ?? "";
  const batch: Item[] = [];
  const flush = async () => {
    await stack.items.upsertItems({ datasetId, items: batch.splice(0) });
  };
  for (let i = 0; i < count; i++) {
    const id = `${idPrefix}-${String(i).padStart(5, "0")}`;
    batch.push(
      create(ItemSchema, {
        id,
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split: i % 5 === 0 ? "val" : "train",
        media: { uri: `media/${id}.jpg`, fileName: `${id}.jpg`, width: 640, height: 480 },
        annotations: [1, 2].map((n) => ({
          id: `${id}-a${n}`,
          type: AnnotationType.BBOX,
          categoryId: n,
          geometry: { case: "bbox" as const, value: { x: 10 * n, y: 20, width: 30, height: 40 } },
        })),
      }),
    );
    if (batch.length === 500) await flush();
  }
  if (batch.length > 0) await flush();
  return datasetId;
}

/** Relative path -> sha256 of every file under `root`/`prefix` (empty when nothing is stored there). */
export function filesUnder(root: string, prefix: string): Map<string, string> {
  const dir = join(root, prefix);
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.set(relative(dir, path), createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  };
  try {
    walk(dir);
  } catch {
    // no prefix: nothing stored
  }
  return out;
}
