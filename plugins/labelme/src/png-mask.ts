// LabelMe stores a `mask` shape as a base64 PNG of the shape's box (labelme writes a bool array
// through PIL: a 1-bit greyscale PNG; other tools write 8-bit greyscale, palette or RGB(A)). This
// decodes any non-interlaced PNG into one bit a pixel, set where a colour sample is non-zero,
// with node:zlib, so the plugin needs no image library.
import { inflateSync } from "node:zlib";

export interface Bitmap {
  width: number;
  height: number;
  /** Row-major, one byte a pixel: 1 set, 0 not. */
  bits: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Samples a pixel per colour type: grey, -, RGB, palette, grey+alpha, -, RGBA. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
/** Colour samples (alpha left out) per colour type. */
const COLOUR_CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 1, 6: 3 };
/** Most pixels a mask may have (a 16k x 16k image); a larger header is refused before inflating. */
const MAX_PIXELS = 16384 * 16384;

/** The bitmap of a PNG; an Error says what is wrong with it. */
export function decodePngMask(png: Buffer): Bitmap {
  if (png.length < 8 || !png.subarray(0, 8).equals(SIGNATURE)) throw new Error("not a PNG");
  let width = 0;
  let height = 0;
  let bitDepth = 0;
  let colourType = -1;
  const data: Buffer[] = [];
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    const body = png.subarray(at + 8, at + 8 + length);
    if (body.length < length) throw new Error(`PNG chunk ${type} is cut off`);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      bitDepth = body[8] as number;
      colourType = body[9] as number;
      if (body[12] !== 0) throw new Error("interlaced PNG masks are not supported");
    } else if (type === "IDAT") {
      data.push(body);
    } else if (type === "IEND") {
      break;
    }
    at += 12 + length;
  }
  const channels = CHANNELS[colourType];
  if (!width || !height || !channels || ![1, 2, 4, 8, 16].includes(bitDepth)) {
    throw new Error("PNG header missing or of an unknown colour type / bit depth");
  }
  if (width * height > MAX_PIXELS) throw new Error(`PNG mask of ${width}x${height} pixels is too large`);
  const bitsPerPixel = channels * bitDepth;
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  // Never inflate more than the header's size: a small PNG must not expand into gigabytes.
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(data), { maxOutputLength: height * (stride + 1) });
  } catch {
    throw new Error("PNG image data does not inflate to the size its header gives");
  }
  if (raw.length < height * (stride + 1)) throw new Error("PNG image data is shorter than its header says");
  const lines = unfilter(raw, height, stride, Math.max(1, bitsPerPixel >> 3));
  const colours = COLOUR_CHANNELS[colourType] as number;
  const bits = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const line = lines.subarray(y * stride, (y + 1) * stride);
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < colours; c++) {
        if (sample(line, x * channels + c, bitDepth) !== 0) {
          bits[y * width + x] = 1;
          break;
        }
      }
    }
  }
  return { width, height, bits };
}

/** The n-th sample of a scanline at `depth` bits (16-bit samples read whole). */
function sample(line: Uint8Array, n: number, depth: number): number {
  if (depth === 8) return line[n] as number;
  if (depth === 16) return ((line[2 * n] as number) << 8) | (line[2 * n + 1] as number);
  const perByte = 8 / depth;
  const byte = line[Math.floor(n / perByte)] as number;
  const shift = 8 - depth * ((n % perByte) + 1);
  return (byte >> shift) & ((1 << depth) - 1);
}

/** Undoes the per-scanline filters (PNG spec 9.2); returns the scanlines without filter bytes. */
function unfilter(raw: Buffer, height: number, stride: number, bytesPerPixel: number): Uint8Array {
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)] as number;
    const source = y * (stride + 1) + 1;
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      const value = raw[source + i] as number;
      const left = i >= bytesPerPixel ? (out[row + i - bytesPerPixel] as number) : 0;
      const up = y > 0 ? (out[row - stride + i] as number) : 0;
      const upLeft = y > 0 && i >= bytesPerPixel ? (out[row - stride + i - bytesPerPixel] as number) : 0;
      let predicted: number;
      switch (filter) {
        case 0:
          predicted = 0;
          break;
        case 1:
          predicted = left;
          break;
        case 2:
          predicted = up;
          break;
        case 3:
          predicted = (left + up) >> 1;
          break;
        case 4:
          predicted = paeth(left, up, upLeft);
          break;
        default:
          throw new Error(`PNG scanline ${y} has unknown filter ${filter}`);
      }
      out[row + i] = (value + predicted) & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}
