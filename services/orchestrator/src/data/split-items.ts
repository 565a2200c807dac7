// SplitItems: the plan of a split export. The dataset's items are cut into consecutive id ranges of
// about equal annotation counts, each read back exactly by StreamItems(after_id, last_id). Sizes are
// estimates (live annotations, item-level filters ignored); what holds exactly is that the ranges are
// consecutive, cover every id and end at item ids.
import { performance } from "node:perf_hooks";
import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  ItemRangeSchema,
  type SplitItemsRequest,
  type SplitItemsResponse,
  SplitItemsResponseSchema,
} from "@labelport/sdk/contracts";
import type { Db, Document } from "mongodb";
import { assertDatasetAccess, principalOf } from "../auth.ts";
import { invalidArgument } from "../errors.ts";
import { requireDataset } from "./datasets.ts";
import { compileFilter } from "./filters.ts";
import { storedId, storedIdRange } from "./ids.ts";
import { Collections, type ItemDoc } from "./model.ts";
import { requireVersion } from "./versions.ts";

export const MAX_RANGES = 256;
export const DEFAULT_ANNOTATIONS_PER_RANGE = 1_000_000;

/** One item's size, as the planner is fed them: in id order (MongoDB's string order). */
export interface ItemSize {
  itemId: string;
  annotations: number;
}

/** Items after `afterId` (exclusive, "" = from the first) up to `lastId` (inclusive, "" = to the last). */
export interface PlannedRange {
  afterId: string;
  lastId: string;
  items: number;
  annotations: number;
}

export interface PlanOptions {
  /** Annotations per range to aim at. */
  target: number;
  /** Ranges at most; the last one takes whatever is left. */
  maxRanges: number;
}

/**
 * Cuts items fed in id order into consecutive ranges of about `target` annotations. A range is
 * closed before an item when it has reached the target, or when taking the item would overshoot
 * the target by more than the range now falls short of it; so one huge item ends up alone rather
 * than dragging its neighbours along. Closing only before an item keeps the last range non-empty.
 * Memory is one range, whatever the number of items.
 */
export async function planRanges(sizes: AsyncIterable<ItemSize>, options: PlanOptions): Promise<PlannedRange[]> {
  const target = Math.max(1, options.target);
  const ranges: PlannedRange[] = [];
  let current: PlannedRange = { afterId: "", lastId: "", items: 0, annotations: 0 };
  let previousId = "";
  for await (const { itemId, annotations } of sizes) {
    const reached = current.annotations >= target || 2 * current.annotations + annotations > 2 * target;
    if (current.items > 0 && reached && ranges.length < options.maxRanges - 1) {
      ranges.push({ ...current, lastId: previousId });
      current = { afterId: previousId, lastId: "", items: 0, annotations: 0 };
    }
    current.items += 1;
    current.annotations += annotations;
    previousId = itemId;
  }
  ranges.push(current);
  return ranges;
}

/** True when the filter selects annotations on more than what every stream applies by default. */
function selectsAnnotations(filter: SplitItemsRequest["filter"]): boolean {
  if (!filter) return false;
  return (
    filter.categoryIds.length > 0 ||
    filter.annotationTypes.length > 0 ||
    filter.personaIds.length > 0 ||
    filter.users.length > 0 ||
    filter.linkKinds.length > 0
  );
}

/**
 * Annotations per item of a dataset, in item id order. Without annotation conditions the group
 * reads the {datasetId, itemId, _id} index alone (removed annotations are then counted: an
 * estimate); with them, every annotation document is read.
 */
async function* annotationSizes(db: Db, match: Document, signal?: AbortSignal): AsyncGenerator<ItemSize> {
  const cursor = db
    .collection(Collections.annotations)
    .aggregate<{ _id: string; n: number }>(
      [{ $match: match }, { $group: { _id: "$itemId", n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
      { allowDiskUse: true, hint: { datasetId: 1, itemId: 1, _id: 1 }, batchSize: 10_000 },
    );
  try {
    for await (const { _id, n } of cursor) {
      signal?.throwIfAborted();
      yield { itemId: _id, annotations: n };
    }
  } finally {
    await cursor.close();
  }
}

/** The items of each range, counted on the {datasetId, _id} index (live items, unfiltered). */
async function countItems(db: Db, datasetId: string, ranges: PlannedRange[]): Promise<number[]> {
  const all = storedIdRange(datasetId);
  const items = db.collection<ItemDoc>(Collections.items);
  const counts: number[] = [];
  for (const range of ranges) {
    const _id = {
      ...(range.afterId ? { $gt: storedId(datasetId, range.afterId) } : { $gte: all.$gte }),
      ...(range.lastId ? { $lte: storedId(datasetId, range.lastId) } : { $lt: all.$lt }),
    };
    counts.push(await items.countDocuments({ datasetId, _id }, { hint: { datasetId: 1, _id: 1 } }));
  }
  return counts;
}

export function createSplitItems(db: Db) {
  return async function splitItems(req: SplitItemsRequest, ctx: HandlerContext): Promise<SplitItemsResponse> {
    const started = performance.now();
    if (req.ranges > MAX_RANGES) throw invalidArgument(`ranges: at most ${MAX_RANGES} (got ${req.ranges})`);
    const dataset = await requireDataset(db, req.datasetId);
    assertDatasetAccess(principalOf(ctx), dataset._id);
    if (req.versionId !== "") await requireVersion(db, dataset, req.versionId);
    const compiled = compileFilter(dataset._id, req.filter);
    const match: Document = selectsAnnotations(req.filter) ? compiled.annotations : { datasetId: dataset._id };

    // The total first (a count on the same index), so that K ranges come out about equal, and
    // ranges of a given size too small for the dataset grow to fit 256 rather than leave the rest
    // to the last one.
    const total = await db
      .collection(Collections.annotations)
      .countDocuments(match, { hint: { datasetId: 1, itemId: 1, _id: 1 } });
    const maxRanges = req.ranges > 0 ? req.ranges : MAX_RANGES;
    const target =
      req.ranges > 0
        ? total / req.ranges
        : Math.max(Number(req.annotationsPerRange) || DEFAULT_ANNOTATIONS_PER_RANGE, total / MAX_RANGES);
    const planned = await planRanges(annotationSizes(db, match, ctx.signal), { target, maxRanges });
    const items = await countItems(db, dataset._id, planned);
    const ranges = planned.map((range, i) =>
      create(ItemRangeSchema, {
        afterId: range.afterId,
        lastId: range.lastId,
        items: BigInt(items[i] ?? 0),
        annotations: BigInt(range.annotations),
      }),
    );
    return create(SplitItemsResponseSchema, {
      ranges,
      totalItems: BigInt(items.reduce((sum, n) => sum + n, 0)),
      totalAnnotations: BigInt(planned.reduce((sum, range) => sum + range.annotations, 0)),
      planMillis: BigInt(Math.round(performance.now() - started)),
    });
  };
}
