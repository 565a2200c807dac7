// Shared by the drivers: any StorageBody as a byte stream, a pass-through that measures size and
// sha256 on the way to the backend (so a put never buffers or re-reads its body), range checks.
import { createHash } from "node:crypto";
import { Readable, Transform } from "node:stream";
import type { StorageBody } from "./driver.ts";

export function toReadable(body: StorageBody): Readable {
  if (typeof body === "string") return Readable.from([Buffer.from(body, "utf8")]);
  // Wrapped in an array: Readable.from(bytes) would emit one chunk per byte.
  if (body instanceof Uint8Array) return Readable.from([body]);
  if (body instanceof Readable) return body;
  if (body !== null && typeof body === "object" && Symbol.asyncIterator in body) return Readable.from(body);
  throw new TypeError("storage body must be a string, a Uint8Array, a Readable or an AsyncIterable of them");
}

export interface BodyMeter {
  /** Put it between the body and the backend; it passes bytes through unchanged. */
  readonly stream: Transform;
  /** Size and hex sha256 of everything that passed; valid once the stream has ended. */
  result(): { size: number; sha256: string };
}

export function createBodyMeter(): BodyMeter {
  const hash = createHash("sha256");
  let size = 0;
  let sha256: string | undefined;
  // Non-object mode: strings from iterables or setEncoding() readers arrive here as UTF-8 Buffers.
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return {
    stream,
    result() {
      sha256 ??= hash.digest("hex");
      return { size, sha256 };
    },
  };
}

export interface ByteRange {
  start?: number;
  end?: number;
}

/** Throws RangeError unless start/end are non-negative integers with start <= end (end inclusive). */
export function validateRange(range: ByteRange): void {
  const { start, end } = range;
  for (const [name, value] of [
    ["start", start],
    ["end", end],
  ] as const) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new RangeError(`range ${name} must be a non-negative integer, got ${value}`);
    }
  }
  if (start !== undefined && end !== undefined && end < start) {
    throw new RangeError(`range end ${end} is before start ${start}`);
  }
}
