// How an import's batches reach the database. `transaction`: one MongoDB transaction for the
// whole apply phase (a commit marker is written inside it, so recovery can tell a commit from a
// crash). `journal`: where transactions are missing or too small, before-images of every touched
// document (only the ids of the ones a batch creates) are written durably ahead of each batch and
// replayed backwards on failure or at start-up. `direct`: non-atomic imports. `preview`: writes nothing.
import type { AnyBulkWriteOperation, ClientSession, Db, Document, MongoClient } from "mongodb";
import { Collections } from "../model.ts";
import { archiveBeforeBatch } from "../versions-archive.ts";

export type WriterMode = "transaction" | "journal" | "direct" | "preview";

export interface BeforeImage {
  collection: string;
  id: string;
  /** The document before the batch; null when the batch creates it. */
  doc: Document | null;
}

/** Documents of the collections an import writes: string ids. */
export interface IdDoc extends Document {
  _id: string;
}

export interface BatchWrite {
  ops: Map<string, AnyBulkWriteOperation<IdDoc>[]>;
  befores: BeforeImage[];
}

export function emptyBatch(): BatchWrite {
  return { ops: new Map(), befores: [] };
}

export function addOp(batch: BatchWrite, collection: string, op: AnyBulkWriteOperation<IdDoc>): void {
  let list = batch.ops.get(collection);
  if (!list) {
    list = [];
    batch.ops.set(collection, list);
  }
  list.push(op);
}

/**
 * Stages a document's new state over `previous` (null: it does not exist yet) with its
 * before-image for undo: new documents are plain inserts, cheaper for the server than upserts.
 * `doc` null deletes it.
 */
export function stage(
  batch: BatchWrite,
  collection: string,
  id: string,
  previous: IdDoc | null,
  doc: IdDoc | null,
): void {
  batch.befores.push({ collection, id, doc: previous });
  if (doc === null) {
    if (previous) addOp(batch, collection, { deleteOne: { filter: { _id: id } } });
  } else if (previous) {
    addOp(batch, collection, { replaceOne: { filter: { _id: id }, replacement: doc } });
  } else {
    addOp(batch, collection, { insertOne: { document: doc } });
  }
}

/** What a batch leaves in each collection: the new document, or null for a deleted one. */
export type WrittenDocs = Map<string, Map<string, IdDoc | null>>;

/** The documents a batch writes by id (updates of parts of a document are left out). */
export function writtenDocs(batch: BatchWrite): WrittenDocs {
  const out: WrittenDocs = new Map();
  for (const [collection, ops] of batch.ops) {
    const docs = new Map<string, IdDoc | null>();
    for (const op of ops) {
      if ("insertOne" in op) docs.set(op.insertOne.document._id, op.insertOne.document as IdDoc);
      else if ("replaceOne" in op) docs.set(String(op.replaceOne.filter._id), op.replaceOne.replacement as IdDoc);
      else if ("deleteOne" in op) docs.set(String(op.deleteOne.filter._id), null);
    }
    out.set(collection, docs);
  }
  return out;
}

export function batchSize(batch: BatchWrite): number {
  let n = 0;
  for (const ops of batch.ops.values()) n += ops.length;
  return n;
}

export interface ImportWriter {
  readonly mode: WriterMode;
  /** Session for reads that must see this import's own writes (transaction mode). */
  readonly session: ClientSession | undefined;
  /** True once a batch reached the database. */
  readonly wrote: boolean;
  /**
   * Writes a batch once `after` (the previous batch's write) has ended; the journal writer writes
   * the batch's before-images meanwhile.
   */
  apply(batch: BatchWrite, after?: Promise<void>): Promise<void>;
  /** Makes the import durable; `marker` is stored with the commit for recovery. */
  commit(marker: Document): Promise<void>;
  /** Undoes everything applied; idempotent. */
  rollback(): Promise<void>;
  /** The logical session id, for killing an orphaned transaction after a crash. */
  readonly lsid: Document | undefined;
}

/**
 * Operations per bulkWrite: a whole import batch goes in one command per collection, so the server
 * works through it while the next batch is parsed (many small commands would each wait for the
 * event loop, busy with that parsing, to send the next).
 */
const WRITE_CHUNK = 20_000;
/** Journal documents stay well below MongoDB's 16 MB document limit. */
const JOURNAL_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Batches outside a transaction, on one server, are acknowledged without waiting for the disk: it
 * persists writes in order (oplog / write-ahead log), so the import's commit point, a later
 * majority write (the history update), makes every batch before it durable; the undo journal is
 * written durably ahead of each batch, so a batch never outlives its before-images.
 * On a replica set of several members (or through mongos) that order does not survive a failover:
 * a batch the old primary acknowledged but never replicated is rolled back, while the commit lands
 * on the new primary. There batches wait for a majority.
 */
const batchWriteConcerns = new WeakMap<Db, Promise<{ w: 1 | "majority" }>>();

function batchWriteConcern(db: Db): Promise<{ w: 1 | "majority" }> {
  let concern = batchWriteConcerns.get(db);
  if (!concern) {
    concern = db
      .admin()
      .command({ hello: 1 })
      .then((hello) => {
        const members = Array.isArray(hello.hosts) ? hello.hosts.length : 1;
        return { w: members > 1 || hello.msg === "isdbgrid" ? ("majority" as const) : (1 as const) };
      });
    // A failed probe is asked again by the next batch.
    concern.catch(() => batchWriteConcerns.delete(db));
    batchWriteConcerns.set(db, concern);
  }
  return concern;
}

async function bulk(db: Db, batch: BatchWrite, session?: ClientSession): Promise<void> {
  // Dataset versions keep what the batch changes (outside the transaction; undo leaves it valid).
  await archiveBeforeBatch(db, batch);
  const options = session ? { session } : { writeConcern: await batchWriteConcern(db) };
  const write = async (collection: string, ops: AnyBulkWriteOperation<IdDoc>[]) => {
    for (let i = 0; i < ops.length; i += WRITE_CHUNK) {
      await db
        .collection<IdDoc>(collection)
        .bulkWrite(i === 0 && ops.length <= WRITE_CHUNK ? ops : ops.slice(i, i + WRITE_CHUNK), {
          ordered: false,
          ...options,
        });
    }
  };
  if (session) {
    // A transaction's session takes one operation at a time.
    for (const [collection, ops] of batch.ops) await write(collection, ops);
    return;
  }
  // Collections in parallel; every write has ended before this returns (a rollback that follows
  // must not race a write still in flight).
  const results = await Promise.allSettled([...batch.ops].map(([collection, ops]) => write(collection, ops)));
  for (const r of results) if (r.status === "rejected") throw r.reason;
}

export function createWriter(mode: WriterMode, client: MongoClient, db: Db, importId: string): ImportWriter {
  switch (mode) {
    case "transaction":
      return transactionWriter(client, db, importId);
    case "journal":
      return journalWriter(db, importId);
    case "direct": {
      let wrote = false;
      return {
        mode,
        session: undefined,
        lsid: undefined,
        get wrote() {
          return wrote;
        },
        async apply(batch, after) {
          await after;
          wrote = true;
          await bulk(db, batch);
        },
        async commit() {},
        async rollback() {},
      };
    }
    case "preview":
      return {
        mode,
        session: undefined,
        lsid: undefined,
        wrote: false,
        async apply() {},
        async commit() {},
        async rollback() {},
      };
  }
}

function transactionWriter(client: MongoClient, db: Db, importId: string): ImportWriter {
  const session = client.startSession();
  session.startTransaction({ readConcern: { level: "snapshot" }, writeConcern: { w: "majority" } });
  let wrote = false;
  let done = false;
  return {
    mode: "transaction",
    get session() {
      return done ? undefined : session;
    },
    get lsid() {
      return session.id;
    },
    get wrote() {
      return wrote;
    },
    async apply(batch, after) {
      await after;
      wrote = true;
      await bulk(db, batch, session);
    },
    async commit(marker) {
      await db.collection(Collections.importCommits).insertOne({ _id: importId, ...marker } as Document, { session });
      // Commit is retryable: an unknown result is retried, a transient error fails the import.
      for (let attempt = 0; ; attempt++) {
        try {
          await session.commitTransaction();
          break;
        } catch (err) {
          const unknown = (err as { hasErrorLabel?: (l: string) => boolean }).hasErrorLabel?.(
            "UnknownTransactionCommitResult",
          );
          if (!unknown || attempt >= 3) throw err;
        }
      }
      done = true;
      await session.endSession();
    },
    async rollback() {
      if (done) return;
      done = true;
      try {
        if (session.inTransaction()) await session.abortTransaction();
      } finally {
        await session.endSession();
      }
    },
  };
}

function journalWriter(db: Db, importId: string): ImportWriter {
  const journal = db.collection(Collections.importJournal);
  let seq = 0;
  let wrote = false;
  return {
    mode: "journal",
    session: undefined,
    lsid: undefined,
    get wrote() {
      return wrote;
    },
    async apply(batch, after) {
      wrote = true;
      // Before-images first, durably; only then the batch. Documents the batch creates need no
      // image: their ids, listed per collection, are deleted on undo.
      // Ids seen per collection (a batch may stage a document more than once).
      const seen = new Map<string, Set<string>>();
      let chunk: BeforeImage[] = [];
      let created = new Map<string, string[]>();
      let bytes = 0;
      const docs: Document[] = [];
      const flush = () => {
        if (chunk.length === 0 && created.size === 0) return;
        const doc: Document = { importId, seq: seq++, entries: chunk, createdAt: new Date() };
        if (created.size > 0) doc.created = [...created].map(([collection, ids]) => ({ collection, ids }));
        docs.push(doc);
        chunk = [];
        created = new Map();
        bytes = 0;
      };
      for (const before of batch.befores) {
        let ids = seen.get(before.collection);
        if (!ids) {
          ids = new Set();
          seen.set(before.collection, ids);
        }
        if (ids.has(before.id)) continue;
        ids.add(before.id);
        const size = before.doc ? approximateSize(before.doc) : before.id.length + 16;
        if (bytes + size > JOURNAL_CHUNK_BYTES) flush();
        if (before.doc) chunk.push(before);
        else {
          const ids = created.get(before.collection);
          if (ids) ids.push(before.id);
          else created.set(before.collection, [before.id]);
        }
        bytes += size;
      }
      flush();
      for (const doc of docs) await journal.insertOne(doc, { writeConcern: { w: "majority", journal: true } });
      await after;
      await bulk(db, batch);
    },
    async commit() {
      // The commit point is the history update (done by the caller); then the journal goes.
      await journal.deleteMany({ importId });
    },
    async rollback() {
      await undoJournal(db, importId);
    },
  };
}

function approximateSize(doc: Document): number {
  return JSON.stringify(doc).length + 64;
}

/** Restores every before-image of an import, newest first, then drops its journal. Idempotent. */
export async function undoJournal(db: Db, importId: string): Promise<number> {
  const journal = db.collection(Collections.importJournal);
  const cursor = journal.find({ importId }).sort({ seq: -1 });
  let restored = 0;
  for await (const entry of cursor) {
    const entries = ((entry.entries ?? []) as BeforeImage[]).slice().reverse();
    const byCollection = new Map<string, AnyBulkWriteOperation<IdDoc>[]>();
    const opsOf = (collection: string) => {
      const ops = byCollection.get(collection) ?? [];
      byCollection.set(collection, ops);
      return ops;
    };
    // A document is either created or imaged in one entry, so the two lists never conflict.
    for (const { collection, ids } of (entry.created ?? []) as Array<{ collection: string; ids: string[] }>) {
      for (let i = 0; i < ids.length; i += WRITE_CHUNK) {
        await db.collection<IdDoc>(collection).deleteMany({ _id: { $in: ids.slice(i, i + WRITE_CHUNK) } });
      }
      restored += ids.length;
    }
    for (const before of entries) {
      opsOf(before.collection).push(
        before.doc === null
          ? { deleteOne: { filter: { _id: before.id } } }
          : { replaceOne: { filter: { _id: before.id }, replacement: before.doc as IdDoc, upsert: true } },
      );
    }
    for (const [collection, ops] of byCollection) {
      for (let i = 0; i < ops.length; i += WRITE_CHUNK) {
        await db.collection<IdDoc>(collection).bulkWrite(ops.slice(i, i + WRITE_CHUNK), { ordered: true });
      }
      restored += ops.length;
    }
  }
  await journal.deleteMany({ importId });
  return restored;
}
