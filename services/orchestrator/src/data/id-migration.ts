// Upgrade of databases written before item and annotation ids were scoped per dataset (data/ids.ts):
// their `_id` is the public id. Runs at start-up before anything is served, a batch at a time
// (memory holds one batch, or one journal document), and can stop anywhere: a document is copied
// to its new `_id` before its old one is deleted, and a rerun picks up whatever still has an old
// `_id`. The `meta` collection records the schema version once every document is rewritten, so
// later starts skip the scan.
import type { Db, Document, Filter } from "mongodb";
import type { Logger } from "../logger.ts";
import { ID_SEPARATOR, storedId, storedIdRange } from "./ids.ts";
import { Collections } from "./model.ts";

/** 2: item and annotation `_id`s are `<datasetId>/<id>`. */
export const SCHEMA_VERSION = 2;
const META = "meta";
const SCHEMA_DOC = "schema";
const BATCH = 1000;
/** Batches between progress lines in the log. */
const PROGRESS_EVERY = 50;

/** An undo journal document (data/import/writer.ts). */
interface JournalDoc {
  _id: unknown;
  importId: string;
  entries?: Array<{ collection: string; id: string; doc: Document | null }>;
  created?: Array<{ collection: string; ids: string[] }>;
}

interface SchemaDoc {
  _id: string;
  version: number;
}

/** Documents of `datasetId` whose `_id` lies outside the dataset's range of stored ids. */
function legacyFilter(datasetId: string): Document {
  const range = storedIdRange(datasetId);
  return { datasetId, $or: [{ _id: { $lt: range.$gte } }, { _id: { $gte: range.$lt } }] };
}

function isStored(datasetId: string, id: string): boolean {
  return id.startsWith(`${datasetId}${ID_SEPARATOR}`);
}

async function scopeCollection(db: Db, name: string, log: Logger): Promise<number> {
  const collection = db.collection<{ _id: string; datasetId: string }>(name);
  let moved = 0;
  let batches = 0;
  for (const datasetId of await collection.distinct("datasetId")) {
    if (typeof datasetId !== "string") continue;
    for (;;) {
      const batch = await collection
        .find(legacyFilter(datasetId) as Filter<{ _id: string }>)
        .sort({ _id: 1 })
        .limit(BATCH)
        .toArray();
      if (batch.length === 0) break;
      // Copies first (upserts: a copy a crashed run made is replaced by the same document), then
      // the originals: every document exists under one id or both, never neither.
      await collection.bulkWrite(
        batch.map((doc) => {
          const _id = storedId(datasetId, String(doc._id));
          return { replaceOne: { filter: { _id }, replacement: { ...doc, _id }, upsert: true } };
        }),
        { ordered: false },
      );
      await collection.deleteMany({ _id: { $in: batch.map((doc) => doc._id) } });
      moved += batch.length;
      if (++batches % PROGRESS_EVERY === 0) log.info({ collection: name, moved }, "scoping ids per dataset");
    }
  }
  if (moved > 0) log.info({ collection: name, moved }, "scoped ids per dataset");
  return moved;
}

/** Before-images and created ids of interrupted imports, so their rollback finds the new `_id`s. */
async function scopeJournal(db: Db): Promise<number> {
  const scoped = new Set<string>([Collections.items, Collections.annotations]);
  const imports = db.collection<{ _id: string; datasetId?: string }>(Collections.imports);
  const journal = db.collection<JournalDoc>(Collections.importJournal);
  let rewritten = 0;
  for await (const entry of journal.find({}, { projection: { _id: 1, importId: 1 } })) {
    const owner = await imports.findOne({ _id: entry.importId }, { projection: { datasetId: 1 } });
    const datasetId = owner?.datasetId;
    if (datasetId === undefined) continue;
    const full = await journal.findOne({ _id: entry._id });
    if (!full) continue;
    const scope = (id: string) => (isStored(datasetId, id) ? id : storedId(datasetId, id));
    const entries = (full.entries ?? []).map((before) =>
      scoped.has(before.collection)
        ? {
            ...before,
            id: scope(before.id),
            doc: before.doc === null ? null : { ...before.doc, _id: scope(String(before.doc._id)) },
          }
        : before,
    );
    const created = (full.created ?? []).map((list) =>
      scoped.has(list.collection) ? { ...list, ids: list.ids.map(scope) } : list,
    );
    await journal.updateOne({ _id: entry._id }, { $set: { entries, ...(full.created ? { created } : {}) } });
    rewritten++;
  }
  return rewritten;
}

/**
 * Brings the database to `SCHEMA_VERSION`. Idempotent, and safe to rerun after a crash midway;
 * two instances starting together do the same writes.
 */
export async function migrateSchema(db: Db, log: Logger): Promise<void> {
  const meta = db.collection<SchemaDoc>(META);
  const version = (await meta.findOne({ _id: SCHEMA_DOC }))?.version ?? 1;
  if (version >= SCHEMA_VERSION) return;
  const items = await scopeCollection(db, Collections.items, log);
  const annotations = await scopeCollection(db, Collections.annotations, log);
  const journals = await scopeJournal(db);
  await meta.updateOne({ _id: SCHEMA_DOC }, { $max: { version: SCHEMA_VERSION } }, { upsert: true });
  log.info({ items, annotations, journals, version: SCHEMA_VERSION }, "database schema upgraded");
}
