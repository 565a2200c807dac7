// The read side of dataset versions: a version with seq S sees, for each item and annotation, the
// history record with the smallest key >= S when there is one (the document as it was, or a
// tombstone), else the live document (see versions-archive.ts). Reads go a page of items at a
// time: the live page first, then the records of the ids it covers, merged in MongoDB's `_id`
// order. The live side is read before its records, so a write that lands between the two has
// already archived what it changed: every page is the version's, whatever runs meanwhile.
import { BSON, type Db, type Document } from "mongodb";
import { bsonString, int32, valueSize } from "./bson-reader.ts";
import type { CompiledFilter } from "./filters.ts";
import { publicId, storedId, storedIdRange } from "./ids.ts";
import { type AnnotationDoc, Collections, type ItemDoc } from "./model.ts";
import { rawFind } from "./raw-cursor.ts";
import type { ItemWithAnnotations, RawDoc, StreamQuery } from "./stream.ts";
import { HISTORY_ABSENT, HISTORY_AT, HISTORY_OF } from "./versions-archive.ts";

/** Which version a read is of: its `seq` (VersionReads.resolve gives it). */
export interface VersionRef {
  seq: number;
}

const ANNOTATION_BATCH = 5000;
/** Ids per `$in` of a history lookup. */
const LOOKUP_CHUNK = 5000;

const ID_NAME = Buffer.from("_id\u0000", "latin1");

/**
 * The stored document a history record holds: its `_id` again the stored id (from `_of`), the
 * history fields dropped, every other element's bytes as they were.
 */
export function restoreDocument(buf: Uint8Array, at: number): Buffer {
  const end = at + int32(buf, at) - 1;
  const parts: Uint8Array[] = [];
  let id: Uint8Array | undefined;
  let p = at + 4;
  while (p < end) {
    const start = p;
    const type = buf[p++] as number;
    const nameAt = p;
    while (buf[p] !== 0) p++;
    const name = Buffer.from(buf.buffer, buf.byteOffset + nameAt, p - nameAt).toString("latin1");
    p++;
    const valueAt = p;
    p += valueSize(buf, type, p);
    if (name === HISTORY_OF) id = buf.subarray(valueAt, p);
    else if (name !== "_id" && name !== HISTORY_AT && name !== HISTORY_ABSENT) parts.push(buf.subarray(start, p));
  }
  if (!id) throw new Error("history record without _of");
  let size = 4 + 1 + ID_NAME.length + id.length + 1;
  for (const part of parts) size += part.length;
  const out = Buffer.allocUnsafe(size);
  out.writeInt32LE(size, 0);
  out[4] = 0x02;
  let q = 5 + ID_NAME.copy(out, 5);
  q += Buffer.from(id.buffer, id.byteOffset, id.length).copy(out, q);
  for (const part of parts) q += Buffer.from(part.buffer, part.byteOffset, part.length).copy(out, q);
  out[q] = 0;
  return out;
}

export const idOf = (doc: RawDoc): string => bsonString(doc.buf, doc.at, "_id");
const itemIdOf = (doc: RawDoc): string => bsonString(doc.buf, doc.at, "itemId");

/** MongoDB's string order (UTF-8 bytes), which JavaScript's `<` does not follow beyond the BMP. */
export function compareStrings(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** A live-collection filter for history records: the stored id is `_of` there. */
function historyFilter(filter: Document): Document {
  const out: Document = { ...filter };
  if ("_id" in out) {
    out[HISTORY_OF] = out._id;
    delete out._id;
  }
  return out;
}

async function rawDocs(db: Db, find: Document & { find: string }): Promise<RawDoc[]> {
  const out: RawDoc[] = [];
  for await (const { buf, docs } of rawFind(db, find)) for (const at of docs) out.push({ buf, at });
  return out;
}

interface FirstRecord {
  id: string;
  absent: boolean;
}

/** The record each stored id reads in the version: the one with the smallest key >= seq. */
async function firstRecords(
  db: Db,
  history: string,
  datasetId: string,
  seq: number,
  of: Document,
): Promise<Map<string, FirstRecord>> {
  const records = await db
    .collection(history)
    .find(
      { datasetId, [HISTORY_OF]: of, [HISTORY_AT]: { $gte: seq } },
      { projection: { [HISTORY_OF]: 1, [HISTORY_ABSENT]: 1 } },
    )
    .sort({ [HISTORY_OF]: 1, [HISTORY_AT]: 1 })
    .toArray();
  const firsts = new Map<string, FirstRecord>();
  for (const r of records) {
    const stored = String(r[HISTORY_OF]);
    if (!firsts.has(stored)) firsts.set(stored, { id: String(r._id), absent: r[HISTORY_ABSENT] === true });
  }
  return firsts;
}

/** The records `firsts` chose (tombstones aside) that match `filter`, as stored documents. */
async function chosenDocs(
  db: Db,
  history: string,
  firsts: Map<string, FirstRecord>,
  filter: Document,
): Promise<RawDoc[]> {
  const chosen = [...firsts.values()].filter((r) => !r.absent).map((r) => r.id);
  const out: RawDoc[] = [];
  for (let i = 0; i < chosen.length; i += LOOKUP_CHUNK) {
    const docs = await rawDocs(db, {
      find: history,
      filter: { ...historyFilter(filter), _id: { $in: chosen.slice(i, i + LOOKUP_CHUNK) } },
      batchSize: LOOKUP_CHUNK,
    });
    for (const d of docs) out.push({ buf: restoreDocument(d.buf, d.at), at: 0 });
  }
  return out;
}

export interface VersionItemPage {
  items: RawDoc[];
  /** The stored id to read on after; undefined after the last page. */
  next: string | undefined;
}

/**
 * Up to `take` items of the version matching `filter`, after stored id `after` and up to stored id
 * `last` (inclusive, when given), in `_id` order.
 */
export async function versionItemPage(
  db: Db,
  datasetId: string,
  version: VersionRef,
  filter: Document,
  after: string | undefined,
  take: number,
  last?: string,
): Promise<VersionItemPage> {
  const live: Document = { ...filter };
  if (after !== undefined || last !== undefined) {
    live._id = {
      ...(typeof live._id === "object" ? live._id : {}),
      ...(after !== undefined ? { $gt: after } : {}),
      ...(last !== undefined ? { $lte: last } : {}),
    };
  }
  const page = await rawDocs(db, {
    find: Collections.items,
    filter: live,
    sort: { _id: 1 },
    limit: take,
    batchSize: take,
  });
  const full = page.length === take;
  const upper = full ? idOf(page[page.length - 1] as RawDoc) : undefined;
  const all = storedIdRange(datasetId);
  const range = {
    ...(after !== undefined ? { $gt: after } : { $gte: all.$gte }),
    ...(upper !== undefined ? { $lte: upper } : last !== undefined ? { $lte: last } : { $lt: all.$lt }),
  };
  const firsts = await firstRecords(db, Collections.itemsHistory, datasetId, version.seq, range);
  const kept = firsts.size === 0 ? page : page.filter((d) => !firsts.has(idOf(d)));
  if (firsts.size === 0) return { items: kept, next: upper };
  const restored = await chosenDocs(db, Collections.itemsHistory, firsts, filter);
  const merged = mergeById(kept, restored);
  if (merged.length > take) {
    const items = merged.slice(0, take);
    return { items, next: idOf(items[items.length - 1] as RawDoc) };
  }
  return { items: merged, next: upper };
}

function mergeById(a: RawDoc[], b: RawDoc[]): RawDoc[] {
  if (b.length === 0) return a;
  const keyed = [...a, ...b].map((doc) => ({ doc, key: Buffer.from(idOf(doc), "utf8") }));
  keyed.sort((x, y) => Buffer.compare(x.key, y.key));
  return keyed.map((k) => k.doc);
}

/**
 * The version's annotations of the items `itemIds` (public ids) that match `filter`, ordered by
 * item id, then `_id` (the live query's order). `itemCondition` selects those items (a range
 * covering them, or their ids).
 */
export async function versionAnnotations(
  db: Db,
  datasetId: string,
  version: VersionRef,
  filter: Document,
  itemCondition: Document,
): Promise<RawDoc[]> {
  const live = await rawDocs(db, {
    find: Collections.annotations,
    filter: { ...filter, itemId: itemCondition },
    sort: { itemId: 1, _id: 1 },
    hint: { datasetId: 1, itemId: 1, _id: 1 },
    batchSize: ANNOTATION_BATCH,
  });
  // No record at all since the version (looked up after the live read, so a write that changed
  // what was read has archived it by now): the live documents are the version's.
  const history = db.collection(Collections.annotationsHistory);
  if (!(await history.findOne({ datasetId, [HISTORY_AT]: { $gte: version.seq } }, { projection: { _id: 1 } }))) {
    return live;
  }
  // Records of the live annotations, and of annotations that were on these items in the version.
  const candidates = new Set(live.map(idOf));
  const moved = await history
    .find(
      { datasetId, itemId: itemCondition, [HISTORY_AT]: { $gte: version.seq } },
      { projection: { [HISTORY_OF]: 1 } },
    )
    .toArray();
  for (const r of moved) candidates.add(String(r[HISTORY_OF]));
  const ids = [...candidates];
  const firsts = new Map<string, FirstRecord>();
  for (let i = 0; i < ids.length; i += LOOKUP_CHUNK) {
    const chunk = await firstRecords(db, Collections.annotationsHistory, datasetId, version.seq, {
      $in: ids.slice(i, i + LOOKUP_CHUNK),
    });
    for (const [k, v] of chunk) firsts.set(k, v);
  }
  if (firsts.size === 0) return live;
  const kept = live.filter((d) => !firsts.has(idOf(d)));
  const restored = await chosenDocs(db, Collections.annotationsHistory, firsts, {
    ...filter,
    itemId: itemCondition,
  });
  const keyed = [...kept, ...restored].map((doc) => ({
    doc,
    item: Buffer.from(itemIdOf(doc), "utf8"),
    id: Buffer.from(idOf(doc), "utf8"),
  }));
  keyed.sort((x, y) => Buffer.compare(x.item, y.item) || Buffer.compare(x.id, y.id));
  return keyed.map((k) => k.doc);
}

/** StreamItems over a version: the same pages, items and order as the live join (stream.ts). */
export async function* streamVersionBson(
  db: Db,
  query: StreamQuery,
  compiled: CompiledFilter,
  version: VersionRef,
): AsyncGenerator<ItemWithAnnotations<RawDoc, RawDoc>> {
  let sent = 0;
  let after = query.afterId ? storedId(query.datasetId, query.afterId) : undefined;
  const last = query.lastId ? storedId(query.datasetId, query.lastId) : undefined;
  for (;;) {
    const take = query.limit > 0 ? Math.min(query.batchSize, query.limit - sent) : query.batchSize;
    if (take <= 0 || query.signal?.aborted) return;
    const { items, next } = await versionItemPage(db, query.datasetId, version, compiled.items, after, take, last);
    if (items.length > 0) {
      const ids = items.map((item) => publicId(query.datasetId, idOf(item)));
      const condition = compiled.selectiveItems
        ? { $in: ids }
        : { $gte: ids[0] as string, $lte: ids[ids.length - 1] as string };
      const annotations = await versionAnnotations(db, query.datasetId, version, compiled.annotations, condition);
      const position = new Map<string, number>(ids.map((id, i) => [id, i]));
      const byItem: RawDoc[][] = ids.map(() => []);
      for (const annotation of annotations) {
        const at = position.get(itemIdOf(annotation));
        if (at !== undefined) byItem[at]?.push(annotation);
      }
      for (let i = 0; i < items.length; i++) {
        yield { item: items[i] as RawDoc, annotations: byItem[i] as RawDoc[] };
      }
      sent += items.length;
    }
    if (next === undefined) return;
    after = next;
  }
}

/** A raw document decoded as the driver would (the JSON form of StreamItems, GetItem, ListItems). */
export function decodeRaw<T>(doc: RawDoc): T {
  return BSON.deserialize(doc.buf.subarray(doc.at, doc.at + int32(doc.buf, doc.at)), {
    validation: { utf8: false },
  }) as T;
}

/** One item of a version with its annotations; null when the version does not have it. */
export async function versionItem(
  db: Db,
  datasetId: string,
  version: VersionRef,
  itemId: string,
): Promise<ItemWithAnnotations | null> {
  const stored = storedId(datasetId, itemId);
  const [live] = await rawDocs(db, { find: Collections.items, filter: { _id: stored, datasetId }, limit: 1 });
  const firsts = await firstRecords(db, Collections.itemsHistory, datasetId, version.seq, { $eq: stored });
  const [restored] = await chosenDocs(db, Collections.itemsHistory, firsts, { datasetId });
  const item = firsts.has(stored) ? restored : live;
  if (!item) return null;
  const annotations = await versionAnnotations(db, datasetId, version, { datasetId }, { $in: [itemId] });
  return { item: decodeRaw<ItemDoc>(item), annotations: annotations.map((a) => decodeRaw<AnnotationDoc>(a)) };
}

/** ListItems over a version: a page of items (no annotations) and the public id to go on after. */
export async function versionItemList(
  db: Db,
  datasetId: string,
  version: VersionRef,
  filter: Document,
  afterId: string | undefined,
  size: number,
): Promise<{ items: ItemDoc[]; nextId: string | undefined }> {
  const items: RawDoc[] = [];
  let after = afterId === undefined ? undefined : storedId(datasetId, afterId);
  // One more than a page tells whether another follows.
  while (items.length <= size) {
    const page = await versionItemPage(db, datasetId, version, filter, after, size + 1 - items.length);
    items.push(...page.items);
    if (page.next === undefined) break;
    after = page.next;
  }
  const shown = items.slice(0, size);
  const last = shown[shown.length - 1];
  return {
    items: shown.map((d) => decodeRaw<ItemDoc>(d)),
    nextId: items.length > size && last ? publicId(datasetId, idOf(last)) : undefined,
  };
}

/** CountItems over a version: one pass of the versioned join. */
export async function versionCounts(
  db: Db,
  datasetId: string,
  version: VersionRef,
  compiled: CompiledFilter,
): Promise<{ items: number; annotations: number }> {
  const counts = { items: 0, annotations: 0 };
  const query: StreamQuery = { datasetId, filter: undefined, snapshot: new Date(0), batchSize: 1000, limit: 0 };
  for await (const { annotations } of streamVersionBson(db, query, compiled, version)) {
    counts.items++;
    counts.annotations += annotations.length;
  }
  return counts;
}
