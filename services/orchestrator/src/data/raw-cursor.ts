// A find cursor read as raw BSON: each batch is one reply buffer and the offsets of its documents.
// The driver's cursors decode every document (or wrap each raw one in its own objects); on the
// export hot path that was most of the orchestrator's work and garbage.
import { type Db, type Document, Long } from "mongodb";
import { arrayAt, BSON_INT64, forEachElement, int32, Shape } from "./bson-reader.ts";

export interface RawBatch {
  /** The reply's `cursor` document. */
  buf: Buffer;
  /** Where each document of the batch starts in `buf`. */
  docs: number[];
}

const cursorShape = new Shape(["firstBatch", "nextBatch", "id"]);

function readCursor(buf: Buffer): { docs: number[]; id: Long | undefined } {
  const s = cursorShape.scan(buf, 0);
  const docs: number[] = [];
  const batchAt = arrayAt(s, (s.at[0] as number) >= 0 ? 0 : 1);
  if (batchAt >= 0) forEachElement(buf, batchAt, (_, at) => docs.push(at));
  const idAt = s.at[2] as number;
  let id: Long | undefined;
  if (idAt >= 0 && s.type[2] === BSON_INT64) {
    const low = int32(buf, idAt);
    const high = int32(buf, idAt + 4);
    if (low !== 0 || high !== 0) id = Long.fromBits(low, high);
  }
  return { docs, id };
}

/**
 * Runs a `find` command (filter, sort, hint, limit and batchSize as the server takes them) and
 * yields its batches. The next batch is requested before a batch is yielded, so the server reads
 * while the caller works; a caller that stops early gets the cursor killed.
 */
export async function* rawFind(db: Db, find: Document & { find: string }): AsyncGenerator<RawBatch> {
  // getMore must run in the session that opened the cursor.
  const session = db.client.startSession();
  const options = { raw: true, session } as const;
  const getMore = (id: Long) =>
    db.command(
      { getMore: id, collection: find.find, ...(find.batchSize ? { batchSize: find.batchSize } : {}) },
      options,
    );
  let open: Long | undefined;
  let pending: Promise<Document> | undefined = db.command(find, options);
  try {
    while (pending) {
      const { cursor } = (await pending) as { cursor: Buffer };
      pending = undefined;
      const { docs, id } = readCursor(cursor);
      open = id;
      if (id) {
        pending = getMore(id);
        pending.catch(() => undefined);
      }
      if (docs.length > 0) yield { buf: cursor, docs };
    }
  } finally {
    if (pending) {
      const last = (await pending.catch(() => undefined)) as { cursor?: Buffer } | undefined;
      open = last?.cursor ? readCursor(last.cursor).id : open;
    }
    if (open) await db.command({ killCursors: find.find, cursors: [open] }, { session }).catch(() => undefined);
    await session.endSession();
  }
}
