// Whether a dataset's annotations can have changed since a moment. Every writer of annotations
// (item and annotation upserts, item deletes, imports and their rollback or recovery) marks its
// write here: the dataset's `seq` goes up before the write starts, and the writer's entry stays
// in `writers` until it has ended (committed, undone or failed). So a result computed from the
// annotations while no writer was listed holds for as long as `seq` has not moved; a write that
// starts later moves it first. exports/track-totals-cache.ts keeps GET /api/export's totals so.
//
// A writer that dies leaves its entry behind: entries older than WRITER_STALE_MS count as gone
// (live writers refresh theirs: imports on every heartbeat). What a dead writer half-wrote is in
// the annotations a later computation reads, and its recovery marks a write of its own.
import { randomUUID } from "node:crypto";
import type { ClientSession, Db } from "mongodb";
import { Collections } from "./model.ts";

/** An entry older than this is a writer that died. Live writers refresh theirs much more often. */
export const WRITER_STALE_MS = 15 * 60_000;

export interface AnnotationWritesDoc {
  /** The dataset's stored id. */
  _id: string;
  /** Goes up by one as each write starts. */
  seq: number;
  /** The writes under way: a random token each, and when it started or last said it was alive. */
  writers?: Record<string, Date>;
}

export interface AnnotationWrite {
  /** Says the write is still under way (a long import calls it on its heartbeat). */
  touch(): Promise<void>;
  /** The write has ended, whatever its outcome. */
  end(): Promise<void>;
}

export interface AnnotationWritesState {
  seq: number;
  /** No write is under way: what is read now stays true until `seq` moves. */
  quiet: boolean;
}

function writesOf(db: Db) {
  return db.collection<AnnotationWritesDoc>(Collections.annotationWrites);
}

/** Marks a write to the annotations of dataset `datasetId` as started; end() it when it has ended. */
export async function beginAnnotationWrite(db: Db, datasetId: string): Promise<AnnotationWrite> {
  const field = `writers.${randomUUID()}`;
  await writesOf(db).updateOne(
    { _id: datasetId },
    { $inc: { seq: 1 }, $set: { [field]: new Date() } },
    { upsert: true },
  );
  return {
    async touch() {
      await writesOf(db).updateOne({ _id: datasetId }, { $set: { [field]: new Date() } });
    },
    async end() {
      await writesOf(db).updateOne({ _id: datasetId }, { $unset: { [field]: "" } });
    },
  };
}

/** Runs `write` marked as a write to the annotations of dataset `datasetId`. */
export async function markedAnnotationWrite<T>(db: Db, datasetId: string, write: () => Promise<T>): Promise<T> {
  const marked = await beginAnnotationWrite(db, datasetId);
  try {
    return await write();
  } finally {
    // A failure here must not hide the write's own outcome: the entry left behind only keeps
    // the dataset's totals from being kept until it is stale.
    await marked.end().catch(() => undefined);
  }
}

/** The dataset's write state, read in `session` when given (an export's snapshot). */
export async function annotationWritesState(
  db: Db,
  datasetId: string,
  session?: ClientSession,
  now = Date.now(),
): Promise<AnnotationWritesState> {
  const doc = await writesOf(db).findOne({ _id: datasetId }, session ? { session } : {});
  const live = Object.values(doc?.writers ?? {}).some((at) => at.getTime() > now - WRITER_STALE_MS);
  return { seq: doc?.seq ?? 0, quiet: !live };
}

/** Forgets a deleted dataset's write state, and the totals kept under it. */
export async function forgetAnnotationWrites(db: Db, datasetId: string): Promise<void> {
  await Promise.all([
    writesOf(db).deleteOne({ _id: datasetId }),
    db.collection(Collections.trackTotals).deleteMany({ datasetId }),
  ]);
}
