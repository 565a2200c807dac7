// Prometheus metrics (prom-client), served on GET /metrics. Two kinds:
// - what happens in this process (jobs ending, imports, errors): counters and histograms in
//   `processMetrics`, observed where it happens; summed across orchestrators by the operator;
// - the state of the shared engines (jobs per state, the queue per format): gauges computed at
//   scrape time from MongoDB (one aggregate) and JetStream (one consumer listing); every
//   orchestrator reports the same values.
import { Code, type Interceptor } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import { consumerName, markFailed, Streams } from "@labelport/sdk/runtime";
import { trace } from "@opentelemetry/api";
import type { Db } from "mongodb";
import type { NatsConnection } from "nats";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Context } from "../context.ts";
import { Collections } from "../data/model.ts";
import { toConnectError } from "../errors.ts";
import type { ExportDoc, JobStatus } from "../exports/repository.ts";
import type { RestRouter } from "../rest/router.ts";

/** This process's counters and histograms, and prom-client's default process metrics. */
export const processMetrics = new Registry();
collectDefaultMetrics({ register: processMetrics });

/** Jobs last from under a second to hours. */
const DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21_600];

const jobDuration = new Histogram({
  name: "labelport_export_job_duration_seconds",
  help: "Export jobs from creation to their final state, by format and outcome (completed, failed, canceled).",
  labelNames: ["format", "outcome"] as const,
  buckets: DURATION_BUCKETS,
  registers: [processMetrics],
});
const jobPhaseDuration = new Histogram({
  name: "labelport_export_job_phase_duration_seconds",
  help: "Export jobs' phases, by format, outcome and phase: queued (creation to first claim), running (first claim to the end).",
  labelNames: ["format", "outcome", "phase"] as const,
  buckets: DURATION_BUCKETS,
  registers: [processMetrics],
});
const exportedItems = new Counter({
  name: "labelport_exported_items_total",
  help: "Items written by completed export jobs, by format (items/s: rate()).",
  labelNames: ["format"] as const,
  registers: [processMetrics],
});
const exportedAnnotations = new Counter({
  name: "labelport_exported_annotations_total",
  help: "Annotations written by completed export jobs, by format.",
  labelNames: ["format"] as const,
  registers: [processMetrics],
});
const exportBytes = new Counter({
  name: "labelport_export_bytes_total",
  help: "Bytes of the artifacts of completed export jobs (manifest.json not counted), by format.",
  labelNames: ["format"] as const,
  registers: [processMetrics],
});
const imports = new Counter({
  name: "labelport_imports_total",
  help: "Imports run by this orchestrator, by format and outcome (completed, completed_with_losses, failed).",
  labelNames: ["format", "outcome"] as const,
  registers: [processMetrics],
});
const importBytes = new Counter({
  name: "labelport_import_bytes_total",
  help: "Bytes of the uploads imported (as sent), by format.",
  labelNames: ["format"] as const,
  registers: [processMetrics],
});
const rpcErrors = new Counter({
  name: "labelport_rpc_errors_total",
  help: "RPCs (Connect, gRPC, gRPC-Web) answered with an error, by procedure and Connect code.",
  labelNames: ["procedure", "code"] as const,
  registers: [processMetrics],
});
const httpErrors = new Counter({
  name: "labelport_http_errors_total",
  help: "REST requests answered with an error, by method, route (its pattern) and HTTP status.",
  labelNames: ["method", "route", "status"] as const,
  registers: [processMetrics],
});

const FINAL: ReadonlySet<JobStatus> = new Set(["completed", "failed", "canceled"]);

/** Observes a job that has just reached a final state (called once per job: transitions are conditional). */
export function observeJobEnded(doc: ExportDoc): void {
  if (!FINAL.has(doc.status)) return;
  const end = (doc.completedAt ?? doc.updatedAt).getTime();
  const labels = { format: doc.format, outcome: doc.status };
  jobDuration.observe(labels, seconds(end - doc.createdAt.getTime()));
  const started = doc.startedAt?.getTime() ?? end;
  jobPhaseDuration.observe({ ...labels, phase: "queued" }, seconds(started - doc.createdAt.getTime()));
  if (doc.startedAt) jobPhaseDuration.observe({ ...labels, phase: "running" }, seconds(end - started));
  if (doc.status !== "completed") return;
  exportedItems.inc({ format: doc.format }, doc.counts.itemCount);
  exportedAnnotations.inc({ format: doc.format }, doc.counts.annotationCount);
  exportBytes.inc({ format: doc.format }, doc.fileSize);
}

/** Observes an import that ended (`outcome` as recorded in its history entry). */
export function observeImport(format: string, outcome: string, bytes: number): void {
  imports.inc({ format, outcome });
  importBytes.inc({ format }, bytes);
}

/** Counts an RPC answered with `err` (the code it is sent with); a client that went away is not counted. */
export function observeRpcError(procedure: string, err: unknown): void {
  const { code } = toConnectError(err);
  if (code === Code.Canceled) return;
  rpcErrors.inc({ procedure, code: codeToString(code) });
  markFailed(trace.getActiveSpan(), err);
}

/** Counts a REST request answered with an error status. */
export function observeHttpError(method: string, route: string, status: number): void {
  httpErrors.inc({ method, route, status: String(status) });
}

/**
 * Counts the errors of every RPC a router serves, unary or streaming, where handlers throw them,
 * and marks the RPC's span failed.
 */
export const rpcErrorMetrics: Interceptor = (next) => async (req) => {
  const procedure = `${req.service.typeName}/${req.method.name}`;
  try {
    const res = await next(req);
    return res.stream ? { ...res, message: observedStream(res.message, procedure) } : res;
  } catch (err) {
    observeRpcError(procedure, err);
    throw err;
  }
};

async function* observedStream<T>(messages: AsyncIterable<T>, procedure: string): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (err) {
    observeRpcError(procedure, err);
    throw err;
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}

/** The gauges read from MongoDB and JetStream when Prometheus scrapes. */
function createStateMetrics(db: Db, nats: NatsConnection): Registry {
  const registry = new Registry();
  new Gauge({
    name: "labelport_export_jobs",
    help: "Export jobs by format and state (queued, running, completed, failed, canceled), as stored in MongoDB.",
    labelNames: ["format", "state"] as const,
    registers: [registry],
    async collect() {
      const rows = await db
        .collection(Collections.exports)
        .aggregate<{ _id: { format: string; state: string }; jobs: number }>([
          { $group: { _id: { format: "$format", state: "$status" }, jobs: { $sum: 1 } } },
        ])
        .toArray();
      this.reset();
      for (const row of rows) this.set(row._id, row.jobs);
    },
  });
  new Gauge({
    name: "labelport_export_queue_depth",
    help: "Export jobs in each format's JetStream queue: waiting for a worker plus delivered and not yet acknowledged.",
    labelNames: ["format"] as const,
    registers: [registry],
    async collect() {
      const jsm = await nats.jetstreamManager();
      const depths = new Map<string, number>();
      for await (const consumer of jsm.consumers.list(Streams.jobs)) {
        const format = formatOfConsumer(consumer.name);
        if (format) depths.set(format, consumer.num_pending + consumer.num_ack_pending);
      }
      this.reset();
      for (const [format, depth] of depths) this.set({ format }, depth);
    },
  });
  return registry;
}

function formatOfConsumer(name: string): string | undefined {
  const prefix = consumerName("");
  return name.startsWith(prefix) ? name.slice(prefix.length) : undefined;
}

/**
 * GET /metrics in the Prometheus text format. Like every route it needs an API key when keys are
 * configured: the admin role, since the metrics describe every dataset's jobs and every route's errors.
 */
export function registerMetricsRoute(rest: RestRouter, options: Pick<Context, "database" | "nats">): void {
  const state = createStateMetrics(options.database.db, options.nats);
  rest.on("GET", "/metrics", "admin", async ({ res }) => {
    const text = (await processMetrics.metrics()) + (await state.metrics());
    res.writeHead(200, {
      "content-type": processMetrics.contentType,
      "content-length": String(Buffer.byteLength(text)),
      "cache-control": "no-store",
    });
    res.end(text);
  });
}
