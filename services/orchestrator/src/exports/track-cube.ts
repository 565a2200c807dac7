// A dataset's track totals broken down by what a GET /api/export query selects on (video, persona,
// object link or not) and what a line's length depends on (category, validity): the totals of any
// selection are then a sum over cells, not a scan of its tracks. The export preparation after a
// write (track-export.ts createExportTotalsPreparer) computes it with one pass over the dataset's
// tracks, and keeps it in `track_totals` under the write sequence read before, exactly as a
// selection's totals are kept (track-totals-cache.ts): it answers while that sequence holds and no
// write is under way. A selection that takes in an invalid track, or one whose statistics are
// older than TRACK_STATS_VERSION, is still scanned: its 400 lists them, its lines are computed.
import type { ClientSession, Db } from "mongodb";
import { annotationWritesState } from "../data/annotation-writes.ts";
import { type AnnotationDoc, Collections } from "../data/model.ts";
import { TRACK_STATS_VERSION } from "../data/tracks.ts";
import type { TotalsRow, TrackStatsOptions } from "../data/tracks-expr.ts";
import { addStoredRows, type StoredRow } from "./track-summary.ts";

/** A dataset with more distinct cells than this (most videos with tracks of many personas) keeps none. */
const MAX_CELLS = 50_000;

interface TrackCell extends StoredRow {
  item: string;
  persona: string;
  /** The tracks have an objectLink (annotationTypes "object"), or not ("type"). */
  object: boolean;
  /** Their statistics are TRACK_STATS_VERSION's. */
  current: boolean;
  interpolated: number;
}

interface CubeGroupRow {
  _id: Pick<TrackCell, "item" | "persona" | "object" | "category" | "current"> & { valid?: boolean | null };
  annotations: number;
  keyframes: number;
  interpolated: number;
  fixed: number;
}

interface TrackCubeDoc {
  _id: string;
  datasetId: string;
  seq: number;
  cells: TrackCell[];
  at: Date;
}

/** What a GET /api/export query selects on. */
export interface CubeSelection {
  videoIds: readonly string[];
  personaIds: readonly string[];
  annotationTypes: ReadonlySet<string>;
}

function cubesOf(db: Db) {
  return db.collection<TrackCubeDoc>(Collections.trackTotals);
}

const cubeId = (datasetId: string) => `${datasetId}/cube`;

/**
 * Computes and keeps the cube of dataset `datasetId` when no write is under way; nothing when
 * one is, or when it has more than MAX_CELLS cells.
 */
export async function keepTrackCube(db: Db, datasetId: string): Promise<void> {
  const state = await annotationWritesState(db, datasetId);
  if (!state.quiet) return;
  const cells = await db
    .collection<AnnotationDoc>(Collections.annotations)
    .aggregate<CubeGroupRow>(
      [
        { $match: { datasetId, type: "track", removed: { $ne: true } } },
        {
          $group: {
            _id: {
              item: "$itemId",
              persona: "$personaId",
              // As trackMatch selects: `link.objectLink: { $exists }`.
              object: { $ne: [{ $type: "$link.objectLink" }, "missing"] },
              category: "$trackStats.category",
              valid: "$trackStats.valid",
              current: { $eq: ["$trackStats.v", TRACK_STATS_VERSION] },
            },
            annotations: { $sum: 1 },
            keyframes: { $sum: "$trackStats.keyframes" },
            interpolated: { $sum: "$trackStats.interpolated" },
            fixed: { $sum: "$trackStats.fixed" },
          },
        },
        { $limit: MAX_CELLS + 1 },
      ],
      { allowDiskUse: true },
    )
    .toArray();
  if (cells.length > MAX_CELLS) return;
  await cubesOf(db).replaceOne(
    { _id: cubeId(datasetId) },
    {
      datasetId,
      seq: state.seq,
      cells: cells.map(({ _id, ...sums }) => ({ ..._id, valid: _id.valid !== false, ...sums })),
      at: new Date(),
    },
    { upsert: true },
  );
}

/**
 * The totals of `selection` from the cube kept at write sequence `seq` (read in `session`, the
 * export's snapshot), or undefined: no such cube, or the selection takes in a track that must be
 * scanned.
 */
export async function cubeTotals(
  db: Db,
  datasetId: string,
  seq: number,
  selection: CubeSelection,
  options: TrackStatsOptions,
  session?: ClientSession,
): Promise<TotalsRow | undefined> {
  const cube = await cubesOf(db).findOne({ _id: cubeId(datasetId), seq }, session ? { session } : {});
  if (!cube) return undefined;
  const videos = selection.videoIds.length > 0 ? new Set(selection.videoIds) : undefined;
  const personas = selection.personaIds.length > 0 ? new Set(selection.personaIds) : undefined;
  const object = selection.annotationTypes.size === 1 ? selection.annotationTypes.has("object") : undefined;
  const selected: TrackCell[] = [];
  for (const cell of cube.cells) {
    if (videos && !videos.has(cell.item)) continue;
    if (personas && !personas.has(cell.persona)) continue;
    if (object !== undefined && cell.object !== object) continue;
    if (!cell.valid || !cell.current) return undefined;
    selected.push(options.includeInterpolated ? cell : { ...cell, interpolated: 0 });
  }
  const none = { annotations: 0, keyframes: 0, interpolated: 0, commas: 0, fixed: 0, invalid: 0 };
  return addStoredRows(none, selected, options);
}
