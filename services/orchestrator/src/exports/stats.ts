// Export statistics computed by MongoDB (no pass over the data in Node): the counts and size
// estimate of seed 001's GET /api/export and /api/export/stats, the sequence validation that
// decides its 400, and the GetExportStats RPC. Tracks carry their own statistics (`trackStats`,
// written with them), so these are sums, mostly read from one index.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { SequenceErrors } from "@labelport/sdk";
import type { GetExportStatsRequest, GetExportStatsResponseSchema } from "@labelport/sdk/contracts";
import type { ClientSession, Db, Document, Filter } from "mongodb";
import { requireDataset } from "../data/datasets.ts";
import { compileFilter } from "../data/filters.ts";
import { type AnnotationDoc, type BoxDoc, Collections, type DatasetDoc, type ItemDoc } from "../data/model.ts";
import { LineLengths, TRACK_STATS_VERSION } from "../data/tracks.ts";

export { LineLengths };

/**
 * Seed 001: "Exports larger than 100 MB trigger a warning". The seed's own example shows the
 * warning at exactly 104857600 bytes, so the threshold is inclusive.
 */
export const LARGE_EXPORT_BYTES = 100 * 1024 * 1024;
export const LARGE_EXPORT_WARNING = "Large export. Consider filtering by persona or video.";
/** Invalid sequences listed in a 400 body at most (the total is reported beside it). */
export const MAX_LISTED_INVALID = 1000;
/** Tracks serialized to measure box lengths (see `estimateSize`). */
const SAMPLE_TRACKS = 64;
/** Random annotations of the collection read per wanted sample track before the selection's own draw. */
const SAMPLE_DRAWS = 4;
/** Interpolated boxes measured per sampled track. */
const SAMPLE_FRAMES = 16;

export type TrackFormat = "jsonl" | "json";

export interface TrackStatsOptions {
  includeInterpolated: boolean;
  format: TrackFormat;
  /** The dataset's categories: a track without a link prints its category as typeAssignment. */
  categories: DatasetDoc["categories"];
}

export interface InvalidSequence {
  annotationId: string;
  errors: string[];
}

export interface TrackSummary {
  annotationCount: number;
  sequenceCount: number;
  keyframeCount: number;
  interpolatedFrameCount: number;
  /** Estimated bytes of the body GET /api/export sends (see `estimateSize`). */
  totalSize: number;
  invalidCount: number;
  /** The first `MAX_LISTED_INVALID` invalid sequences by annotation id, errors as the SDK words them. */
  invalid: InvalidSequence[];
}

/** `12.34`: bytes in MiB with two decimals (X-Export-Size; totalSizeMB adds "MB"). */
export function megabytes(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(2);
}

export function sizeWarning(bytes: number): string | undefined {
  return bytes >= LARGE_EXPORT_BYTES ? LARGE_EXPORT_WARNING : undefined;
}

type Expr = unknown;

// ---------------------------------------------------------------------------------------------
// Size. One line of videoAnnotationLine is the sum of data/tracks.ts `LineLengths` parts.
// MongoDB sums the per-line part exactly; box lengths depend on how JavaScript prints numbers (an
// interpolated 956.627125 or 133.33333333333334), which MongoDB cannot reproduce, so they are
// measured: up to 64 random tracks of the selection are serialized box by box (keyframes whole,
// 16 random interpolated frames each, computed as the SDK interpolates), and the mean keyframe
// and interpolated box lengths are applied to the exact counts. jsonl adds "\n" per line; json
// adds "[", "\n" or ",\n" per line and "\n]\n" (2 per line + 3; "[]\n" when empty).
//
// The per-track numbers that do not depend on the request are stored on the track when it is
// written (`trackStats`, see data/tracks.ts `trackStatsOf`), so the pass before the first byte
// only adds them up; tracks written before that (or with another TRACK_STATS_VERSION) are
// computed here, by the expressions below, which `trackStatsOf` mirrors.
// ---------------------------------------------------------------------------------------------

const strLen = (value: Expr): Expr => ({ $strLenBytes: { $toString: { $ifNull: [value, ""] } } });
const has = (field: string): Expr => ({ $ne: [{ $type: field }, "missing"] });
const field = (name: string, input: Expr): Expr => ({ $getField: { field: name, input } });

/** UTF-8 bytes of the name of the dataset category whose id `id` evaluates to; 0 for none. */
function categoryNameLength(categories: DatasetDoc["categories"], id: Expr): Expr {
  if (categories.length === 0) return 0;
  return {
    $let: {
      vars: { i: { $indexOfArray: [categories.map((category) => category.id), id] } },
      in: {
        $cond: [
          { $lt: ["$$i", 0] },
          0,
          { $arrayElemAt: [categories.map((category) => Buffer.byteLength(category.name)), "$$i"] },
        ],
      },
    },
  };
}

function linkLength(categories: DatasetDoc["categories"]): Expr {
  const categoryName = categoryNameLength(categories, "$categoryId");
  return {
    $cond: [
      has("$link.objectLink"),
      { $add: [LineLengths.objectLink, strLen("$link.objectLink.objectId"), strLen("$link.objectLink.objectType")] },
      {
        $cond: [
          has("$link.typeAssignment"),
          {
            $add: [
              LineLengths.typeLink,
              strLen("$link.typeAssignment.typeId"),
              strLen("$link.typeAssignment.typeName"),
            ],
          },
          { $cond: [has("$categoryId"), { $add: [LineLengths.typeLink, strLen("$categoryId"), categoryName] }, 0] },
        ],
      },
    ],
  };
}

/** Frame numbers rendered as the SDK's messages render them. */
const frameText = (frame: Expr): Expr => ({
  $toString: {
    $cond: [{ $eq: [frame, { $trunc: frame }] }, { $convert: { input: frame, to: "long", onError: frame } }, frame],
  },
});

/** The SDK's validateBoxSequence, message for message and in its order. */
function sequenceErrors(): Expr {
  const sorted = { $sortArray: { input: "$$frames", sortBy: 1 } };
  const duplicates = {
    $let: {
      vars: { s: sorted },
      in: {
        $reduce: {
          input: { $range: [1, { $size: "$$s" }] },
          initialValue: [],
          in: {
            $let: {
              vars: { f: { $arrayElemAt: ["$$s", "$$this"] } },
              in: {
                $cond: [
                  {
                    $and: [
                      { $eq: ["$$f", { $arrayElemAt: ["$$s", { $subtract: ["$$this", 1] }] }] },
                      { $ne: ["$$f", { $arrayElemAt: ["$$value", -1] }] },
                    ],
                  },
                  { $concatArrays: ["$$value", ["$$f"]] },
                  "$$value",
                ],
              },
            },
          },
        },
      },
    },
  };
  const [duplicatePrefix, duplicateSuffix] = SequenceErrors.duplicateFrame(0).split("0");
  const [negativePrefix, negativeSuffix] = SequenceErrors.negativeSize(0)
    .split(" 0 ")
    .map((s, i) => (i ? ` ${s}` : `${s} `));
  const [modePrefix, modeSuffix] = SequenceErrors.interpolationMode("\u0000").split("\u0000");
  return {
    $concatArrays: [
      { $cond: [{ $eq: ["$$n", 0] }, [SequenceErrors.noKeyframe], []] },
      { $cond: [{ $ne: ["$$frames", sorted] }, [SequenceErrors.notAscending], []] },
      { $map: { input: duplicates, in: { $concat: [duplicatePrefix, frameText("$$this"), duplicateSuffix] } } },
      {
        $map: {
          input: {
            $filter: {
              input: "$$b",
              cond: {
                $or: [{ $lt: [{ $ifNull: ["$$this.width", 0] }, 0] }, { $lt: [{ $ifNull: ["$$this.height", 0] }, 0] }],
              },
            },
          },
          in: { $concat: [negativePrefix, frameText("$$this.frameNumber"), negativeSuffix] },
        },
      },
      {
        $cond: [
          { $in: ["$$mode", ["", "linear"]] },
          [],
          [{ $concat: [modePrefix, { $toString: "$$mode" }, modeSuffix] }],
        ],
      },
    ],
  };
}

/**
 * Per annotation: `track`, and for tracks `valid` (no validateBoxSequence error), `keyframes`,
 * `interpolated` (0 unless asked for; what interpolateBoxSequence adds), `commas` between boxes and
 * `fixed` (the line without its boxes, with its separator); `errors` when asked, for invalid ones.
 * Read from the stored `trackStats` when they are of this version, else computed from the boxes.
 */
export function trackStatsProjection(options: TrackStatsOptions, extra: { errors?: boolean } = {}): Document {
  const separator = options.format === "jsonl" ? 1 : 2;
  const storedInterpolated = options.includeInterpolated ? "$trackStats.interpolated" : 0;
  const stored = {
    valid: "$trackStats.valid",
    keyframes: "$trackStats.keyframes",
    interpolated: storedInterpolated,
    commas: { $max: [0, { $subtract: [{ $add: ["$trackStats.keyframes", storedInterpolated] }, 1] }] },
    fixed: {
      $add: [
        "$trackStats.fixed",
        separator,
        {
          $cond: [has("$trackStats.category"), categoryNameLength(options.categories, "$trackStats.category"), 0],
        },
      ],
    },
    ...(extra.errors ? { errors: { $cond: ["$trackStats.valid", "$$REMOVE", "$trackStats.errors"] } } : {}),
  };
  return {
    track: { $eq: ["$type", "track"] },
    stats: {
      $cond: [
        { $ne: ["$type", "track"] },
        { valid: true, keyframes: 0, interpolated: 0, commas: 0, fixed: 0 },
        {
          $cond: [
            { $eq: ["$trackStats.v", TRACK_STATS_VERSION] },
            stored,
            computedTrackStats(options, extra, separator),
          ],
        },
      ],
    },
  };
}

/** A track's statistics computed from its boxes (tracks without stored `trackStats`). */
function computedTrackStats(options: TrackStatsOptions, extra: { errors?: boolean }, separator: number): Expr {
  const interpolated = options.includeInterpolated
    ? {
        $cond: [
          "$$valid",
          {
            $cond: [
              { $eq: ["$$n", 0] },
              0,
              {
                $subtract: [
                  { $subtract: [field("frameNumber", { $last: "$$kf" }), field("frameNumber", { $first: "$$kf" })] },
                  { $subtract: ["$$n", 1] },
                ],
              },
            ],
          },
          // As the SDK counts an invalid sequence: the gaps between its sorted, distinct keyframes.
          {
            $max: [
              0,
              {
                $subtract: [
                  { $add: [{ $subtract: [{ $max: "$$kf.frameNumber" }, { $min: "$$kf.frameNumber" }] }, 1] },
                  { $size: { $setUnion: ["$$kf.frameNumber"] } },
                ],
              },
            ],
          },
        ],
      }
    : 0;
  const fixed = {
    $add: [
      LineLengths.base,
      separator,
      strLen("$_id"),
      strLen("$itemId"),
      strLen("$personaId"),
      { $cond: [{ $eq: ["$$mode", ""] }, "linear".length, strLen("$$mode")] },
      linkLength(options.categories),
    ],
  };
  return {
    $let: {
      vars: {
        b: { $ifNull: ["$boxSequence.boxes", []] },
        mode: { $ifNull: ["$boxSequence.interpolationMode", ""] },
      },
      in: {
        $let: {
          vars: {
            kf: { $filter: { input: "$$b", cond: { $eq: ["$$this.isKeyframe", true] } } },
            frames: "$$b.frameNumber",
          },
          in: {
            $let: {
              vars: {
                n: { $size: "$$kf" },
                valid: {
                  $and: [
                    { $gt: [{ $size: "$$kf" }, 0] },
                    // Strictly ascending: equal to its own sorted set of frames.
                    { $eq: ["$$frames", { $sortArray: { input: { $setUnion: ["$$frames"] }, sortBy: 1 } }] },
                    {
                      $not: [
                        {
                          $anyElementTrue: [
                            {
                              $map: {
                                input: "$$b",
                                in: {
                                  $or: [
                                    { $lt: [{ $ifNull: ["$$this.width", 0] }, 0] },
                                    { $lt: [{ $ifNull: ["$$this.height", 0] }, 0] },
                                  ],
                                },
                              },
                            },
                          ],
                        },
                      ],
                    },
                    { $in: ["$$mode", ["", "linear"]] },
                  ],
                },
              },
              in: {
                $let: {
                  vars: { interpolated },
                  in: {
                    valid: "$$valid",
                    keyframes: "$$n",
                    interpolated: "$$interpolated",
                    commas: { $max: [0, { $subtract: [{ $add: ["$$n", "$$interpolated"] }, 1] }] },
                    fixed,
                    ...(extra.errors ? { errors: { $cond: ["$$valid", "$$REMOVE", sequenceErrors()] } } : {}),
                  },
                },
              },
            },
          },
        },
      },
    },
  };
}

const TRACK_TOTALS = {
  annotations: { $sum: { $cond: ["$track", 1, 0] } },
  keyframes: { $sum: "$stats.keyframes" },
  interpolated: { $sum: "$stats.interpolated" },
  commas: { $sum: "$stats.commas" },
  fixed: { $sum: "$stats.fixed" },
  invalid: { $sum: { $cond: ["$stats.valid", 0, 1] } },
};

interface TotalsRow {
  annotations: number;
  keyframes: number;
  interpolated: number;
  commas: number;
  fixed: number;
  invalid: number;
}

interface BoxLengths {
  keyframe: number;
  interpolated: number;
}

/**
 * Mean serialized box lengths of a random sample of the selected tracks (see the size note
 * above). First from random tracks of the whole collection (MongoDB's random cursor reads only
 * those), which serves when the selection is a good part of it; else drawn from the selection's
 * ids, which `TRACK_TOTALS_INDEX` holds for the usual selections, and only those tracks are read.
 */
export async function sampleBoxLengths(
  db: Db,
  match: Filter<AnnotationDoc>,
  includeInterpolated: boolean,
): Promise<BoxLengths> {
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  const selected = { ...match, type: "track" } as Filter<AnnotationDoc>;
  let sample = await annotations
    .aggregate<Pick<AnnotationDoc, "boxSequence">>([
      { $sample: { size: SAMPLE_TRACKS * SAMPLE_DRAWS } },
      { $match: selected },
      { $limit: SAMPLE_TRACKS },
      { $project: { _id: 0, boxSequence: 1 } },
    ])
    .toArray();
  if (sample.length < SAMPLE_TRACKS / 4) {
    const ids = await annotations
      .aggregate<{ _id: string }>([
        { $match: selected },
        { $project: { _id: 1 } },
        { $sample: { size: SAMPLE_TRACKS } },
      ])
      .toArray();
    sample =
      ids.length === 0
        ? []
        : await annotations
            .find({ _id: { $in: ids.map((row) => row._id) } }, { projection: { _id: 0, boxSequence: 1 } })
            .toArray();
  }
  return measureBoxes(
    sample.map((doc) => doc.boxSequence?.boxes ?? []),
    includeInterpolated,
  );
}

/** A plain box in the SDK's key order, for JSON.stringify. */
function boxJson(box: BoxDoc, isKeyframe: boolean): string {
  return JSON.stringify({
    frameNumber: box.frameNumber,
    x: box.x,
    y: box.y,
    width: box.width,
    height: box.height,
    isKeyframe,
    visible: box.visible,
  });
}

/** Mean keyframe and interpolated box lengths over the given sequences (exported for the tests). */
export function measureBoxes(
  sequences: ReadonlyArray<readonly BoxDoc[]>,
  includeInterpolated: boolean,
  random: () => number = Math.random,
): BoxLengths {
  let keyframes = 0;
  let keyframeBytes = 0;
  let interpolated = 0;
  let interpolatedBytes = 0;
  for (const boxes of sequences) {
    const keys = boxes.filter((b) => b.isKeyframe).sort((a, b) => a.frameNumber - b.frameNumber);
    for (const key of keys) keyframeBytes += boxJson(key, true).length;
    keyframes += keys.length;
    if (!includeInterpolated || keys.length < 2) continue;
    let count = 0;
    for (let i = 1; i < keys.length; i++) {
      count += Math.max(0, (keys[i] as BoxDoc).frameNumber - (keys[i - 1] as BoxDoc).frameNumber - 1);
    }
    if (count === 0) continue;
    const stored = new Map<number, BoxDoc>();
    for (const box of boxes) if (!box.isKeyframe) stored.set(box.frameNumber, box);
    let bytes = 0;
    const picks = Math.min(SAMPLE_FRAMES, count);
    for (let p = 0; p < picks; p++) {
      // The r-th interpolated frame of the track, then the box interpolateBoxSequence makes for it.
      let r = Math.floor(random() * count);
      for (let i = 1; i < keys.length; i++) {
        const start = keys[i - 1] as BoxDoc;
        const end = keys[i] as BoxDoc;
        const gap = Math.max(0, end.frameNumber - start.frameNumber - 1);
        if (r >= gap) {
          r -= gap;
          continue;
        }
        const frame = start.frameNumber + 1 + r;
        const kept = stored.get(frame);
        const t = (frame - start.frameNumber) / (end.frameNumber - start.frameNumber);
        const lerp = (a: number, b: number) => a + (b - a) * t;
        bytes += boxJson(
          kept ?? {
            frameNumber: frame,
            x: lerp(start.x, end.x),
            y: lerp(start.y, end.y),
            width: lerp(start.width, end.width),
            height: lerp(start.height, end.height),
            isKeyframe: false,
            visible: start.visible,
          },
          false,
        ).length;
        break;
      }
    }
    // Weighted by the track's interpolated frames: long tracks dominate the body.
    interpolated += count;
    interpolatedBytes += (bytes / picks) * count;
  }
  return {
    keyframe: keyframes > 0 ? keyframeBytes / keyframes : 0,
    interpolated: interpolated > 0 ? interpolatedBytes / interpolated : 0,
  };
}

function estimateSize(totals: TotalsRow | undefined, lengths: BoxLengths, format: TrackFormat): number {
  if (!totals || totals.annotations === 0) return format === "json" ? 3 : 0;
  const bytes =
    totals.fixed +
    totals.commas +
    totals.keyframes * lengths.keyframe +
    totals.interpolated * lengths.interpolated +
    (format === "json" ? 3 : 0);
  return Math.round(bytes);
}

/**
 * Counts, size and validation of the tracks `match` selects. The counts come from
 * `selectionTotals`; pass the session of the export's snapshot so they describe exactly what is
 * streamed after. The box-length sample runs beside it, outside the session (a session takes one
 * operation at a time, and the sample only feeds the estimate).
 */
export async function trackSummary(
  db: Db,
  match: Filter<AnnotationDoc>,
  options: TrackStatsOptions,
  session?: ClientSession,
): Promise<TrackSummary> {
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  const inSession = session ? { session } : {};
  const [totals, lengths] = await Promise.all([
    selectionTotals(db, match, options, session),
    sampleBoxLengths(db, match, options.includeInterpolated),
  ]);
  const invalidCount = totals.invalid;
  // Rare, so a second pass: the errors of the first invalid sequences.
  const invalid =
    invalidCount === 0
      ? []
      : await annotations
          .aggregate<InvalidSequence>(
            [
              // Invalid stored tracks, and the tracks whose statistics are computed.
              {
                $match: {
                  $and: [
                    match,
                    { $or: [{ "trackStats.valid": false }, { "trackStats.v": { $ne: TRACK_STATS_VERSION } }] },
                  ],
                },
              },
              { $project: trackStatsProjection(options, { errors: true }) },
              { $match: { "stats.valid": false } },
              { $sort: { _id: 1 } },
              { $limit: MAX_LISTED_INVALID },
              { $project: { _id: 0, annotationId: "$_id", errors: "$stats.errors" } },
            ],
            inSession,
          )
          .toArray();
  const annotationCount = totals.annotations;
  return {
    annotationCount,
    sequenceCount: annotationCount,
    keyframeCount: totals.keyframes,
    interpolatedFrameCount: totals.interpolated,
    totalSize: estimateSize(totals, lengths, options.format),
    invalidCount,
    invalid,
  };
}

/**
 * Keys of the index that answers `selectionTotals` from index entries alone (a covered query,
 * no track read) for a dataset's tracks, and `sampleBoxLengths`' draw of ids. Tracks only, so
 * the annotations of image datasets do not pay for it on write.
 */
export const TRACK_TOTALS_INDEX = {
  key: {
    datasetId: 1,
    type: 1,
    removed: 1,
    "trackStats.v": 1,
    "trackStats.category": 1,
    "trackStats.keyframes": 1,
    "trackStats.interpolated": 1,
    "trackStats.fixed": 1,
    "trackStats.valid": 1,
    _id: 1,
  },
  options: { name: "trackTotals", partialFilterExpression: { type: "track" } },
} as const;

/**
 * The totals of the selection: tracks with stored statistics summed per category (the only
 * request-dependent part of their line is the category's name), the others computed from their
 * boxes. Both passes run in `session`, one after the other.
 */
async function selectionTotals(
  db: Db,
  match: Filter<AnnotationDoc>,
  options: TrackStatsOptions,
  session: ClientSession | undefined,
): Promise<TotalsRow> {
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  const inSession = session ? { session } : {};
  const storedMatch = { ...match, type: "track", "trackStats.v": TRACK_STATS_VERSION } as Filter<AnnotationDoc>;
  // Grouped rather than counted with $cond: plain sums are what the index scan feeds fastest.
  const stored = await annotations
    .aggregate<StoredTotalsRow>(
      [
        { $match: storedMatch },
        {
          $group: {
            _id: { category: "$trackStats.category", valid: "$trackStats.valid" },
            annotations: { $sum: 1 },
            keyframes: { $sum: "$trackStats.keyframes" },
            ...(options.includeInterpolated ? { interpolated: { $sum: "$trackStats.interpolated" } } : {}),
            fixed: { $sum: "$trackStats.fixed" },
          },
        },
      ],
      inSession,
    )
    .toArray();
  const [computed] = await annotations
    .aggregate<TotalsRow>(
      [
        { $match: { ...match, "trackStats.v": { $ne: TRACK_STATS_VERSION } } },
        { $project: trackStatsProjection(options) },
        { $group: { _id: null, ...TRACK_TOTALS } },
      ],
      inSession,
    )
    .toArray();
  const totals: TotalsRow = computed
    ? { ...computed }
    : { annotations: 0, keyframes: 0, interpolated: 0, commas: 0, fixed: 0, invalid: 0 };
  // Reversed: the first category of an id wins, as $indexOfArray finds it.
  const nameBytes = new Map(options.categories.map((c) => [c.id, Buffer.byteLength(c.name)] as const).reverse());
  const separator = options.format === "jsonl" ? 1 : 2;
  let storedInvalid = 0;
  for (const row of stored) {
    const interpolated = row.interpolated ?? 0;
    totals.annotations += row.annotations;
    totals.keyframes += row.keyframes;
    totals.interpolated += interpolated;
    if (!row._id.valid) storedInvalid += row.annotations;
    totals.fixed += row.fixed + row.annotations * (separator + (nameBytes.get(row._id.category ?? Number.NaN) ?? 0));
    // Commas between boxes: keyframes + interpolated - 1 for each track with a keyframe.
    totals.commas += row.keyframes + interpolated - row.annotations;
  }
  totals.invalid += storedInvalid;
  if (storedInvalid > 0) {
    // Only invalid tracks can lack keyframes; those have no boxes, so no comma to take back.
    totals.commas += await annotations.countDocuments(
      { ...storedMatch, "trackStats.valid": false, "trackStats.keyframes": 0 },
      inSession,
    );
  }
  return totals;
}

interface StoredTotalsRow {
  /** The category whose name the tracks print (null for none), and whether they are valid. */
  _id: { category?: number | null; valid: boolean };
  annotations: number;
  keyframes: number;
  /** Only when interpolated frames are asked for. */
  interpolated?: number;
  fixed: number;
}

/** The formats whose output is seed 001's line per track (the jsonl plugin's, and the default). */
const TRACK_FORMATS = new Set(["", "jsonl", "json"]);

type RpcTotals = TotalsRow & { all: number; bson: number };

/**
 * GetExportStats over a dataset and an ItemFilter (approved items unless it says otherwise):
 * item and annotation counts of every type, sequence counts over tracks. The size is the seed 001
 * line estimate for jsonl/json (and no format); for other formats, whose bytes only their plugin
 * knows, the BSON size of the selected items and annotations stands in for their JSON size.
 */
export async function exportStats(
  db: Db,
  request: GetExportStatsRequest,
): Promise<MessageInitShape<typeof GetExportStatsResponseSchema>> {
  const dataset = await requireDataset(db, request.datasetId);
  const compiled = compileFilter(dataset._id, request.filter);
  const trackFormat = TRACK_FORMATS.has(request.format);
  const options: TrackStatsOptions = {
    includeInterpolated: request.includeInterpolated,
    format: request.format === "json" ? "json" : "jsonl",
    categories: dataset.categories,
  };
  const projection = {
    ...trackStatsProjection(options),
    ...(trackFormat ? {} : { bson: { $bsonSize: "$$ROOT" } }),
  };
  const items = db.collection<ItemDoc>(Collections.items);
  const lengths = trackFormat ? sampleBoxLengths(db, compiled.annotations, options.includeInterpolated) : undefined;
  let itemCount = 0;
  let itemBytes = 0;
  let totals: RpcTotals | undefined;
  if (compiled.selectiveItems) {
    // Items first, their annotations joined through the {datasetId, itemId, _id} index.
    const sum = (path: string) => ({ $sum: `$a.${path}` });
    const [row] = await items
      .aggregate<{ items: number; itemBytes: number } & RpcTotals>([
        { $match: compiled.items },
        { $project: { _id: 1, size: trackFormat ? { $literal: 0 } : { $bsonSize: "$$ROOT" } } },
        {
          $lookup: {
            from: Collections.annotations,
            localField: "_id",
            foreignField: "itemId",
            pipeline: [{ $match: compiled.annotations }, { $project: projection }],
            as: "a",
          },
        },
        {
          $project: {
            size: 1,
            all: { $size: "$a" },
            annotations: { $size: { $filter: { input: "$a", cond: "$$this.track" } } },
            keyframes: sum("stats.keyframes"),
            interpolated: sum("stats.interpolated"),
            commas: sum("stats.commas"),
            fixed: sum("stats.fixed"),
            invalid: { $size: { $filter: { input: "$a", cond: { $not: ["$$this.stats.valid"] } } } },
            bson: sum("bson"),
          },
        },
        {
          $group: {
            _id: null,
            items: { $sum: 1 },
            itemBytes: { $sum: "$size" },
            ...Object.fromEntries(
              ["all", "annotations", "keyframes", "interpolated", "commas", "fixed", "invalid", "bson"].map((k) => [
                k,
                { $sum: `$${k}` },
              ]),
            ),
          },
        },
      ])
      .toArray();
    itemCount = row?.items ?? 0;
    itemBytes = row?.itemBytes ?? 0;
    totals = row;
  } else {
    const [itemRows, annotationRows] = await Promise.all([
      items
        .aggregate<{ n: number; bytes: number }>([
          { $match: compiled.items },
          { $group: { _id: null, n: { $sum: 1 }, bytes: { $sum: trackFormat ? 0 : { $bsonSize: "$$ROOT" } } } },
        ])
        .toArray(),
      db
        .collection<AnnotationDoc>(Collections.annotations)
        .aggregate<RpcTotals>([
          { $match: compiled.annotations },
          { $project: projection },
          { $group: { _id: null, ...TRACK_TOTALS, all: { $sum: 1 }, bson: { $sum: "$bson" } } },
        ])
        .toArray(),
    ]);
    itemCount = itemRows[0]?.n ?? 0;
    itemBytes = itemRows[0]?.bytes ?? 0;
    totals = annotationRows[0];
  }
  const totalSize = lengths ? estimateSize(totals, await lengths, options.format) : itemBytes + (totals?.bson ?? 0);
  const warning = sizeWarning(totalSize);
  return {
    totalSize: BigInt(totalSize),
    totalSizeMb: `${megabytes(totalSize)}MB`,
    itemCount: BigInt(itemCount),
    annotationCount: BigInt(totals?.all ?? 0),
    sequenceCount: BigInt(totals?.annotations ?? 0),
    keyframeCount: BigInt(totals?.keyframes ?? 0),
    interpolatedFrameCount: BigInt(totals?.interpolated ?? 0),
    warning: warning ?? "",
  };
}
