// A dataset version outlives its servers: the same StreamItems bytes after the orchestrator and
// its own MongoDB (a mongod this test starts on a data directory) both restart, with the dataset
// edited in between.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig, type Orchestrator, startOrchestrator } from "@labelport/orchestrator";
import { ItemStatus, StreamItemsRequestSchema, VersionService } from "@labelport/sdk/contracts";
import { afterAll, describe, expect, inject, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { freePort } from "../scripts/stack/processes.ts";
import { type RunningServer, startMongo } from "../scripts/stack/servers.ts";
import { dataClients } from "../services/orchestrator/src/data/testing.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function streamBytes(url: string, datasetId: string, versionId: string): Promise<Buffer> {
  const body = toBinary(
    StreamItemsRequestSchema,
    create(StreamItemsRequestSchema, { datasetId, versionId, batchSize: 7 }),
  );
  const envelope = Buffer.alloc(5 + body.length);
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, 5);
  const res = await fetch(`${url}/labelport.v1.ItemService/StreamItems`, {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: envelope,
  });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe("versions across restarts", () => {
  it("streams the same bytes after an orchestrator restart and a MongoDB restart", async () => {
    const dir = join(DATA_DIR, "test-runs", `versions-${randomUUID().slice(0, 8)}`);
    const mongoPort = await freePort();
    let mongo: RunningServer = await startMongo({ dir, dataDir: DATA_DIR, port: mongoPort });
    const db = `t_versions_${randomUUID().slice(0, 8)}`;
    let orchestrator: Orchestrator | undefined;
    const start = () => {
      const config = loadConfig({
        MONGODB_URL: mongo.url,
        NATS_URL: inject("natsUrl"),
        MONGODB_DB: db,
        PORT: "0",
        LOG_LEVEL: "silent",
      });
      return startOrchestrator(config, createLogger("silent"));
    };
    cleanups.push(async () => {
      await orchestrator?.close();
      await mongo.stop();
    });
    orchestrator = await start();
    let api = dataClients(orchestrator.url);
    const { dataset } = await api.datasets.createDataset({ name: "restarts", categories: [{ name: "car" }] });
    const datasetId = dataset?.id ?? "";
    const items = Array.from({ length: 40 }, (_, i) => ({
      id: `r${String(i).padStart(3, "0")}`,
      status: ItemStatus.APPROVED,
      annotations: [
        {
          id: `r${i}-a`,
          categoryId: 1,
          geometry: { case: "bbox" as const, value: { x: i, y: 1, width: 2, height: 3 } },
        },
      ],
    }));
    await api.items.upsertItems({ datasetId, items });
    const versions = createClient(
      VersionService,
      createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" }),
    );
    const { version } = await versions.createVersion({ datasetId, name: "before-restarts" });
    const bytes = await streamBytes(orchestrator.url, datasetId, "before-restarts");
    await api.items.deleteItems({ datasetId, itemIds: ["r000", "r001"] });
    await api.items.upsertItems({ datasetId, items: [{ ...items[5], tags: ["edited"] } as (typeof items)[number]] });

    await orchestrator.close();
    await mongo.stop();
    mongo = await startMongo({ dir, dataDir: DATA_DIR, port: mongoPort });
    orchestrator = await start();
    api = dataClients(orchestrator.url);
    await api.items.deleteItems({ datasetId, itemIds: ["r002"] });
    expect((await streamBytes(orchestrator.url, datasetId, version?.id ?? "")).equals(bytes)).toBe(true);
    expect((await streamBytes(orchestrator.url, datasetId, "")).equals(bytes)).toBe(false);
  });
});
