// GET /metrics: the admin role guards it; after an export, a canceled job waiting in its queue,
// an import and a few errors, the counters, gauges and histograms moved with the right labels.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const KEYS = { admin: "metrics-admin-key-0123456789", viewer: "metrics-viewer-key-0123456789" };
const storageRoot = mkdtempSync(join(tmpdir(), "labelport-metrics-"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** An exporter whose worker is stopped once its consumer exists: its jobs stay in the queue. */
class IdleEcho extends EchoExporter {
  static override manifest = { ...EchoExporter.manifest, name: "echo-idle", formats: ["echo-idle"] };
}

let stack: JobStack;
let nats: NatsConnection;
let worker: Worker;
let datasetId: string;

beforeAll(async () => {
  stack = await startJobStack(
    { STORAGE_LOCAL_ROOT: storageRoot, API_KEYS: `ops:admin:${KEYS.admin},ann:viewer:${KEYS.viewer}` },
    KEYS.admin,
  );
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedDataset(stack, "metrics scenes", 10);
  worker = await startWorker({ nats, exporter: EchoExporter, log: quiet });
  await (await startWorker({ nats, exporter: IdleEcho, log: quiet })).stop();
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.length === 2);
});

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key = "", value = ""] of (match[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return samples;
}

async function scrape(key = KEYS.admin): Promise<Sample[]> {
  const res = await fetch(`${stack.orchestrator.url}/metrics`, { headers: { "x-api-key": key } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** The value of the one sample named `name` whose labels include `labels`; 0 when there is none. */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} names ${found.length} samples`);
  return found[0]?.value ?? 0;
}

/** How much a sample moved between two scrapes. */
function change(before: Sample[], after: Sample[]) {
  return (name: string, labels: Record<string, string>) =>
    sampleValue(after, name, labels) - sampleValue(before, name, labels);
}

describe("GET /metrics", () => {
  it("needs an admin API key", async () => {
    const url = `${stack.orchestrator.url}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { "x-api-key": KEYS.viewer } })).status).toBe(403);
    expect((await fetch(url, { headers: { authorization: `Bearer ${KEYS.admin}` } })).status).toBe(200);
  });

  it("serves prom-client's process metrics", async () => {
    const samples = await scrape();
    expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
    expect(samples.some((s) => s.name === "nodejs_heap_size_used_bytes")).toBe(true);
  });

  it("counts a completed export by format: jobs, durations, items, annotations and bytes", async () => {
    const before = await scrape();
    const { export: created } = await stack.exports.createExport({ datasetId, format: "echo", name: "metered" });
    let final = created;
    for await (const { export: e } of stack.exports.watchExport({ exportId: created?.id ?? "" })) final = e;
    expect(final?.status).toBe(ExportStatus.COMPLETED);
    // The job is acknowledged after its completed event: poll until the queue is empty again.
    let after = await scrape();
    await waitFor(async () => {
      after = await scrape();
      return (
        sampleValue(after, "labelport_export_queue_depth", { format: "echo" }) === 0 &&
        sampleValue(after, "labelport_export_job_duration_seconds_count", { format: "echo", outcome: "completed" }) >
          sampleValue(before, "labelport_export_job_duration_seconds_count", { format: "echo", outcome: "completed" })
      );
    });
    const delta = change(before, after);
    const echo = { format: "echo" };
    const completed = { format: "echo", outcome: "completed" };
    expect(sampleValue(after, "labelport_export_jobs", { format: "echo", state: "completed" })).toBe(1);
    expect(sampleValue(after, "labelport_export_jobs", { format: "echo", state: "running" })).toBe(0);
    expect(after.some((s) => s.name === "labelport_export_queue_depth" && s.labels.format === "echo")).toBe(true);
    expect(delta("labelport_export_job_duration_seconds_count", completed)).toBe(1);
    expect(delta("labelport_export_job_phase_duration_seconds_count", { ...completed, phase: "queued" })).toBe(1);
    expect(delta("labelport_export_job_phase_duration_seconds_count", { ...completed, phase: "running" })).toBe(1);
    // Every observation falls in the +Inf bucket.
    expect(delta("labelport_export_job_duration_seconds_bucket", { ...completed, le: "+Inf" })).toBe(1);
    expect(delta("labelport_exported_items_total", echo)).toBe(10);
    expect(delta("labelport_exported_annotations_total", echo)).toBe(20);
    expect(delta("labelport_export_bytes_total", echo)).toBe(Number(final?.fileSize));
    expect(Number(final?.fileSize)).toBeGreaterThan(0);
  });

  it("shows a job waiting in its format's queue, then its cancellation", async () => {
    const before = await scrape();
    const { export: queued } = await stack.exports.createExport({ datasetId, format: "echo-idle", name: "waiting" });
    await waitFor(async () => {
      const samples = await scrape();
      return (
        sampleValue(samples, "labelport_export_queue_depth", { format: "echo-idle" }) === 1 &&
        sampleValue(samples, "labelport_export_jobs", { format: "echo-idle", state: "queued" }) === 1
      );
    });
    await stack.exports.cancelExport({ exportId: queued?.id ?? "" });
    const after = await scrape();
    const canceled = { format: "echo-idle", outcome: "canceled" };
    const delta = change(before, after);
    expect(sampleValue(after, "labelport_export_jobs", { format: "echo-idle", state: "canceled" })).toBe(1);
    expect(delta("labelport_export_job_duration_seconds_count", canceled)).toBe(1);
    // Never claimed: the whole job was its queued phase.
    expect(delta("labelport_export_job_phase_duration_seconds_count", { ...canceled, phase: "queued" })).toBe(1);
    expect(delta("labelport_export_job_phase_duration_seconds_count", { ...canceled, phase: "running" })).toBe(0);
    expect(delta("labelport_exported_items_total", { format: "echo-idle" })).toBe(0);
  });

  it("counts imports by format and outcome, and their bytes", async () => {
    const before = await scrape();
    const line = (id: string) =>
      JSON.stringify({
        id,
        kind: "ITEM_KIND_IMAGE",
        status: "ITEM_STATUS_APPROVED",
        annotations: [
          { id: `${id}-a`, type: "ANNOTATION_TYPE_BBOX", categoryId: 1, bbox: { x: 1, y: 2, width: 3, height: 4 } },
        ],
      });
    const file = `${line("imported-1")}\n${line("imported-2")}\n`;
    const form = new FormData();
    form.append("file", new Blob([file]), "items.jsonl");
    const res = await fetch(`${stack.orchestrator.url}/api/import?datasetId=${datasetId}&format=labelport-items`, {
      method: "POST",
      headers: { "x-api-key": KEYS.admin },
      body: form,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toMatchObject({ success: true });
    const after = await scrape();
    const delta = change(before, after);
    expect(delta("labelport_imports_total", { format: "labelport-items", outcome: "completed" })).toBe(1);
    expect(delta("labelport_import_bytes_total", { format: "labelport-items" })).toBe(Buffer.byteLength(file));
  });

  it("counts errors by procedure and Connect code, and by route and HTTP status", async () => {
    const before = await scrape();
    const missing = await stack.exports.getExport({ exportId: "no-such-export" }).catch((err: unknown) => err);
    expect(ConnectError.from(missing).code).toBe(Code.NotFound);
    // A viewer may not create exports: refused on the headers, before the body is read.
    const refused = await fetch(`${stack.orchestrator.url}/labelport.v1.ExportService/CreateExport`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": KEYS.viewer },
      body: JSON.stringify({ datasetId, format: "echo" }),
    });
    expect(refused.status).toBe(403);
    const rest = await fetch(`${stack.orchestrator.url}/metrics`, { headers: { "x-api-key": KEYS.viewer } });
    expect(rest.status).toBe(403);
    const after = await scrape();
    const delta = change(before, after);
    const getExport = { procedure: "labelport.v1.ExportService/GetExport", code: "not_found" };
    expect(delta("labelport_rpc_errors_total", getExport)).toBe(1);
    const createExport = { procedure: "labelport.v1.ExportService/CreateExport", code: "permission_denied" };
    expect(delta("labelport_rpc_errors_total", createExport)).toBe(1);
    expect(delta("labelport_http_errors_total", { method: "GET", route: "/metrics", status: "403" })).toBe(1);
  });
});
