// What GET /api/export (and /api/export/stats) says about a selection of tracks before the first
// byte: counts, the estimated size, and the invalid sequences that make it a 400. Tracks carry
// their own statistics (`trackStats`, written with them), so these are sums, mostly read from one
// index (data/tracks.ts `TRACK_TOTALS_INDEX`); older tracks are computed by data/tracks-expr.ts.
import type { ClientSession, Db, Filter } from "mongodb";
import { type AnnotationDoc, Collections } from "../data/model.ts";
import { TRACK_STATS_VERSION } from "../data/tracks.ts";
import { type TotalsRow, TRACK_TOTALS, type TrackStatsOptions, trackStatsProjection } from "../data/tracks-expr.ts";
import { type BoxLengths, estimateSize, sampleBoxLengths } from "./size-estimate.ts";

/** Invalid sequences listed in a 400 body at most (the total is reported beside it). */
export const MAX_LISTED_INVALID = 1000;

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
              { $project: { ...trackStatsProjection(options, { errors: true }), datasetId: 1 } },
              { $match: { "stats.valid": false } },
              { $sort: { _id: 1 } },
              { $limit: MAX_LISTED_INVALID },
              {
                $project: {
                  _id: 0,
                  // The public id: `_id` less "<datasetId>/" (data/ids.ts).
                  annotationId: { $substrBytes: ["$_id", { $add: [{ $strLenBytes: "$datasetId" }, 1] }, -1] },
                  errors: "$stats.errors",
                },
              },
            ],
            inSession,
          )
          .toArray();
  return summaryOf(totals, lengths, options.format, invalid);
}

/**
 * The summary of a selection with no invalid sequence whose `totals` are known (from
 * track-cube.ts): only the box-length sample for the size estimate is read.
 */
export async function summaryOfTotals(
  db: Db,
  match: Filter<AnnotationDoc>,
  options: TrackStatsOptions,
  totals: TotalsRow,
): Promise<TrackSummary> {
  return summaryOf(totals, await sampleBoxLengths(db, match, options.includeInterpolated), options.format, []);
}

function summaryOf(
  totals: TotalsRow,
  lengths: BoxLengths,
  format: TrackStatsOptions["format"],
  invalid: InvalidSequence[],
): TrackSummary {
  return {
    annotationCount: totals.annotations,
    sequenceCount: totals.annotations,
    keyframeCount: totals.keyframes,
    interpolatedFrameCount: totals.interpolated,
    totalSize: estimateSize(totals, lengths, format),
    invalidCount: totals.invalid,
    invalid,
  };
}

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
  const totals = addStoredRows(
    computed ? { ...computed } : { annotations: 0, keyframes: 0, interpolated: 0, commas: 0, fixed: 0, invalid: 0 },
    stored.map((row) => ({ ...row, ...row._id })),
    options,
  );
  if (totals.invalid > (computed?.invalid ?? 0)) {
    // Only invalid tracks can lack keyframes; those have no boxes, so no comma to take back.
    totals.commas += await annotations.countDocuments(
      { ...storedMatch, "trackStats.valid": false, "trackStats.keyframes": 0 },
      inSession,
    );
  }
  return totals;
}

/** Sums of tracks with stored statistics that print the same category and are equally valid. */
export interface StoredRow {
  /** The category whose name the tracks print (null for none). */
  category?: number | null;
  valid: boolean;
  annotations: number;
  keyframes: number;
  /** Only when interpolated frames are asked for. */
  interpolated?: number;
  fixed: number;
}

/** `totals` with `rows` added: the request-dependent part of their lines (the category's name, the separator) counted in. */
export function addStoredRows(totals: TotalsRow, rows: Iterable<StoredRow>, options: TrackStatsOptions): TotalsRow {
  // Reversed: the first category of an id wins, as $indexOfArray finds it.
  const nameBytes = new Map(options.categories.map((c) => [c.id, Buffer.byteLength(c.name)] as const).reverse());
  const separator = options.format === "jsonl" ? 1 : 2;
  for (const row of rows) {
    const interpolated = row.interpolated ?? 0;
    totals.annotations += row.annotations;
    totals.keyframes += row.keyframes;
    totals.interpolated += interpolated;
    if (!row.valid) totals.invalid += row.annotations;
    totals.fixed += row.fixed + row.annotations * (separator + (nameBytes.get(row.category ?? Number.NaN) ?? 0));
    // Commas between boxes: keyframes + interpolated - 1 for each track with a keyframe.
    totals.commas += row.keyframes + interpolated - row.annotations;
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
