// Uploads to records: the upload is spooled to a temporary file while its size is capped and its
// sha256 computed (so a slow client never holds a database transaction open), then read back as
// records with line numbers, in batches. Lines are capped in length, checked for UTF-8 and for
// nesting depth before JSON.parse sees them.
import { isUtf8 } from "node:buffer";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImportTooLargeError } from "../../errors.ts";

export const MAX_FILE_BYTES = 100 * 1024 * 1024;
export const MAX_LINE_BYTES = 1024 * 1024;
export const MAX_DEPTH = 64;

export interface SpooledFile {
  path: string;
  size: number;
  sha256: string;
  /** Removes the file and its directory; idempotent. */
  dispose(): Promise<void>;
}

/**
 * Writes `source` to a temporary file. Throws ImportTooLargeError as soon as more than `maxBytes`
 * arrived (the caller drains or aborts the rest of the upload); nothing is kept then.
 */
export async function spool(source: AsyncIterable<Uint8Array>, maxBytes = MAX_FILE_BYTES): Promise<SpooledFile> {
  const dir = await mkdtemp(join(tmpdir(), "labelport-import-"));
  const path = join(dir, "upload");
  const dispose = () => rm(dir, { recursive: true, force: true });
  const out = createWriteStream(path);
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of source) {
      size += chunk.length;
      if (size > maxBytes) throw new ImportTooLargeError(maxBytes);
      hash.update(chunk);
      if (!out.write(chunk)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
  } catch (err) {
    out.destroy();
    await dispose();
    throw err;
  }
  return { path, size, sha256: hash.digest("hex"), dispose };
}

export type RawRecord =
  | { line: number; value: unknown; error?: undefined; fatal?: undefined }
  | { line: number; value?: undefined; error: string; fatal?: boolean };

export type RecordFormat = "jsonl" | "json";

export interface ReadOptions {
  maxLineBytes?: number;
  maxDepth?: number;
}

/** Records of a spooled file, in batches of `batchSize` (the last one may be smaller). */
export async function* readRecords(
  path: string,
  format: RecordFormat,
  batchSize: number,
  options: ReadOptions = {},
): AsyncGenerator<RawRecord[]> {
  const limits = { maxLineBytes: options.maxLineBytes ?? MAX_LINE_BYTES, maxDepth: options.maxDepth ?? MAX_DEPTH };
  const splitter = format === "json" ? new JsonArraySplitter(limits) : new LineSplitter(limits);
  let batch: RawRecord[] = [];
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  let first = true;
  for await (const raw of stream as AsyncIterable<Buffer>) {
    let chunk = raw;
    if (first) {
      first = false;
      if (chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) chunk = chunk.subarray(3);
    }
    splitter.push(chunk, batch);
    if (batch.length >= batchSize) {
      let start = 0;
      for (; batch.length - start >= batchSize; start += batchSize) yield batch.slice(start, start + batchSize);
      batch = batch.slice(start);
    }
  }
  splitter.end(batch);
  if (batch.length > 0) yield batch;
}

interface Limits {
  maxLineBytes: number;
  maxDepth: number;
}

/** Parses one record's text: depth first (no deep recursion in JSON.parse), then JSON. */
function parseRecord(text: string, line: number, limits: Limits, out: RawRecord[]): void {
  const depth = nestingDepth(text, limits.maxDepth);
  if (depth > limits.maxDepth) {
    out.push({ line, error: `JSON nesting deeper than ${limits.maxDepth} levels on line ${line}` });
    return;
  }
  try {
    out.push({ line, value: JSON.parse(text) });
  } catch (err) {
    out.push({ line, error: `Invalid JSON on line ${line}: ${shorten((err as Error).message)}` });
  }
}

function shorten(message: string): string {
  return message.length > 200 ? `${message.slice(0, 197)}...` : message;
}

/** Nesting depth of a JSON text, counting only brackets outside strings; stops past `max`. */
export function nestingDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
  return deepest;
}

function decode(buf: Buffer, start: number, end: number, line: number, out: RawRecord[]): string | undefined {
  if (!isUtf8(buf.subarray(start, end))) {
    out.push({ line, error: `Invalid UTF-8 on line ${line}` });
    return undefined;
  }
  return buf.toString("utf8", start, end);
}

/** JSON Lines: one record per non-blank line; CRLF accepted. */
class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private tooLong = false;
  private line = 0;

  constructor(private readonly limits: Limits) {}

  push(chunk: Buffer, out: RawRecord[]): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      this.line++;
      if (this.carryBytes > 0 || this.tooLong) {
        const piece = chunk.subarray(start, nl);
        if (!this.tooLong && this.carryBytes + piece.length <= this.limits.maxLineBytes + 1) {
          this.carry.push(piece);
          const joined = Buffer.concat(this.carry);
          this.emit(joined, 0, joined.length, out);
        } else {
          this.rejectLong(out);
        }
        this.carry = [];
        this.carryBytes = 0;
        this.tooLong = false;
      } else {
        this.emit(chunk, start, nl, out);
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      if (this.tooLong || this.carryBytes + rest.length > this.limits.maxLineBytes + 1) {
        this.tooLong = true;
        this.carry = [];
        this.carryBytes = 0;
      } else {
        // Copy: the stream may reuse its buffer.
        this.carry.push(Buffer.from(rest));
        this.carryBytes += rest.length;
      }
    }
  }

  end(out: RawRecord[]): void {
    if (this.carryBytes === 0 && !this.tooLong) return;
    this.line++;
    if (this.tooLong) this.rejectLong(out);
    else {
      const joined = Buffer.concat(this.carry);
      this.emit(joined, 0, joined.length, out);
    }
  }

  private rejectLong(out: RawRecord[]): void {
    out.push({
      line: this.line,
      error: `Line ${this.line} exceeds the maximum length of ${this.limits.maxLineBytes} bytes`,
    });
  }

  private emit(buf: Buffer, start: number, end: number, out: RawRecord[]): void {
    let e = end;
    if (e > start && buf[e - 1] === 13) e--;
    // Skip blank lines without decoding them.
    let s = start;
    while (s < e && (buf[s] === 32 || buf[s] === 9 || buf[s] === 13)) s++;
    if (s === e) return;
    if (e - start > this.limits.maxLineBytes) {
      this.rejectLong(out);
      return;
    }
    const text = decode(buf, s, e, this.line, out);
    if (text !== undefined) parseRecord(text, this.line, this.limits, out);
  }
}

/**
 * A top-level JSON array, split into its elements without parsing the whole document: a byte
 * scanner tracks strings and brackets and hands each element (with its first line) to JSON.parse.
 */
class JsonArraySplitter {
  private state: "before" | "expectElement" | "inElement" | "afterElement" | "done" = "before";
  private line = 1;
  private elementLine = 1;
  private depth = 0;
  private maxSeen = 0;
  private inString = false;
  private escaped = false;
  private pieces: Buffer[] = [];
  private pieceBytes = 0;
  private tooLong = false;
  private fatal = false;
  private sawElement = false;

  constructor(private readonly limits: Limits) {}

  push(chunk: Buffer, out: RawRecord[]): void {
    if (this.fatal) return;
    let elementStart = this.state === "inElement" ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (c === 10) this.line++;
      switch (this.state) {
        case "before":
          if (isSpace(c)) continue;
          if (c !== 91) {
            this.fail(out, "expected a JSON array ('[')");
            return;
          }
          this.state = "expectElement";
          continue;
        case "expectElement":
        case "afterElement":
          if (isSpace(c)) continue;
          if (c === 93) {
            this.state = "done";
            continue;
          }
          if (this.state === "afterElement") {
            if (c !== 44) {
              this.fail(out, "expected ',' or ']' after an array element");
              return;
            }
            this.state = "expectElement";
            continue;
          }
          if (c === 44) {
            this.fail(out, "unexpected ','");
            return;
          }
          this.state = "inElement";
          this.elementLine = this.line;
          this.sawElement = true;
          this.depth = 0;
          this.maxSeen = 0;
          elementStart = i;
          i--;
          if (c === 10) this.line--;
          continue;
        case "inElement": {
          if (this.inString) {
            if (this.escaped) this.escaped = false;
            else if (c === 92) this.escaped = true;
            else if (c === 34) this.inString = false;
            continue;
          }
          let ended = false;
          let endAt = i;
          if (c === 34) this.inString = true;
          else if (c === 123 || c === 91) {
            this.depth++;
            if (this.depth > this.maxSeen) this.maxSeen = this.depth;
          } else if (c === 125 || c === 93) {
            if (this.depth === 0) {
              // The array's own ']' ends a scalar element.
              ended = true;
              endAt = i;
              i--;
            } else {
              this.depth--;
              if (this.depth === 0) {
                ended = true;
                endAt = i + 1;
              }
            }
          } else if (this.depth === 0 && (c === 44 || isSpace(c))) {
            ended = true;
            endAt = i;
            i--;
            if (c === 10) this.line--;
          }
          if (ended) {
            this.take(chunk, elementStart, endAt);
            this.finishElement(out);
            elementStart = -1;
            this.state = "afterElement";
          }
          continue;
        }
        case "done":
          if (!isSpace(c)) {
            this.fail(out, "unexpected data after the array");
            return;
          }
          continue;
      }
    }
    if (this.state === "inElement" && elementStart >= 0) this.take(chunk, elementStart, chunk.length, true);
  }

  end(out: RawRecord[]): void {
    if (this.fatal) return;
    if (this.state === "inElement" && this.depth === 0 && !this.inString) {
      this.finishElement(out);
      this.state = "afterElement";
    }
    if (this.state !== "done") {
      this.fail(out, this.state === "before" && !this.sawElement ? "expected a JSON array" : "unexpected end of file");
    }
  }

  private take(chunk: Buffer, start: number, end: number, copy = false): void {
    if (this.tooLong) return;
    this.pieceBytes += end - start;
    if (this.pieceBytes > this.limits.maxLineBytes) {
      this.tooLong = true;
      this.pieces = [];
      return;
    }
    const piece = chunk.subarray(start, end);
    this.pieces.push(copy ? Buffer.from(piece) : piece);
  }

  private finishElement(out: RawRecord[]): void {
    const line = this.elementLine;
    if (this.tooLong) {
      out.push({
        line,
        error: `Array element on line ${line} exceeds the maximum size of ${this.limits.maxLineBytes} bytes`,
      });
    } else if (this.maxSeen > this.limits.maxDepth) {
      out.push({ line, error: `JSON nesting deeper than ${this.limits.maxDepth} levels on line ${line}` });
    } else {
      const buf = this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces);
      const text = decode(buf, 0, buf.length, line, out);
      if (text !== undefined) {
        try {
          out.push({ line, value: JSON.parse(text) });
        } catch (err) {
          out.push({ line, error: `Invalid JSON on line ${line}: ${shorten((err as Error).message)}` });
        }
      }
    }
    this.pieces = [];
    this.pieceBytes = 0;
    this.tooLong = false;
  }

  private fail(out: RawRecord[], message: string): void {
    this.fatal = true;
    out.push({ line: this.line, error: `Invalid JSON on line ${this.line}: ${message}`, fatal: true });
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}
