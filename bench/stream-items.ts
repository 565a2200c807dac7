// StreamItems throughput, the export hot path: 100k items with 10 annotations each, read in one
// ordered pass (keyset batches + merge join + Mongo->proto conversion), measured three ways: the
// batch reader alone (no network), Connect over HTTP/1.1 (binary), and gRPC over HTTP/2.
// Run: npx tsx bench/stream-items.ts   (uses MONGODB_URL/NATS_URL when set, else local servers)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { ItemService } from "@labelport/sdk/contracts";
import { DATA_DIR, startStack } from "../scripts/stack/index.ts";
import { ProtoWriter, writeAnnotation, writeItemFields } from "../services/orchestrator/src/data/encode.ts";
import { storedId } from "../services/orchestrator/src/data/ids.ts";
import { RESPONSE_BYTES, streamItemBson } from "../services/orchestrator/src/data/stream.ts";

const ITEMS = Number(process.env.ITEMS ?? 100_000);
const PER_ITEM = 10;
const BATCH_SIZES = (process.env.BATCH_SIZES ?? "500,2000").split(",").map(Number);

async function main(): Promise<void> {
  const stateDir = join(DATA_DIR, "bench-runs", String(process.pid));
  const stack = await startStack({ stateDir });
  const config = loadConfig({
    MONGODB_URL: stack.mongoUrl,
    NATS_URL: stack.natsUrl,
    MONGODB_DB: `bench_stream_${process.pid}`,
    PORT: "0",
    LOG_LEVEL: "warn",
    BUILTIN_PLUGINS: "false",
  });
  const orchestrator = await startOrchestrator(config, createLogger(config.LOG_LEVEL));
  const db = orchestrator.database.db;
  try {
    const datasetId = "bench-dataset";
    await db.collection("datasets").insertOne({
      _id: datasetId as never,
      name: "bench",
      description: "",
      categories: [{ id: 1, name: "car" }],
      nextCategoryId: 2,
      createdAt: new Date(),
    });
    const loadStarted = performance.now();
    const now = new Date();
    for (let start = 0; start < ITEMS; start += 2000) {
      const items = [];
      const annotations = [];
      for (let i = start; i < Math.min(ITEMS, start + 2000); i++) {
        const id = `item-${String(i).padStart(8, "0")}`;
        items.push({
          _id: storedId(datasetId, id),
          datasetId,
          kind: "image",
          status: "approved",
          split: "train",
          media: { uri: `s3://bucket/${id}.jpg`, fileName: `${id}.jpg`, width: 1920, height: 1080 },
          meta: { category: "1. 자연", group: "g" },
          tags: ["a", "b"],
          createdAt: now,
          updatedAt: now,
          version: 1,
        });
        for (let k = 0; k < PER_ITEM; k++) {
          annotations.push({
            _id: storedId(datasetId, `${id}-${k}`),
            datasetId,
            itemId: id,
            type: "bbox",
            categoryId: 1,
            geometry: { bbox: { x: k * 10, y: k * 5, width: 50.5, height: 20.25 } },
            attributes: { occluded: false },
            removed: false,
            createdAt: now,
            updatedAt: now,
          });
        }
      }
      await db.collection("items").insertMany(items as never[], { ordered: false });
      await db.collection("annotations").insertMany(annotations as never[], { ordered: false });
    }
    console.log(
      `loaded ${ITEMS.toLocaleString("en")} items, ${(ITEMS * PER_ITEM).toLocaleString("en")} annotations in ` +
        `${((performance.now() - loadStarted) / 1000).toFixed(1)} s`,
    );

    let cpuAtStart = process.cpuUsage();
    const report = (label: string, started: number, items: number, annotations: number) => {
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuAtStart);
      console.log(
        `${label.padEnd(34)} ${seconds.toFixed(2)} s  ${Math.round(items / seconds).toLocaleString("en")} items/s  ` +
          `(${Math.round(annotations / seconds).toLocaleString("en")} annotations/s), this process ` +
          `${((cpu.user + cpu.system) / 1e6).toFixed(2)} CPU s`,
      );
    };

    for (const batchSize of BATCH_SIZES) {
      let writer = new ProtoWriter();
      cpuAtStart = process.cpuUsage();
      let started = performance.now();
      let items = 0;
      let annotations = 0;
      for await (const { item, annotations: anns } of streamItemBson(db, {
        datasetId,
        filter: undefined,
        snapshot: new Date(),
        batchSize,
        limit: 0,
      })) {
        const lengthAt = writer.begin(1);
        writeItemFields(writer, item.buf, item.at);
        for (const annotation of anns) writeAnnotation(writer, annotation.buf, annotation.at);
        writer.end(lengthAt);
        if (writer.length > RESPONSE_BYTES) writer = new ProtoWriter();
        items++;
        annotations += anns.length;
      }
      report(`reader + encoding, batch ${batchSize}`, started, items, annotations);
      if (process.env.READER_ONLY) continue;

      for (const [label, transport] of [
        ["Connect HTTP/1.1 binary", createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" })],
        [
          "Connect HTTP/1.1, no gzip",
          createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1", acceptCompression: [] }),
        ],
        ["gRPC HTTP/2", createGrpcTransport({ baseUrl: orchestrator.url })],
        ["gRPC HTTP/2, no gzip", createGrpcTransport({ baseUrl: orchestrator.url, acceptCompression: [] })],
      ] as const) {
        const client = createClient(ItemService, transport);
        cpuAtStart = process.cpuUsage();
        started = performance.now();
        items = 0;
        annotations = 0;
        for await (const res of client.streamItems({ datasetId, batchSize })) {
          items += res.items.length;
          for (const item of res.items) annotations += item.annotations.length;
        }
        report(`StreamItems ${label}, batch ${batchSize}`, started, items, annotations);
      }
    }
  } finally {
    await db.dropDatabase().catch(() => undefined);
    await orchestrator.close();
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
