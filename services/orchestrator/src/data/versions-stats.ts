// GetExportStats over a dataset version, still computed by MongoDB. A version's documents are the
// live ones no history record overrides (a $lookup on the record index) plus the first record of
// each overridden id (a $unionWith), so any pipeline can start from `versionSource`. Every total
// is a sum, so a selection of items is counted a chunk of item ids at a time and added up.
import type { Db, Document } from "mongodb";
import type { CompiledFilter } from "./filters.ts";
import { publicId } from "./ids.ts";
import { Collections } from "./model.ts";
import { type TotalsRow, TRACK_TOTALS } from "./tracks-expr.ts";
import { HISTORY_ABSENT, HISTORY_AT, HISTORY_OF, historyOf } from "./versions-archive.ts";
import type { VersionRef } from "./versions-read.ts";

type Versioned = typeof Collections.items | typeof Collections.annotations;

/** Stages that turn an aggregation on `collection` into one on the version's documents matching `match`. */
export function versionSource(
  collection: Versioned,
  datasetId: string,
  version: VersionRef,
  match: Document,
): Document[] {
  const history = historyOf(collection);
  return [
    { $match: match },
    {
      $lookup: {
        from: history,
        localField: "_id",
        foreignField: HISTORY_OF,
        pipeline: [{ $match: { [HISTORY_AT]: { $gte: version.seq } } }, { $limit: 1 }, { $project: { _id: 1 } }],
        as: "_overridden",
      },
    },
    { $match: { _overridden: { $size: 0 } } },
    { $unset: "_overridden" },
    {
      $unionWith: {
        coll: history,
        pipeline: [
          { $match: { datasetId, [HISTORY_AT]: { $gte: version.seq } } },
          { $sort: { [HISTORY_OF]: 1, [HISTORY_AT]: 1 } },
          { $group: { _id: `$${HISTORY_OF}`, record: { $first: "$$ROOT" } } },
          { $replaceRoot: { newRoot: "$record" } },
          { $match: { [HISTORY_ABSENT]: { $ne: true } } },
          { $set: { _id: `$${HISTORY_OF}` } },
          { $unset: [HISTORY_OF, HISTORY_AT] },
          { $match: match },
        ],
      },
    },
  ];
}

export type VersionTotals = TotalsRow & { all: number; bson: number };

const ITEM_CHUNK = 5000;
const TOTAL_KEYS = [...(Object.keys(TRACK_TOTALS) as Array<keyof TotalsRow>), "all", "bson"] as const;

/**
 * Item count and bytes and the annotation totals (TRACK_TOTALS, `all`, `bson`) of the version's
 * selection; `projection` is the per-annotation projection stats.ts groups.
 */
export async function versionTotals(
  db: Db,
  datasetId: string,
  version: VersionRef,
  compiled: CompiledFilter,
  projection: Document,
  itemBytes: boolean,
): Promise<{ itemCount: number; itemBytes: number; totals: VersionTotals | undefined }> {
  const [items] = await db
    .collection(Collections.items)
    .aggregate<{ n: number; bytes: number }>([
      ...versionSource(Collections.items, datasetId, version, compiled.items),
      { $group: { _id: null, n: { $sum: 1 }, bytes: { $sum: itemBytes ? { $bsonSize: "$$ROOT" } : 0 } } },
    ])
    .toArray();
  const annotationTotals = async (match: Document) =>
    (
      await db
        .collection(Collections.annotations)
        .aggregate<VersionTotals>([
          ...versionSource(Collections.annotations, datasetId, version, match),
          { $project: projection },
          { $group: { _id: null, ...TRACK_TOTALS, all: { $sum: 1 }, bson: { $sum: "$bson" } } },
        ])
        .toArray()
    )[0];
  let totals: VersionTotals | undefined;
  if (!compiled.selectiveItems) {
    totals = await annotationTotals(compiled.annotations);
  } else {
    const ids = db
      .collection(Collections.items)
      .aggregate<{ _id: string }>([
        ...versionSource(Collections.items, datasetId, version, compiled.items),
        { $project: { _id: 1 } },
      ]);
    let chunk: string[] = [];
    const add = async () => {
      const row = await annotationTotals({ ...compiled.annotations, itemId: { $in: chunk } });
      chunk = [];
      if (!row) return;
      if (!totals) totals = row;
      else for (const key of TOTAL_KEYS) totals[key] += row[key] ?? 0;
    };
    for await (const { _id } of ids) {
      chunk.push(publicId(datasetId, _id));
      if (chunk.length >= ITEM_CHUNK) await add();
    }
    if (chunk.length > 0) await add();
  }
  return { itemCount: items?.n ?? 0, itemBytes: items?.bytes ?? 0, totals };
}
