// The write side of dataset versions. While a dataset has versions, every write path copies the
// documents it is about to change or delete into `items_history` / `annotations_history` first,
// keyed by the dataset's `versionSeq` K at that moment: record `<storedId>@K` holds the document as
// it was before the first write after version K was created (or a tombstone, `_absent`, when it
// did not exist yet). The first copy under a key wins ($merge keepExisting / duplicate inserts
// ignored), so concurrent writers agree. A version with seq S reads, for each document, the record
// with the smallest key >= S if there is one, else the live document (versions-read.ts).
//
// Copies are made server-side ($merge), so a record holds the stored bytes exactly: a version
// streams the same bytes as the live document did. They are made outside any transaction
// (aggregations with $merge cannot run in one) and before the write: a write that then fails or is
// undone leaves a record equal to the live document, which reads the same.
import type { Db, Document } from "mongodb";
import type { BatchWrite } from "./import/writer.ts";
import { Collections, type DatasetDoc } from "./model.ts";

type Versioned = typeof Collections.items | typeof Collections.annotations;

/** History fields added to a copy; an `_id` "<storedId>@<key>" replaces the stored one. */
export const HISTORY_OF = "_of";
export const HISTORY_AT = "_at";
export const HISTORY_ABSENT = "_absent";

export function historyOf(collection: Versioned): string {
  return collection === Collections.items ? Collections.itemsHistory : Collections.annotationsHistory;
}

export function historyId(stored: string, key: number): string {
  return `${stored}@${key}`;
}

/** The key writes to the dataset archive under now; undefined when it has no version. */
export async function archiveKeyOf(db: Db, datasetId: string): Promise<number | undefined> {
  const doc = await db
    .collection<DatasetDoc>(Collections.datasets)
    .findOne({ _id: datasetId }, { projection: { versionSeq: 1, versionCount: 1 } });
  return doc && (doc.versionCount ?? 0) > 0 ? doc.versionSeq : undefined;
}

/** What a write is about to touch: stored ids (upserts: missing ones get a tombstone), or a filter. */
export type ArchiveTarget = { ids: readonly string[] } | { filter: Document };

const CHUNK = 20_000;

/**
 * Archives what `target` selects in `collection` of dataset `datasetId` before a write changes
 * it. One indexed lookup and nothing else when the dataset has no version.
 */
export async function archiveBeforeWrite(
  db: Db,
  datasetId: string,
  collection: Versioned,
  target: ArchiveTarget,
): Promise<void> {
  const key = await archiveKeyOf(db, datasetId);
  if (key !== undefined) await archive(db, datasetId, collection, target, key);
}

/**
 * The import writer's hook (import/writer.ts): archives what a batch is about to replace or
 * delete, and tombstones what it creates. A batch writes one dataset.
 */
export async function archiveBeforeBatch(db: Db, batch: BatchWrite): Promise<void> {
  const datasetId = datasetOfBatch(batch);
  if (datasetId === undefined) return;
  const key = await archiveKeyOf(db, datasetId);
  if (key === undefined) return;
  for (const collection of [Collections.items, Collections.annotations] as const) {
    const ops = batch.ops.get(collection);
    if (!ops || ops.length === 0) continue;
    const ids: string[] = [];
    for (const op of ops) {
      if ("insertOne" in op) ids.push(op.insertOne.document._id);
      else if ("replaceOne" in op) ids.push(String(op.replaceOne.filter._id));
      else if ("deleteOne" in op) ids.push(String(op.deleteOne.filter._id));
      else if ("updateOne" in op) ids.push(String(op.updateOne.filter._id));
      else throw new Error(`versions cannot archive a ${Object.keys(op)[0]} on ${collection}`);
    }
    await archive(db, datasetId, collection, { ids }, key);
  }
}

function datasetOfBatch(batch: BatchWrite): string | undefined {
  for (const before of batch.befores) if (typeof before.doc?.datasetId === "string") return before.doc.datasetId;
  for (const collection of [Collections.items, Collections.annotations]) {
    for (const op of batch.ops.get(collection) ?? []) {
      const doc =
        "insertOne" in op ? op.insertOne.document : "replaceOne" in op ? op.replaceOne.replacement : undefined;
      if (typeof doc?.datasetId === "string") return doc.datasetId;
    }
  }
  return undefined;
}

async function archive(
  db: Db,
  datasetId: string,
  collection: Versioned,
  target: ArchiveTarget,
  key: number,
): Promise<void> {
  if ("filter" in target) {
    await copyToHistory(db, collection, { ...target.filter, datasetId }, key);
    return;
  }
  for (let i = 0; i < target.ids.length; i += CHUNK) {
    const ids = target.ids.slice(i, i + CHUNK);
    await copyToHistory(db, collection, { _id: { $in: ids }, datasetId }, key);
    // Ids with no record now did not exist: a tombstone says so to the versions.
    const history = db.collection<{ _id: string }>(historyOf(collection));
    const keyed = ids.map((id) => historyId(id, key));
    const found = new Set(
      (await history.find({ _id: { $in: keyed } }, { projection: { _id: 1 } }).toArray()).map((d) => String(d._id)),
    );
    const tombstones = ids
      .filter((id) => !found.has(historyId(id, key)))
      .map((id) => ({
        _id: historyId(id, key),
        datasetId,
        [HISTORY_OF]: id,
        [HISTORY_AT]: key,
        [HISTORY_ABSENT]: true,
      }));
    if (tombstones.length > 0) await insertIgnoringDuplicates(db, historyOf(collection), tombstones);
  }
}

async function copyToHistory(db: Db, collection: Versioned, match: Document, key: number): Promise<void> {
  await db
    .collection(collection)
    .aggregate([
      { $match: match },
      // `_of` and `_at` go last; `_id` stays first (versions-read.ts restores the stored document).
      { $set: { [HISTORY_OF]: "$_id", [HISTORY_AT]: key } },
      { $set: { _id: { $concat: ["$_id", `@${key}`] } } },
      { $merge: { into: historyOf(collection), on: "_id", whenMatched: "keepExisting", whenNotMatched: "insert" } },
    ])
    .toArray();
}

async function insertIgnoringDuplicates(db: Db, collection: string, docs: Document[]): Promise<void> {
  try {
    await db.collection(collection).insertMany(docs, { ordered: false });
  } catch (err) {
    const errors = (err as { writeErrors?: Array<{ code?: number }> | { code?: number } }).writeErrors;
    const list = Array.isArray(errors) ? errors : errors ? [errors] : [];
    if (list.length === 0 || list.some((e) => e.code !== 11000)) throw err;
  }
}

/** Indexes the versioned reads and the garbage collector use. */
export async function ensureHistoryIndexes(db: Db): Promise<void> {
  await Promise.all([
    db.collection(Collections.itemsHistory).createIndex({ datasetId: 1, [HISTORY_OF]: 1, [HISTORY_AT]: 1 }),
    db.collection(Collections.annotationsHistory).createIndex({ datasetId: 1, [HISTORY_OF]: 1, [HISTORY_AT]: 1 }),
    db.collection(Collections.annotationsHistory).createIndex({ datasetId: 1, itemId: 1, [HISTORY_AT]: 1 }),
    // "Anything written since version S?" (versions-read.ts, versions-stats.ts, versions.ts).
    db.collection(Collections.itemsHistory).createIndex({ datasetId: 1, [HISTORY_AT]: 1 }),
    db.collection(Collections.annotationsHistory).createIndex({ datasetId: 1, [HISTORY_AT]: 1 }),
    // GetExportStats of a version looks records up per live document (versions-stats.ts).
    db.collection(Collections.itemsHistory).createIndex({ [HISTORY_OF]: 1, [HISTORY_AT]: 1 }),
    db.collection(Collections.annotationsHistory).createIndex({ [HISTORY_OF]: 1, [HISTORY_AT]: 1 }),
    db.collection(Collections.versions).createIndex({ datasetId: 1, name: 1 }, { unique: true }),
    db.collection(Collections.versions).createIndex({ datasetId: 1, seq: -1 }),
  ]);
}
