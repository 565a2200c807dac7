// Export statistics computed by MongoDB (one lean aggregation, no pass over the data in Node):
// the counts and size estimate of seed 001's GET /api/export and /api/export/stats, the sequence
// validation that decides its 400, and the GetExportStats RPC.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { SequenceErrors } from "@labelport/sdk";
import type { GetExportStatsRequest, GetExportStatsResponseSchema } from "@labelport/sdk/contracts";
import type { ClientSession, Db, Document, Filter } from "mongodb";
import { requireDataset } from "../data/datasets.ts";
import { compileFilter } from "../data/filters.ts";
import { type AnnotationDoc, type BoxDoc, Collections, type DatasetDoc, type ItemDoc } from "../data/model.ts";

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
// Size. One line of videoAnnotationLine (field order id, videoId, personaId, annotationType,
// typeAssignment | objectLink, boundingBoxSequence, createdAt, updatedAt) is
//   BASE + |id| + |videoId| + |personaId| + |interpolationMode or "linear"| + LINK
//        + Σ |box| + (boxes - 1)                                     (commas between boxes)
//   BASE = 197: the keys and punctuation, "type", two 24-character ISO times
//   LINK = 45 + |typeId| + |typeName|         typeAssignment (or the category, typeId its id)
//        | 47 + |objectId| + |objectType|     objectLink (includes "object" over "type")
//        | 0                                  neither
//   |box| = 70 + |frameNumber| + |x| + |y| + |width| + |height| + |isKeyframe| + |visible|
// with |s| the UTF-8 bytes of a string (JSON escapes not counted) and the literal lengths
// pinned by stats.test.ts against the real formatter. MongoDB sums the per-line part exactly;
// box lengths depend on how JavaScript prints numbers (an interpolated 956.627125 or
// 133.33333333333334), which MongoDB cannot reproduce, so they are measured: up to 64 random
// tracks of the selection are serialized box by box (keyframes whole, 16 random interpolated
// frames each, computed as the SDK interpolates), and the mean keyframe and interpolated box
// lengths are applied to the exact counts. jsonl adds "\n" per line; json adds "[", "\n" or
// ",\n" per line and "\n]\n" (2 per line + 3; "[]\n" when empty).
// ---------------------------------------------------------------------------------------------

export const LineLengths = {
  base: 197,
  typeLink: 45,
  objectLink: 47,
  box: 70,
} as const;

const strLen = (value: Expr): Expr => ({ $strLenBytes: { $toString: { $ifNull: [value, ""] } } });
const has = (field: string): Expr => ({ $ne: [{ $type: field }, "missing"] });
const field = (name: string, input: Expr): Expr => ({ $getField: { field: name, input } });

function linkLength(categories: DatasetDoc["categories"]): Expr {
  const categoryName = {
    $let: {
      vars: { i: { $indexOfArray: [categories.map((category) => category.id), "$categoryId"] } },
      in: {
        $cond: [
          { $lt: ["$$i", 0] },
          0,
          { $arrayElemAt: [categories.map((category) => Buffer.byteLength(category.name)), "$$i"] },
        ],
      },
    },
  };
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
 * Kept lean: it runs over every selected annotation before the first byte is sent.
 */
export function trackStatsProjection(options: TrackStatsOptions, extra: { errors?: boolean } = {}): Document {
  const separator = options.format === "jsonl" ? 1 : 2;
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
    track: { $eq: ["$type", "track"] },
    stats: {
      $cond: [
        { $ne: ["$type", "track"] },
        { valid: true, keyframes: 0, interpolated: 0, commas: 0, fixed: 0 },
        {
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
        },
      ],
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

/** Mean serialized box lengths of a random sample of the selected tracks (see the size note above). */
export async function sampleBoxLengths(
  db: Db,
  match: Filter<AnnotationDoc>,
  includeInterpolated: boolean,
): Promise<BoxLengths> {
  const sample = await db
    .collection<AnnotationDoc>(Collections.annotations)
    .aggregate<Pick<AnnotationDoc, "boxSequence">>([
      { $match: { ...match, type: "track" } },
      { $sample: { size: SAMPLE_TRACKS } },
      { $project: { _id: 0, boxSequence: 1 } },
    ])
    .toArray();
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
 * Counts, size and validation of the tracks `match` selects. The counts come from one
 * aggregation; pass the session of the export's snapshot so they describe exactly what is
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
  const [rows, lengths] = await Promise.all([
    annotations
      .aggregate<TotalsRow>(
        [{ $match: match }, { $project: trackStatsProjection(options) }, { $group: { _id: null, ...TRACK_TOTALS } }],
        inSession,
      )
      .toArray(),
    sampleBoxLengths(db, match, options.includeInterpolated),
  ]);
  const totals = rows[0];
  const invalidCount = totals?.invalid ?? 0;
  // Rare, so a second pass: the errors of the first invalid sequences.
  const invalid =
    invalidCount === 0
      ? []
      : await annotations
          .aggregate<InvalidSequence>(
            [
              { $match: match },
              { $project: trackStatsProjection(options, { errors: true }) },
              { $match: { "stats.valid": false } },
              { $sort: { _id: 1 } },
              { $limit: MAX_LISTED_INVALID },
              { $project: { _id: 0, annotationId: "$_id", errors: "$stats.errors" } },
            ],
            inSession,
          )
          .toArray();
  const annotationCount = totals?.annotations ?? 0;
  return {
    annotationCount,
    sequenceCount: annotationCount,
    keyframeCount: totals?.keyframes ?? 0,
    interpolatedFrameCount: totals?.interpolated ?? 0,
    totalSize: estimateSize(totals, lengths, options.format),
    invalidCount,
    invalid,
  };
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
