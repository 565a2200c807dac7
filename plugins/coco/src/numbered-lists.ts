// COCO's `images` and `annotations` lists across the shards of a split export. Ids run 1.. per
// split file in item order, but a shard cannot know how many objects earlier shards wrote: each
// shard writes its objects as a part, one JSON object a line, numbered from 1 within the shard,
// and the join streams the parts in shard order, adding the earlier shards' counts to the ids.
// Only each line's leading `{"id":N,` (and an annotation's `"image_id":M,`) is rewritten, on the
// bytes: a JSON line never holds a raw newline, so no object is parsed again, and memory is
// bounded by the longest line.
import { type ArtifactWriter, LabelportError, type ShardParts } from "@labelport/sdk";

/** Characters (or bytes) gathered before one write: one write per ~64 KB, not per object. */
const CHUNK = 64 * 1024;

/** A shard's share of one list: a part of JSON lines, each starting `{"id":N,`. */
export class NumberedListPart {
  private pending = "";
  private closing: Promise<void> | undefined;
  count = 0;
  private constructor(private readonly out: ArtifactWriter) {}

  static async open(parts: ShardParts, name: string): Promise<NumberedListPart> {
    return new NumberedListPart(await parts.open(name));
  }

  /** Appends one object, as JSON.stringify wrote it (id first). */
  add(json: string): void {
    this.pending += `${json}\n`;
    this.count += 1;
  }

  /** Writes what was added once it makes a chunk (or always, with `force`). */
  async flush(force = false): Promise<void> {
    if (this.pending.length < CHUNK && !(force && this.pending)) return;
    const chunk = this.pending;
    this.pending = "";
    await this.out.write(chunk);
  }

  /** Writes the rest and closes the part; once, however often it is called (a failed shard closes again). */
  close(): Promise<void> {
    this.closing ??= this.flush(true).then(() => this.out.close());
    return this.closing;
  }
}

/** What to add to a shard's ids: the counts of the earlier shards for the same split. */
export interface IdShift {
  id: number;
  /** For annotations: added to `image_id`, which must follow `id`. */
  imageId?: number;
}

/** One shard's part of a list, as the join reads it. */
export interface NumberedListSource {
  /** For errors: which shard and part. */
  name: string;
  chunks: AsyncIterable<Uint8Array>;
  /** Lines the shard said it wrote. */
  count: number;
  shift: IdShift;
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const ID_KEY = Buffer.from('{"id":');
const IMAGE_ID_KEY = Buffer.from('"image_id":');

/** The lines of a part (without their newline), holding at most one line that is not complete. */
async function* jsonLines(chunks: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Buffer> {
  let partial: Buffer[] = [];
  for await (const chunk of chunks) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (let end = bytes.indexOf(NEWLINE, start); end !== -1; end = bytes.indexOf(NEWLINE, start)) {
      const tail = bytes.subarray(start, end);
      yield partial.length > 0 ? Buffer.concat([...partial, tail]) : tail;
      partial = [];
      start = end + 1;
    }
    if (start < bytes.length) partial.push(bytes.subarray(start));
  }
  if (partial.length > 0) throw new LabelportError(`${name}: the last line has no newline (a truncated part?)`);
}

/** The integer at `at` up to the comma after it, and where the comma is; undefined when absent. */
function readId(line: Buffer, at: number): { value: number; comma: number } | undefined {
  let value = 0;
  let end = at;
  for (; end < line.length && line[end] !== COMMA; end++) {
    const digit = (line[end] ?? 0) - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    value = value * 10 + digit;
  }
  return end > at && end < line.length ? { value, comma: end } : undefined;
}

/** The line's leading ids plus `shift`, as text, and where the rest of the line starts. */
function shiftedPrefix(line: Buffer, shift: IdShift): { prefix: string; rest: number } | undefined {
  if (!line.subarray(0, ID_KEY.length).equals(ID_KEY)) return undefined;
  const id = readId(line, ID_KEY.length);
  if (!id) return undefined;
  if (shift.imageId === undefined) return { prefix: `{"id":${id.value + shift.id},`, rest: id.comma + 1 };
  const keyAt = id.comma + 1;
  if (!line.subarray(keyAt, keyAt + IMAGE_ID_KEY.length).equals(IMAGE_ID_KEY)) return undefined;
  const imageId = readId(line, keyAt + IMAGE_ID_KEY.length);
  if (!imageId) return undefined;
  return {
    prefix: `{"id":${id.value + shift.id},"image_id":${imageId.value + shift.imageId},`,
    rest: imageId.comma + 1,
  };
}

/**
 * Writes every source's lines into `out` in order, renumbered, each after "\n" (the first) or
 * ",\n" as the elements of a JSON array; returns how many were written.
 */
export async function writeNumberedList(
  out: ArtifactWriter,
  sources: readonly NumberedListSource[],
  signal: AbortSignal,
): Promise<number> {
  let written = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const push = (bytes: Buffer) => {
    pending.push(bytes);
    pendingBytes += bytes.length;
  };
  const flush = async () => {
    const chunk = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await out.write(chunk);
  };
  for (const source of sources) {
    signal.throwIfAborted();
    if (source.shift.id === 0 && !source.shift.imageId) {
      if (pendingBytes > 0) await flush();
      written = await copyLines(out, source, written);
      continue;
    }
    let lines = 0;
    for await (const line of jsonLines(source.chunks, source.name)) {
      lines += 1;
      const shifted = shiftedPrefix(line, source.shift);
      if (!shifted) {
        const expected = source.shift.imageId === undefined ? '{"id":N,' : '{"id":N,"image_id":M,';
        throw new LabelportError(`${source.name}, line ${lines}: does not start with ${expected}`);
      }
      push(Buffer.from(`${written === 0 ? "\n" : ",\n"}${shifted.prefix}`));
      push(line.subarray(shifted.rest));
      written += 1;
      if (pendingBytes >= CHUNK) await flush();
    }
    if (lines !== source.count) {
      throw new LabelportError(`${source.name}: ${lines} lines where the shard wrote ${source.count}`);
    }
  }
  if (pendingBytes > 0) await flush();
  return written;
}

const FIRST_SEPARATOR = Buffer.from("\n");
const SEPARATOR = Buffer.from(",\n");

/**
 * A source whose ids need no shift (a whole export, or a split export's first shard): its lines
 * go out as they are, chunk by chunk, only the separators changed. Returns `written` plus its lines.
 */
async function copyLines(out: ArtifactWriter, source: NumberedListSource, written: number): Promise<number> {
  let lines = 0;
  let atLineStart = true;
  for await (const chunk of source.chunks) {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // At most one separator per line start: a newline, or the chunk's first byte.
    const copy = Buffer.allocUnsafe(bytes.length * 2 + SEPARATOR.length);
    let size = 0;
    let start = 0;
    while (start < bytes.length) {
      if (atLineStart) {
        const separator = written + lines === 0 ? FIRST_SEPARATOR : SEPARATOR;
        size += separator.copy(copy, size);
        lines += 1;
        atLineStart = false;
      }
      const end = bytes.indexOf(NEWLINE, start);
      if (end === -1) {
        size += bytes.copy(copy, size, start);
        break;
      }
      size += bytes.copy(copy, size, start, end);
      atLineStart = true;
      start = end + 1;
    }
    if (size > 0) await out.write(copy.subarray(0, size));
  }
  if (!atLineStart) throw new LabelportError(`${source.name}: the last line has no newline (a truncated part?)`);
  if (lines !== source.count) {
    throw new LabelportError(`${source.name}: ${lines} lines where the shard wrote ${source.count}`);
  }
  return written + lines;
}
