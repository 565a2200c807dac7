// An image's width and height from the first bytes of its file (image-size), without reading the
// rest: exporters that need the size (YOLO normalises by it, COCO and VOC write it) read it from
// the media source when an item does not carry it.
import { imageSize } from "image-size";
import type { ExportStorage, MediaReadOptions } from "./exporter.ts";

/** The most an image header read takes: a JPEG's EXIF block may come before its size. */
export const IMAGE_HEADER_BYTES = 256 * 1024;

/** Below this, a parse is only tried at the end of the file (a partial header could mislead). */
const FIRST_TRY_BYTES = 4096;

export interface ImageSize {
  width: number;
  height: number;
}

/** The size in an image header, as labelling tools show the image (EXIF rotations applied). */
export function imageSizeOf(bytes: Uint8Array): ImageSize | undefined {
  try {
    const size = imageSize(bytes);
    if (!size.width || !size.height) return undefined;
    // EXIF orientations 5-8 rotate by 90 degrees: labelling tools show (and label) the rotated image.
    const rotated = (size.orientation ?? 1) >= 5;
    return rotated ? { width: size.height, height: size.width } : { width: size.width, height: size.height };
  } catch {
    return undefined;
  }
}

/**
 * Reads chunks until the header gives a size, `maxBytes` are read or the stream ends, then stops
 * reading (the caller destroys the stream). A truncated JPEG header throws in image-size, so the
 * parse is simply tried again with the next chunk.
 */
export async function imageSizeFromChunks(
  chunks: AsyncIterable<Uint8Array>,
  maxBytes = IMAGE_HEADER_BYTES,
): Promise<ImageSize | undefined> {
  const read: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    read.push(chunk);
    total += chunk.length;
    if (total >= FIRST_TRY_BYTES) {
      const size = imageSizeOf(Buffer.concat(read, Math.min(total, maxBytes)));
      if (size || total >= maxBytes) return size;
    }
  }
  return total > 0 && total < FIRST_TRY_BYTES ? imageSizeOf(Buffer.concat(read, total)) : undefined;
}

/**
 * The size of the image at `uri` (an item's media.uri) from its header, read through the export's
 * media sources with a range request; undefined when the file is not there or is not an image
 * image-size knows.
 */
export async function readMediaImageSize(
  storage: ExportStorage,
  uri: string,
  options: MediaReadOptions = {},
): Promise<ImageSize | undefined> {
  const stream = await storage.readMedia(uri, { start: 0, end: IMAGE_HEADER_BYTES - 1 }, options);
  if (!stream) return undefined;
  // An error after destroy() (a socket reset by the early stop) must not become an unhandled event.
  stream.on("error", () => undefined);
  try {
    return await imageSizeFromChunks(stream);
  } finally {
    stream.destroy();
  }
}
