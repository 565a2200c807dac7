// Many workers of one format on the shared consumer: a worker runs its configured number of jobs at
// once, and one busy with a slow job never holds back a job another worker is free to run (each
// worker pulls a job only when it has a free slot).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-workers-"));
let stack: JobStack;
let nats: NatsConnection;
let datasetId: string;
const workers: Worker[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** The echo exporter under its own format, so each test has a consumer of its own. */
const echoAs = (format: string) =>
  class extends EchoExporter {
    static override manifest = { ...EchoExporter.manifest, name: `echo-${format}`, formats: [format] };
  };

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedDataset(stack, "many workers", 40);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function exportOf(exportId: string) {
  const { export: e } = await stack.exports.getExport({ exportId });
  if (!e) throw new Error(`export ${exportId} is gone`);
  return e;
}

async function startExport(format: string, delayMs: number): Promise<string> {
  const { export: created } = await stack.exports.createExport({ datasetId, format, options: { delayMs } });
  return created?.id ?? "";
}

async function addWorker(format: string, jobsInFlight: number): Promise<void> {
  workers.push(await startWorker({ nats, exporter: echoAs(format), jobsInFlight, log: quiet }));
  await waitFor(
    async () => (await stack.exports.listFormats({})).plugins.some((p) => p.formats.includes(format)),
    `the ${format} worker to register`,
  );
}

/** Items written so far, when the job is running. */
const movingOn = async (exportId: string) => {
  const e = await exportOf(exportId);
  return e.status === ExportStatus.RUNNING && (e.progress?.processedItems ?? 0n) > 0n;
};

describe("many workers of one format", () => {
  it("runs as many jobs at once as the worker is configured for", async () => {
    await addWorker("echo-pool", 2);
    // 40 items × 1 s: both run for most of a minute, and this worker is the format's only one.
    const jobs = [await startExport("echo-pool", 1000), await startExport("echo-pool", 1000)];
    await waitFor(
      async () => (await Promise.all(jobs.map(movingOn))).every(Boolean),
      "both jobs to run at once on one worker",
    );
    for (const exportId of jobs) await stack.exports.cancelExport({ exportId });
  });

  it("does not let a worker busy with a slow job hold back a job another worker can run", async () => {
    await addWorker("echo-fair", 1);
    // 40 items × 2 s: the first worker's only slot stays taken for over a minute.
    const slow = await startExport("echo-fair", 2000);
    await waitFor(() => movingOn(slow), "the slow job to run");
    await addWorker("echo-fair", 1);
    const fast = await startExport("echo-fair", 0);
    await waitFor(async () => (await exportOf(fast)).status === ExportStatus.COMPLETED, "the fast job to complete");
    // Done by the free worker while the busy one still had the slow job.
    expect((await exportOf(slow)).status).toBe(ExportStatus.RUNNING);
    await stack.exports.cancelExport({ exportId: slow });
  });
});
