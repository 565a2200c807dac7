// The plugin runtime: registers an exporter, takes its jobs from JetStream (one durable pull
// consumer per format, shared by every worker of that format), runs them, reports events.
import { randomUUID } from "node:crypto";
import {
  create,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { timestampDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { headers, type JsMsg, type MsgHdrs, type NatsConnection } from "nats";
import { z } from "zod";
import { isPermanentError } from "../errors.ts";
import { parseOptions } from "../export-options.ts";
import { type BaseExporter, type ExporterClass, type ExportLogger, supportsShards } from "../exporter.ts";
import { CategorySchema } from "../gen/labelport/v1/dataset_pb.ts";
import { type Export, ExportLogLineSchema, PluginInfoSchema } from "../gen/labelport/v1/export_pb.ts";
import type { ItemRange } from "../gen/labelport/v1/item_service_pb.ts";
import {
  ClaimJobRequestSchema,
  ClaimJobResponseSchema,
  type ExportJob,
  ExportJobSchema,
  ExportShardTaskSchema,
  JobEventSchema,
} from "../gen/labelport/v1/plugin_pb.ts";
import { validateManifest } from "../manifest.ts";
import { type RunExportInput, runExport, runExportShard, writeShardFailure } from "../run-export.ts";
import { createStorage, ownExportPrefix, type StorageDriver, storageConfigSchema } from "../storage/index.ts";
import { loadMediaSources, type MediaSources } from "../storage/media-sources.ts";
import { createItemSource } from "./item-stream.ts";
import { publishRetrying } from "./publish-retry.ts";
import { exportInShards, SHARD_ANNOTATIONS, type ShardNews, shardTag } from "./split-export.ts";
import {
  ACK_WAIT_MS,
  consumerName,
  ensureJobConsumer,
  ensureStreams,
  JOB_TOKEN_HEADER,
  MAX_DELIVER,
  Streams,
  Subjects,
  shardConsumerName,
  supersedingAttemptOf,
} from "./subjects.ts";
import { annotateActiveSpan, injectTraceContext, inMessageSpan, TraceAttributes } from "./tracing.ts";

export interface WorkerOptions {
  nats: NatsConnection;
  exporter: ExporterClass;
  workerId?: string;
  /** Redelivery timeout of the shared consumer (tests shorten it). */
  ackWaitMs?: number;
  /** Deliveries of one job before it fails for good (default MAX_DELIVER). */
  maxDeliver?: number;
  /**
   * Jobs of each format this worker runs at once (default 1). Each free slot pulls one job from the
   * shared consumer only when it is free, so a busy or slow worker never holds jobs another could run.
   */
  jobsInFlight?: number;
  /** First retry delay after a retryable failure; doubles per delivery (default 1000). */
  retryBaseMs?: number;
  log?: ExportLogger;
  /** How often the plugin re-announces itself. */
  heartbeatMs?: number;
  /**
   * Credentials for S3 storages. The claim never carries them; without these the AWS SDK's
   * default chain applies (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles).
   */
  s3Credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Annotations per shard of an export that does not say how many shards it wants (default
   * SHARD_ANNOTATIONS; LABELPORT_SHARD_ANNOTATIONS for the plugin CLI).
   */
  shardAnnotations?: number;
  /**
   * Where s3://, http(s):// and file:/// media are read from, with their credentials: the worker's
   * own configuration, never the claim's. Default: LABELPORT_MEDIA_SOURCES from this process's environment.
   */
  mediaSources?: MediaSources;
}

export interface Worker {
  readonly workerId: string;
  /** Stops taking jobs; a running job is aborted and left for redelivery. Idempotent. */
  stop(): Promise<void>;
}

export function pluginInfoOf(exporter: ExporterClass) {
  const manifest = validateManifest(exporter.manifest);
  return create(PluginInfoSchema, {
    name: manifest.name,
    version: manifest.version,
    formats: [...manifest.formats],
    optionsSchema: z.toJSONSchema(new exporter().options, { io: "input", unrepresentable: "any" }) as JsonObject,
    sdkRange: manifest.sdk,
    description: manifest.description ?? "",
    lastSeenTime: timestampNow(),
  });
}

/** Above this many files the completed event names none: it must fit a NATS message. */
const MAX_EVENT_ARTIFACTS = 1000;

export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const { nats } = options;
  const info = pluginInfoOf(options.exporter);
  // Read before anything connects: a wrong configuration stops the worker at start, not a job later.
  const mediaSources = options.mediaSources ?? loadMediaSources(process.env);
  const workerId = options.workerId ?? `${info.name}-${randomUUID().slice(0, 8)}`;
  const log = options.log ?? jsonLogger({ plugin: info.name, workerId });
  const jsm = await nats.jetstreamManager();
  const js = nats.jetstream();
  await ensureStreams(jsm, { createOnly: true });
  const maxDeliver = options.maxDeliver ?? MAX_DELIVER;
  for (const format of info.formats) {
    await ensureJobConsumer(jsm, format, { ackWaitMs: options.ackWaitMs, maxDeliver });
  }

  const announce = () => nats.publish(Subjects.register, toBinary(PluginInfoSchema, info));
  announce();
  const heartbeat = setInterval(announce, options.heartbeatMs ?? 30_000);
  const discovery = nats.subscribe(Subjects.discover, { callback: announce });

  const stopping = new AbortController();
  const running = new Set<AbortController>();
  const slots = Math.max(1, Math.floor(options.jobsInFlight ?? 1));
  const pullJobs = async (
    format: string,
    durable: string,
    handle: (message: JsMsg, controller: AbortController) => Promise<void>,
  ) => {
    while (!stopping.signal.aborted) {
      try {
        const consumer = await js.consumers.get(Streams.jobs, durable);
        const messages = await consumer.fetch({ max_messages: 1, expires: 1000 });
        for await (const message of messages) {
          const controller = new AbortController();
          running.add(controller);
          await handle(message, controller).catch((err: unknown) =>
            log.error("job handling failed", { error: String(err) }),
          );
          running.delete(controller);
        }
      } catch (err) {
        // NATS restarting or unreachable: keep the worker alive and ask again shortly.
        if (stopping.signal.aborted) break;
        log.warn("waiting for NATS", { format, error: (err as Error).message });
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
  };
  // Shards of split exports have loops of their own: a worker coordinating an export waits for its
  // shards, and must not keep every slot from running them.
  const splittable = supportsShards(new options.exporter());
  const loops = info.formats.flatMap((format) =>
    Array.from({ length: slots }, () => [
      pullJobs(format, consumerName(format), runJob),
      ...(splittable ? [pullJobs(format, shardConsumerName(format), runShard)] : []),
    ]).flat(),
  );

  async function runJob(message: JsMsg, controller: AbortController): Promise<void> {
    const exportId = exportIdOf(message.data);
    if (!exportId) {
      // Anyone may have published it; redelivering cannot make it readable.
      log.warn("dropped an unreadable job message", { subject: message.subject, bytes: message.data.length });
      message.term();
      return;
    }
    const attempt = createAttemptFence(controller);
    // Listen for a cancel before claiming: a cancel right after the claim must not be missed.
    const cancel = nats.subscribe(Subjects.cancel(exportId), {
      callback: (_err, msg) => {
        const newer = supersedingAttemptOf(msg.data);
        if (newer === undefined) controller.abort(new Error("export canceled"));
        else attempt.supersededBy(newer);
      },
    });
    // From delivery on: the claim itself may take a while.
    const keepAlive = keepClaim(message, attempt);
    try {
      // The job's span continues the trace of the CreateExport that published it.
      const attributes = { [TraceAttributes.exportId]: exportId, [TraceAttributes.format]: formatOf(message.subject) };
      await inMessageSpan("run export job", message.headers, attributes, () =>
        claimAndRun(message, controller, exportId, attempt),
      );
    } finally {
      clearInterval(keepAlive);
      cancel.unsubscribe();
    }
  }

  async function claimAndRun(
    message: JsMsg,
    controller: AbortController,
    exportId: string,
    attempt: AttemptFence,
  ): Promise<void> {
    const delivery = message.info.redeliveryCount;
    const claimed = await nats
      .request(
        Subjects.claims,
        toBinary(
          ClaimJobRequestSchema,
          create(ClaimJobRequestSchema, {
            exportId,
            delivery,
            workerId,
            pluginName: info.name,
            pluginVersion: info.version,
          }),
        ),
        { timeout: 5000 },
      )
      .then((reply) => fromBinary(ClaimJobResponseSchema, reply.data))
      .catch(() => undefined);
    if (!claimed) {
      // No orchestrator answered: try again later without spending a delivery on it.
      message.nak(5000);
      return;
    }
    if (!claimed.proceed || !claimed.job?.export) {
      log.info("job dropped", { exportId, reason: claimed.reason });
      message.term();
      return;
    }
    attempt.claimed(claimed.attempt);
    const job = claimed.job;
    const exported = claimed.job.export;
    annotateActiveSpan({ [TraceAttributes.attempt]: claimed.attempt, [TraceAttributes.delivery]: delivery });
    let sequence = 0n;
    // The orchestrator applies an event only when this token was issued for its export.
    const eventHeaders = headers();
    eventHeaders.set(JOB_TOKEN_HEADER, job.token);
    injectTraceContext(eventHeaders);
    const encode = (event: MessageInitShape<typeof JobEventSchema>["event"]) => {
      sequence += 1n;
      const data = toBinary(
        JobEventSchema,
        create(JobEventSchema, {
          exportId,
          sequence,
          attempt: claimed.attempt,
          time: timestampNow(),
          workerId,
          event,
        } as MessageInitShape<typeof JobEventSchema>),
      );
      return { data, msgID: `${exportId}.${claimed.attempt}.${sequence}` };
    };
    const publish = (event: MessageInitShape<typeof JobEventSchema>["event"]) =>
      js.publish(Subjects.events(exportId), encode(event).data, { headers: eventHeaders });
    /** The events a job cannot do without (started, completed): they wait out a leader election. */
    const publishSurely = (event: MessageInitShape<typeof JobEventSchema>["event"]) => {
      const { data, msgID } = encode(event);
      return publishRetrying(
        js,
        Subjects.events(exportId),
        data,
        // A copy: the client writes the message id into the headers it is given.
        { headers: copyHeaders(eventHeaders), msgID },
        { withinMs: ((options.ackWaitMs ?? ACK_WAIT_MS) * 2) / 3, signal: attempt.signal },
      );
    };
    const jobLog = forwardingLogger(log, { exportId }, (level, text, fields) => {
      if (level === "debug") return;
      void publish({
        case: "log",
        value: create(ExportLogLineSchema, {
          time: timestampNow(),
          level,
          message: text,
          source: "plugin",
          ...(fields ? { fields: fields as JsonObject } : {}),
        }),
      }).catch(() => undefined);
    });
    const onStop = () => controller.abort(new Error("worker stopping"));
    stopping.signal.addEventListener("abort", onStop);
    let pending = { items: 0, annotations: 0 };
    const flushProgress = () => {
      if (pending.items === 0 && pending.annotations === 0) return;
      const delta = pending;
      pending = { items: 0, annotations: 0 };
      processed.items += delta.items;
      processed.annotations += delta.annotations;
      void publish({
        case: "progress",
        value: {
          processedItems: BigInt(processed.items),
          processedAnnotations: BigInt(processed.annotations),
          totalItems: BigInt(totalItems),
        },
      }).catch(() => undefined);
    };
    const processed = { items: 0, annotations: 0 };
    const progressTimer = setInterval(flushProgress, 500);
    const totalItems = Number(exported.progress?.totalItems ?? 0n);
    const storage = createStorage(withCredentials(JSON.parse(job.storageConfigJson || "{}"), options.s3Credentials));
    try {
      const exporter = new options.exporter();
      const parsedOptions = parseOptions(exporter.options, exported.options ?? {});
      await publishSurely({
        case: "started",
        value: { pluginName: info.name, pluginVersion: info.version, totalItems: BigInt(totalItems) },
      });
      jobLog.info("export started", { format: exported.format, delivery });
      const run: RunExportInput<unknown> = {
        ...runInputOf(job, exported, exporter, { controller, fence: attempt.signal, storage, log: jobLog }),
        options: parsedOptions,
        totalItems,
        onProgress: (delta) => {
          pending.items += delta.items;
          pending.annotations += delta.annotations;
        },
      };
      if (exported.shards > 1 && !supportsShards(exporter)) {
        jobLog.info(`${info.name} cannot be split (it is not a SplittableExporter): exporting in one pass`);
      }
      const split =
        supportsShards(exporter) && exported.shards !== 1
          ? await exportInShards(run, {
              nats,
              js,
              job,
              attempt: claimed.attempt,
              requested: exported.shards,
              shardAnnotations: options.shardAnnotations ?? SHARD_ANNOTATIONS,
              publishWithinMs: ((options.ackWaitMs ?? ACK_WAIT_MS) * 2) / 3,
              log: jobLog,
              // Totals over the shards: what is not yet reported is the next progress event's.
              onProgress: (done) => {
                pending.items = Math.max(0, done.items - processed.items);
                pending.annotations = Math.max(0, done.annotations - processed.annotations);
              },
            })
          : null;
      const result = split ?? (await runExport(run));
      if (attempt.signal.aborted) throw attempt.signal.reason;
      flushProgress();
      const fileCount = Number(result.counts.fileCount);
      jobLog.info("export completed", { files: fileCount });
      await publishSurely({
        case: "completed",
        value: {
          // Above the limit none are listed: the orchestrator lists those exports' files from storage.
          artifacts: fileCount <= MAX_EVENT_ARTIFACTS ? result.artifacts.slice(0, MAX_EVENT_ARTIFACTS) : [],
          manifestKey: result.manifestKey,
          counts: result.counts,
          formatNotes: result.formatNotes,
          totalSize: result.totalSize,
        },
      });
      message.ack();
    } catch (err) {
      if (attempt.signal.aborted) {
        // The job belongs to a newer attempt now: its message, events and files are not ours.
        log.warn("attempt superseded: stopped without reporting", {
          exportId,
          attempt: claimed.attempt,
          reason: errorMessage(attempt.signal.reason),
        });
      } else if (stopping.signal.aborted) {
        message.nak();
      } else if (controller.signal.aborted) {
        await publish({ case: "canceled", value: {} }).catch(() => undefined);
        message.term();
      } else {
        const permanent = isPermanentError(err) || delivery >= maxDeliver;
        const text = errorMessage(err);
        jobLog.error("export failed", { error: text, retryable: !permanent, delivery });
        await publish({ case: "failed", value: { errorMessage: text, retryable: !permanent } }).catch(() => undefined);
        if (permanent) message.term();
        else message.nak(Math.min(30_000, (options.retryBaseMs ?? 1000) * 2 ** (delivery - 1)));
      }
    } finally {
      clearInterval(progressTimer);
      stopping.signal.removeEventListener("abort", onStop);
      await storage.dispose();
    }
  }

  /**
   * What a job and a shard of it run with: the claim's export, dataset and storage, the items from
   * StreamItems (one range of them for a shard), fenced by the attempt.
   */
  function runInputOf(
    job: ExportJob,
    exported: Export,
    exporter: BaseExporter<unknown>,
    run: {
      controller: AbortController;
      fence: AbortSignal;
      storage: StorageDriver;
      log: ExportLogger;
      range?: ItemRange;
    },
  ) {
    const categories = (JSON.parse(job.categoriesJson || "[]") as JsonValue[]).map((c) =>
      fromJson(CategorySchema, c, { ignoreUnknownFields: true }),
    );
    return {
      exporter,
      manifest: { name: info.name, version: info.version },
      export: exported,
      dataset: { id: exported.datasetId, name: exported.datasetName, categories },
      items: createItemSource({
        baseUrl: job.orchestratorUrl,
        token: job.token,
        datasetId: exported.datasetId,
        filter: exported.filter,
        snapshotTime: job.snapshotTime,
        versionId: exported.versionId,
        ...(run.range ? { afterId: run.range.afterId, lastId: run.range.lastId } : {}),
        signal: run.controller.signal,
      }),
      storage: fencedStorage(run.storage, run.fence),
      mediaSources,
      // Each attempt starts by deleting its prefix: only ever one that belongs to this export alone.
      prefix: ownExportPrefix(exported.id, exported.path),
      exportedAt: job.snapshotTime ? timestampDate(job.snapshotTime) : new Date(0),
      signal: run.controller.signal,
      log: run.log,
    };
  }

  /**
   * Runs one shard of a split export for whichever worker coordinates it: the same fencing, acks
   * and cancel as a job; progress goes to the coordinator as ShardNews, logs to the job's log.
   */
  async function runShard(message: JsMsg, controller: AbortController): Promise<void> {
    const task = shardTaskOf(message.data);
    if (!task) {
      log.warn("dropped an unreadable shard message", { subject: message.subject, bytes: message.data.length });
      message.term();
      return;
    }
    const { job, range } = task;
    const exported = task.export;
    const exportId = exported.id;
    const delivery = message.info.redeliveryCount;
    const label = `shard ${task.index + 1} of ${task.count}`;
    const attempt = createAttemptFence(controller);
    attempt.claimed(task.attempt);
    const cancel = nats.subscribe(Subjects.cancel(exportId), {
      callback: (_err, msg) => {
        const newer = supersedingAttemptOf(msg.data);
        if (newer === undefined) controller.abort(new Error("export canceled"));
        else attempt.supersededBy(newer);
      },
    });
    const stop = nats.subscribe(Subjects.shardStop(exportId), {
      callback: (_err, msg) => {
        if (new TextDecoder().decode(msg.data) !== String(task.attempt)) return;
        controller.abort(new Error("the export's coordinator stopped its shards"));
      },
    });
    const keepAlive = keepClaim(message, attempt);
    const onStop = () => controller.abort(new Error("worker stopping"));
    stopping.signal.addEventListener("abort", onStop);
    const eventHeaders = headers();
    eventHeaders.set(JOB_TOKEN_HEADER, job.token);
    const shardLog = forwardingLogger(log, { exportId, shard: task.index }, (level, text, fields) => {
      if (level === "debug") return;
      const line = create(ExportLogLineSchema, {
        time: timestampNow(),
        level,
        message: `${label}: ${text}`,
        source: "plugin",
        ...(fields ? { fields: fields as JsonObject } : {}),
      });
      const event = create(JobEventSchema, {
        exportId,
        attempt: task.attempt,
        time: timestampNow(),
        workerId,
        event: { case: "log", value: line },
      });
      void js
        .publish(Subjects.events(exportId), toBinary(JobEventSchema, event), { headers: eventHeaders })
        .catch(() => undefined);
    });
    const done = { items: 0, annotations: 0 };
    const tell = (state: ShardNews["state"]) =>
      nats.publish(
        Subjects.shardNews(exportId),
        JSON.stringify({ attempt: task.attempt, index: task.index, ...done, state } satisfies ShardNews),
      );
    const progressTimer = setInterval(() => tell("running"), 500);
    const storage = createStorage(withCredentials(JSON.parse(job.storageConfigJson || "{}"), options.s3Credentials));
    const prefix = ownExportPrefix(exported.id, exported.path);
    const tag = shardTag(task.attempt, range);
    try {
      const attributes = {
        [TraceAttributes.exportId]: exportId,
        [TraceAttributes.format]: exported.format,
        [TraceAttributes.attempt]: task.attempt,
        [TraceAttributes.delivery]: delivery,
        "labelport.shard": task.index,
      };
      await inMessageSpan("run export shard", message.headers, attributes, async () => {
        const exporter = new options.exporter();
        shardLog.info("started", { workerId, delivery, items: Number(range.items) });
        const result = await runExportShard({
          ...runInputOf(job, exported, exporter, { controller, fence: attempt.signal, storage, log: shardLog, range }),
          options: parseOptions(exporter.options, exported.options ?? {}),
          totalItems: Number(range.items),
          onProgress: (delta) => {
            done.items += delta.items;
            done.annotations += delta.annotations;
          },
          shard: { index: task.index, count: task.count, tag },
        });
        if (attempt.signal.aborted) throw attempt.signal.reason;
        shardLog.info("done", { items: result.items, annotations: result.annotations });
      });
      tell("done");
      message.ack();
    } catch (err) {
      if (attempt.signal.aborted) {
        log.warn("shard of a superseded attempt stopped", { exportId, shard: task.index, attempt: task.attempt });
        message.term();
      } else if (stopping.signal.aborted) {
        message.nak();
      } else if (controller.signal.aborted) {
        message.term();
      } else {
        const permanent = isPermanentError(err) || delivery >= maxDeliver;
        const text = errorMessage(err);
        shardLog.error("failed", { error: text, retryable: !permanent, delivery });
        if (permanent) {
          // The coordinator fails the export with this message; a retry of the whole export starts over.
          await writeShardFailure(storage, prefix, task.index, { tag, message: text }).catch(() => undefined);
          tell("failed");
          message.term();
        } else {
          message.nak(Math.min(30_000, (options.retryBaseMs ?? 1000) * 2 ** (delivery - 1)));
        }
      }
    } finally {
      clearInterval(keepAlive);
      clearInterval(progressTimer);
      cancel.unsubscribe();
      stop.unsubscribe();
      stopping.signal.removeEventListener("abort", onStop);
      await storage.dispose();
    }
  }

  /**
   * In-progress acks well inside ack_wait, each confirmed by a server round trip. An attempt whose
   * acks went unconfirmed for two thirds of ack_wait may have been redelivered to another worker
   * meanwhile (a partition, a paused NATS node): it fences itself before that can happen.
   */
  function keepClaim(message: JsMsg, attempt: AttemptFence) {
    const ackWaitMs = options.ackWaitMs ?? ACK_WAIT_MS;
    // JetStream redelivers a job ack_wait after its delivery or the last in-progress ack it received.
    let confirmedAt = Date.now();
    return setInterval(
      () => {
        // A fenced attempt's acks would keep the newer delivery of the same message alive.
        if (attempt.signal.aborted) return;
        if (Date.now() - confirmedAt > (ackWaitMs * 2) / 3) {
          attempt.lost(new Error(`no in-progress ack reached NATS for ${Date.now() - confirmedAt} ms`));
          return;
        }
        const sentAt = Date.now();
        message.working();
        nats.flush().then(
          () => {
            confirmedAt = Math.max(confirmedAt, sentAt);
          },
          () => undefined,
        );
      },
      Math.min(5000, ackWaitMs / 4),
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    workerId,
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        for (const controller of running) controller.abort(new Error("worker stopping"));
        clearInterval(heartbeat);
        discovery.unsubscribe();
        await Promise.allSettled(loops);
      })();
      return stopped;
    },
  };
}

/** The format of a job message's subject (`labelport.jobs.<format>`). */
function formatOf(subject: string): string {
  return subject.slice(subject.lastIndexOf(".") + 1);
}

function copyHeaders(from: MsgHdrs): MsgHdrs {
  const copy = headers();
  for (const key of from.keys()) for (const value of from.values(key)) copy.append(key, value);
  return copy;
}

/** A shard message with everything a shard needs, or undefined. */
function shardTaskOf(data: Uint8Array) {
  try {
    const task = fromBinary(ExportShardTaskSchema, data);
    const { job, range } = task;
    return task.export?.id && job && range ? { ...task, export: task.export, job, range } : undefined;
  } catch {
    return undefined;
  }
}

/** The export id of a job message, or undefined when it is not a readable ExportJob. */
function exportIdOf(data: Uint8Array): string | undefined {
  try {
    return fromBinary(ExportJobSchema, data).export?.id || undefined;
  } catch {
    return undefined;
  }
}

/** The claim's storage configuration (never with secrets) plus this worker's own S3 credentials. */
export function withCredentials(config: unknown, s3Credentials: WorkerOptions["s3Credentials"]) {
  const parsed = storageConfigSchema.parse(config);
  return parsed.kind === "s3" && s3Credentials ? { ...parsed, ...s3Credentials } : parsed;
}

function errorMessage(err: unknown): string {
  if (err instanceof ConnectError) return err.rawMessage;
  return err instanceof Error ? err.message : String(err);
}

type Level = "debug" | "info" | "warn" | "error";

/** Structured JSON lines on stdout. */
export function jsonLogger(base: Record<string, unknown>): ExportLogger {
  const write = (level: Level) => (message: string, fields?: Record<string, unknown>) =>
    process.stdout.write(
      `${JSON.stringify({ time: new Date().toISOString(), level, ...base, msg: message, ...fields })}\n`,
    );
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

function forwardingLogger(
  inner: ExportLogger,
  base: Record<string, unknown>,
  forward: (level: Level, message: string, fields?: Record<string, unknown>) => void,
): ExportLogger {
  const at = (level: Level) => (message: string, fields?: Record<string, unknown>) => {
    inner[level](message, { ...base, ...fields });
    forward(level, message, fields);
  };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

interface AttemptFence {
  /** Aborts once this attempt may no longer act for the job. */
  readonly signal: AbortSignal;
  /** The attempt number the claim gave this worker. */
  claimed(attempt: number): void;
  /** A newer attempt was claimed (the orchestrator's notice on the job's cancel subject). */
  supersededBy(attempt: number): void;
  /** This attempt's claim may have lapsed. */
  lost(reason: Error): void;
}

/**
 * Fencing of one attempt. JetStream redelivers a job whose in-progress acks stopped arriving, so two
 * attempts of one export can run at once (a partition, a NATS leader change): the older one stops
 * its exporter and thereafter touches neither the message, the job's events nor its storage.
 */
function createAttemptFence(run: AbortController): AttemptFence {
  const fence = new AbortController();
  let own: number | undefined;
  let newest = 0;
  const stop = (reason: Error) => {
    if (fence.signal.aborted) return;
    fence.abort(reason);
    run.abort(reason);
  };
  const check = () => {
    if (own !== undefined && newest > own) stop(new Error(`superseded by attempt ${newest}`));
  };
  return {
    signal: fence.signal,
    claimed(attempt) {
      own = attempt;
      check();
    },
    supersededBy(attempt) {
      newest = Math.max(newest, attempt);
      check();
    },
    lost: stop,
  };
}

/**
 * The storage as one attempt sees it: once the attempt is fenced, it starts no write or delete (a
 * superseded attempt's cleanup must not remove the newer attempt's files). Reads stay open.
 */
function fencedStorage(driver: StorageDriver, fence: AbortSignal): StorageDriver {
  return {
    ...driver,
    async put(key, body, putOptions) {
      fence.throwIfAborted();
      return driver.put(key, body, putOptions);
    },
    async delete(key) {
      fence.throwIfAborted();
      await driver.delete(key);
    },
    async deletePrefix(prefix) {
      fence.throwIfAborted();
      return driver.deletePrefix(prefix);
    },
  };
}
