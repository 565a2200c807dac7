// The GetExportStats RPC: item, annotation and sequence counts of a dataset's selection and the
// size of its export, computed by MongoDB (no pass over the data in Node). Tracks are counted and
// sized as GET /api/export counts them (data/tracks-expr.ts, size-estimate.ts).
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetExportStatsRequest, GetExportStatsResponseSchema } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { requireDataset } from "../data/datasets.ts";
import { compileFilter } from "../data/filters.ts";
import { type AnnotationDoc, Collections, type ItemDoc } from "../data/model.ts";
import { type TotalsRow, TRACK_TOTALS, type TrackStatsOptions, trackStatsProjection } from "../data/tracks-expr.ts";
import { requireVersion } from "../data/versions.ts";
import { versionTotals } from "../data/versions-stats.ts";
import { estimateSize, megabytes, sampleBoxLengths, sizeWarning } from "./size-estimate.ts";

/** The formats whose output is the video annotation line per track (the jsonl plugin's, and the default). */
const TRACK_FORMATS = new Set(["", "jsonl", "json"]);

type RpcTotals = TotalsRow & { all: number; bson: number };

/**
 * GetExportStats over a dataset and an ItemFilter (approved items unless it says otherwise): item
 * and annotation counts of every type, sequence counts over tracks. The size is the video
 * annotation line estimate for jsonl/json (and no format); for other formats, whose bytes only
 * their plugin knows, the BSON size of the selected items and annotations stands in for their
 * JSON size.
 */
export async function exportStats(
  db: Db,
  request: GetExportStatsRequest,
): Promise<MessageInitShape<typeof GetExportStatsResponseSchema>> {
  const dataset = await requireDataset(db, request.datasetId);
  const version = request.versionId === "" ? undefined : await requireVersion(db, dataset, request.versionId);
  const compiled = compileFilter(dataset._id, request.filter);
  const trackFormat = TRACK_FORMATS.has(request.format);
  const options: TrackStatsOptions = {
    includeInterpolated: request.includeInterpolated,
    format: request.format === "json" ? "json" : "jsonl",
    categories: version?.categories ?? dataset.categories,
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
  if (version) {
    ({ itemCount, itemBytes, totals } = await versionTotals(
      db,
      dataset._id,
      version,
      compiled,
      projection,
      !trackFormat,
    ));
  } else if (compiled.selectiveItems) {
    // Items first, their annotations joined through the {datasetId, itemId, _id} index.
    const sum = (path: string) => ({ $sum: `$a.${path}` });
    const [row] = await items
      .aggregate<{ items: number; itemBytes: number } & RpcTotals>([
        { $match: compiled.items },
        {
          $project: {
            // Annotations name their item by its public id: `_id` less "<datasetId>/" (data/ids.ts).
            id: { $substrBytes: ["$_id", { $add: [{ $strLenBytes: "$datasetId" }, 1] }, -1] },
            size: trackFormat ? { $literal: 0 } : { $bsonSize: "$$ROOT" },
          },
        },
        {
          $lookup: {
            from: Collections.annotations,
            localField: "id",
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
