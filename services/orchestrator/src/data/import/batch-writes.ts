// The write side of one import run: batches handed to the writer in order, overlapped with the
// lookups of the next batch, and the switch to writing nothing once a preview or a failed atomic
// import must not touch the database.
import { type BatchWrite, type IdDoc, type ImportWriter, type WrittenDocs, writtenDocs } from "./writer.ts";

/** Options of a batch's reads (`BatchWrites.readOptions`). */
export interface LookupOptions {
  session?: NonNullable<ImportWriter["session"]>;
}

interface WriteInFlight {
  done: Promise<void>;
  /** What the batch leaves in each collection, for lookups that run while it is written. */
  docs: WrittenDocs;
}

export class BatchWrites {
  /** Set once nothing more may be written (preview, or an atomic import that failed). */
  dry: boolean;
  /** True when writes of an atomic import that failed were undone. */
  rolledBack = false;
  /**
   * Batch writes in flight, oldest first. A batch's writes run while the next batch is read,
   * validated and looked up; its own writes start once the previous batch's ended, so at most one
   * batch is being written and one more waits (with its journal entry written meanwhile).
   */
  private readonly writes: WriteInFlight[] = [];

  constructor(private readonly writer: ImportWriter) {
    this.dry = writer.mode === "preview";
  }

  /** Options for reads: a transaction's reads go through its session, to see its own writes. */
  readOptions(): LookupOptions {
    const session = this.dry ? undefined : this.writer.session;
    return session ? { session } : {};
  }

  start(batch: BatchWrite): void {
    const done = this.writer.apply(batch, this.writes.at(-1)?.done);
    done.catch(() => undefined);
    this.writes.push({ done, docs: this.writer.session ? new Map() : writtenDocs(batch) });
  }

  /** Waits for every write in flight; throws the first failure. */
  async settle(): Promise<void> {
    while (this.writes.length > 0) await (this.writes.shift() as WriteInFlight).done;
  }

  /**
   * Before a batch's lookups. A transaction's reads go through its session after its writes;
   * otherwise they run while the last batch is written, and see its documents through `inFlight`.
   */
  async beforeLookups(): Promise<void> {
    if (this.writer.session) await this.settle();
    while (this.writes.length > 1) await (this.writes.shift() as WriteInFlight).done;
  }

  /** The documents of the batch that may still be being written, in `collection`. */
  inFlight(collection: string): Map<string, IdDoc | null> | undefined {
    return this.writes[0]?.docs.get(collection);
  }

  /** Lookup results with the documents of the batch in flight in their place. */
  patch<T extends IdDoc>(collection: string, found: Map<string, T>, ids: Iterable<string>): void {
    const flight = this.inFlight(collection);
    if (!flight) return;
    for (const id of ids) {
      if (!flight.has(id)) continue;
      const doc = flight.get(id);
      if (doc) found.set(id, doc as T);
      else found.delete(id);
    }
  }

  /** Stops writing for good: waits for the writes in flight, then undoes everything written. */
  async goDry(): Promise<void> {
    if (this.dry) return;
    this.dry = true;
    for (const write of this.writes.splice(0)) await write.done.catch(() => undefined);
    if (this.writer.wrote) this.rolledBack = true;
    await this.writer.rollback();
  }
}
