// Exports survive their surroundings: S3 storage with presigned downloads, an orchestrator
// restart and a NATS restart in the middle of a job, and a job created while NATS is down.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createLogger, loadConfig, type Orchestrator, startOrchestrator } from "@labelport/orchestrator";
import { type Export, ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, describe, expect, inject, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { freePort } from "../scripts/stack/processes.ts";
import { type RunningS3, type RunningServer, startNats, startS3 } from "../scripts/stack/servers.ts";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

async function finalState(stack: Pick<JobStack, "exports">, exportId: string): Promise<Export | undefined> {
  let last: Export | undefined;
  for await (const { export: e } of stack.exports.watchExport({ exportId })) last = e;
  return last;
}

describe("S3 storage", () => {
  let s3: RunningS3;
  it("writes an export to an S3-compatible server and downloads it through a presigned URL", async () => {
    s3 = await startS3({ dir: join(DATA_DIR, "test-runs", `s3-${randomUUID().slice(0, 8)}`), dataDir: DATA_DIR });
    cleanups.push(() => s3.stop());
    const client = new S3Client({
      endpoint: s3.url,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await client.send(new CreateBucketCommand({ Bucket: "exports" }));
    client.destroy();
    const stack = await startJobStack({
      S3_BUCKET: "exports",
      S3_ENDPOINT: s3.url,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      DEFAULT_STORAGE: "s3",
    });
    cleanups.push(() => stack.close());
    const nats = await connect(natsConnectOptions(stack.nats.url));
    // The claim carries no credentials: the worker brings its own (a plugin process: AWS_* env).
    const s3Credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const worker = await startWorker({ nats, exporter: EchoExporter, log: quiet, s3Credentials });
    cleanups.push(async () => {
      await worker.stop();
      await nats.close();
    });
    const datasetId = await seedDataset(stack, "s3 set", 12);
    const { export: created } = await stack.exports.createExport({ datasetId, format: "echo" });
    expect(created?.storage).toBe("s3");
    const final = await finalState(stack, created?.id ?? "");
    expect(final?.status).toBe(ExportStatus.COMPLETED);

    const one = await stack.exports.getExportDownload({ exportId: final?.id ?? "", artifactKey: "summary.json" });
    expect(new URL(one.downloadUrl).origin).toBe(s3.url);
    const res = await fetch(one.downloadUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="s3 set-.*\.json"$/);
    expect(await res.json()).toEqual({ items: 12, dataset: "s3 set" });

    const all = await stack.exports.getExportDownload({ exportId: final?.id ?? "" });
    const zip = await fetch(all.downloadUrl);
    expect(zip.status).toBe(200);
    expect(zip.headers.get("content-type")).toBe("application/zip");
    const body = Buffer.from(await zip.arrayBuffer());
    expect(Number(zip.headers.get("content-length"))).toBe(body.length);

    await stack.exports.deleteExport({ exportId: final?.id ?? "" });
    expect((await fetch(one.downloadUrl)).status).toBe(404);
  });
});

describe("restarts", () => {
  let nats: RunningServer;
  let orchestrator: Orchestrator | undefined;
  let workerNats: NatsConnection;
  let worker: Worker;
  const natsDir = join(DATA_DIR, "test-runs", `restart-${randomUUID().slice(0, 8)}`);

  async function start(port: number, natsUrl: string, db: string): Promise<Orchestrator> {
    const config = loadConfig({
      MONGODB_URL: inject("mongoUrl"),
      NATS_URL: natsUrl,
      MONGODB_DB: db,
      PORT: String(port),
      SIGNING_SECRET: "restart-test-secret-0123456789",
      LOG_LEVEL: "silent",
      STORAGE_LOCAL_ROOT: join(natsDir, "storage"),
    });
    return startOrchestrator(config, createLogger("silent"));
  }

  it("finishes a job across an orchestrator restart and a NATS restart", async () => {
    nats = await startNats({ dir: natsDir, dataDir: DATA_DIR });
    const natsPort = nats.port;
    const port = await freePort();
    const db = `t_restart_${randomUUID().slice(0, 8)}`;
    orchestrator = await start(port, nats.url, db);
    cleanups.push(async () => {
      await orchestrator?.database.db.dropDatabase();
      await orchestrator?.close();
      await nats.stop();
    });
    workerNats = await connect({ ...natsConnectOptions(nats.url), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    worker = await startWorker({ nats: workerNats, exporter: EchoExporter, log: quiet });
    cleanups.push(async () => {
      await worker.stop();
      await workerNats.close();
    });
    const stack = await clientsFor(orchestrator.url);
    const datasetId = await seedDataset(stack as unknown as JobStack, "restarts", 60);
    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "echo",
      options: { delayMs: 60 },
    });
    const id = created?.id ?? "";
    await waitUntil(
      async () => ((await stack.exports.getExport({ exportId: id })).export?.progress?.processedItems ?? 0n) > 3n,
    );

    // The orchestrator goes away while the plugin works, and comes back on the same address.
    await orchestrator.close();
    await new Promise((r) => setTimeout(r, 500));
    orchestrator = await start(port, nats.url, db);

    // Then NATS restarts on its data directory (JetStream file store) and port.
    await nats.stop();
    await new Promise((r) => setTimeout(r, 300));
    nats = await startNats({ dir: natsDir, dataDir: DATA_DIR, port: natsPort });

    const final = await waitForFinal(stack, id);
    expect(final?.status).toBe(ExportStatus.COMPLETED);
    expect(final?.counts?.itemCount).toBe(60n);

    // An export created while NATS is down is stored, and runs once NATS is back.
    await nats.stop();
    const { export: queued } = await stack.exports.createExport({ datasetId, format: "echo" });
    expect(queued?.status).toBe(ExportStatus.QUEUED);
    nats = await startNats({ dir: natsDir, dataDir: DATA_DIR, port: natsPort });
    const later = await waitForFinal(stack, queued?.id ?? "");
    expect(later?.status).toBe(ExportStatus.COMPLETED);
  });
});

async function clientsFor(url: string) {
  const { createClient } = await import("@connectrpc/connect");
  const { createConnectTransport } = await import("@connectrpc/connect-node");
  const { DatasetService, ExportService, ItemService } = await import("@labelport/sdk/contracts");
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
  return {
    datasets: createClient(DatasetService, transport),
    items: createClient(ItemService, transport),
    exports: createClient(ExportService, transport),
  };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForFinal(
  stack: Awaited<ReturnType<typeof clientsFor>>,
  exportId: string,
): Promise<Export | undefined> {
  let final: Export | undefined;
  await waitUntil(async () => {
    final = (await stack.exports.getExport({ exportId })).export;
    return final !== undefined && final.status >= ExportStatus.COMPLETED;
  }, 60_000);
  return final;
}
