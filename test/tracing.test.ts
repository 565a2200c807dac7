// OpenTelemetry traces across orchestrator -> NATS -> worker -> storage: with an in-memory exporter
// as this process's provider, one export's spans (orchestrator and an in-process worker) form one
// trace, carry the export's id, and chain CreateExport -> job publish -> the worker's run -> its
// StreamItems call and storage commit, and the completed event applied by the orchestrator. And an
// orchestrator process with OTEL_EXPORTER_OTLP_ENDPOINT sends its spans to that OTLP/HTTP endpoint.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, registerTracing, startWorker, type Tracing, type Worker } from "@labelport/sdk/runtime";
import { SpanKind } from "@opentelemetry/api";
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { startOrchestratorProcess } from "./support/process.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-tracing-"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const spans = new InMemorySpanExporter();

let tracing: Tracing;
let stack: JobStack;
let nats: NatsConnection;
let worker: Worker;
let datasetId: string;

beforeAll(async () => {
  // Registered first: the orchestrator's own startTracing finds no OTEL_* exporter and leaves it.
  tracing = await registerTracing("labelport-test", [new SimpleSpanProcessor(spans)]);
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedDataset(stack, "traced scenes", 12);
  worker = await startWorker({ nats, exporter: EchoExporter, log: quiet });
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.length === 1);
});

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  await tracing?.shutdown();
  rmSync(storageRoot, { recursive: true, force: true });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

const EXPORT_ID = "labelport.export_id";

describe("traces of an export", () => {
  it("chain orchestrator, NATS, worker and storage in one trace carrying the export id", async () => {
    const { export: created } = await stack.exports.createExport({ datasetId, format: "echo", name: "traced" });
    const exportId = created?.id ?? "";
    let final = created;
    for await (const { export: e } of stack.exports.watchExport({ exportId })) final = e;
    expect(final?.status).toBe(ExportStatus.COMPLETED);

    const finished = () => spans.getFinishedSpans();
    const one = (description: string, matches: (span: ReadableSpan) => boolean): ReadableSpan => {
      const found = finished().filter(matches);
      expect(found, description).toHaveLength(1);
      return found[0] as ReadableSpan;
    };
    const isCompletedEvent = (s: ReadableSpan) =>
      s.name === "apply job event" &&
      s.attributes[EXPORT_ID] === exportId &&
      s.attributes["labelport.event"] === "completed";
    // The worker's span ends after it has published the completed event: wait for both.
    await waitFor(
      () =>
        finished().some(isCompletedEvent) &&
        finished().some((s) => s.name === "run export job" && s.attributes[EXPORT_ID] === exportId),
    );

    const create = one("CreateExport", (s) => s.name === "labelport.v1.ExportService/CreateExport");
    const publish = one("job publish", (s) => s.name === "publish export job" && s.attributes[EXPORT_ID] === exportId);
    const run = one("the worker's run", (s) => s.name === "run export job" && s.attributes[EXPORT_ID] === exportId);
    const traceId = create.spanContext().traceId;
    const inTrace = (s: ReadableSpan) => s.spanContext().traceId === traceId;
    const streamItems = one("StreamItems", (s) => s.name === "labelport.v1.ItemService/StreamItems" && inTrace(s));
    const commit = one("storage commit", (s) => s.name === "export storage commit" && inTrace(s));
    const applied = one("the completed event applied", isCompletedEvent);

    const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
    expect(create.kind).toBe(SpanKind.SERVER);
    expect(create.attributes).toMatchObject({ [EXPORT_ID]: exportId, "labelport.format": "echo" });
    expect(publish).toMatchObject({ kind: SpanKind.PRODUCER, attributes: { "labelport.format": "echo" } });
    expect(parentOf(publish)).toBe(create.spanContext().spanId);
    expect(run).toMatchObject({
      kind: SpanKind.CONSUMER,
      attributes: { "labelport.format": "echo", "labelport.attempt": 1 },
    });
    expect(parentOf(run)).toBe(publish.spanContext().spanId);
    expect(streamItems.kind).toBe(SpanKind.SERVER);
    expect(parentOf(streamItems)).toBe(run.spanContext().spanId);
    expect(parentOf(commit)).toBe(run.spanContext().spanId);
    expect(commit.attributes["labelport.storage.key"]).toBe(`${final?.path}/manifest.json`);
    expect(applied.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(applied)).toBe(run.spanContext().spanId);
    for (const span of [publish, run, streamItems, commit, applied]) expect(span.spanContext().traceId).toBe(traceId);
  });
});

describe("an orchestrator process with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  it("sends its spans over OTLP/HTTP, continuing the caller's traceparent", async () => {
    const received: Buffer[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        if (req.method === "POST" && req.url === "/v1/traces") received.push(Buffer.concat(chunks));
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const proc = await startOrchestratorProcess({
      MONGODB_URL: inject("mongoUrl"),
      MONGODB_DB: `t_${randomUUID().replaceAll("-", "").slice(0, 12)}`,
      NATS_URL: stack.nats.url,
      PORT: "0",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
      OTEL_BSP_SCHEDULE_DELAY: "100",
    });
    try {
      const traceId = randomBytes(16);
      const res = await fetch(`${proc.url}/labelport.v1.DatasetService/ListDatasets`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          traceparent: `00-${traceId.toString("hex")}-${"ab".repeat(8)}-01`,
        },
        body: "{}",
      });
      expect(res.status).toBe(200);
      // OTLP/HTTP with JSON bodies (ids in hex).
      const exported = () => received.flatMap((body) => otlpSpans(JSON.parse(body.toString("utf8"))));
      await waitFor(() => exported().some((span) => span.name === "labelport.v1.DatasetService/ListDatasets"));
      const span = exported().find((s) => s.name === "labelport.v1.DatasetService/ListDatasets");
      expect(span).toMatchObject({
        traceId: traceId.toString("hex"),
        parentSpanId: "ab".repeat(8),
        serviceName: "labelport-orchestrator",
      });
    } finally {
      proc.child.kill("SIGTERM");
      await proc.exited;
      collector.close();
    }
  });
});

interface OtlpJson {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: { stringValue?: string } }> };
    scopeSpans?: Array<{ spans?: Array<{ name: string; traceId: string; parentSpanId?: string }> }>;
  }>;
}

/** The spans of an OTLP/JSON export request, each with its resource's service.name. */
function otlpSpans(body: OtlpJson) {
  return (body.resourceSpans ?? []).flatMap((rs) => {
    const serviceName = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue;
    return (rs.scopeSpans ?? []).flatMap((ss) => (ss.spans ?? []).map((span) => ({ ...span, serviceName })));
  });
}
