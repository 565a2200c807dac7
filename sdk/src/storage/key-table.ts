// An exact set of strings, the in-memory part of a SpillSet (artifact keys, file stems): keys
// live as UTF-8 bytes in 64 KiB pages, found through an open-addressing hash table in
// typed arrays, so an entry costs its bytes plus ~20 and gives the GC nothing to trace. Pages are
// added, never copied, so growing does not briefly need twice the memory.

export interface KeyTable {
  /** Number of keys; indexes run from 0 to size - 1 in insertion order. */
  readonly size: number;
  /** Index of `key`, or -1 when absent. */
  indexOf(key: string): number;
  /** Index of `key`, added when absent. Throws RangeError for a key over 65535 UTF-8 bytes. */
  add(key: string): number;
  key(index: number): string;
  /** Copies the key's UTF-8 bytes into `target` at `at`; returns their length. */
  copyKey(index: number, target: Buffer, at: number): number;
  /** Orders two entries by UTF-8 bytes, as compareKeys() orders their keys. */
  compare(a: number, b: number): number;
}

const PAGE_BITS = 16;
const PAGE_BYTES = 1 << PAGE_BITS;
const MAX_KEY_BYTES = PAGE_BYTES - 1;
const EMPTY = 0;

export function createKeyTable(): KeyTable {
  const pages: Buffer[] = [];
  let pageUsed = PAGE_BYTES;
  let size = 0;
  // Entry i is pages[locs[i] >>> 16] at offset locs[i] & 0xffff, lengths[i] bytes long.
  let locs = new Uint32Array(256);
  let lengths = new Uint16Array(256);
  let hashes = new Int32Array(256);
  // index + 1 of the entry in each slot, EMPTY when free; never more than half full.
  let slots = new Int32Array(512);
  let scratch = Buffer.allocUnsafe(1024);
  let scratchLength = 0;

  function pageOf(index: number): Buffer {
    return pages[(locs[index] as number) >>> PAGE_BITS] as Buffer;
  }

  function offsetOf(index: number): number {
    return (locs[index] as number) & (PAGE_BYTES - 1);
  }

  /** Encodes `key` into scratch; returns its hash. */
  function load(key: string): number {
    if (scratch.length < key.length * 3) scratch = Buffer.allocUnsafe(Math.max(key.length * 3, scratch.length * 2));
    scratchLength = scratch.write(key, 0, "utf8");
    // FNV-1a.
    let hash = 0x811c9dc5;
    for (let i = 0; i < scratchLength; i++) hash = Math.imul(hash ^ (scratch[i] as number), 0x01000193);
    return hash | 0;
  }

  /** The slot holding the scratch key, or the free slot where it would go. */
  function slotOf(hash: number): number {
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === EMPTY) return slot;
      const index = entry - 1;
      if (hashes[index] === hash && lengths[index] === scratchLength) {
        const start = offsetOf(index);
        if (pageOf(index).compare(scratch, 0, scratchLength, start, start + scratchLength) === 0) return slot;
      }
    }
  }

  function grow(): void {
    if (size === locs.length) {
      const nextLocs = new Uint32Array(size * 2);
      nextLocs.set(locs);
      locs = nextLocs;
      const nextLengths = new Uint16Array(size * 2);
      nextLengths.set(lengths);
      lengths = nextLengths;
      const nextHashes = new Int32Array(size * 2);
      nextHashes.set(hashes);
      hashes = nextHashes;
    }
    if ((size + 1) * 2 > slots.length) {
      slots = new Int32Array(slots.length * 2);
      const mask = slots.length - 1;
      for (let index = 0; index < size; index++) {
        let slot = (hashes[index] as number) & mask;
        while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
        slots[slot] = index + 1;
      }
    }
    // A key never spans two pages.
    if (pageUsed + scratchLength > PAGE_BYTES) {
      pages.push(Buffer.allocUnsafe(PAGE_BYTES));
      pageUsed = 0;
    }
  }

  function freeSlot(hash: number): number {
    const mask = slots.length - 1;
    let slot = hash & mask;
    while (slots[slot] !== EMPTY) slot = (slot + 1) & mask;
    return slot;
  }

  return {
    get size() {
      return size;
    },
    indexOf(key) {
      const entry = slots[slotOf(load(key))] as number;
      return entry - 1;
    },
    add(key) {
      const hash = load(key);
      const found = slots[slotOf(hash)] as number;
      if (found !== EMPTY) return found - 1;
      if (scratchLength > MAX_KEY_BYTES) throw new RangeError(`key longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
      grow();
      const index = size;
      const page = pages.length - 1;
      locs[index] = ((page << PAGE_BITS) | pageUsed) >>> 0;
      lengths[index] = scratchLength;
      hashes[index] = hash;
      scratch.copy(pages[page] as Buffer, pageUsed, 0, scratchLength);
      pageUsed += scratchLength;
      size += 1;
      // Probed again: grow() may have resized the table.
      slots[freeSlot(hash)] = index + 1;
      return index;
    },
    key(index) {
      if (!(index >= 0 && index < size)) throw new RangeError(`no key at index ${index}`);
      const start = offsetOf(index);
      return pageOf(index).toString("utf8", start, start + (lengths[index] as number));
    },
    copyKey(index, target, at) {
      const start = offsetOf(index);
      return pageOf(index).copy(target, at, start, start + (lengths[index] as number));
    },
    compare(a, b) {
      const startA = offsetOf(a);
      const startB = offsetOf(b);
      return pageOf(a).compare(
        pageOf(b),
        startB,
        startB + (lengths[b] as number),
        startA,
        startA + (lengths[a] as number),
      );
    },
  };
}
