// StreamItems: items with their annotations in one ordered pass. Per batch, one keyset query on
// items ({datasetId, _id > after} by _id) and one on annotations (the batch's id range, by
// {itemId, _id}), joined in memory; memory holds one batch, and each batch waits for the consumer.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { Annotation, StreamItemsRequest, StreamItemsResponse } from "@labelport/sdk/contracts";
import type { Db, Filter } from "mongodb";
import { invalidArgument } from "../errors.ts";
import { annotationMessage, itemMessage, timestamp } from "./convert.ts";
import { checkDatasetAccess, requireDataset } from "./datasets.ts";
import { compileFilter } from "./filters.ts";
import { type AnnotationDoc, Collections, type ItemDoc } from "./model.ts";

export const DEFAULT_BATCH_SIZE = 500;
export const MAX_BATCH_SIZE = 5000;

export interface StreamQuery {
  datasetId: string;
  filter: StreamItemsRequest["filter"];
  afterId?: string;
  snapshot: Date;
  batchSize: number;
  /** 0 = no limit. */
  limit: number;
  signal?: AbortSignal;
}

/** Internal fields the messages do not carry; not decoded. */
const ANNOTATION_PROJECTION = { trackKey: 0, frameRange: 0 } as const;
// Strings in these collections were validated on the way in; skipping the driver's UTF-8
// re-validation is a measurable part of decoding on the export path.
const READ_OPTIONS = { enableUtf8Validation: false } as const;

export type ItemBatch = Array<{ item: ItemDoc; annotations: AnnotationDoc[] }>;

/**
 * The batches of a stream, as documents (the export hot path; tests and benchmarks use it
 * directly). The next batch is fetched while the consumer handles the current one, so at most
 * two batches are in memory.
 */
export async function* itemBatches(db: Db, query: StreamQuery): AsyncGenerator<ItemBatch> {
  const items = db.collection<ItemDoc>(Collections.items);
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  const compiled = compileFilter(query.datasetId, query.filter, query.snapshot);

  const fetchBatch = async (after: string | undefined, take: number) => {
    const itemQuery: Filter<ItemDoc> = { ...compiled.items };
    if (after !== undefined) {
      itemQuery._id = { ...(typeof itemQuery._id === "object" ? itemQuery._id : {}), $gt: after };
    }
    const docs = await items.find(itemQuery, READ_OPTIONS).sort({ _id: 1 }).limit(take).toArray();
    if (docs.length === 0) return undefined;
    const ids = docs.map((d) => d._id);
    const first = ids[0] as string;
    const last = ids[ids.length - 1] as string;
    // A range covers the batch in one index scan; when the item side was filtered, the ids
    // themselves skip the annotations of items left out.
    const annotationQuery: Filter<AnnotationDoc> = {
      ...compiled.annotations,
      itemId: compiled.selectiveItems ? { $in: ids } : { $gte: first, $lte: last },
    };
    const byItem = new Map<string, AnnotationDoc[]>();
    for (const id of ids) byItem.set(id, []);
    const cursor = annotations
      .find(annotationQuery, { ...READ_OPTIONS, projection: ANNOTATION_PROJECTION })
      .sort({ itemId: 1, _id: 1 })
      .hint({ datasetId: 1, itemId: 1, _id: 1 })
      .batchSize(10_000);
    for await (const ann of cursor) byItem.get(ann.itemId)?.push(ann);
    const batch: ItemBatch = docs.map((item) => ({ item, annotations: byItem.get(item._id) ?? [] }));
    return { batch, last, size: docs.length, take };
  };
  const takeAfter = (sent: number) =>
    query.limit > 0 ? Math.min(query.batchSize, query.limit - sent) : query.batchSize;

  let sent = 0;
  let take = takeAfter(0);
  if (take <= 0) return;
  let next = fetchBatch(query.afterId || undefined, take);
  for (;;) {
    const current = await next;
    if (!current || query.signal?.aborted) return;
    sent += current.size;
    take = takeAfter(sent);
    const more = current.size === current.take && take > 0;
    next = more ? fetchBatch(current.last, take) : Promise.resolve(undefined);
    // A consumer that stops early leaves the prefetch to finish on its own.
    next.catch(() => undefined);
    yield current.batch;
  }
}

export function streamQueryOf(req: StreamItemsRequest, datasetId: string, signal?: AbortSignal): StreamQuery {
  if (req.batchSize > MAX_BATCH_SIZE) {
    throw invalidArgument(`batch_size: at most ${MAX_BATCH_SIZE} (got ${req.batchSize})`);
  }
  return {
    datasetId,
    filter: req.filter,
    afterId: req.afterId,
    snapshot: req.snapshotTime ? timestampDate(req.snapshotTime) : new Date(),
    batchSize: req.batchSize || DEFAULT_BATCH_SIZE,
    limit: Number(req.limit),
    ...(signal ? { signal } : {}),
  };
}

export function createItemStream(db: Db) {
  return async function* streamItems(
    req: StreamItemsRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<StreamItemsResponse> {
    const dataset = await requireDataset(db, req.datasetId);
    checkDatasetAccess(ctx, dataset._id);
    const query = streamQueryOf(req, dataset._id, ctx.signal);
    const snapshotTime = timestamp(query.snapshot);
    let any = false;
    for await (const batch of itemBatches(db, query)) {
      any = true;
      yield {
        $typeName: "labelport.v1.StreamItemsResponse",
        items: batch.map(({ item, annotations }) =>
          itemMessage(item, annotations.map(annotationMessage) satisfies Annotation[]),
        ),
        snapshotTime,
      };
    }
    // An empty stream still tells the caller which snapshot it read.
    if (!any) yield { $typeName: "labelport.v1.StreamItemsResponse", items: [], snapshotTime };
  };
}
