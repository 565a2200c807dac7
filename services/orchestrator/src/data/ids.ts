// Time-ordered ids (UUIDv7, RFC 9562): ids generated here sort in creation order, which keyset
// pagination and the export merge join rely on when the caller gives none.
import { randomFillSync } from "node:crypto";

const pool = Buffer.alloc(4096);
let poolOffset = pool.length;
let lastMs = 0;
let counter = 0;

function randomBytes8(): Buffer {
  if (poolOffset + 8 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, poolOffset + 8);
  poolOffset += 8;
  return bytes;
}

const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * A UUIDv7. Within one millisecond the 12-bit `rand_a` field is a counter (method 1 of RFC 9562
 * section 6.2), so ids from this process are strictly increasing.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else {
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      counter = 0;
    }
  }
  const ms = lastMs;
  const b = new Uint8Array(16);
  // 48-bit big-endian timestamp.
  const high = Math.floor(ms / 0x1000000);
  const low = ms % 0x1000000;
  b[0] = (high >>> 16) & 0xff;
  b[1] = (high >>> 8) & 0xff;
  b[2] = high & 0xff;
  b[3] = (low >>> 16) & 0xff;
  b[4] = (low >>> 8) & 0xff;
  b[5] = low & 0xff;
  b[6] = 0x70 | ((counter >>> 8) & 0x0f);
  b[7] = counter & 0xff;
  const random = randomBytes8();
  b[8] = 0x80 | ((random[0] ?? 0) & 0x3f);
  for (let i = 1; i < 8; i++) b[8 + i] = random[i] ?? 0;
  let out = "";
  for (let i = 0; i < 16; i++) {
    out += hex[b[i] ?? 0];
    if (i === 3 || i === 5 || i === 7 || i === 9) out += "-";
  }
  return out;
}

/**
 * Item and annotation ids are the caller's, unique within a dataset: two datasets may both hold
 * item "a". MongoDB's `_id` is unique per collection, so it stores `<datasetId>/<id>`. Dataset ids
 * are UUIDs (hex digits and dashes, ASCII: as many UTF-8 bytes as characters), so "/" never occurs
 * in them, and the ids of one dataset are exactly the `_id`s in [`<datasetId>/`, `<datasetId>0`)
 * ("0" follows "/"), in the order of their public ids. `itemId` stays public: every query on
 * annotations names the dataset.
 */
export const ID_SEPARATOR = "/";

/** The `_id` of item or annotation `id` of dataset `datasetId`. */
export function storedId(datasetId: string, id: string): string {
  return `${datasetId}${ID_SEPARATOR}${id}`;
}

/** The caller's id of a stored `_id` of dataset `datasetId`. */
export function publicId(datasetId: string, stored: string): string {
  return stored.slice(datasetId.length + 1);
}

/** The stored ids of a dataset's items or annotations lie in this `_id` range. */
export function storedIdRange(datasetId: string): { $gte: string; $lt: string } {
  return { $gte: `${datasetId}${ID_SEPARATOR}`, $lt: `${datasetId}0` };
}
