// Run-length encoded masks as COCO stores them (pycocotools' maskApi.c): `counts` alternate runs
// of 0s and 1s, starting with 0s, over the pixels in column-major order (down each column, then
// the next column). The `Mask` geometry holds this uncompressed form; COCO files may also hold the
// compressed string form, which rle.test.ts checks against pycocotools byte for byte.

/** A mask's size and runs, as the `Mask` message and COCO's `{size: [h, w], counts}` hold them. */
export interface RleMask {
  width: number;
  height: number;
  counts: readonly number[];
}

/** Pixels set: the sum of the runs of 1s (pycocotools' `area`). */
export function maskArea(mask: RleMask): number {
  let area = 0;
  for (let i = 1; i < mask.counts.length; i += 2) area += mask.counts[i] as number;
  return area;
}

/**
 * Bounds [x, y, width, height] of the pixels set, in whole pixels ([0, 0, 0, 0] when none is):
 * pycocotools' `toBbox` for the runs it writes. (An empty run of 1s inside the counts sets no
 * pixel here; `toBbox` would count its neighbours.)
 */
export function maskBoundingBox(mask: RleMask): [number, number, number, number] {
  const { height, counts } = mask;
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = -1;
  let maxY = -1;
  let position = 0;
  for (let i = 0; i < counts.length; i++) {
    const run = counts[i] as number;
    if (i % 2 === 1 && run > 0 && height > 0) {
      const last = position + run - 1;
      const firstX = Math.floor(position / height);
      const lastX = Math.floor(last / height);
      if (firstX < minX) minX = firstX;
      if (lastX > maxX) maxX = lastX;
      if (lastX > firstX) {
        // The run wraps from one column into the next: it covers every row between them.
        minY = 0;
        maxY = height - 1;
      } else {
        minY = Math.min(minY, position - firstX * height);
        maxY = Math.max(maxY, last - lastX * height);
      }
    }
    position += run;
  }
  if (maxX < 0) return [0, 0, 0, 0];
  return [minX, minY, maxX - minX + 1, maxY - minY + 1];
}

// The compressed form (pycocotools' rleToString / rleFrString): each count, minus the count two
// before it from the fourth on, as a signed LEB128-like number in 5-bit groups, least significant
// first, each group a character from "0" (48) to "o" (111) with 0x20 meaning "more follow".
const ZERO = 48;
const MAX_GROUPS = 7; // 33 bits: a uint32 count minus another one

/** COCO's compressed RLE string of `counts` (what pycocotools writes as `counts` in JSON). */
export function encodeRleString(counts: readonly number[]): string {
  const chars = new Uint8Array(counts.length * MAX_GROUPS);
  let length = 0;
  for (let i = 0; i < counts.length; i++) {
    // Floor division keeps the arithmetic exact for the 33-bit differences (no 32-bit shifts).
    let x = (counts[i] as number) - (i > 2 ? (counts[i - 2] as number) : 0);
    let more = true;
    while (more) {
      let group = x - Math.floor(x / 32) * 32;
      x = Math.floor(x / 32);
      more = group & 0x10 ? x !== -1 : x !== 0;
      if (more) group |= 0x20;
      chars[length++] = group + ZERO;
    }
  }
  return Buffer.from(chars.buffer, 0, length).toString("latin1");
}

/** The counts of a compressed RLE string; a RangeError names the first character that is wrong. */
export function decodeRleString(text: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < text.length) {
    const start = p;
    let x = 0;
    let groups = 0;
    let more = true;
    while (more) {
      if (p >= text.length) throw new RangeError(`RLE string ends inside the count at character ${start}`);
      const group = text.charCodeAt(p) - ZERO;
      if (group < 0 || group > 63) {
        throw new RangeError(`RLE string: character ${p} (${JSON.stringify(text[p])}) is not one of "0" to "o"`);
      }
      if (groups === MAX_GROUPS) throw new RangeError(`RLE string: the count at character ${start} is too long`);
      x += (group & 0x1f) * 2 ** (5 * groups);
      more = (group & 0x20) !== 0;
      p++;
      groups++;
      if (!more && group & 0x10) x -= 2 ** (5 * groups);
    }
    if (counts.length > 2) x += counts[counts.length - 2] as number;
    if (x < 0 || x > 0xffffffff) {
      throw new RangeError(`RLE string: the count at character ${start} is ${x}, outside 0 to 4294967295`);
    }
    counts.push(x);
  }
  return counts;
}

// A mask cropped to its box (row-major bits at left/top, as LabelMe and CVAT store masks) as the
// `Mask` geometry over the whole image. Only the crop is visited: the cost is the box's area.
export interface CroppedMask {
  /** Row-major, one byte a pixel, non-zero = set. */
  bits: Uint8Array;
  width: number;
  height: number;
  left: number;
  top: number;
}

export interface ImageMask {
  width: number;
  height: number;
  counts: number[];
  /** Set pixels of the crop that fell outside the image and were cut off. */
  clipped: number;
}

export function cropToImageMask(crop: CroppedMask, imageWidth: number, imageHeight: number): ImageMask {
  const counts: number[] = [];
  let written = 0;
  let runStart = -1;
  let runEnd = -1;
  let clipped = 0;
  for (let cx = 0; cx < crop.width; cx++) {
    const x = crop.left + cx;
    for (let cy = 0; cy < crop.height; cy++) {
      if (!crop.bits[cy * crop.width + cx]) continue;
      const y = crop.top + cy;
      if (x < 0 || y < 0 || x >= imageWidth || y >= imageHeight) {
        clipped += 1;
        continue;
      }
      const position = x * imageHeight + y;
      if (position === runEnd) {
        runEnd += 1;
        continue;
      }
      if (runStart >= 0) {
        counts.push(runStart - written, runEnd - runStart);
        written = runEnd;
      }
      runStart = position;
      runEnd = position + 1;
    }
  }
  if (runStart >= 0) {
    counts.push(runStart - written, runEnd - runStart);
    written = runEnd;
  }
  const total = imageWidth * imageHeight;
  if (written < total) counts.push(total - written);
  return { width: imageWidth, height: imageHeight, counts, clipped };
}
