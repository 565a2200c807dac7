// Import throughput: a ~100 MB video annotation JSONL file through POST /api/import (upload, parse,
// validate, conflict checks, bulk writes), atomic (undo journal: too large for one transaction
// on the default 1 GB cache), non-atomic, and preview.
// Run: npx tsx bench/import.ts   (uses MONGODB_URL/NATS_URL when set, else starts local servers)
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { DATA_DIR, startStack } from "../scripts/stack/index.ts";
import { storedId } from "../services/orchestrator/src/data/ids.ts";

const TARGET_BYTES = 100 * 1024 * 1024 - 64 * 1024;
const VIDEOS = 1000;

function line(i: number): string {
  const first = (i % 40) * 30;
  const boxes = [];
  for (let k = 0; k < 3; k++) {
    boxes.push({
      frameNumber: first + k * 10,
      x: 100 + k,
      y: 100,
      width: 200,
      height: 150,
      isKeyframe: true,
      visible: true,
    });
  }
  return JSON.stringify({
    id: `bench-${String(i).padStart(8, "0")}`,
    videoId: `video-${i % VIDEOS}`,
    personaId: "persona-1",
    annotationType: i % 2 ? "type" : "object",
    ...(i % 2
      ? { typeAssignment: { typeId: `entity-${i}`, typeName: "Pitcher" } }
      : { objectLink: { objectId: `object-${i}`, objectType: "entity" } }),
    boundingBoxSequence: { interpolationMode: "linear", boxes },
    createdAt: "2025-10-06T14:30:00.000Z",
    updatedAt: "2025-10-06T14:30:00.000Z",
  });
}

async function main(): Promise<void> {
  const stateDir = join(DATA_DIR, "bench-runs", String(process.pid));
  const stack = await startStack({ stateDir });
  const config = loadConfig({
    MONGODB_URL: stack.mongoUrl,
    NATS_URL: stack.natsUrl,
    MONGODB_DB: `bench_import_${process.pid}`,
    PORT: "0",
    LOG_LEVEL: "warn",
    BUILTIN_PLUGINS: "false",
  });
  const orchestrator = await startOrchestrator(config, createLogger(config.LOG_LEVEL));
  const db = orchestrator.database.db;
  try {
    const parts: string[] = [];
    let bytes = 0;
    let lines = 0;
    while (bytes < TARGET_BYTES) {
      const text = `${line(lines++)}\n`;
      bytes += text.length;
      parts.push(text);
    }
    const file = Buffer.from(parts.join(""));
    console.log(`file: ${(file.length / 1024 / 1024).toFixed(1)} MB, ${lines} lines`);

    const run = async (label: string, path: string, options: object) => {
      // A fresh collection per run: a deleteMany of the previous run's 180k documents would
      // leave the storage engine busy and skew the next measurement.
      await db
        .collection("annotations")
        .drop()
        .catch(() => undefined);
      await db.collection("annotations").createIndex({ datasetId: 1, itemId: 1, _id: 1 });
      await db
        .collection("annotations")
        .createIndex({ datasetId: 1, trackKey: 1 }, { partialFilterExpression: { trackKey: { $exists: true } } });
      await db.collection("imports").deleteMany({});
      await db.command({ fsync: 1 }).catch(() => db.admin().command({ fsync: 1 }));
      const form = new FormData();
      form.append("file", new Blob([file]), "bench.jsonl");
      form.append("options", JSON.stringify(options));
      const started = performance.now();
      const res = await fetch(`${orchestrator.url}${path}?datasetId=bench`, { method: "POST", body: form });
      const body = (await res.json()) as { success?: boolean; summary?: unknown; counts?: unknown };
      const seconds = (performance.now() - started) / 1000;
      const mode = (await db.collection("imports").findOne({}))?.mode ?? "-";
      console.log(
        `${label.padEnd(26)} ${seconds.toFixed(2)} s  ${Math.round(lines / seconds).toLocaleString("en")} lines/s  ` +
          `${(file.length / 1024 / 1024 / seconds).toFixed(1)} MB/s  status ${res.status} mode ${mode} ` +
          JSON.stringify(body.summary ?? body.counts),
      );
    };

    const dataset = await fetch(`${orchestrator.url}/labelport.v1.DatasetService/CreateDataset`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "bench" }),
    }).then((r) => r.json() as Promise<{ dataset: { id: string } }>);
    const now = new Date();
    await db.collection("items").insertMany(
      Array.from({ length: VIDEOS }, (_, i) => ({
        _id: storedId(dataset.dataset.id, `video-${i}`) as never,
        datasetId: dataset.dataset.id,
        kind: "video",
        status: "approved",
        tags: [],
        createdAt: now,
        updatedAt: now,
        version: 1,
      })),
    );
    await db.collection("personas").insertOne({ _id: "persona-1" as never, name: "Analyst", placeholder: false });

    await run("preview", "/api/import/preview", {});
    await run("import, non-atomic", "/api/import", { transaction: { atomic: false } });
    await run("import, atomic (default)", "/api/import", {});
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
