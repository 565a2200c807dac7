// The seeds' synchronous export routes: GET /api/export and /api/export/stats (seed 001, video
// tracks as JSON Lines or a JSON array, counted and validated from per-track statistics stored at
// write time, see stats.ts, before a streamed body) and POST /v1/ground-truths/snapshot (seed 000, a json-snapshot export job whose
// result is sent back in the response).
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { create, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { attachmentDisposition, type Category, MANIFEST_KEY, toVideoAnnotationJson } from "@labelport/sdk";
import { CreateExportRequestSchema, type ItemFilter, ItemFilterSchema } from "@labelport/sdk/contracts";
import type { ClientSession, Db, Document, Filter } from "mongodb";
import type { Deps } from "../app.ts";
import { annotationMessage, categoryMessage } from "../data/convert.ts";
import { DEFAULT_DATASET_NAME, findDataset } from "../data/datasets.ts";
import { type AnnotationDoc, Collections, type DatasetDoc } from "../data/model.ts";
import { invalidArgument, notFound } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type RestResponse, type RestRouter, sendJson } from "../rest/router.ts";
import type { JobBus } from "./bus.ts";
import { clientGone, downloadFileName } from "./downloads.ts";
import { missingArtifact, openArtifact } from "./export-files.ts";
import type { PluginRegistry } from "./plugin-registry.ts";
import { ACTIVE, type ExportDoc, type ExportRepository } from "./repository.ts";
import type { ExportJobs } from "./service.ts";
import { megabytes, sizeWarning, type TrackFormat, type TrackSummary, trackSummary } from "./stats.ts";
import type { Storages } from "./storages.ts";

export interface RestExportsDeps {
  jobs: ExportJobs;
  repo: ExportRepository;
  registry: PluginRegistry;
  storages: Storages;
  bus: JobBus;
}

/** Header names of GET /api/export, spelled as seed 001 spells them. */
export const ExportHeaders = {
  size: "X-Export-Size",
  annotations: "X-Export-Annotations",
  sequences: "X-Export-Sequences",
  keyframes: "X-Export-Keyframes",
  interpolatedFrames: "X-Export-Interpolated-Frames",
  warning: "X-Export-Warning",
  /** Ours: how many sequences are invalid when a 400 lists only the first MAX_LISTED_INVALID. */
  invalidAnnotations: "X-Export-Invalid-Annotations",
} as const;

const SNAPSHOT_FORMAT = "json-snapshot";
const SNAPSHOT_KEY = "snapshot.json";
/** How long POST /v1/ground-truths/snapshot waits for its job before canceling it (504). */
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
/** Plugins announce themselves every 30 s; three missed announcements count as gone. */
const PLUGIN_STALE_MS = 90_000;
/** Between job-document reads while waiting; an event wakes the wait earlier. */
const JOB_POLL_MS = 200;
const MAX_BODY_BYTES = 1024 * 1024;
const MAX_IDS = 1000;
/** Body chunks of about this many characters (the first line goes out on its own, at once). */
const CHUNK_CHARS = 64 * 1024;
/**
 * Tracks read before the first line goes out: a first query for this many, then the rest in
 * batches of `BATCH_TRACKS` (a 1000-track first batch of ~4 KB tracks would delay the first byte).
 */
const FIRST_TRACKS = 16;
const BATCH_TRACKS = 1000;
/** SnapshotTooOld / SnapshotUnavailable: the snapshot left MongoDB's history window. */
const SNAPSHOT_ERRORS = new Set([239, 246]);

export function registerRestExports(rest: RestRouter, deps: Deps, exportsDeps: RestExportsDeps): void {
  const db = deps.database.db;
  const log = deps.log.child({ area: "rest-exports" });
  const snapshots = snapshotReads(db);

  rest.on("GET", "/api/export/stats", "viewer", async ({ res, query }) => {
    const params = parseTrackQuery(query);
    const dataset = await exportDataset(db, params.datasetId);
    const summary = dataset
      ? await trackSummary(db, trackMatch(dataset, params), statsOptions(dataset, params))
      : EMPTY;
    const warning = sizeWarning(summary.totalSize);
    sendJson(res, 200, {
      totalSize: summary.totalSize,
      totalSizeMB: `${megabytes(summary.totalSize)}MB`,
      annotationCount: summary.annotationCount,
      sequenceCount: summary.sequenceCount,
      keyframeCount: summary.keyframeCount,
      interpolatedFrameCount: summary.interpolatedFrameCount,
      ...(warning ? { warning } : {}),
    });
  });

  rest.on("GET", "/api/export", "viewer", async ({ res, query }) => {
    const params = parseTrackQuery(query);
    const dataset = await exportDataset(db, params.datasetId);
    // One snapshot for the counts and the body, so the headers describe exactly what is sent.
    const session = dataset && (await snapshots()) ? deps.database.client.startSession({ snapshot: true }) : undefined;
    try {
      const match = dataset ? trackMatch(dataset, params) : undefined;
      const summary = dataset && match ? await trackSummary(db, match, statsOptions(dataset, params), session) : EMPTY;
      if (summary.invalidCount > 0) {
        sendJson(
          res,
          400,
          {
            error: "Validation failed",
            message: "Some annotations have invalid sequences",
            validationErrors: summary.invalid,
          },
          { [ExportHeaders.invalidAnnotations]: String(summary.invalidCount) },
        );
        return;
      }
      const warning = sizeWarning(summary.totalSize);
      const json = params.format === "json";
      const node = res as http.ServerResponse;
      node.writeHead(200, {
        "Content-Type": json ? "application/json" : "application/x-ndjson",
        "Content-Disposition": `attachment; filename="annotations.${params.format}"`,
        "Cache-Control": "no-store",
        [ExportHeaders.size]: megabytes(summary.totalSize),
        [ExportHeaders.annotations]: String(summary.annotationCount),
        [ExportHeaders.sequences]: String(summary.sequenceCount),
        [ExportHeaders.keyframes]: String(summary.keyframeCount),
        [ExportHeaders.interpolatedFrames]: String(summary.interpolatedFrameCount),
        ...(warning ? { [ExportHeaders.warning]: warning } : {}),
      });
      node.flushHeaders?.();
      const docs = dataset && match ? trackDocs(db, match, session, log) : emptyDocs();
      const written: Written = { lines: 0, keyframes: 0, interpolated: 0 };
      const body = exportBody(docs, params, dataset?.categories ?? [], written);
      try {
        await pipeline(Readable.from(body, { objectMode: false }), res as NodeJS.WritableStream);
      } catch (err) {
        if (clientGone(err, res)) return;
        throw err;
      }
      // Only concurrent writes outside a snapshot (a standalone MongoDB) can make these differ.
      const { annotationCount: lines, keyframeCount: keyframes, interpolatedFrameCount: interpolated } = summary;
      if (written.lines !== lines || written.keyframes !== keyframes || written.interpolated !== interpolated) {
        log.warn({ headers: { lines, keyframes, interpolated }, written }, "export body differs from its headers");
      }
    } finally {
      await session?.endSession();
    }
  });

  rest.on("POST", "/v1/ground-truths/snapshot", "editor", async ({ req, res, principal }) => {
    const body = parseSnapshotBody(await readJsonBody(req as http.IncomingMessage));
    const dataset = await snapshotDataset(db, body.datasetId);
    const plugin = await exportsDeps.registry.forFormat(SNAPSHOT_FORMAT);
    const lastSeen = plugin?.lastSeenTime ? timestampDate(plugin.lastSeenTime).getTime() : 0;
    if (!plugin || Date.now() - lastSeen > PLUGIN_STALE_MS) {
      throw new ConnectError(
        `no plugin serves the ${SNAPSHOT_FORMAT} format${plugin ? ` (${plugin.name} was last seen ${new Date(lastSeen).toISOString()})` : ""}: start the json-snapshot plugin worker and try again`,
        Code.Unavailable,
      );
    }
    // Cancel the job when the client goes away before its answer is sent.
    const gone = new AbortController();
    res.once("close", () => {
      if (!(res as http.ServerResponse).writableFinished) gone.abort();
    });
    const requestId = randomUUID();
    const created = await exportsDeps.jobs.create(
      create(CreateExportRequestSchema, {
        requestId,
        name: `${dataset.name} snapshot ${requestId}`,
        datasetId: dataset._id,
        format: SNAPSHOT_FORMAT,
        ...(body.filter ? { filter: body.filter } : {}),
        saveOriginalFile: false,
        options: { mode: body.mode, mergeTags: body.mergeTags, dataOnly: body.dataOnly },
      }),
      principal,
      // Artifact snapshots go under exports/snapshots/<exportId>/ (seed 000); the export id is the snapshot id.
      { snapshot: body.mode === "artifact" },
    );
    const doc = await waitForJob(exportsDeps, created.id, gone.signal, log);
    if (!doc) return;
    const driver = exportsDeps.storages.driver(doc.storage);
    if (body.mode === "attachment") {
      const artifact = doc.artifacts.find((a) => a.key === SNAPSHOT_KEY);
      if (!artifact) throw new ConnectError(`export ${doc._id} completed without ${SNAPSHOT_KEY}`, Code.Internal);
      const stream = await openArtifact(driver, doc, SNAPSHOT_KEY);
      (res as http.ServerResponse).writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": String(artifact.size),
        "Content-Disposition": attachmentDisposition(downloadFileName(doc, "json")),
        "X-Export-Id": doc._id,
      });
      await sendStream(stream, res);
      return;
    }
    const manifestKey = `${doc.path}/${MANIFEST_KEY}`;
    const manifest = await driver.head(manifestKey);
    if (!manifest) throw missingArtifact(doc, MANIFEST_KEY);
    // The manifest lists every artifact, so it grows with the item count: it is streamed in.
    const head = `{"snapshotId":${JSON.stringify(doc._id)},"exportId":${JSON.stringify(doc._id)},"path":${JSON.stringify(`${doc.path}/`)},"itemCount":${doc.counts.itemCount},"manifest":`;
    const tail = "}";
    const manifestStream = await openArtifact(driver, doc, MANIFEST_KEY);
    (res as http.ServerResponse).writeHead(200, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": String(Buffer.byteLength(head) + manifest.size + tail.length),
      "X-Export-Id": doc._id,
    });
    try {
      await sendStream(
        Readable.from(
          (async function* () {
            yield Buffer.from(head);
            yield* manifestStream;
            yield Buffer.from(tail);
          })(),
        ),
        res,
      );
    } finally {
      // A client gone before the manifest was reached leaves its stream unread: close the file.
      manifestStream.destroy();
    }
  });
}

// --------------------------------------------------------------------------------------------
// GET /api/export and /api/export/stats

export interface TrackQuery {
  format: TrackFormat;
  includeInterpolated: boolean;
  personaIds: string[];
  videoIds: string[];
  /** Seed 001 annotationTypes: "type" (typeAssignment, or no link) and "object" (objectLink). */
  annotationTypes: Set<"type" | "object">;
  datasetId?: string;
}

const EMPTY: TrackSummary = {
  annotationCount: 0,
  sequenceCount: 0,
  keyframeCount: 0,
  interpolatedFrameCount: 0,
  totalSize: 0,
  invalidCount: 0,
  invalid: [],
};

/** Seed 001's query parameters; a bad value is a 400 naming the parameter. Unknown ones are ignored. */
export function parseTrackQuery(query: URLSearchParams): TrackQuery {
  const format = single(query, "format") ?? "jsonl";
  if (format !== "jsonl" && format !== "json") {
    throw invalidArgument(`format: must be "jsonl" or "json" (got "${format}")`);
  }
  const interpolated = single(query, "includeInterpolated");
  let includeInterpolated = false;
  if (interpolated !== undefined) {
    const value = interpolated.toLowerCase();
    if (value === "true" || value === "1") includeInterpolated = true;
    else if (value !== "false" && value !== "0") {
      throw invalidArgument(`includeInterpolated: must be true or false (got "${interpolated}")`);
    }
  }
  const annotationTypes = new Set<"type" | "object">();
  for (const type of list(query, "annotationTypes")) {
    if (type !== "type" && type !== "object") {
      throw invalidArgument(`annotationTypes: each must be "type" or "object" (got "${type}")`);
    }
    annotationTypes.add(type);
  }
  const datasetId = single(query, "datasetId");
  return {
    format,
    includeInterpolated,
    personaIds: list(query, "personaIds"),
    videoIds: list(query, "videoIds"),
    annotationTypes,
    ...(datasetId ? { datasetId } : {}),
  };
}

function single(query: URLSearchParams, name: string): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) throw invalidArgument(`${name}: given ${values.length} times; give it once`);
  return values[0];
}

/** Comma-separated, and repeatable (`?videoIds=a,b&videoIds=c`); blanks are dropped. */
function list(query: URLSearchParams, name: string): string[] {
  const values = [
    ...new Set(
      query
        .getAll(name)
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter((v) => v !== ""),
    ),
  ];
  if (values.length > MAX_IDS) throw invalidArgument(`${name}: at most ${MAX_IDS} values (got ${values.length})`);
  return values;
}

/**
 * The dataset named by `datasetId`, else "default" (where seed 001 imports without a dataset go).
 * Undefined when there is no default dataset yet: nothing has been imported, so the export is
 * empty. A GET never creates it.
 */
async function exportDataset(db: Db, named: string | undefined): Promise<DatasetDoc | undefined> {
  if (named === undefined) return (await findDataset(db, DEFAULT_DATASET_NAME)) ?? undefined;
  const dataset = await findDataset(db, named);
  if (!dataset) throw notFound(`datasetId: dataset "${named}" not found`);
  return dataset;
}

/**
 * Tracks of the dataset (every item status: seed 001 exports "all annotations", and imports
 * create videos as drafts), not removed, narrowed by the query.
 */
export function trackMatch(dataset: DatasetDoc, params: TrackQuery): Filter<AnnotationDoc> {
  const match: Document = { datasetId: dataset._id, type: "track", removed: { $ne: true } };
  if (params.videoIds.length > 0) match.itemId = { $in: params.videoIds };
  if (params.personaIds.length > 0) match.personaId = { $in: params.personaIds };
  if (params.annotationTypes.size === 1) {
    // The line says "object" exactly when the track has an objectLink, "type" otherwise.
    match["link.objectLink"] = { $exists: params.annotationTypes.has("object") };
  }
  return match as Filter<AnnotationDoc>;
}

function statsOptions(dataset: DatasetDoc, params: TrackQuery) {
  return { includeInterpolated: params.includeInterpolated, format: params.format, categories: dataset.categories };
}

/** Snapshot reads need a replica set or sharded cluster on MongoDB 5.0+; probed once. */
function snapshotReads(db: Db): () => Promise<boolean> {
  let probed: Promise<boolean> | undefined;
  return () => {
    probed ??= db
      .admin()
      .command({ hello: 1 })
      .then(
        (hello) =>
          (typeof hello.setName === "string" || hello.msg === "isdbgrid") && Number(hello.maxWireVersion ?? 0) >= 13,
      );
    probed.catch(() => {
      probed = undefined;
    });
    return probed;
  };
}

async function* emptyDocs(): AsyncGenerator<AnnotationDoc> {}

/** What the line needs: not the other geometries, nor the fields derived for conflict checks and counts. */
const TRACK_PROJECTION = { attributes: 0, geometry: 0, frameRange: 0, trackKey: 0, trackStats: 0 } as const;

/**
 * The tracks in (itemId, _id) order through the {datasetId, itemId, _id} index, read in the
 * export's snapshot; the first `FIRST_TRACKS` by a query of their own, so the first line does not
 * wait for a full batch. Should the snapshot fall out of MongoDB's history window (5 minutes by
 * default) mid-stream, reading resumes after the last track without it.
 */
async function* trackDocs(
  db: Db,
  match: Filter<AnnotationDoc>,
  session: ClientSession | undefined,
  log: Logger,
): AsyncGenerator<AnnotationDoc> {
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  let current = session;
  let after: { itemId: string; _id: string } | undefined;
  let first = true;
  for (;;) {
    const query: Filter<AnnotationDoc> = after
      ? {
          $and: [
            match,
            { $or: [{ itemId: { $gt: after.itemId } }, { itemId: after.itemId, _id: { $gt: after._id } }] },
          ],
        }
      : match;
    const cursor = annotations
      .find(query, { ...(current ? { session: current } : {}), projection: TRACK_PROJECTION })
      .sort({ itemId: 1, _id: 1 })
      .hint({ datasetId: 1, itemId: 1, _id: 1 })
      .limit(first ? FIRST_TRACKS : 0)
      .batchSize(first ? FIRST_TRACKS : BATCH_TRACKS);
    try {
      let read = 0;
      for await (const doc of cursor) {
        after = { itemId: doc.itemId, _id: doc._id };
        read += 1;
        yield doc;
      }
      if (!first || read < FIRST_TRACKS) return;
      first = false;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (current === undefined || typeof code !== "number" || !SNAPSHOT_ERRORS.has(code)) throw err;
      log.warn({ code }, "export outlived its MongoDB snapshot; continuing without it");
      current = undefined;
      first = false;
    } finally {
      await cursor.close();
    }
  }
}

interface Written {
  lines: number;
  keyframes: number;
  interpolated: number;
}

/** Seed 001 lines (videoAnnotationLine's bytes), batched into chunks; counts what it writes. */
async function* exportBody(
  docs: AsyncIterable<AnnotationDoc>,
  params: TrackQuery,
  categories: DatasetDoc["categories"],
  written: Written,
): AsyncGenerator<string> {
  const byId = new Map<number, Category>(categories.map((c) => [c.id, categoryMessage(c)]));
  const options = { includeInterpolated: params.includeInterpolated, category: (id: number) => byId.get(id) };
  const json = params.format === "json";
  let chunk = json ? "[" : "";
  for await (const doc of docs) {
    const annotation = toVideoAnnotationJson(annotationMessage(doc), options);
    for (const box of annotation.boundingBoxSequence.boxes) {
      if (box.isKeyframe) written.keyframes += 1;
      else written.interpolated += 1;
    }
    const line = JSON.stringify(annotation);
    chunk += json ? `${written.lines === 0 ? "\n" : ",\n"}${line}` : `${line}\n`;
    written.lines += 1;
    if (written.lines === 1 || chunk.length >= CHUNK_CHARS) {
      yield chunk;
      chunk = "";
    }
  }
  if (json) chunk += written.lines === 0 ? "]\n" : "\n]\n";
  if (chunk !== "") yield chunk;
}

// --------------------------------------------------------------------------------------------
// POST /v1/ground-truths/snapshot

export interface SnapshotBody {
  mode: "attachment" | "artifact";
  mergeTags: boolean;
  dataOnly: boolean;
  datasetId?: string;
  filter?: ItemFilter;
}

const SNAPSHOT_FIELDS = ["mode", "mergeTags", "dataOnly", "datasetId", "filter"];

/** No body (or `{}`) is attachment mode (seed 000 NFR-002). */
export function parseSnapshotBody(json: JsonValue | undefined): SnapshotBody {
  const body: SnapshotBody = { mode: "attachment", mergeTags: true, dataOnly: false };
  if (json === undefined || json === null) return body;
  if (typeof json !== "object" || Array.isArray(json)) throw invalidArgument("body: must be a JSON object");
  const unknown = Object.keys(json).filter((k) => !SNAPSHOT_FIELDS.includes(k));
  if (unknown.length > 0) {
    throw invalidArgument(
      `body: unknown field ${unknown.map((k) => `"${k}"`).join(", ")}; expected ${SNAPSHOT_FIELDS.join(", ")}`,
    );
  }
  const { mode, mergeTags, dataOnly, datasetId, filter } = json as JsonObject;
  if (mode !== undefined) {
    if (mode !== "attachment" && mode !== "artifact") {
      throw invalidArgument(`mode: must be "attachment" or "artifact" (got ${JSON.stringify(mode)})`);
    }
    body.mode = mode;
  }
  for (const [name, value] of [
    ["mergeTags", mergeTags],
    ["dataOnly", dataOnly],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== "boolean")
      throw invalidArgument(`${name}: must be true or false (got ${JSON.stringify(value)})`);
    body[name] = value;
  }
  if (datasetId !== undefined) {
    if (typeof datasetId !== "string" || datasetId === "")
      throw invalidArgument("datasetId: must be a non-empty string");
    body.datasetId = datasetId;
  }
  if (filter !== undefined && filter !== null) {
    try {
      body.filter = fromJson(ItemFilterSchema, filter);
    } catch (err) {
      throw invalidArgument(`filter: ${(err as Error).message}`);
    }
  }
  return body;
}

async function readJsonBody(req: http.IncomingMessage): Promise<JsonValue | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ConnectError(`body: at most ${MAX_BODY_BYTES} bytes`, Code.ResourceExhausted);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw invalidArgument(`body: invalid JSON: ${(err as Error).message}`);
  }
}

/** The dataset named in the body, else "default" (seed 000 has no datasets; seed 001 imports go there). */
async function snapshotDataset(db: Db, named: string | undefined): Promise<DatasetDoc> {
  const wanted = named ?? DEFAULT_DATASET_NAME;
  const dataset = await findDataset(db, wanted);
  if (!dataset) {
    throw notFound(
      named === undefined
        ? `dataset "${DEFAULT_DATASET_NAME}" not found: name a dataset with {"datasetId": "..."}`
        : `datasetId: dataset "${named}" not found`,
    );
  }
  return dataset;
}

/**
 * Waits for the job to finish: the completed job, or undefined when the client went away (the job
 * is canceled then). A failed or canceled job, or one still running at the timeout (canceled too),
 * throws.
 */
async function waitForJob(
  deps: RestExportsDeps,
  exportId: string,
  signal: AbortSignal,
  log: Logger,
): Promise<ExportDoc | undefined> {
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS;
  const stop = async (reason: string) => {
    await deps.jobs.cancel(exportId).catch((err: unknown) => log.debug({ err, exportId }, "cancel after stop failed"));
    log.info({ exportId, reason }, "snapshot export canceled");
  };
  for (;;) {
    const doc = await deps.repo.get(exportId);
    if (!doc) throw notFound(`snapshot export ${exportId} was deleted while it ran`);
    if (doc.status === "completed") return doc;
    if (doc.status === "failed") {
      throw new ConnectError(
        `snapshot export ${exportId} failed: ${doc.errorMessage || "no reason given"}`,
        Code.Internal,
      );
    }
    if (!ACTIVE.includes(doc.status)) throw new ConnectError(`snapshot export ${exportId} was canceled`, Code.Aborted);
    if (signal.aborted) {
      await stop("client disconnected");
      return undefined;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      await stop("timeout");
      throw new ConnectError(
        `snapshot export ${exportId} did not finish within ${SNAPSHOT_TIMEOUT_MS / 60_000} minutes and was canceled`,
        Code.DeadlineExceeded,
      );
    }
    await deps.bus.nextChange(exportId, Math.min(JOB_POLL_MS, left), signal);
  }
}

async function sendStream(stream: Readable, res: RestResponse): Promise<void> {
  try {
    await pipeline(stream, res as NodeJS.WritableStream);
  } catch (err) {
    if (!clientGone(err, res)) throw err;
  }
}
