// `node --import tsx bench/versions.ts [--annotations N] [--keep]` (or `npm run bench -- --only
// versions`): dataset versions on a synthetic image dataset of N annotations (default 1M, 10 per
// item), written straight into MongoDB (the import is measured elsewhere). Measures CreateVersion
// (the freeze and the first count of the version, in one RPC), StreamItems of the version against
// the live dataset (binary, as the plugins read; the ratio), and the history storage after 10
// versions with 1% of the annotations changed between each. Prints a table; not part of `npm test`.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { ItemService, StreamItemsRequestSchema, VersionService } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { DATA_DIR, startStack } from "../scripts/stack/index.ts";

export interface VersionsFigures {
  annotations: number;
  createSeconds: number;
  streamLiveSeconds: number;
  streamVersionSeconds: number;
  /** Version stream seconds / live stream seconds, on the unchanged dataset and after 10 rounds of changes. */
  ratioUnchanged: number;
  ratioChanged: number;
  historyDocs: number;
  historyBytes: number;
  datasetBytes: number;
  /** 10 × 1% × N: one record per changed annotation per round. */
  historyBound: number;
}

const PER_ITEM = 10;
const CHUNK = 10_000;

async function seed(db: Db, datasetId: string, annotations: number): Promise<void> {
  const now = new Date("2026-01-01T00:00:00Z");
  const items = Math.ceil(annotations / PER_ITEM);
  for (let start = 0; start < items; start += CHUNK) {
    const itemDocs = [];
    const annotationDocs = [];
    for (let i = start; i < Math.min(items, start + CHUNK); i++) {
      const id = `img-${String(i).padStart(8, "0")}`;
      itemDocs.push({
        _id: `${datasetId}/${id}`,
        datasetId,
        kind: "image",
        status: "approved",
        tags: [],
        media: { fileName: `${id}.jpg`, width: 1280, height: 720 },
        createdAt: now,
        updatedAt: now,
        version: 1,
      });
      for (let j = 0; j < PER_ITEM && i * PER_ITEM + j < annotations; j++) {
        annotationDocs.push({
          _id: `${datasetId}/${id}-${j}`,
          datasetId,
          itemId: id,
          type: "bbox",
          categoryId: (j % 3) + 1,
          geometry: { bbox: { x: 10.5 + j, y: 20.25, width: 100, height: 50 } },
          removed: false,
          createdAt: now,
          updatedAt: now,
        });
      }
    }
    await db.collection("items").insertMany(itemDocs as never[], { ordered: false });
    await db.collection("annotations").insertMany(annotationDocs as never[], { ordered: false });
  }
}

async function streamSeconds(url: string, datasetId: string, versionId: string): Promise<number> {
  const body = toBinary(StreamItemsRequestSchema, create(StreamItemsRequestSchema, { datasetId, versionId }));
  const envelope = Buffer.alloc(5 + body.length);
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, 5);
  const t0 = performance.now();
  const res = await fetch(`${url}/labelport.v1.ItemService/StreamItems`, {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: envelope,
  });
  if (!res.body) throw new Error(`StreamItems: HTTP ${res.status}`);
  for await (const _ of res.body) {
    // Drained as a client reads it.
  }
  return (performance.now() - t0) / 1000;
}

async function bytesOf(db: Db, collection: string, datasetId: string): Promise<number> {
  const [row] = await db
    .collection(collection)
    .aggregate<{ bytes: number }>([
      { $match: { datasetId } },
      { $group: { _id: null, bytes: { $sum: { $bsonSize: "$$ROOT" } } } },
    ])
    .toArray();
  return row?.bytes ?? 0;
}

/** The versions case against a running orchestrator (`url`) and its database. */
export async function measureVersions(url: string, db: Db, annotations: number): Promise<VersionsFigures> {
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true });
  const versions = createClient(VersionService, transport);
  const items = createClient(ItemService, transport);
  const datasetId = crypto.randomUUID();
  await db.collection("datasets").insertOne({
    _id: datasetId as never,
    name: `bench-versions-${datasetId.slice(0, 8)}`,
    description: "",
    categories: [
      { id: 1, name: "car" },
      { id: 2, name: "person" },
      { id: 3, name: "bike" },
    ],
    nextCategoryId: 4,
    createdAt: new Date(),
  });
  await seed(db, datasetId, annotations);

  const t0 = performance.now();
  await versions.createVersion({ datasetId, name: "v1" });
  const createSeconds = (performance.now() - t0) / 1000;
  const streamLiveSeconds = await streamSeconds(url, datasetId, "");
  const streamVersionSeconds = await streamSeconds(url, datasetId, "v1");

  const changed = Math.max(1, Math.floor(annotations / 100));
  const itemCount = Math.ceil(annotations / PER_ITEM);
  for (let round = 1; round <= 10; round++) {
    for (let start = 0; start < changed; start += CHUNK) {
      const n = Math.min(CHUNK, changed - start);
      await items.upsertAnnotations({
        datasetId,
        annotations: Array.from({ length: n }, (_, k) => {
          // Spread over the dataset, a different 1% each round.
          const a = ((start + k) * 97 + round * changed) % annotations;
          const item = Math.floor(a / PER_ITEM) % itemCount;
          return {
            id: `img-${String(item).padStart(8, "0")}-${a % PER_ITEM}`,
            itemId: `img-${String(item).padStart(8, "0")}`,
            categoryId: 1,
            geometry: { case: "bbox" as const, value: { x: round, y: round, width: 10, height: 10 } },
          };
        }),
      });
    }
    if (round < 10) await versions.createVersion({ datasetId, name: `v${round + 1}` });
  }
  const liveAfter = await streamSeconds(url, datasetId, "");
  const versionAfter = await streamSeconds(url, datasetId, "v1");
  const historyDocs =
    (await db.collection("items_history").countDocuments({ datasetId })) +
    (await db.collection("annotations_history").countDocuments({ datasetId }));
  return {
    annotations,
    createSeconds,
    streamLiveSeconds,
    streamVersionSeconds,
    ratioUnchanged: streamVersionSeconds / streamLiveSeconds,
    ratioChanged: versionAfter / liveAfter,
    historyDocs,
    historyBytes:
      (await bytesOf(db, "items_history", datasetId)) + (await bytesOf(db, "annotations_history", datasetId)),
    datasetBytes: (await bytesOf(db, "items", datasetId)) + (await bytesOf(db, "annotations", datasetId)),
    historyBound: 10 * changed,
  };
}

export function formatVersions(f: VersionsFigures): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
  return [
    `versions (${f.annotations.toLocaleString("en")} annotations, ${PER_ITEM} per item):`,
    `  CreateVersion (freeze + first count)   ${f.createSeconds.toFixed(2)} s`,
    `  StreamItems live / version             ${f.streamLiveSeconds.toFixed(2)} s / ${f.streamVersionSeconds.toFixed(2)} s (x${f.ratioUnchanged.toFixed(2)})`,
    `  same after 10 rounds of 1% changes     x${f.ratioChanged.toFixed(2)}`,
    `  history after 10 versions, 1% each     ${f.historyDocs.toLocaleString("en")} docs (bound ${f.historyBound.toLocaleString("en")}), ${mb(f.historyBytes)} for a ${mb(f.datasetBytes)} dataset`,
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { annotations: { type: "string", default: "1000000" } } });
  const annotations = Number(values.annotations);
  if (!Number.isSafeInteger(annotations) || annotations < 100) throw new Error("--annotations: an integer >= 100");
  const stateDir = join(DATA_DIR, "bench", `versions-${Date.now()}`);
  const stack = await startStack({ stateDir });
  const config = loadConfig({
    MONGODB_URL: stack.mongoUrl,
    NATS_URL: stack.natsUrl,
    MONGODB_DB: `bench_versions_${Date.now()}`,
    PORT: "0",
    LOG_LEVEL: "warn",
  });
  const orchestrator = await startOrchestrator(config, createLogger("warn"));
  try {
    const figures = await measureVersions(orchestrator.url, orchestrator.database.db, annotations);
    process.stdout.write(`${formatVersions(figures)}\n${JSON.stringify(figures)}\n`);
  } finally {
    await orchestrator.database.db.dropDatabase();
    await orchestrator.close();
    await stack.stop();
  }
}
