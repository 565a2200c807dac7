// NATS subjects, streams and consumers shared by the orchestrator and plugin workers.
import { AckPolicy, DiscardPolicy, type JetStreamManager, RetentionPolicy, StorageType } from "nats";

export const Subjects = {
  /** JetStream, work queue: one message per export job (Nats-Msg-Id = export id). */
  job: (format: string) => `labelport.jobs.${format}`,
  /**
   * JetStream, work queue (the jobs stream): ExportShardTask, one per shard of a split export, for
   * any worker of the format (Nats-Msg-Id = `<export id>.<attempt>.<index>`).
   */
  shards: (format: string) => `labelport.jobs.${format}.shards`,
  /** Core: ShardNews from the workers of a split export's shards to the worker coordinating it. */
  shardNews: (exportId: string) => `labelport.shard-news.${exportId}`,
  /** Core: the shards of a split export's attempt (the body, in decimal) stop: its coordinator gave up. */
  shardStop: (exportId: string) => `labelport.shard-stop.${exportId}`,
  /** JetStream: JobEvent from the plugin working on an export. */
  events: (exportId: string) => `labelport.events.${exportId}`,
  eventsAll: "labelport.events.>",
  /** Core request/reply: ClaimJobRequest -> ClaimJobResponse. */
  claims: "labelport.claims",
  /**
   * Core: a running job's worker stops when anything is published here. A `SupersededNotice` body
   * stops only attempts older than the one it names (a redelivery was claimed), without canceling.
   */
  cancel: (exportId: string) => `labelport.cancel.${exportId}`,
  /** Core request/reply: PluginInfo, sent at start and as a heartbeat. */
  register: "labelport.plugins.register",
  /** Core: the orchestrator asks every plugin to announce itself now. */
  discover: "labelport.plugins.discover",
  /** JetStream: the Export when it reaches a final state, for other systems. */
  completed: "labelport.exports.completed",
  failed: "labelport.exports.failed",
  /** Core request/reply: CreateExportRequest (JSON or protobuf) with a request id. */
  trigger: "labelport.triggers.export",
  /** Core request/reply in a queue group: ImportJob -> ImportJobReply from one importer worker. */
  importJob: (format: string) => `labelport.imports.${format}`,
  /** Core: ImportJobEvent from the worker converting an upload. */
  importEvents: (importId: string) => `labelport.import-events.${importId}`,
  /** Core: the worker converting an upload stops when anything is published here. */
  importCancel: (importId: string) => `labelport.import-cancel.${importId}`,
} as const;

export const Streams = {
  jobs: "LABELPORT_JOBS",
  events: "LABELPORT_EVENTS",
  exports: "LABELPORT_EXPORTS",
} as const;

/** Deliveries of one job before it is marked failed. */
export const MAX_DELIVER = 5;
/** Without an in-progress ack for this long, a job is redelivered to another worker. */
export const ACK_WAIT_MS = 30_000;

/** The body of a cancel message that supersedes every attempt before `attempt`. */
export function supersededNotice(attempt: number): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ supersededBy: attempt }));
}

/** The attempt a cancel message's body names as the newest, or undefined for a plain cancel. */
export function supersedingAttemptOf(data: Uint8Array): number | undefined {
  if (data.length === 0) return undefined;
  try {
    const { supersededBy } = JSON.parse(new TextDecoder().decode(data)) as { supersededBy?: unknown };
    return Number.isSafeInteger(supersededBy) ? (supersededBy as number) : undefined;
  } catch {
    return undefined;
  }
}

/** NATS header on every JobEvent: the job token of the claim, binding the event to its export. */
export const JOB_TOKEN_HEADER = "Labelport-Job-Token";

export const consumerName = (format: string) => `exporter-${format}`;
/** The durable pull consumer of a format's shards, shared like its jobs' consumer. */
export const shardConsumerName = (format: string) => `shards-${format}`;
/** The queue group of every importer worker of one format: each job goes to one of them. */
export const importerQueue = (format: string) => `importer-${format}`;

const ns = (ms: number) => ms * 1_000_000;

/**
 * Creates the streams, and (unless `createOnly`) brings existing ones to this configuration;
 * idempotent. Plugin workers only create: their NATS user may not reconfigure a stream, and the
 * orchestrator then raises `replicas` (each stream's copies on a cluster) to its configuration.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  { createOnly = false, replicas = 1 }: { createOnly?: boolean; replicas?: number } = {},
): Promise<void> {
  const streams = [
    {
      name: Streams.jobs,
      subjects: ["labelport.jobs.>"],
      retention: RetentionPolicy.Workqueue,
      // A second publish of the same job within this window is dropped (Nats-Msg-Id).
      duplicate_window: ns(10 * 60_000),
    },
    {
      name: Streams.events,
      subjects: [Subjects.eventsAll],
      retention: RetentionPolicy.Limits,
      max_age: ns(24 * 3_600_000),
    },
    {
      name: Streams.exports,
      subjects: ["labelport.exports.>"],
      retention: RetentionPolicy.Limits,
      max_age: ns(7 * 24 * 3_600_000),
    },
  ];
  for (const config of streams) {
    const full = { storage: StorageType.File, discard: DiscardPolicy.Old, num_replicas: replicas, ...config };
    try {
      await jsm.streams.info(config.name);
      if (!createOnly) await jsm.streams.update(config.name, full);
    } catch (err) {
      if (!/stream not found/i.test((err as Error).message)) throw err;
      await jsm.streams.add(full);
    }
  }
}

/** The durable pull consumers (jobs and shards) shared by every worker of a format. */
export async function ensureJobConsumer(
  jsm: JetStreamManager,
  format: string,
  limits: { ackWaitMs?: number | undefined; maxDeliver?: number | undefined } = {},
): Promise<void> {
  await ensureConsumer(jsm, consumerName(format), Subjects.job(format), limits);
  await ensureConsumer(jsm, shardConsumerName(format), Subjects.shards(format), limits);
}

async function ensureConsumer(
  jsm: JetStreamManager,
  name: string,
  subject: string,
  limits: { ackWaitMs?: number | undefined; maxDeliver?: number | undefined },
): Promise<void> {
  const config = {
    durable_name: name,
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: ns(limits.ackWaitMs ?? ACK_WAIT_MS),
    max_deliver: limits.maxDeliver ?? MAX_DELIVER,
    max_ack_pending: 1000,
  };
  try {
    await jsm.consumers.add(Streams.jobs, config);
  } catch (err) {
    // It exists with other limits (an older worker): bring it to this worker's configuration.
    if (!/consumer.*exists/i.test((err as Error).message)) throw err;
    await jsm.consumers.update(Streams.jobs, config.durable_name, {
      ack_wait: config.ack_wait,
      max_deliver: config.max_deliver,
      max_ack_pending: config.max_ack_pending,
    });
  }
}
