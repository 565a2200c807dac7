// The `exports` collection: export jobs and the monotonic state machine that applies plugin
// events to them. Every transition is one conditional update, so replays are harmless.
import { create, fromJson, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Artifact,
  type DropCount,
  type Export,
  ExportSchema,
  ExportStatus,
  type ItemFilter,
  ItemFilterSchema,
  type JobEvent,
} from "@labelport/sdk/contracts";
import type { Db, Filter } from "mongodb";
import { observeJobEnded } from "../telemetry/metrics.ts";

export type JobStatus = "queued" | "running" | "completed" | "failed" | "canceled";
export const ACTIVE: JobStatus[] = ["queued", "running"];

export interface ExportDoc {
  _id: string;
  name: string;
  description: string;
  datasetId: string;
  datasetName: string;
  format: string;
  filter: JsonValue;
  storage: string;
  path: string;
  saveOriginalFile: boolean;
  options: JsonObject;
  status: JobStatus;
  progress: { processedItems: number; totalItems: number; processedAnnotations: number };
  errorMessage: string;
  counts: ExportCountsDoc;
  /** Total bytes of the artifacts (manifest.json not counted). */
  fileSize: number;
  /**
   * Bytes of the ZIP a whole-export download streams (every file, manifest.json included), set
   * when the job completes; absent on jobs completed before it was recorded.
   */
  zipSize?: number;
  artifacts: Array<{ key: string; size: number; sha256: string; contentType: string }>;
  manifestKey: string;
  formatNotes: string[];
  pluginName: string;
  pluginVersion: string;
  attempts: number;
  /** Highest event sequence applied within the current attempt. */
  eventSequence: number;
  requestId?: string;
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  startedAt?: Date;
  completedAt?: Date;
  expiresAt?: Date;
  /** Items created after this instant are not exported. */
  snapshotTime: Date;
  /** The dataset version exported (DeleteVersion refuses while a queued or running job names it). */
  versionId?: string;
  versionName?: string;
  /** CreateExportRequest.target as given ("ground_truth", "assignment", "task"). */
  target?: string;
  /** CreateExportRequest.shards as asked (absent: 0, by size). */
  shards?: number;
}

/** A job's ExportCounts as stored: `annotationCount` is what the files hold, the rest says what was not. */
export interface ExportCountsDoc {
  itemCount: number;
  /** Annotations written into the delivered files. */
  annotationCount: number;
  fileCount: number;
  /** Annotations the exporter received; absent on jobs completed before it was recorded. */
  receivedAnnotations?: number;
  /** Annotations not written, by reason (reasons sorted). */
  dropped?: DropCountDoc[];
  /** Annotations written but changed on the way, by reason (reasons sorted). */
  changed?: DropCountDoc[];
}

export interface DropCountDoc {
  reason: string;
  count: number;
}

/** What the caller decides about a new job; everything else starts at zero. */
export type NewExport = Pick<
  ExportDoc,
  | "_id"
  | "name"
  | "description"
  | "datasetId"
  | "datasetName"
  | "format"
  | "filter"
  | "storage"
  | "path"
  | "saveOriginalFile"
  | "options"
  | "pluginName"
  | "pluginVersion"
  | "createdBy"
> &
  Partial<Pick<ExportDoc, "requestId" | "versionId" | "versionName" | "target" | "shards">>;

/** A job as CreateExport stores it: queued, nothing done, snapshot taken at `now`. */
export function queuedExportDoc(fields: NewExport, now: Date): ExportDoc {
  return {
    ...fields,
    status: "queued",
    progress: { processedItems: 0, totalItems: 0, processedAnnotations: 0 },
    errorMessage: "",
    counts: { itemCount: 0, annotationCount: 0, fileCount: 0 },
    fileSize: 0,
    artifacts: [],
    manifestKey: "",
    formatNotes: [],
    attempts: 0,
    eventSequence: 0,
    createdAt: now,
    updatedAt: now,
    snapshotTime: now,
  };
}

const statusToProto: Record<JobStatus, ExportStatus> = {
  queued: ExportStatus.QUEUED,
  running: ExportStatus.RUNNING,
  completed: ExportStatus.COMPLETED,
  failed: ExportStatus.FAILED,
  canceled: ExportStatus.CANCELED,
};

export function statusFromProto(status: ExportStatus): JobStatus | undefined {
  return (Object.entries(statusToProto) as Array<[JobStatus, ExportStatus]>).find(([, p]) => p === status)?.[0];
}

export function filterToJson(filter: ItemFilter | undefined): JsonValue {
  return filter ? toJson(ItemFilterSchema, filter) : {};
}

export function filterOf(doc: ExportDoc): ItemFilter {
  return fromJson(ItemFilterSchema, doc.filter ?? {});
}

export function toProto(doc: ExportDoc): Export {
  return create(ExportSchema, {
    id: doc._id,
    name: doc.name,
    description: doc.description,
    datasetId: doc.datasetId,
    datasetName: doc.datasetName,
    format: doc.format,
    filter: filterOf(doc),
    storage: doc.storage,
    path: doc.path,
    saveOriginalFile: doc.saveOriginalFile,
    options: doc.options,
    status: statusToProto[doc.status],
    progress: {
      processedItems: BigInt(doc.progress.processedItems),
      totalItems: BigInt(doc.progress.totalItems),
      processedAnnotations: BigInt(doc.progress.processedAnnotations),
    },
    errorMessage: doc.errorMessage,
    counts: {
      itemCount: BigInt(doc.counts.itemCount),
      annotationCount: BigInt(doc.counts.annotationCount),
      fileCount: BigInt(doc.counts.fileCount),
      receivedAnnotations: BigInt(receivedAnnotationsOf(doc)),
      dropped: (doc.counts.dropped ?? []).map((d) => ({ reason: d.reason, count: BigInt(d.count) })),
      changed: (doc.counts.changed ?? []).map((d) => ({ reason: d.reason, count: BigInt(d.count) })),
    },
    fileSize: BigInt(doc.fileSize),
    artifacts: doc.artifacts.map((a) => ({ ...a, size: BigInt(a.size) })),
    manifestKey: doc.manifestKey,
    formatNotes: doc.formatNotes,
    pluginName: doc.pluginName,
    pluginVersion: doc.pluginVersion,
    attempts: doc.attempts,
    requestId: doc.requestId ?? "",
    createdBy: doc.createdBy,
    createTime: timestampFromDate(doc.createdAt),
    ...(doc.startedAt ? { startTime: timestampFromDate(doc.startedAt) } : {}),
    ...(doc.completedAt ? { completeTime: timestampFromDate(doc.completedAt) } : {}),
    ...(doc.expiresAt ? { expireTime: timestampFromDate(doc.expiresAt) } : {}),
    versionId: doc.versionId ?? "",
    versionName: doc.versionName ?? "",
    target: doc.target ?? "",
    shards: doc.shards ?? 0,
  });
}

/** Annotations the exporter received; a job completed before drops were counted wrote all it received. */
export function receivedAnnotationsOf(doc: ExportDoc): number {
  return doc.counts.receivedAnnotations ?? doc.counts.annotationCount;
}

export interface ApplyResult {
  /** The job after the event, when the event changed it. */
  changed: ExportDoc | null;
  /** The job reached a final state with this event. */
  finished: boolean;
}

/** Which exports `ExportRepository.list` returns, newest first. */
export interface ExportQuery {
  /** Exports of this dataset: by id, or by its name (also a deleted dataset's). */
  dataset?: { id: string } | { name: string };
  statuses?: JobStatus[];
  /** Exports in these formats only. */
  formats?: string[];
  /** Only exports older than this one, in (createdAt, _id) order: the previous page's last. */
  after?: { createdAt: Date; id: string };
  limit: number;
}

export interface ExportRepository {
  insert(doc: ExportDoc): Promise<void>;
  get(id: string): Promise<ExportDoc | null>;
  findByRequestId(requestId: string): Promise<ExportDoc | null>;
  /** The export named `name` in a dataset given by id, or by name (also a deleted dataset's). */
  findByName(dataset: { id: string } | { name: string }, name: string): Promise<ExportDoc | null>;
  list(query: ExportQuery): Promise<ExportDoc[]>;
  /** How many exports match the query's dataset, statuses and formats, over all pages. */
  count(query: Omit<ExportQuery, "after" | "limit">): Promise<number>;
  /** Every job still waiting for a worker (to publish again after NATS was away). */
  queued(): AsyncIterable<ExportDoc>;
  /**
   * Marks the job running for a new attempt. A first delivery may start only a queued job (a
   * duplicate message must not start a second worker); a redelivery may restart a running one.
   * Null when the job may not run (final, deleted, or already running).
   */
  claim(id: string, delivery: number, totalItems?: number): Promise<ExportDoc | null>;
  apply(event: JobEvent, ttlDays: number): Promise<ApplyResult>;
  /** Stores the size of a completed job's whole-export ZIP (see ExportDoc.zipSize). */
  recordZipSize(id: string, size: number): Promise<void>;
  /** Final failure, e.g. after the last delivery; no-op on final jobs. */
  fail(id: string, message: string): Promise<ExportDoc | null>;
  cancel(id: string): Promise<ExportDoc | null>;
  delete(id: string): Promise<void>;
}

export function createExportRepository(db: Db): ExportRepository {
  const collection = db.collection<ExportDoc>("exports");
  const transition = async (
    filter: Filter<ExportDoc>,
    update: Partial<ExportDoc>,
    inc?: Partial<Record<"attempts", number>>,
  ) =>
    collection
      .findOneAndUpdate(
        filter,
        { $set: { ...update, updatedAt: new Date() }, ...(inc ? { $inc: inc } : {}) },
        { returnDocument: "after" },
      )
      .then((doc) => {
        // Every filter names the state it leaves, so a job reaches its final state here once.
        if (doc && update.status) observeJobEnded(doc);
        return doc;
      });
  const ofDataset = (dataset: { id: string } | { name: string }): Filter<ExportDoc> =>
    "id" in dataset ? { datasetId: dataset.id } : { datasetName: dataset.name };
  const matching = (query: Omit<ExportQuery, "after" | "limit">): Filter<ExportDoc> => {
    const filter: Filter<ExportDoc> = query.dataset ? ofDataset(query.dataset) : {};
    if (query.statuses) filter.status = { $in: query.statuses };
    if (query.formats) filter.format = { $in: query.formats };
    return filter;
  };
  return {
    async insert(doc) {
      await collection.insertOne(doc);
    },
    get: (id) => collection.findOne({ _id: id }),
    findByRequestId: (requestId) => collection.findOne({ requestId }),
    findByName: (dataset, name) => collection.findOne({ ...ofDataset(dataset), name }),
    list(query) {
      const filter = matching(query);
      if (query.after) {
        const { createdAt, id } = query.after;
        filter.$or = [{ createdAt: { $lt: createdAt } }, { createdAt, _id: { $lt: id } }];
      }
      return collection.find(filter).sort({ createdAt: -1, _id: -1 }).limit(query.limit).toArray();
    },
    count: (query) => collection.countDocuments(matching(query)),
    queued: () => collection.find({ status: "queued" }),
    claim: (id, delivery, totalItems) =>
      transition(
        { _id: id, status: { $in: delivery > 1 ? ACTIVE : ["queued"] } },
        {
          status: "running",
          eventSequence: 0,
          errorMessage: "",
          ...(totalItems !== undefined ? ({ "progress.totalItems": totalItems } as Partial<ExportDoc>) : {}),
        },
        { attempts: 1 },
      ).then(async (doc) => {
        if (doc && !doc.startedAt) await collection.updateOne({ _id: id }, { $set: { startedAt: new Date() } });
        return doc;
      }),
    async apply(event, ttlDays) {
      const attempt = { _id: event.exportId, attempts: event.attempt };
      const now = new Date();
      const running: Filter<ExportDoc> = { ...attempt, status: "running" };
      switch (event.event.case) {
        case "started":
          return {
            changed: await transition(running, {
              pluginName: event.event.value.pluginName,
              pluginVersion: event.event.value.pluginVersion,
              "progress.totalItems": Number(event.event.value.totalItems),
            } as Partial<ExportDoc>),
            finished: false,
          };
        case "progress": {
          const p = event.event.value;
          return {
            changed: await transition(
              { ...running, eventSequence: { $lt: Number(event.sequence) } },
              {
                eventSequence: Number(event.sequence),
                progress: {
                  processedItems: Number(p.processedItems),
                  totalItems: Number(p.totalItems),
                  processedAnnotations: Number(p.processedAnnotations),
                },
              },
            ),
            finished: false,
          };
        }
        case "completed": {
          const c = event.event.value;
          const artifacts = c.artifacts.map((a: Artifact) => ({
            key: a.key,
            size: Number(a.size),
            sha256: a.sha256,
            contentType: a.contentType,
          }));
          const changed = await transition(running, {
            status: "completed",
            artifacts,
            manifestKey: c.manifestKey,
            formatNotes: c.formatNotes,
            counts: {
              itemCount: Number(c.counts?.itemCount ?? 0n),
              annotationCount: Number(c.counts?.annotationCount ?? 0n),
              fileCount: Number(c.counts?.fileCount ?? BigInt(artifacts.length)),
              receivedAnnotations: Number(c.counts?.receivedAnnotations ?? c.counts?.annotationCount ?? 0n),
              dropped: dropCountDocs(c.counts?.dropped ?? []),
              changed: dropCountDocs(c.counts?.changed ?? []),
            },
            fileSize: Number(c.totalSize),
            errorMessage: "",
            completedAt: now,
            expiresAt: new Date(now.getTime() + ttlDays * 86_400_000),
          });
          if (changed) {
            await collection.updateOne(
              { _id: changed._id },
              {
                $set: {
                  "progress.processedItems": changed.counts.itemCount,
                  "progress.processedAnnotations": receivedAnnotationsOf(changed),
                },
              },
            );
          }
          return { changed, finished: changed !== null };
        }
        case "failed": {
          const f = event.event.value;
          const changed = await transition(
            running,
            f.retryable
              ? { errorMessage: f.errorMessage }
              : { status: "failed", errorMessage: f.errorMessage, completedAt: now },
          );
          return { changed, finished: changed !== null && !f.retryable };
        }
        case "canceled":
          return {
            changed: await transition(
              { _id: event.exportId, status: { $in: ACTIVE } },
              { status: "canceled", completedAt: now },
            ),
            finished: false,
          };
        default:
          return { changed: null, finished: false };
      }
    },
    async recordZipSize(id, size) {
      await collection.updateOne({ _id: id, status: "completed" }, { $set: { zipSize: size } });
    },
    fail: (id, message) =>
      transition(
        { _id: id, status: { $in: ACTIVE } },
        { status: "failed", errorMessage: message, completedAt: new Date() },
      ),
    cancel: (id) => transition({ _id: id, status: { $in: ACTIVE } }, { status: "canceled", completedAt: new Date() }),
    async delete(id) {
      await collection.deleteOne({ _id: id });
    },
  };
}

function dropCountDocs(counts: readonly DropCount[]): DropCountDoc[] {
  return counts.map((d) => ({ reason: d.reason, count: Number(d.count) }));
}
