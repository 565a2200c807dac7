// Reading BSON in place, without decoding it into objects: a document is an int32 size, elements
// (type byte, NUL-terminated name, value) and a NUL. Used on the export hot path (encode.ts,
// raw-cursor.ts), where decoding every document was most of the orchestrator's work.

export const BSON_DOUBLE = 0x01;
export const BSON_STRING = 0x02;
export const BSON_DOCUMENT = 0x03;
export const BSON_ARRAY = 0x04;
export const BSON_BOOLEAN = 0x08;
export const BSON_DATE = 0x09;
export const BSON_NULL = 0x0a;
export const BSON_INT32 = 0x10;
export const BSON_INT64 = 0x12;

export function int32(buf: Uint8Array, at: number): number {
  return (
    (buf[at] as number) |
    ((buf[at + 1] as number) << 8) |
    ((buf[at + 2] as number) << 16) |
    ((buf[at + 3] as number) << 24)
  );
}

export function int64(buf: Uint8Array, at: number): number {
  return (int32(buf, at) >>> 0) + int32(buf, at + 4) * 0x1_0000_0000;
}

const doubleView = new DataView(new ArrayBuffer(8));

function double(buf: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) doubleView.setUint8(i, buf[at + i] as number);
  return doubleView.getFloat64(0, true);
}

/** Bytes taken by a value of `type` at `at`. */
export function valueSize(buf: Uint8Array, type: number, at: number): number {
  switch (type) {
    case BSON_DOUBLE:
    case BSON_DATE:
    case 0x11: // timestamp
    case BSON_INT64:
      return 8;
    case BSON_STRING:
    case 0x0d: // JavaScript code
    case 0x0e: // symbol
      return 4 + int32(buf, at);
    case BSON_DOCUMENT:
    case BSON_ARRAY:
    case 0x0f: // code with scope
      return int32(buf, at);
    case 0x05: // binary
      return 5 + int32(buf, at);
    case 0x06: // undefined
    case BSON_NULL:
    case 0x7f: // max key
    case 0xff: // min key
      return 0;
    case 0x07: // ObjectId
      return 12;
    case BSON_BOOLEAN:
      return 1;
    case 0x0b: {
      // regular expression: two C strings
      let p = at;
      while (buf[p] !== 0) p++;
      p++;
      while (buf[p] !== 0) p++;
      return p + 1 - at;
    }
    case 0x0c: // DBPointer
      return 4 + int32(buf, at) + 12;
    case BSON_INT32:
      return 4;
    case 0x13: // decimal128
      return 16;
    default:
      throw new Error(`unexpected BSON element type 0x${type.toString(16)}`);
  }
}

/** A JavaScript number from a BSON double, int32 or int64 (0 for anything else). */
export function numberAt(buf: Uint8Array, type: number, at: number): number {
  if (type === BSON_DOUBLE) return double(buf, at);
  if (type === BSON_INT32) return int32(buf, at);
  if (type === BSON_INT64) return int64(buf, at);
  return 0;
}

/**
 * Names of one document shape, found by a hash of their bytes in a small open-addressing table
 * and then compared byte by byte (this lookup runs for every field of every exported document).
 */
export class NameTable {
  private readonly slots: Int16Array;
  private readonly mask: number;
  private readonly names: Buffer[] = [];
  private readonly values: number[] = [];

  constructor(names: Record<string, number>) {
    const entries = Object.entries(names);
    let size = 16;
    while (size < entries.length * 4) size *= 2;
    this.slots = new Int16Array(size);
    this.mask = size - 1;
    for (const [name, value] of entries) {
      const bytes = Buffer.from(name, "utf8");
      let i = hashOf(bytes, 0, bytes.length) & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.names.push(bytes);
      this.values.push(value);
      this.slots[i] = this.names.length;
    }
  }

  /** The value of the name in buf[start, end) with hash `hash`, or -1. */
  find(buf: Uint8Array, start: number, end: number, hash: number): number {
    const length = end - start;
    for (let i = hash & this.mask; ; i = (i + 1) & this.mask) {
      const entry = this.slots[i] as number;
      if (entry === 0) return -1;
      const name = this.names[entry - 1] as Buffer;
      if (name.length !== length) continue;
      let same = true;
      for (let k = 0; k < length; k++) {
        if (name[k] !== buf[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return this.values[entry - 1] as number;
    }
  }

  /** The value of a BSON string at `at` (-1 when it is not one of the names). */
  findString(buf: Uint8Array, type: number, at: number): number {
    if (type !== BSON_STRING) return -1;
    const start = at + 4;
    const end = start + int32(buf, at) - 1;
    return this.find(buf, start, end, hashOf(buf, start, end));
  }
}

function hashOf(buf: Uint8Array, start: number, end: number): number {
  let hash = 0;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + (buf[i] as number)) | 0;
  return hash;
}

/** Elements per document whose names `Shape` remembers by position. */
const REMEMBERED = 32;

/**
 * Where the fields of one document shape are: `at[slot]` is a value's offset (-1 when absent)
 * and `type[slot]` its BSON type. Scratch space, refilled by each `scan` of that shape.
 */
export class Shape {
  readonly names: NameTable;
  readonly at: Int32Array;
  readonly type: Uint8Array;
  private readonly nameBytes: Buffer[];
  /**
   * The slot of each element of the last document scanned, by position (-1: not one of the
   * shape's names). Documents of a collection are written with their fields in one order, so an
   * element's name is first compared with the name at its position last time, before any hashing.
   */
  private readonly order: Int8Array;

  constructor(fields: readonly string[]) {
    this.names = new NameTable(Object.fromEntries(fields.map((name, slot) => [name, slot])));
    this.nameBytes = fields.map((name) => Buffer.from(name, "utf8"));
    this.at = new Int32Array(fields.length);
    this.type = new Uint8Array(fields.length);
    this.order = new Int8Array(REMEMBERED).fill(-1);
  }

  scan(buf: Uint8Array, doc: number): this {
    const at = this.at;
    for (let i = 0; i < at.length; i++) at[i] = -1;
    const end = doc + int32(buf, doc) - 1;
    let p = doc + 4;
    for (let k = 0; p < end; k++) {
      const type = buf[p++] as number;
      let slot = k < REMEMBERED ? (this.order[k] as number) : -1;
      if (slot >= 0) {
        const name = this.nameBytes[slot] as Buffer;
        const length = name.length;
        let same = buf[p + length] === 0;
        for (let i = 0; same && i < length; i++) same = buf[p + i] === name[i];
        if (same) p += length;
        else slot = -1;
      }
      if (slot < 0) {
        const nameStart = p;
        let hash = 0;
        for (let c = buf[p] as number; c !== 0; c = buf[++p] as number) hash = (Math.imul(hash, 31) + c) | 0;
        slot = this.names.find(buf, nameStart, p, hash);
        if (k < REMEMBERED) this.order[k] = slot;
      }
      p++;
      if (slot >= 0) {
        at[slot] = p;
        this.type[slot] = type;
      }
      p += valueSize(buf, type, p);
    }
    return this;
  }
}

/** Calls `visit` with the type and value offset of each element of the document at `doc`. */
export function forEachElement(buf: Uint8Array, doc: number, visit: (type: number, at: number) => void): void {
  const end = doc + int32(buf, doc) - 1;
  let p = doc + 4;
  while (p < end) {
    const type = buf[p++] as number;
    while (buf[p] !== 0) p++;
    p++;
    visit(type, p);
    p += valueSize(buf, type, p);
  }
}

/** A sub-document field scanned with its own shape; absent or not a document: nothing written. */
export function documentAt(shape: Shape, slot: number): number {
  const at = shape.at[slot] as number;
  return at >= 0 && shape.type[slot] === BSON_DOCUMENT ? at : -1;
}

export function arrayAt(shape: Shape, slot: number): number {
  const at = shape.at[slot] as number;
  return at >= 0 && shape.type[slot] === BSON_ARRAY ? at : -1;
}

const ID = Buffer.from("_id");
const ITEM_ID = Buffer.from("itemId");

/** The last string `bsonString` returned and its bytes: an item's annotations repeat its id. */
let lastBytes = Buffer.alloc(0);
let lastString = "";

/**
 * A top-level string field of the BSON document at `doc` ("" when absent): an item's `_id`
 * (MongoDB stores it first) or an annotation's `itemId`, the keys of the join.
 */
export function bsonString(buf: Uint8Array, doc: number, name: "_id" | "itemId"): string {
  const wanted = name === "_id" ? ID : ITEM_ID;
  const end = doc + int32(buf, doc) - 1;
  let p = doc + 4;
  while (p < end) {
    const type = buf[p++] as number;
    let match = true;
    let i = 0;
    for (; buf[p + i] !== 0; i++) if (buf[p + i] !== wanted[i]) match = false;
    p += i + 1;
    if (match && i === wanted.length && type === BSON_STRING) {
      const start = p + 4;
      const length = int32(buf, p) - 1;
      let same = length === lastBytes.length;
      for (let k = 0; same && k < length; k++) same = buf[start + k] === lastBytes[k];
      if (same) return lastString;
      lastBytes = Buffer.from(buf.subarray(start, start + length));
      lastString = lastBytes.toString("utf8");
      return lastString;
    }
    p += valueSize(buf, type, p);
  }
  return "";
}
