// The MongoDB aggregation twin of data/tracks.ts `trackStatsOf`: the same per-track export
// statistics (keyframes, interpolated frames, validity and the SDK's errors, the bytes of the line
// without its boxes) as `$expr` expressions, for tracks whose statistics are not stored (written
// before they existed, or with another TRACK_STATS_VERSION). Stored ones are read as they are; the
// two sum to the same numbers, track by track (exports/stats-stored.test.ts), so GET /api/export's
// headers do not depend on when a track was written. Change one side, change the other.
import { SequenceErrors } from "@labelport/sdk";
import type { Document } from "mongodb";
import type { DatasetDoc } from "./model.ts";
import { LineLengths, TRACK_STATS_VERSION } from "./tracks.ts";

/** The video track export's two bodies: one line per track, or a JSON array of them. */
export type TrackFormat = "jsonl" | "json";

export interface TrackStatsOptions {
  includeInterpolated: boolean;
  format: TrackFormat;
  /** The dataset's categories: a track without a link prints its category as typeAssignment. */
  categories: DatasetDoc["categories"];
}

/** An aggregation expression (MongoDB checks them; the driver's types do not). */
type Expr = unknown;

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
      // The public id: `_id` less its "<datasetId>/" prefix (data/ids.ts).
      { $subtract: [strLen("$_id"), { $add: [strLen("$datasetId"), 1] }] },
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

/** Sums of `trackStatsProjection` over a selection (a `$group` stage's fields). */
export const TRACK_TOTALS = {
  annotations: { $sum: { $cond: ["$track", 1, 0] } },
  keyframes: { $sum: "$stats.keyframes" },
  interpolated: { $sum: "$stats.interpolated" },
  commas: { $sum: "$stats.commas" },
  fixed: { $sum: "$stats.fixed" },
  invalid: { $sum: { $cond: ["$stats.valid", 0, 1] } },
};

/** A `TRACK_TOTALS` row. */
export interface TotalsRow {
  annotations: number;
  keyframes: number;
  interpolated: number;
  commas: number;
  fixed: number;
  invalid: number;
}
