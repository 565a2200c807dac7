// The orchestrator's side of NATS: publishes jobs, answers claims, applies plugin events,
// records plugin registrations, turns max-deliveries advisories into failures.
// Anything can arrive on these subjects: every message is decoded defensively, and one that
// cannot be read is logged and dropped without stopping its subscription.
import {
  create,
  type DescMessage,
  fromBinary,
  type MessageShape,
  toBinary,
  toJson,
  toJsonString,
} from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { isFormatName } from "@labelport/sdk";
import {
  CategorySchema,
  ClaimJobRequestSchema,
  ClaimJobResponseSchema,
  type Export,
  ExportJobSchema,
  ExportSchema,
  ExportStatus,
  type JobEvent,
  JobEventSchema,
  type PluginInfo,
  PluginInfoSchema,
} from "@labelport/sdk/contracts";
import { ensureStreams, JOB_TOKEN_HEADER, Streams, Subjects, supersededNotice } from "@labelport/sdk/runtime";
import { AckPolicy, DeliverPolicy, type Msg, type NatsConnection, type Subscription } from "nats";
import type { Context } from "../context.ts";
import { categoryMessage } from "../data/convert.ts";
import { findDataset } from "../data/datasets.ts";
import { compileFilter } from "../data/filters.ts";
import { Collections, type ItemDoc } from "../data/model.ts";
import { findVersion } from "../data/versions.ts";
import type { Logger } from "../logger.ts";
import { inJobEventSpan, inJobPublishSpan } from "../telemetry/tracing.ts";
import { wholeExportZipSize } from "./downloads.ts";
import { removeExportFiles } from "./export-files.ts";
import type { LogStore } from "./logs.ts";
import type { PluginRegistry } from "./plugin-registry.ts";
import { type ExportDoc, type ExportRepository, filterOf, toProto } from "./repository.ts";
import type { Storages } from "./storages.ts";

export interface JobBus {
  publishJob(doc: ExportDoc): Promise<void>;
  /** Tells a running worker to stop the job. */
  cancel(exportId: string): void;
  /** Tells every instance's watchers that the job document changed. */
  changed(exportId: string): void;
  /** Resolves on the next change of the job document (or after `timeoutMs`). */
  nextChange(exportId: string, timeoutMs: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

const EVENTS_CONSUMER = "orchestrator";
/** Core: published after a job document changed, so watchers read it after the change. */
const updates = (exportId: string) => `labelport.updates.${exportId}`;
const JOB_TOKEN_TTL_S = 24 * 3600;
/** Queued this long, a job is published again (see republishLost). */
const REPUBLISH_AFTER_MS = 15_000;
/** Within the jobs stream's 10-minute duplicate window. */
const REPUBLISH_UNTIL_MS = 9 * 60_000;
/** Deliveries of one event before it counts as poison and is dropped. */
const MAX_EVENT_DELIVERIES = 10;

export interface JobBusOptions extends Pick<Context, "config" | "log" | "database" | "nats" | "auth" | "publicUrl"> {
  repo: ExportRepository;
  registry: PluginRegistry;
  storages: Storages;
  logs: LogStore;
}

export async function startJobBus(options: JobBusOptions): Promise<JobBus> {
  const { config, log, database, nats, auth, publicUrl, repo, registry, storages, logs } = options;
  const js = nats.jetstream();
  const jsm = await nats.jetstreamManager();
  await ensureStreams(jsm, { replicas: config.NATS_STREAM_REPLICAS });
  const subs: Subscription[] = [];

  subs.push(
    nats.subscribe(Subjects.register, {
      callback: (_err, msg) => {
        const info = decodeOrDrop(PluginInfoSchema, msg, log);
        if (!info) return;
        const problem = registrationProblem(info);
        if (problem) {
          log.warn({ subject: msg.subject, plugin: info.name.slice(0, 100), problem }, "dropped a plugin registration");
          return;
        }
        registry.register(info).catch((err: unknown) => log.error({ err }, "plugin registration"));
      },
    }),
  );

  subs.push(
    nats.subscribe(Subjects.claims, {
      queue: "orchestrator",
      callback: (_err, msg) => {
        const request = decodeOrDrop(ClaimJobRequestSchema, msg, log);
        if (!request) return;
        claim(request.exportId, request.delivery)
          .then((response) => msg.respond(toBinary(ClaimJobResponseSchema, response)))
          .catch((err: unknown) => log.error({ err, exportId: request.exportId }, "claim failed"));
      },
    }),
  );

  /**
   * Items the export will stream, so progress has a total before the first item. Counted with a
   * time limit: the worker waits 5 s for its claim, and 0 (unknown) is better than a lost claim.
   */
  async function selectedItems(doc: ExportDoc): Promise<number> {
    // A version's items are not the live documents alone: unknown rather than a wrong total.
    if (doc.versionId) return 0;
    const { items } = compileFilter(doc.datasetId, filterOf(doc), doc.snapshotTime);
    return database.db
      .collection<ItemDoc>(Collections.items)
      .countDocuments(items, { maxTimeMS: 2000 })
      .catch(() => 0);
  }

  async function claim(exportId: string, delivery: number) {
    // Counted before the claim only for a job that may still run (repo.claim decides).
    const queued = await repo.get(exportId);
    const claimable = queued && (queued.status === "queued" || queued.status === "running");
    const doc = claimable ? await repo.claim(exportId, delivery, await selectedItems(queued)) : null;
    if (!doc) {
      const current = await repo.get(exportId);
      return create(ClaimJobResponseSchema, {
        proceed: false,
        reason: current ? `export is ${current.status}` : "export was deleted",
      });
    }
    log.info({ exportId, attempt: doc.attempts, delivery }, "export claimed");
    // A redelivery while an earlier attempt still runs (its in-progress acks were lost): that
    // attempt stops and leaves the job to this one. Sent before the reply, so it leads the new work.
    if (doc.attempts > 1) nats.publish(Subjects.cancel(exportId), supersededNotice(doc.attempts));
    nats.publish(updates(exportId));
    await logs.append(exportId, "info", `attempt ${doc.attempts} started (delivery ${delivery})`, "orchestrator");
    const dataset = await findDataset(database.db, doc.datasetId);
    const version = doc.versionId ? await findVersion(database.db, doc.datasetId, doc.versionId) : null;
    const exported = toProto(doc);
    return create(ClaimJobResponseSchema, {
      proceed: true,
      attempt: doc.attempts,
      job: {
        export: exported,
        orchestratorUrl: publicUrl(),
        token: auth.issueJobToken(doc.datasetId, JOB_TOKEN_TTL_S, doc._id),
        snapshotTime: timestampFromDate(doc.snapshotTime),
        storageConfigJson: JSON.stringify(storages.configOf(doc.storage)),
        // Protobuf JSON of Category messages: what the worker decodes (a stored document's
        // `skeleton: [[1, 2]]` is not the message's `[{fromKeypoint, toKeypoint}]`).
        categoriesJson: JSON.stringify(
          (version?.categories ?? dataset?.categories ?? []).map((c) => toJson(CategorySchema, categoryMessage(c))),
        ),
      },
    });
  }

  // Events are read through a durable consumer, so none is lost while the orchestrator restarts.
  await jsm.consumers.add(Streams.events, {
    durable_name: EVENTS_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    max_ack_pending: 1000,
  });
  const consumer = await js.consumers.get(Streams.events, EVENTS_CONSUMER);
  // Pull requests expire (and the server heartbeats, every expires/2) every two seconds: after a
  // consumer leader change on a cluster, a pull lost with the old leader is noticed by missed
  // heartbeats and renewed within a few seconds (5 s expiries left events unseen for 11-15 s).
  const messages = await consumer.consume({ max_messages: 256, expires: 2000 });
  const eventLoop = (async () => {
    for await (const msg of messages) {
      const event = decodeOrDrop(JobEventSchema, msg, log);
      // Only the worker that claimed the export holds a token for it (see claim()).
      const token = msg.headers?.get(JOB_TOKEN_HEADER) ?? "";
      if (!event || !auth.isJobTokenFor(token, event.exportId)) {
        if (event)
          log.warn({ subject: msg.subject, exportId: event.exportId }, "dropped a job event without its job's token");
        msg.term();
        continue;
      }
      try {
        await inJobEventSpan(msg.headers, event, () => applyEvent(event));
        msg.ack();
      } catch (err) {
        if (msg.info.deliveryCount >= MAX_EVENT_DELIVERIES) {
          log.error({ err, exportId: event.exportId }, "dropped a job event that kept failing");
          msg.term();
        } else {
          log.error({ err }, "applying a job event failed; will retry");
          msg.nak(1000);
        }
      }
    }
  })();

  async function applyEvent(event: JobEvent) {
    if (event.event.case === "log") {
      const line = event.event.value;
      await logs.append(event.exportId, line.level, line.message, "plugin", line.fields);
      nats.publish(updates(event.exportId));
      return;
    }
    const result = await repo.apply(event, config.EXPORT_TTL_DAYS);
    if (event.event.case === "failed" && result.changed) {
      await logs.append(event.exportId, "error", event.event.value.errorMessage, "orchestrator");
    }
    // After the failure's line: a log follower woken by the change must find it.
    if (result.changed) nats.publish(updates(event.exportId));
    if (event.event.case === "canceled") {
      const doc = await repo.get(event.exportId);
      // A stray "canceled" for a job that completed meanwhile must not remove a finished export's files.
      if (doc?.status === "canceled") await removeExportFiles(storages.driver(doc.storage), doc);
    }
    if (result.finished && result.changed?.status === "completed") await recordZipSize(result.changed);
    if (result.finished && result.changed) await announce(toProto(result.changed));
  }

  /** The developer exports API's file_size, measured once; a view measures it if this could not. */
  async function recordZipSize(doc: ExportDoc) {
    try {
      await repo.recordZipSize(doc._id, await wholeExportZipSize(storages.driver(doc.storage), doc));
    } catch (err) {
      log.warn({ err, exportId: doc._id }, "could not measure the export's ZIP");
    }
  }

  async function announce(exported: Export) {
    const subject = exported.status === ExportStatus.COMPLETED ? Subjects.completed : Subjects.failed;
    await js.publish(subject, new TextEncoder().encode(toJsonString(ExportSchema, exported)));
  }

  // A job that used up its deliveries (e.g. its worker kept crashing) fails with its last error.
  subs.push(
    nats.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${Streams.jobs}.>`, {
      callback: (_err, msg) => {
        const advisory = maxDeliveriesAdvisoryOf(msg);
        if (!advisory) {
          log.warn({ subject: msg.subject, bytes: msg.data.length }, "dropped an unreadable max-deliveries advisory");
          return;
        }
        onMaxDeliveries(advisory).catch((err: unknown) => log.error({ err }, "max-deliveries advisory"));
      },
    }),
  );

  async function onMaxDeliveries(advisory: { stream_seq: number; deliveries: number }) {
    const stored = await jsm.streams.getMessage(Streams.jobs, { seq: advisory.stream_seq }).catch(() => undefined);
    if (!stored) return;
    const exportId = decodeOrDrop(ExportJobSchema, stored, log)?.export?.id;
    if (exportId) await failAfterMaxDeliveries(exportId, advisory.deliveries);
    await jsm.streams.deleteMessage(Streams.jobs, advisory.stream_seq).catch(() => undefined);
  }

  async function failAfterMaxDeliveries(exportId: string, deliveries: number) {
    const doc = await repo.get(exportId);
    const message = `gave up after ${deliveries} attempts${doc?.errorMessage ? `: ${doc.errorMessage}` : " (the worker stopped responding)"}`;
    const failed = await repo.fail(exportId, message);
    // Its worker (or, for a shard that used up its deliveries, the worker coordinating the export) stops.
    nats.publish(Subjects.cancel(exportId));
    if (failed) {
      await logs.append(exportId, "error", message, "orchestrator");
      nats.publish(updates(exportId));
      await announce(toProto(failed));
    }
  }

  async function publishJob(doc: ExportDoc) {
    const job = create(ExportJobSchema, { export: { id: doc._id, format: doc.format, datasetId: doc.datasetId } });
    await inJobPublishSpan(doc, (headers) =>
      js.publish(Subjects.job(doc.format), toBinary(ExportJobSchema, job), {
        msgID: doc._id,
        ...(headers && { headers }),
      }),
    );
  }

  // Jobs stored while NATS was unreachable are published at start and after every reconnect;
  // duplicates are dropped by msgID, and a claim never starts a job twice.
  const requeue = async () => {
    for await (const doc of repo.queued()) {
      await publishJob(doc).catch((err: unknown) => log.warn({ err, exportId: doc._id }, "requeue failed"));
    }
  };
  await requeue();
  // On a cluster a publish acknowledged around a stream leader change has been seen to vanish. Jobs
  // still queued a while after their creation are published again, only while the duplicate window
  // (10 min) still drops the copies of those that did arrive.
  const republishLost = async () => {
    const now = Date.now();
    for await (const doc of repo.queued()) {
      const age = now - doc.createdAt.getTime();
      if (age < REPUBLISH_AFTER_MS || age > REPUBLISH_UNTIL_MS) continue;
      await publishJob(doc).catch((err: unknown) => log.warn({ err, exportId: doc._id }, "republish failed"));
    }
  };
  const republisher = setInterval(() => {
    republishLost().catch((err: unknown) => log.warn({ err }, "republishing queued jobs failed"));
  }, REPUBLISH_AFTER_MS);
  nats.publish(Subjects.discover);
  void (async () => {
    for await (const status of nats.status()) {
      if (status.type !== "reconnect") continue;
      log.info("NATS reconnected: publishing queued jobs again");
      nats.publish(Subjects.discover);
      await requeue().catch((err: unknown) => log.warn({ err }, "requeue after reconnect failed"));
    }
  })();

  return {
    publishJob,
    cancel: (exportId) => nats.publish(Subjects.cancel(exportId)),
    changed: (exportId) => nats.publish(updates(exportId)),
    nextChange: (exportId, timeoutMs, signal) => waitForMessage(nats, updates(exportId), timeoutMs, signal),
    async close() {
      clearInterval(republisher);
      for (const sub of subs) sub.unsubscribe();
      messages.stop();
      await eventLoop.catch(() => undefined);
    },
  };
}

/** The message decoded, or undefined (logged) when it is not a `schema` message. */
function decodeOrDrop<Desc extends DescMessage>(
  schema: Desc,
  msg: { subject: string; data: Uint8Array },
  log: Logger,
): MessageShape<Desc> | undefined {
  try {
    return fromBinary(schema, msg.data);
  } catch (err) {
    log.warn(
      { subject: msg.subject, bytes: msg.data.length, error: (err as Error).message },
      `dropped a message that is not a ${schema.name}`,
    );
    return undefined;
  }
}

/** Why a registration cannot be a plugin's (the SDK's format rule and validateManifest's limits), or undefined. */
function registrationProblem(info: PluginInfo): string | undefined {
  if (!/^[^\x00-\x1f\x7f]{1,214}$/.test(info.name)) return "name: 1 to 214 printable characters";
  if (!info.version || info.version.length > 64) return "version: required, at most 64 characters";
  const formats = [...info.formats, ...info.importFormats];
  if (formats.length === 0 || info.formats.length > 64 || info.importFormats.length > 64) {
    return "formats: expected 1 to 64 export or import formats";
  }
  const bad = formats.find((f) => !isFormatName(f));
  return bad === undefined ? undefined : `format "${bad.slice(0, 64)}": expected lowercase letters, digits, -`;
}

/** The fields of a JetStream max-deliveries advisory this orchestrator uses, or undefined. */
function maxDeliveriesAdvisoryOf(msg: Msg): { stream_seq: number; deliveries: number } | undefined {
  try {
    const advisory = JSON.parse(new TextDecoder().decode(msg.data)) as { stream_seq?: unknown; deliveries?: unknown };
    const { stream_seq, deliveries } = advisory;
    if (!Number.isSafeInteger(stream_seq) || !Number.isSafeInteger(deliveries)) return undefined;
    return { stream_seq: stream_seq as number, deliveries: deliveries as number };
  } catch {
    return undefined;
  }
}

function waitForMessage(nats: NatsConnection, subject: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      sub.unsubscribe();
      signal.removeEventListener("abort", done);
      resolve();
    };
    const sub = nats.subscribe(subject, { max: 1, callback: done });
    const timer = setTimeout(done, timeoutMs);
    signal.addEventListener("abort", done);
  });
}
