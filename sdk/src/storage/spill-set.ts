// An exact set of strings, each with a fixed-size payload, whose memory stays flat however many
// it holds: the newest keys live in a KeyTable; past `memoryKeys` they are written, sorted, to a
// run on disk, of which memory keeps a Bloom filter (14 bits a key) and the first key of every
// 64. A lookup probes the table, then each run's filter, and reads one block of a run only when
// a filter says maybe (about 0.2% of misses a run). Runs of one size are merged eight at a time,
// so a lookup probes a few dozen filters at most. Run files are unlinked as soon as they are
// opened: nothing is left on disk when the process dies, and their descriptors are closed by
// close() or, failing that, when the set is collected.
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKeyTable, type KeyTable } from "./key-table.ts";

export interface SpillSet {
  /** Number of keys. */
  readonly size: number;
  has(key: string): boolean;
  /**
   * Adds a key that is not in the set (check with has()) and copies its payload, which must be
   * exactly `payloadBytes` long. Throws RangeError for a key over 65535 UTF-8 bytes.
   */
  add(key: string, payload?: Uint8Array): void;
  /**
   * Every entry in UTF-8 byte order of the keys; `payload` is valid until the next step. add() is
   * refused until the iteration ends (or is broken off).
   */
  sorted(): Generator<{ key: string; payload: Buffer }>;
  /** Releases the run files; the set is empty and unusable after. Idempotent. */
  close(): void;
}

export interface SpillSetOptions {
  payloadBytes?: number | undefined;
  /** Keys held in memory before they are written to a run (tests lower it). */
  memoryKeys?: number | undefined;
}

/** About 64k keys of file names with records: a few MB. */
const DEFAULT_MEMORY_KEYS = 65_536;
const BLOCK_ENTRIES = 64;
/** KeyTable's limit. */
const MAX_KEY_BYTES = 65_535;
const MERGE_FAN_IN = 8;
// About 0.2% false positives: a miss reads a block of a run that rarely.
const BLOOM_BITS_PER_KEY = 14;
const BLOOM_PROBES = 10;
const READ_BUFFER_BYTES = 256 * 1024;

interface Run {
  fd: number;
  count: number;
  /** Runs of one tier hold about MERGE_FAN_IN^tier memtables' worth of keys. */
  tier: number;
  bloom: Uint32Array;
  /** The first key of each block, packed; block b's is indexKeys[indexKeyAt[b] .. indexKeyAt[b + 1]]. */
  indexKeys: Buffer;
  indexKeyAt: Uint32Array;
  /** File offset of each block and, last, of the end. */
  blockAt: Float64Array;
}

/** Open descriptors of a set, closed by its finalizer if close() was never called. */
const orphans = new FinalizationRegistry<Set<number>>((fds) => {
  for (const fd of fds) closeSync(fd);
});

export function createSpillSet(options: SpillSetOptions = {}): SpillSet {
  const payloadBytes = options.payloadBytes ?? 0;
  const memoryKeys = options.memoryKeys ?? DEFAULT_MEMORY_KEYS;
  let table = createKeyTable();
  // Grown with the table up to memoryKeys entries: most exports write a few files.
  let payloads = Buffer.alloc(Math.min(memoryKeys, 1024) * payloadBytes);
  let runs: Run[] = [];
  let spilled = 0;
  let closed = false;
  // sorted() reads the memtable's payloads and the runs' files in place: no add() meanwhile.
  let reading = 0;
  const fds = new Set<number>();
  const handle = {};
  orphans.register(handle, fds, handle);
  let block = Buffer.allocUnsafe(64 * 1024);
  let lookup = Buffer.allocUnsafe(1024);

  function openRunFile(): number {
    const path = join(tmpdir(), `labelport-spill-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
    fds.add(fd);
    return fd;
  }

  function dropRun(run: Run): void {
    fds.delete(run.fd);
    closeSync(run.fd);
  }

  /** Writes sorted entries to a new run, building its filter and block index on the way. */
  function writeRun(count: number, tier: number, entries: Iterable<Entry>): Run {
    const fd = openRunFile();
    const bloom = new Uint32Array(Math.max(1, Math.ceil((count * BLOOM_BITS_PER_KEY) / 32)));
    const blocks = Math.ceil(count / BLOCK_ENTRIES);
    const blockAt = new Float64Array(blocks + 1);
    const indexKeyAt = new Uint32Array(blocks + 1);
    const firstKeys: Buffer[] = [];
    let out = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    let used = 0;
    let position = 0;
    let n = 0;
    const flush = () => {
      writeAll(fd, out, used, position);
      position += used;
      used = 0;
    };
    for (const { bytes, payload } of entries) {
      const length = 2 + bytes.length + payloadBytes;
      if (used + length > out.length) {
        flush();
        if (length > out.length) out = Buffer.allocUnsafe(length);
      }
      if (n % BLOCK_ENTRIES === 0) {
        const b = n / BLOCK_ENTRIES;
        blockAt[b] = position + used;
        firstKeys.push(Buffer.from(bytes));
        indexKeyAt[b + 1] = (indexKeyAt[b] as number) + bytes.length;
      }
      out[used] = bytes.length & 0xff;
      out[used + 1] = bytes.length >>> 8;
      // TypedArray.set: Buffer.copy's argument handling costs more than these small copies.
      out.set(bytes, used + 2);
      if (payloadBytes > 0) out.set(payload, used + 2 + bytes.length);
      used += length;
      bloomAdd(bloom, bytes);
      n += 1;
    }
    flush();
    blockAt[blocks] = position;
    return { fd, count: n, tier, bloom, indexKeys: Buffer.concat(firstKeys), indexKeyAt, blockAt };
  }

  function spill(): void {
    const order = Array.from({ length: table.size }, (_, i) => i).sort((a, b) => table.compare(a, b));
    const source = table;
    runs.push(writeRun(order.length, 0, memtableEntries(source, order)));
    spilled += order.length;
    table = createKeyTable();
    // Merged while a tier holds MERGE_FAN_IN runs, so few filters are probed per lookup.
    for (let tier = 0; ; tier++) {
      const same = runs.filter((run) => run.tier === tier);
      if (same.length < MERGE_FAN_IN) break;
      const count = same.reduce((sum, run) => sum + run.count, 0);
      const merged = writeRun(count, tier + 1, mergeEntries(same.map(readRun)));
      for (const run of same) dropRun(run);
      runs = [...runs.filter((run) => run.tier !== tier), merged];
    }
  }

  /** Whether `bytes` is in `run`: its filter, then the one block that could hold it. */
  function runHas(run: Run, bytes: Buffer, hashes: BloomHashes): boolean {
    if (!bloomMayHave(run.bloom, hashes)) return false;
    // The last block whose first key is <= bytes.
    let low = 0;
    let high = run.blockAt.length - 2;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      const cmp = run.indexKeys.compare(
        bytes,
        0,
        bytes.length,
        run.indexKeyAt[mid] as number,
        run.indexKeyAt[mid + 1] as number,
      );
      if (cmp <= 0) low = mid;
      else high = mid - 1;
    }
    const start = run.blockAt[low] as number;
    const length = (run.blockAt[low + 1] as number) - start;
    if (block.length < length) block = Buffer.allocUnsafe(length);
    readAll(run.fd, block, length, start);
    for (let at = 0; at < length; ) {
      const keyLength = block.readUInt16LE(at);
      const cmp = block.compare(bytes, 0, bytes.length, at + 2, at + 2 + keyLength);
      if (cmp === 0) return true;
      if (cmp > 0) return false;
      at += 2 + keyLength + payloadBytes;
    }
    return false;
  }

  /** The table's entries in `order`; each entry's views live until the next. */
  function* memtableEntries(source: KeyTable, order: readonly number[]): Generator<Entry> {
    const bytes = Buffer.allocUnsafe(MAX_KEY_BYTES);
    for (const index of order) {
      const length = source.copyKey(index, bytes, 0);
      yield {
        bytes: bytes.subarray(0, length),
        payload: payloads.subarray(index * payloadBytes, (index + 1) * payloadBytes),
      };
    }
  }

  function readRun(run: Run): Generator<Entry> {
    return readEntries(run.fd, run.blockAt[run.blockAt.length - 1] as number, payloadBytes);
  }

  function assertOpen(): void {
    if (closed) throw new Error("the spill set is closed");
  }

  return {
    get size() {
      return spilled + table.size;
    },
    has(key) {
      assertOpen();
      if (table.indexOf(key) >= 0) return true;
      if (runs.length === 0) return false;
      if (lookup.length < key.length * 3) lookup = Buffer.allocUnsafe(key.length * 3);
      const bytes = lookup.subarray(0, lookup.write(key, 0, "utf8"));
      const hashes = bloomHashes(bytes);
      return runs.some((run) => runHas(run, bytes, hashes));
    },
    add(key, payload) {
      assertOpen();
      if (reading > 0) throw new Error("cannot add to a spill set while its sorted() entries are read");
      if ((payload?.length ?? 0) !== payloadBytes) {
        throw new RangeError(`payload must be ${payloadBytes} bytes, got ${payload?.length ?? 0}`);
      }
      const index = table.add(key);
      if ((index + 1) * payloadBytes > payloads.length) {
        const grown = Buffer.alloc(Math.min(memoryKeys, (index + 1) * 2) * payloadBytes);
        grown.set(payloads);
        payloads = grown;
      }
      if (payload) payloads.set(payload, index * payloadBytes);
      if (table.size >= memoryKeys) spill();
    },
    *sorted() {
      assertOpen();
      const source = table;
      const order = Array.from({ length: source.size }, (_, i) => i).sort((a, b) => source.compare(a, b));
      const inMemory = memtableEntries(source, order);
      reading += 1;
      try {
        for (const { bytes, payload } of mergeEntries([inMemory, ...runs.map(readRun)])) {
          yield { key: bytes.toString("utf8"), payload };
        }
      } finally {
        reading -= 1;
      }
    },
    close() {
      if (closed) return;
      closed = true;
      // Every descriptor, a run's that failed half-written included.
      for (const fd of fds) closeSync(fd);
      fds.clear();
      runs = [];
      orphans.unregister(handle);
    },
  };
}

interface Entry {
  bytes: Buffer;
  payload: Buffer;
}

/** A run's entries in order, read a buffer at a time; each entry's views live until the next. */
function* readEntries(fd: number, end: number, payloadBytes: number): Generator<Entry> {
  let buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  let filled = 0;
  let at = 0;
  let position = 0;
  const ensure = (bytes: number): boolean => {
    if (filled - at >= bytes) return true;
    if (position >= end) return false;
    if (buffer.length < bytes) {
      const bigger = Buffer.allocUnsafe(bytes);
      buffer.copy(bigger, 0, at, filled);
      buffer = bigger;
    } else buffer.copy(buffer, 0, at, filled);
    filled -= at;
    at = 0;
    const length = Math.min(buffer.length - filled, end - position);
    readAll(fd, buffer.subarray(filled), length, position);
    filled += length;
    position += length;
    return filled - at >= bytes;
  };
  while (ensure(2)) {
    const length = 2 + buffer.readUInt16LE(at) + payloadBytes;
    if (!ensure(length)) throw new Error("spill run ends inside an entry");
    yield {
      bytes: buffer.subarray(at + 2, at + length - payloadBytes),
      payload: buffer.subarray(at + length - payloadBytes, at + length),
    };
    at += length;
  }
}

/** Entries of sorted sources in one order (a binary heap on each source's current key). */
function* mergeEntries(sources: Iterator<Entry>[]): Generator<Entry> {
  const heads: { entry: Entry; source: Iterator<Entry> }[] = [];
  const less = (a: number, b: number) =>
    (heads[a] as (typeof heads)[number]).entry.bytes.compare((heads[b] as (typeof heads)[number]).entry.bytes) < 0;
  const swap = (a: number, b: number) => {
    const t = heads[a] as (typeof heads)[number];
    heads[a] = heads[b] as (typeof heads)[number];
    heads[b] = t;
  };
  const down = (from: number) => {
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heads.length && less(l, m)) m = l;
      if (r < heads.length && less(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (const source of sources) {
    const next = source.next();
    if (!next.done) heads.push({ entry: next.value, source });
  }
  for (let i = (heads.length >>> 1) - 1; i >= 0; i--) down(i);
  while (heads.length > 0) {
    const top = heads[0] as (typeof heads)[number];
    yield top.entry;
    const next = top.source.next();
    if (next.done) {
      const last = heads.pop() as (typeof heads)[number];
      if (heads.length === 0) return;
      heads[0] = last;
    } else top.entry = next.value;
    down(0);
  }
}

type BloomHashes = readonly [number, number];

/** Two independent 32-bit hashes (FNV-1a and a multiplicative one) for double hashing. */
function bloomHashes(bytes: Buffer): BloomHashes {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    h1 = Math.imul(h1 ^ byte, 0x01000193);
    h2 = Math.imul(h2 + byte, 0x9e3779b1) ^ (h2 >>> 15);
  }
  return [h1 >>> 0, (h2 | 1) >>> 0];
}

function bloomAdd(bloom: Uint32Array, bytes: Buffer): void {
  const [h1, h2] = bloomHashes(bytes);
  const bits = bloom.length * 32;
  for (let i = 0; i < BLOOM_PROBES; i++) {
    const bit = (h1 + Math.imul(i, h2)) >>> 0;
    const at = bit % bits;
    bloom[at >>> 5] = (bloom[at >>> 5] as number) | (1 << (at & 31));
  }
}

function bloomMayHave(bloom: Uint32Array, [h1, h2]: BloomHashes): boolean {
  const bits = bloom.length * 32;
  for (let i = 0; i < BLOOM_PROBES; i++) {
    const at = ((h1 + Math.imul(i, h2)) >>> 0) % bits;
    if (((bloom[at >>> 5] as number) & (1 << (at & 31))) === 0) return false;
  }
  return true;
}

function writeAll(fd: number, buffer: Buffer, length: number, position: number): void {
  for (let done = 0; done < length; ) done += writeSync(fd, buffer, done, length - done, position + done);
}

function readAll(fd: number, buffer: Buffer, length: number, position: number): void {
  for (let done = 0; done < length; ) {
    const n = readSync(fd, buffer, done, length - done, position + done);
    if (n === 0) throw new Error("spill run is shorter than its index says");
    done += n;
  }
}
