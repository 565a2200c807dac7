// The video track export: GET /api/export, video tracks as JSON Lines or a JSON array,
// and GET /api/export/stats, its counts. Both are counted and validated from per-track statistics
// stored at write time (see track-summary.ts) before a streamed body.
import type http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Category, toVideoAnnotationJson } from "@labelport/sdk";
import type { ClientSession, Db, Document, Filter } from "mongodb";
import type { Context, PrepareWhen } from "../context.ts";
import type { AnnotationWritesState } from "../data/annotation-writes.ts";
import { annotationMessage, categoryMessage } from "../data/convert.ts";
import { DEFAULT_DATASET_NAME, findDataset, requireDataset } from "../data/datasets.ts";
import { type AnnotationDoc, Collections, type DatasetDoc } from "../data/model.ts";
import type { TrackFormat } from "../data/tracks-expr.ts";
import type { ResolvedVersion } from "../data/versions.ts";
import { invalidArgument } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type RestRouter, sendJson } from "../rest/router.ts";
import { clientGone } from "./downloads.ts";
import { megabytes, sizeWarning } from "./size-estimate.ts";
import { cubeTotals, keepTrackCube } from "./track-cube.ts";
import { versionTrackDocs, versionTrackSummary } from "./track-export-version.ts";
import { summaryOfTotals, type TrackSummary, trackSummary } from "./track-summary.ts";
import { keptTrackSummary } from "./track-totals-cache.ts";

/** Header names of GET /api/export, spelled as the video annotation API spells them. */
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

export type TrackExportOptions = Pick<Context, "log" | "database" | "versions">;

export function registerTrackExport(rest: RestRouter, options: TrackExportOptions): void {
  const { db, client } = options.database;
  const log = options.log.child({ area: "track-export" });
  const snapshots = snapshotReads(db);

  /** The version the query names (404 naming it when there is none), else undefined. */
  const versionOf = async (dataset: DatasetDoc | undefined, params: TrackQuery) => {
    if (params.version === undefined) return undefined;
    if (!dataset) throw invalidArgument(`version: the dataset has no versions (it has nothing imported yet)`);
    return options.versions.resolve(dataset._id, params.version, "version");
  };

  rest.on("GET", "/api/export/stats", "viewer", async ({ res, query }) => {
    const params = parseTrackQuery(query);
    const dataset = await exportDataset(db, params.datasetId);
    const version = await versionOf(dataset, params);
    const summary = dataset ? await querySummary(db, log, dataset, version, params) : EMPTY;
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
    const version = await versionOf(dataset, params);
    // One snapshot for the counts and the body, so the headers describe exactly what is sent (a
    // version never changes: it needs none).
    const session = dataset && !version && (await snapshots()) ? client.startSession({ snapshot: true }) : undefined;
    try {
      const match = dataset ? trackMatch(dataset, params) : undefined;
      const summary = dataset ? await querySummary(db, log, dataset, version, params, { session }) : EMPTY;
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
      const docs =
        dataset && match
          ? version
            ? versionTrackDocs(db, version, match)
            : trackDocs(db, match, session, log)
          : emptyDocs();
      const written: Written = { lines: 0, keyframes: 0, interpolated: 0 };
      const body = exportBody(docs, params, version?.categoryDocs ?? dataset?.categories ?? [], written);
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
}

export interface ExportTotalsPreparer {
  prepare(datasetId: string, when: PrepareWhen): void;
  /** Drops the preparations still waiting; one under way finishes on its own. */
  close(): void;
}

/** The least wait after a write before its dataset's totals are prepared. */
const WAIT_MS = 2000;
/**
 * The wait, as a multiple of the dataset's last preparation: a dataset written to all the time
 * spends at most about a tenth of a core on its totals.
 */
const WAIT_PER_COMPUTE = 10;

/**
 * What runs after a write to a dataset's annotations: the totals of the plain GET /api/export
 * (every track, as JSON Lines and as JSON) and the dataset's cube (track-cube.ts) are computed
 * and kept, so the next export answers from them. After an import at once; after upserts and
 * deletes a while later, the writes meanwhile served by the same preparation (an editor saving
 * every second would otherwise rescan the dataset every second). One computation per dataset at
 * a time; a write during it asks for one more after it.
 */
export function createExportTotalsPreparer(options: Pick<Context, "log" | "database">): ExportTotalsPreparer {
  const { db } = options.database;
  const log = options.log.child({ area: "track-export" });
  const datasets = new Map<
    string,
    { running: boolean; again: PrepareWhen | undefined; timer: NodeJS.Timeout | undefined }
  >();
  const lastMs = new Map<string, number>();
  let closed = false;
  const prepareNow = async (datasetId: string) => {
    const dataset = await db.collection<DatasetDoc>(Collections.datasets).findOne({ _id: datasetId });
    if (!dataset) return;
    const started = performance.now();
    for (const format of ["jsonl", "json"] as const) {
      const params = { ...parseTrackQuery(new URLSearchParams()), format };
      await querySummary(db, log, dataset, undefined, params, { awaitKeeping: true });
    }
    await keepTrackCube(db, datasetId);
    lastMs.set(datasetId, performance.now() - started);
  };
  const stateOf = (datasetId: string) => {
    let state = datasets.get(datasetId);
    if (!state) {
      state = { running: false, again: undefined, timer: undefined };
      datasets.set(datasetId, state);
    }
    return state;
  };
  const run = (datasetId: string): void => {
    const state = stateOf(datasetId);
    state.running = true;
    prepareNow(datasetId)
      .catch((err: unknown) => log.warn({ err, datasetId }, "could not prepare the export's totals"))
      .finally(() => {
        state.running = false;
        const again = state.again;
        state.again = undefined;
        if (again) prepare(datasetId, again);
        else if (!state.timer) datasets.delete(datasetId);
      });
  };
  const prepare = (datasetId: string, when: PrepareWhen): void => {
    if (closed) return;
    const state = stateOf(datasetId);
    if (state.running) {
      state.again = state.again === "now" ? "now" : when;
    } else if (when === "now") {
      clearTimeout(state.timer);
      state.timer = undefined;
      run(datasetId);
    } else if (!state.timer) {
      const waitMs = Math.max(WAIT_MS, WAIT_PER_COMPUTE * (lastMs.get(datasetId) ?? 0));
      state.timer = setTimeout(() => {
        state.timer = undefined;
        run(datasetId);
      }, waitMs);
      state.timer.unref();
    }
  };
  return {
    prepare,
    close() {
      closed = true;
      for (const state of datasets.values()) clearTimeout(state.timer);
      datasets.clear();
    },
  };
}

/**
 * The summary of the query's tracks in `dataset` or its `version`: kept, else computed (in
 * `session`, the export's snapshot) and kept (see track-totals-cache.ts).
 */
function querySummary(
  db: Db,
  log: Logger,
  dataset: DatasetDoc,
  version: ResolvedVersion | undefined,
  params: TrackQuery,
  options: { session?: ClientSession | undefined; awaitKeeping?: boolean } = {},
): Promise<TrackSummary> {
  const match = trackMatch(dataset, params);
  const stats = statsOptions(dataset, params);
  // A live selection's totals come from the dataset's cube when one holds (track-cube.ts), else
  // from a scan of its tracks.
  const live = async (state: AnnotationWritesState) => {
    const totals = state.quiet
      ? await cubeTotals(db, dataset._id, state.seq, params, stats, options.session)
      : undefined;
    return totals ? summaryOfTotals(db, match, stats, totals) : trackSummary(db, match, stats, options.session);
  };
  const compute = version
    ? () => versionTrackSummary(versionTrackDocs(db, version, match), version.categoryDocs, params)
    : live;
  const selection = { ...params, categories: version?.categoryDocs ?? dataset.categories };
  return keptTrackSummary(db, dataset._id, selection, compute, { ...options, log, version: version?.id });
}

export interface TrackQuery {
  format: TrackFormat;
  includeInterpolated: boolean;
  personaIds: string[];
  videoIds: string[];
  /** annotationTypes: "type" (typeAssignment, or no link) and "object" (objectLink). */
  annotationTypes: Set<"type" | "object">;
  datasetId?: string;
  /** A dataset version (id or name) to export instead of the live dataset (ours). */
  version?: string;
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

/** The video track export's query parameters; a bad value is a 400 naming the parameter. Unknown ones are ignored. */
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
  const version = single(query, "version");
  return {
    format,
    includeInterpolated,
    personaIds: list(query, "personaIds"),
    videoIds: list(query, "videoIds"),
    annotationTypes,
    ...(datasetId ? { datasetId } : {}),
    ...(version ? { version } : {}),
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
 * The dataset named by `datasetId`, else "default" (where video annotation imports without a
 * dataset go). Undefined when there is no default dataset yet: nothing has been imported, so the
 * export is empty. A GET never creates it.
 */
async function exportDataset(db: Db, named: string | undefined): Promise<DatasetDoc | undefined> {
  if (named !== undefined) return requireDataset(db, named, "datasetId");
  return (await findDataset(db, DEFAULT_DATASET_NAME)) ?? undefined;
}

/**
 * Tracks of the dataset (every item status: the video track export is of "all annotations", and
 * imports create videos as drafts), not removed, narrowed by the query.
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

/** Video annotation lines (videoAnnotationLine's bytes), batched into chunks; counts what it writes. */
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
