// StreamItems: items with their annotations in one ordered pass. Per page of items, one keyset
// query on items ({datasetId, _id > after} by _id) and one cursor on annotations (the page's ids,
// by {itemId, _id}), merged as they arrive: memory holds one page of items and the annotations of
// the response being built, and each response waits for the consumer.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext } from "@connectrpc/connect";
import type { StreamItemsRequest, StreamItemsResponse } from "@labelport/sdk/contracts";
import type { Db, Document, Filter } from "mongodb";
import { assertDatasetAccess, principalOf } from "../auth.ts";
import { invalidArgument } from "../errors.ts";
import { bsonString } from "./bson-reader.ts";
import { annotationMessage, itemMessage, timestamp } from "./convert.ts";
import { requireDataset } from "./datasets.ts";
import { ProtoWriter, writeAnnotation, writeItemFields } from "./encode.ts";
import { compileFilter } from "./filters.ts";
import { publicId, storedId } from "./ids.ts";
import { type AnnotationDoc, Collections, type ItemDoc } from "./model.ts";
import { rawFind } from "./raw-cursor.ts";
import { requireVersion } from "./versions.ts";
import { decodeRaw, streamVersionBson, type VersionRef } from "./versions-read.ts";

export const DEFAULT_BATCH_SIZE = 500;
export const MAX_BATCH_SIZE = 5000;
/**
 * A response is closed at the first item boundary past this size, whatever its item count, so a
 * batch of videos with thousands of boxes per track does not make one huge message (either side
 * holds a whole message in memory).
 */
export const RESPONSE_BYTES = 4 * 1024 * 1024;
/** The JSON form has no byte count at hand; annotations per response stand in for it. */
const RESPONSE_ANNOTATIONS = 20_000;
/** Annotations per MongoDB reply (well under its 16 MiB, a few hundred KB for boxes and polygons). */
const ANNOTATION_BATCH = 5000;

export interface StreamQuery {
  datasetId: string;
  filter: StreamItemsRequest["filter"];
  afterId?: string;
  /** Stop after this public item id (inclusive): with `afterId`, one range of SplitItems. */
  lastId?: string;
  snapshot: Date;
  batchSize: number;
  /** 0 = no limit. */
  limit: number;
  signal?: AbortSignal;
  /** Read this dataset version (VersionReads.resolve) instead of the live dataset; `snapshot` is then unused. */
  version?: VersionRef;
}

export interface ItemWithAnnotations<I = ItemDoc, A = AnnotationDoc> {
  item: I;
  annotations: A[];
}

/** A raw BSON document: where it starts in a reply buffer. */
export interface RawDoc {
  buf: Buffer;
  at: number;
}

/** A find on items or annotations, in the server's command form. */
interface FindSpec {
  filter: Document;
  sort: Document;
  hint?: Document;
  limit?: number;
  batchSize: number;
}

/** How the join reads documents: decoded by the driver, or as raw BSON (see encode.ts). */
interface DocumentForm<I, A> {
  /** One page of items. */
  items(db: Db, find: FindSpec): Promise<I[]>;
  /** Annotations a batch at a time, the next batch requested while one is handled. */
  annotations(db: Db, find: FindSpec): AsyncGenerator<A[]>;
  /** The stored `_id` of an item. */
  idOf(item: I): string;
  itemIdOf(annotation: A): string;
}

// Strings in these collections were validated on the way in; skipping the driver's UTF-8
// re-validation is a measurable part of decoding.
const DECODE_OPTIONS = { enableUtf8Validation: false } as const;

const DECODED: DocumentForm<ItemDoc, AnnotationDoc> = {
  items: (db, { filter, ...options }) =>
    db
      .collection<ItemDoc>(Collections.items)
      .find(filter, { ...DECODE_OPTIONS, ...options })
      .toArray(),
  async *annotations(db, { filter, ...options }) {
    // Internal fields the messages do not carry are not decoded.
    const cursor = db
      .collection<AnnotationDoc>(Collections.annotations)
      .find(filter, { ...DECODE_OPTIONS, ...options, projection: { trackKey: 0, frameRange: 0, trackStats: 0 } });
    // A whole driver batch at a time (not an await per document).
    let more = cursor.hasNext();
    try {
      while (await more) {
        const batch = cursor.readBufferedDocuments();
        more = cursor.hasNext();
        yield batch;
      }
    } finally {
      more.catch(() => undefined);
      await cursor.close();
    }
  },
  idOf: (item) => item._id,
  itemIdOf: (annotation) => annotation.itemId,
};

const RAW: DocumentForm<RawDoc, RawDoc> = {
  async items(db, find) {
    const page: RawDoc[] = [];
    for await (const { buf, docs } of rawFind(db, { find: Collections.items, ...find })) {
      for (const at of docs) page.push({ buf, at });
    }
    return page;
  },
  async *annotations(db, find) {
    // Fields the messages do not carry are skipped by the transcoder, so no projection.
    for await (const { buf, docs } of rawFind(db, { find: Collections.annotations, ...find })) {
      yield docs.map((at) => ({ buf, at }));
    }
  },
  idOf: ({ buf, at }) => bsonString(buf, at, "_id"),
  itemIdOf: ({ buf, at }) => bsonString(buf, at, "itemId"),
};

/** The items of a stream in id order, each with its annotations, as documents. */
export function streamItemDocs(db: Db, query: StreamQuery): AsyncGenerator<ItemWithAnnotations> {
  return query.version ? decodeVersion(streamItemBson(db, query)) : joinItems(db, query, DECODED);
}

async function* decodeVersion(
  docs: AsyncIterable<ItemWithAnnotations<RawDoc, RawDoc>>,
): AsyncGenerator<ItemWithAnnotations> {
  for await (const { item, annotations } of docs) {
    yield { item: decodeRaw<ItemDoc>(item), annotations: annotations.map((a) => decodeRaw<AnnotationDoc>(a)) };
  }
}

/** The same as raw BSON: the export hot path. */
export function streamItemBson(db: Db, query: StreamQuery): AsyncGenerator<ItemWithAnnotations<RawDoc, RawDoc>> {
  if (query.version) return streamVersionBson(db, query, compileFilter(query.datasetId, query.filter), query.version);
  return joinItems(db, query, RAW);
}

/**
 * Items are read a page (`batchSize`) at a time; the next page is fetched while the annotations
 * of the current one stream in.
 */
async function* joinItems<I, A>(
  db: Db,
  query: StreamQuery,
  form: DocumentForm<I, A>,
): AsyncGenerator<ItemWithAnnotations<I, A>> {
  const compiled = compileFilter(query.datasetId, query.filter, query.snapshot);
  const fetchPage = (after: string | undefined, take: number): Promise<I[]> => {
    const filter: Filter<ItemDoc> = { ...compiled.items };
    const idRange: { $gt?: string; $lte?: string } = {};
    if (after !== undefined) idRange.$gt = storedId(query.datasetId, after);
    if (query.lastId) idRange.$lte = storedId(query.datasetId, query.lastId);
    if (idRange.$gt !== undefined || idRange.$lte !== undefined) {
      filter._id = { ...(typeof filter._id === "object" ? filter._id : {}), ...idRange };
    }
    return form.items(db, { filter, sort: { _id: 1 }, limit: take, batchSize: take });
  };
  const takeAfter = (sent: number) =>
    query.limit > 0 ? Math.min(query.batchSize, query.limit - sent) : query.batchSize;

  let sent = 0;
  let take = takeAfter(0);
  if (take <= 0) return;
  let next: Promise<I[]> | undefined = fetchPage(query.afterId || undefined, take);
  while (next) {
    const page: I[] = await next;
    if (page.length === 0 || query.signal?.aborted) return;
    sent += page.length;
    const ids = page.map((item) => publicId(query.datasetId, form.idOf(item)));
    const last = ids[ids.length - 1] as string;
    const full: boolean = page.length === take;
    take = takeAfter(sent);
    next = full && take > 0 ? fetchPage(last, take) : undefined;
    // A consumer that stops early leaves the prefetch to finish on its own.
    next?.catch(() => undefined);

    // A range covers the page in one index scan; when the item side was filtered, the ids
    // themselves skip the annotations of items left out.
    const filter: Filter<AnnotationDoc> = {
      ...compiled.annotations,
      itemId: compiled.selectiveItems ? { $in: ids } : { $gte: ids[0] as string, $lte: last },
    };
    // Both sides come sorted by MongoDB's own id order, so the join needs no comparison of its
    // own: an annotation belongs to the page item with its id, later in the page or the current one.
    const position = new Map<string, number>(ids.map((id, i) => [id, i]));
    let index = 0;
    let pending: A[] = [];
    const batches = form.annotations(db, {
      filter,
      sort: { itemId: 1, _id: 1 },
      hint: { datasetId: 1, itemId: 1, _id: 1 },
      batchSize: ANNOTATION_BATCH,
    });
    for await (const batch of batches) {
      for (const annotation of batch) {
        const at = position.get(form.itemIdOf(annotation));
        if (at === undefined || at < index) continue;
        while (index < at) {
          yield { item: page[index++] as I, annotations: pending };
          pending = [];
        }
        pending.push(annotation);
      }
    }
    while (index < page.length) {
      yield { item: page[index++] as I, annotations: pending };
      pending = [];
    }
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
    lastId: req.lastId,
    snapshot: req.snapshotTime ? timestampDate(req.snapshotTime) : new Date(),
    batchSize: req.batchSize || DEFAULT_BATCH_SIZE,
    limit: Number(req.limit),
    ...(signal ? { signal } : {}),
  };
}

const RESPONSE_TYPE = "labelport.v1.StreamItemsResponse";

/**
 * Binary responses carry their items pre-encoded (see encode.ts) as unknown fields of number 1:
 * protobuf-es writes unknown fields verbatim after the known ones, so the wire message is an
 * ordinary StreamItemsResponse and the reflective encoder never sees an item.
 */
async function* binaryResponses(
  docs: AsyncIterable<ItemWithAnnotations<RawDoc, RawDoc>>,
  query: StreamQuery,
  snapshotTime: StreamItemsResponse["snapshotTime"],
): AsyncGenerator<StreamItemsResponse> {
  let writer = new ProtoWriter();
  let items = 0;
  const flush = (): StreamItemsResponse => {
    const bytes = writer.finish();
    // All items as one unknown field: protobuf-es writes its tag (field 1, length-delimited: the
    // byte 0x0a every item starts with) and then the bytes as they are, the other items' tags
    // included. The wire message is the one with an unknown field per item, without an object,
    // a view and a chunk per item.
    const $unknown = items > 0 ? [{ no: 1, wireType: 2, data: bytes.subarray(1) }] : [];
    writer = new ProtoWriter(Math.max(64 * 1024, bytes.length + (bytes.length >> 2)));
    items = 0;
    return { $typeName: RESPONSE_TYPE, items: [], snapshotTime, $unknown };
  };
  let any = false;
  for await (const { item, annotations } of docs) {
    const lengthAt = writer.begin(1);
    writeItemFields(writer, item.buf, item.at);
    for (const annotation of annotations) writeAnnotation(writer, annotation.buf, annotation.at);
    writer.end(lengthAt);
    items += 1;
    if (items >= query.batchSize || writer.length >= RESPONSE_BYTES) {
      any = true;
      yield flush();
    }
  }
  // An empty stream still tells the caller which snapshot it read.
  if (items > 0 || !any) yield flush();
}

async function* messageResponses(
  docs: AsyncIterable<ItemWithAnnotations>,
  query: StreamQuery,
  snapshotTime: StreamItemsResponse["snapshotTime"],
): AsyncGenerator<StreamItemsResponse> {
  let items: StreamItemsResponse["items"] = [];
  let annotationCount = 0;
  let any = false;
  for await (const { item, annotations } of docs) {
    items.push(itemMessage(item, annotations.map(annotationMessage)));
    annotationCount += annotations.length;
    if (items.length >= query.batchSize || annotationCount >= RESPONSE_ANNOTATIONS) {
      any = true;
      yield { $typeName: RESPONSE_TYPE, items, snapshotTime };
      items = [];
      annotationCount = 0;
    }
  }
  if (items.length > 0 || !any) yield { $typeName: RESPONSE_TYPE, items, snapshotTime };
}

/** gRPC, gRPC-Web and Connect all name a JSON body `...+json` or `application/json`. */
function wantsJson(ctx: HandlerContext): boolean {
  return /[/+]json\b/.test(ctx.requestHeader.get("content-type") ?? "");
}

export function createItemStream(db: Db) {
  return async function* streamItems(
    req: StreamItemsRequest,
    ctx: HandlerContext,
  ): AsyncGenerator<StreamItemsResponse> {
    const dataset = await requireDataset(db, req.datasetId);
    assertDatasetAccess(principalOf(ctx), dataset._id);
    const query = streamQueryOf(req, dataset._id, ctx.signal);
    if (req.versionId !== "") {
      const version = await requireVersion(db, dataset, req.versionId);
      query.version = version;
      // The version's own time, so its responses are the same bytes whenever it is read.
      query.snapshot = version.createdAt;
    }
    const snapshotTime = timestamp(query.snapshot);
    yield* wantsJson(ctx)
      ? messageResponses(streamItemDocs(db, query), query, snapshotTime)
      : binaryResponses(streamItemBson(db, query), query, snapshotTime);
  };
}
