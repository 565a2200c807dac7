// Items in protobuf wire form, transcoded straight from the raw BSON MongoDB returns. This is the
// export hot path (StreamItems). Decoding BSON into objects, building messages and protobuf-es's
// reflective toBinary (a chunk list per nested message, copied once per level) took most of the
// orchestrator's CPU and garbage; here strings and doubles are copied byte for byte (BSON and
// protobuf are both UTF-8 and little-endian IEEE 754) into one growing buffer. The result decodes
// to what toBinary(ItemSchema, itemMessage(...)) gives for the same documents (encode.test.ts):
// fields in number order, proto3 zero values left out, Struct as protobuf-es maps a JsonObject.
// Fields the messages do not carry (trackKey, frameRange, ...) are skipped.
import {
  arrayAt,
  BSON_ARRAY,
  BSON_BOOLEAN,
  BSON_DATE,
  BSON_DOCUMENT,
  BSON_DOUBLE,
  BSON_INT32,
  BSON_INT64,
  BSON_NULL,
  BSON_STRING,
  documentAt,
  forEachElement,
  int32,
  int64,
  NameTable,
  numberAt,
  Shape,
  valueSize,
} from "./bson-reader.ts";

const VARINT = 0;
const BIT64 = 1;
const DELIMITED = 2;

/** A growing buffer with the few wire operations items need. */
export class ProtoWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(capacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far (a view: the writer must not be used afterwards). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  /** A varint of an integer in [0, 2^53), or of a negative int64 (ten bytes, two's complement). */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    if (value >= 0 && value <= 0xffffffff) {
      while (value > 0x7f) {
        buf[pos++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
      buf[pos++] = value;
    } else {
      let big = BigInt.asUintN(64, BigInt(Math.trunc(value)));
      while (big > 0x7fn) {
        buf[pos++] = Number(big & 0x7fn) | 0x80;
        big >>= 7n;
      }
      buf[pos++] = Number(big);
    }
    this.pos = pos;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  rawDouble(value: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** Bytes as they are. */
  copy(source: Uint8Array, start: number, end: number): void {
    const length = end - start;
    this.ensure(length);
    const buf = this.buf;
    const pos = this.pos;
    if (length < 48) {
      for (let i = 0; i < length; i++) buf[pos + i] = source[start + i] as number;
    } else {
      buf.set(source.subarray(start, end), pos);
    }
    this.pos = pos + length;
  }

  /** Starts a length-delimited field; pass the result to `end` once its content is written. */
  begin(field: number): number {
    this.tag(field, DELIMITED);
    this.ensure(1);
    return this.pos++;
  }

  /** Writes the length reserved by `begin`, moving the content when the length needs more than a byte. */
  end(lengthAt: number): void {
    const length = this.pos - lengthAt - 1;
    if (length < 0x80) {
      this.buf[lengthAt] = length;
      return;
    }
    let size = 1;
    for (let rest = length >>> 7; rest > 0; rest >>>= 7) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(lengthAt + size, lengthAt + 1, this.pos);
    const end = this.pos + size - 1;
    this.pos = lengthAt;
    this.varint(length);
    this.pos = end;
  }

  /** A uint32, enum or int64 field; zero (proto3's default) is not written. */
  integer(field: number, value: number): void {
    if (value === 0) return;
    this.tag(field, VARINT);
    this.varint(value);
  }
}

// ---------------------------------------------------------------------------------------------
// Fields, read from a scanned shape and written in protobuf form.

/** A string field; an empty string (proto3's default) is not written. */
function stringField(w: ProtoWriter, field: number, buf: Uint8Array, shape: Shape, slot: number): void {
  const at = shape.at[slot] as number;
  if (at < 0 || shape.type[slot] !== BSON_STRING) return;
  const length = int32(buf, at) - 1;
  if (length === 0) return;
  w.tag(field, DELIMITED);
  w.varint(length);
  w.copy(buf, at + 4, at + 4 + length);
}

/**
 * The public id of an item or annotation: the stored `_id` less its "<datasetId>/" prefix
 * (data/ids.ts), whose length is the document's own `datasetId` in bytes plus one.
 */
function publicIdField(
  w: ProtoWriter,
  field: number,
  buf: Uint8Array,
  shape: Shape,
  idSlot: number,
  datasetSlot: number,
): void {
  const at = shape.at[idSlot] as number;
  const datasetAt = shape.at[datasetSlot] as number;
  if (at < 0 || shape.type[idSlot] !== BSON_STRING || datasetAt < 0) return;
  const prefix = int32(buf, datasetAt);
  const length = int32(buf, at) - 1 - prefix;
  if (length <= 0) return;
  w.tag(field, DELIMITED);
  w.varint(length);
  w.copy(buf, at + 4 + prefix, at + 4 + prefix + length);
}

/** A double field; +0 is not written, -0 is (as protobuf-es does). */
function doubleField(w: ProtoWriter, field: number, buf: Uint8Array, shape: Shape, slot: number): void {
  const at = shape.at[slot] as number;
  if (at < 0) return;
  const type = shape.type[slot] as number;
  if (type === BSON_DOUBLE) {
    let zero = true;
    for (let i = 0; i < 8; i++) if (buf[at + i] !== 0) zero = false;
    if (zero) return;
    w.tag(field, BIT64);
    w.copy(buf, at, at + 8);
    return;
  }
  const value = numberAt(buf, type, at);
  if (value === 0) return;
  w.tag(field, BIT64);
  w.rawDouble(value);
}

function integerField(w: ProtoWriter, field: number, buf: Uint8Array, shape: Shape, slot: number): void {
  const at = shape.at[slot] as number;
  if (at >= 0) w.integer(field, numberAt(buf, shape.type[slot] as number, at));
}

function boolField(w: ProtoWriter, field: number, buf: Uint8Array, shape: Shape, slot: number): void {
  const at = shape.at[slot] as number;
  if (at >= 0 && shape.type[slot] === BSON_BOOLEAN && buf[at] === 1) w.integer(field, 1);
}

/** An enum stored by name; names outside the table are UNSPECIFIED (0, not written). */
function enumValue(names: NameTable, buf: Uint8Array, shape: Shape, slot: number): number {
  const at = shape.at[slot] as number;
  return at < 0 ? 0 : Math.max(0, names.findString(buf, shape.type[slot] as number, at));
}

/** google.protobuf.Timestamp of a BSON date (whole milliseconds). */
function timestampField(w: ProtoWriter, field: number, buf: Uint8Array, shape: Shape, slot: number): void {
  const at = shape.at[slot] as number;
  if (at < 0 || shape.type[slot] !== BSON_DATE) return;
  const ms = int64(buf, at);
  const seconds = Math.floor(ms / 1000);
  const lengthAt = w.begin(field);
  w.integer(1, seconds);
  w.integer(2, (ms - seconds * 1000) * 1_000_000);
  w.end(lengthAt);
}

/** A google.protobuf.Struct from a BSON document: one map entry per element, in stored order. */
function writeStruct(w: ProtoWriter, field: number, buf: Uint8Array, doc: number): void {
  const lengthAt = w.begin(field);
  const end = doc + int32(buf, doc) - 1;
  let p = doc + 4;
  while (p < end) {
    const type = buf[p++] as number;
    const nameStart = p;
    while (buf[p] !== 0) p++;
    const entry = w.begin(1);
    w.tag(1, DELIMITED);
    w.varint(p - nameStart);
    w.copy(buf, nameStart, p);
    p++;
    writeValue(w, 2, buf, type, p);
    w.end(entry);
    p += valueSize(buf, type, p);
  }
  w.end(lengthAt);
}

/**
 * A google.protobuf.Value; its oneof members are written even when zero. Values JSON cannot
 * hold (dates, ids, binaries: never stored in these fields by Labelport) become null.
 */
function writeValue(w: ProtoWriter, field: number, buf: Uint8Array, type: number, at: number): void {
  const lengthAt = w.begin(field);
  switch (type) {
    case BSON_DOUBLE:
      w.tag(2, BIT64);
      w.copy(buf, at, at + 8);
      break;
    case BSON_INT32:
    case BSON_INT64:
      w.tag(2, BIT64);
      w.rawDouble(numberAt(buf, type, at));
      break;
    case BSON_STRING: {
      const length = int32(buf, at) - 1;
      w.tag(3, DELIMITED);
      w.varint(length);
      w.copy(buf, at + 4, at + 4 + length);
      break;
    }
    case BSON_BOOLEAN:
      w.tag(4, VARINT);
      w.varint(buf[at] as number);
      break;
    case BSON_DOCUMENT:
      writeStruct(w, 5, buf, at);
      break;
    case BSON_ARRAY: {
      const list = w.begin(6);
      forEachElement(buf, at, (elementType, elementAt) => writeValue(w, 1, buf, elementType, elementAt));
      w.end(list);
      break;
    }
    default:
      w.tag(1, VARINT);
      w.varint(0);
  }
  w.end(lengthAt);
}

// ---------------------------------------------------------------------------------------------
// The shapes of items and annotations (data/model.ts) and their messages (dataset.proto).

const ITEM_KINDS = new NameTable({ image: 1, video: 2, record: 3 });
const ITEM_STATUSES = new NameTable({ draft: 1, in_review: 2, approved: 3, rejected: 4 });
const ANNOTATION_TYPES = new NameTable({
  bbox: 1,
  polygon: 2,
  polyline: 3,
  keypoints: 4,
  classification: 5,
  track: 6,
  mask: 7,
});
const POLYLINE = 3;

const item = new Shape([
  "_id",
  "datasetId",
  "kind",
  "status",
  "split",
  "media",
  "meta",
  "tags",
  "data",
  "createdAt",
  "updatedAt",
  "version",
]);
const media = new Shape(["uri", "fileName", "width", "height", "frames", "fps", "depth"]);
const annotation = new Shape([
  "_id",
  "datasetId",
  "itemId",
  "personaId",
  "type",
  "categoryId",
  "attributes",
  "geometry",
  "boxSequence",
  "link",
  "removed",
  "createdAt",
  "updatedAt",
  "createdBy",
  "reviewedBy",
  "reviewTime",
]);
const geometry = new Shape(["bbox", "points", "keypoints", "mask"]);
const box = new Shape(["x", "y", "width", "height"]);
const keypoint = new Shape(["x", "y", "visibility"]);
const mask = new Shape(["width", "height", "counts"]);
const sequence = new Shape(["interpolationMode", "boxes"]);
const sequenceBox = new Shape(["frameNumber", "x", "y", "width", "height", "isKeyframe", "visible"]);
const link = new Shape(["typeAssignment", "objectLink"]);
const typeAssignment = new Shape(["typeId", "typeName"]);
const objectLink = new Shape(["objectId", "objectType"]);

/** The fields of an Item message from the BSON document at `doc`, without annotations (field 13 follows). */
export function writeItemFields(w: ProtoWriter, buf: Uint8Array, doc: number): void {
  const s = item.scan(buf, doc);
  publicIdField(w, 1, buf, s, 0, 1);
  stringField(w, 2, buf, s, 1);
  w.integer(3, enumValue(ITEM_KINDS, buf, s, 2));
  w.integer(4, enumValue(ITEM_STATUSES, buf, s, 3));
  stringField(w, 5, buf, s, 4);
  const mediaAt = documentAt(s, 5);
  const metaAt = documentAt(s, 6);
  const tagsAt = arrayAt(s, 7);
  const dataAt = documentAt(s, 8);
  if (mediaAt >= 0) {
    const m = media.scan(buf, mediaAt);
    const lengthAt = w.begin(6);
    stringField(w, 1, buf, m, 0);
    stringField(w, 2, buf, m, 1);
    integerField(w, 3, buf, m, 2);
    integerField(w, 4, buf, m, 3);
    integerField(w, 5, buf, m, 4);
    doubleField(w, 6, buf, m, 5);
    integerField(w, 7, buf, m, 6);
    w.end(lengthAt);
  }
  if (metaAt >= 0) writeStruct(w, 7, buf, metaAt);
  if (tagsAt >= 0) {
    forEachElement(buf, tagsAt, (type, at) => {
      if (type !== BSON_STRING) return;
      const length = int32(buf, at) - 1;
      w.tag(8, DELIMITED);
      w.varint(length);
      w.copy(buf, at + 4, at + 4 + length);
    });
  }
  if (dataAt >= 0) writeStruct(w, 9, buf, dataAt);
  timestampField(w, 10, buf, s, 9);
  timestampField(w, 11, buf, s, 10);
  integerField(w, 12, buf, s, 11);
}

/** One Annotation message (field 13 of Item) from the BSON document at `doc`. */
export function writeAnnotation(w: ProtoWriter, buf: Uint8Array, doc: number): void {
  const lengthAt = w.begin(13);
  const s = annotation.scan(buf, doc);
  publicIdField(w, 1, buf, s, 0, 1);
  stringField(w, 2, buf, s, 1);
  stringField(w, 3, buf, s, 2);
  stringField(w, 4, buf, s, 3);
  const type = enumValue(ANNOTATION_TYPES, buf, s, 4);
  w.integer(5, type);
  const categoryAt = s.at[5] as number;
  // optional: present whenever stored, zero included.
  if (categoryAt >= 0 && s.type[5] !== BSON_NULL) {
    w.tag(6, VARINT);
    w.varint(numberAt(buf, s.type[5] as number, categoryAt));
  }
  const attributesAt = documentAt(s, 6);
  const geometryAt = documentAt(s, 7);
  const sequenceAt = documentAt(s, 8);
  const linkAt = documentAt(s, 9);
  if (attributesAt >= 0) writeStruct(w, 7, buf, attributesAt);
  let maskAt = -1;
  if (sequenceAt >= 0) writeSequence(w, buf, sequenceAt);
  else if (geometryAt >= 0) maskAt = writeGeometry(w, buf, geometryAt, type);
  if (linkAt >= 0) writeLink(w, buf, linkAt);
  boolField(w, 15, buf, s, 10);
  timestampField(w, 16, buf, s, 11);
  timestampField(w, 17, buf, s, 12);
  // The mask joined the geometry oneof later, as field 18: it goes after the times.
  if (maskAt >= 0) writeMask(w, buf, maskAt);
  stringField(w, 19, buf, s, 13);
  stringField(w, 20, buf, s, 14);
  timestampField(w, 21, buf, s, 15);
  w.end(lengthAt);
}

function writeSequence(w: ProtoWriter, buf: Uint8Array, at: number): void {
  const s = sequence.scan(buf, at);
  const boxesAt = arrayAt(s, 1);
  const lengthAt = w.begin(12);
  stringField(w, 1, buf, s, 0);
  if (boxesAt >= 0) {
    forEachElement(buf, boxesAt, (type, boxAt) => {
      if (type !== BSON_DOCUMENT) return;
      const b = sequenceBox.scan(buf, boxAt);
      const boxLength = w.begin(2);
      integerField(w, 1, buf, b, 0);
      doubleField(w, 2, buf, b, 1);
      doubleField(w, 3, buf, b, 2);
      doubleField(w, 4, buf, b, 3);
      doubleField(w, 5, buf, b, 4);
      boolField(w, 6, buf, b, 5);
      boolField(w, 7, buf, b, 6);
      w.end(boxLength);
    });
  }
  w.end(lengthAt);
}

/**
 * The geometry oneof, in data/convert.ts's order of precedence: bbox, points, keypoints, mask.
 * A mask is left to the caller (its field number puts it last): returns its offset, or -1.
 */
function writeGeometry(w: ProtoWriter, buf: Uint8Array, at: number, type: number): number {
  const g = geometry.scan(buf, at);
  const bboxAt = documentAt(g, 0);
  const pointsAt = arrayAt(g, 1);
  const keypointsAt = arrayAt(g, 2);
  const maskAt = documentAt(g, 3);
  if (bboxAt >= 0) {
    const b = box.scan(buf, bboxAt);
    const lengthAt = w.begin(8);
    doubleField(w, 1, buf, b, 0);
    doubleField(w, 2, buf, b, 1);
    doubleField(w, 3, buf, b, 2);
    doubleField(w, 4, buf, b, 3);
    w.end(lengthAt);
  } else if (pointsAt >= 0) {
    const lengthAt = w.begin(type === POLYLINE ? 10 : 9);
    if (int32(buf, pointsAt) > 5) {
      const packed = w.begin(1);
      forEachElement(buf, pointsAt, (elementType, elementAt) => {
        if (elementType === BSON_DOUBLE) w.copy(buf, elementAt, elementAt + 8);
        else w.rawDouble(numberAt(buf, elementType, elementAt));
      });
      w.end(packed);
    }
    w.end(lengthAt);
  } else if (keypointsAt >= 0) {
    const lengthAt = w.begin(11);
    forEachElement(buf, keypointsAt, (elementType, pointAt) => {
      if (elementType !== BSON_DOCUMENT) return;
      const k = keypoint.scan(buf, pointAt);
      const pointLength = w.begin(1);
      doubleField(w, 1, buf, k, 0);
      doubleField(w, 2, buf, k, 1);
      integerField(w, 3, buf, k, 2);
      w.end(pointLength);
    });
    w.end(lengthAt);
  } else {
    return maskAt;
  }
  return -1;
}

function writeMask(w: ProtoWriter, buf: Uint8Array, at: number): void {
  const m = mask.scan(buf, at);
  const countsAt = arrayAt(m, 2);
  const lengthAt = w.begin(18);
  integerField(w, 1, buf, m, 0);
  integerField(w, 2, buf, m, 1);
  if (countsAt >= 0 && int32(buf, countsAt) > 5) {
    const packed = w.begin(3);
    forEachElement(buf, countsAt, (elementType, elementAt) => w.varint(numberAt(buf, elementType, elementAt)));
    w.end(packed);
  }
  w.end(lengthAt);
}

function writeLink(w: ProtoWriter, buf: Uint8Array, at: number): void {
  const l = link.scan(buf, at);
  const typeAt = documentAt(l, 0);
  const objectAt = documentAt(l, 1);
  if (typeAt >= 0) {
    const t = typeAssignment.scan(buf, typeAt);
    const lengthAt = w.begin(13);
    stringField(w, 1, buf, t, 0);
    stringField(w, 2, buf, t, 1);
    w.end(lengthAt);
  } else if (objectAt >= 0) {
    const o = objectLink.scan(buf, objectAt);
    const lengthAt = w.begin(14);
    stringField(w, 1, buf, o, 0);
    stringField(w, 2, buf, o, 1);
    w.end(lengthAt);
  }
}
