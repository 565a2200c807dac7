// An upload as an importer sees it: the files of a ZIP (read on demand, never extracted to disk),
// or the one file uploaded. Entry names are checked by yauzl (no absolute paths, no `..`), entry
// sizes are checked against the bytes inflated, a ZIP that would inflate far beyond its own size
// (a ZIP bomb) is refused before anything is inflated, and a file read whole or a line is capped.
// Importers run inside the server process: every failure of a file's stream arrives as an
// ImportSourceError naming the file, never as an 'error' event nobody listens to.

import { createReadStream } from "node:fs";
import { type FileHandle, open as openFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import yauzl from "yauzl";
import { ImportSourceError } from "./errors.ts";

/**
 * Largest file an importer may read whole (bytes()/text()); bigger ones are read as streams.
 * Below V8's longest string (2^29 - 24 characters), so text() of any file it allows can succeed.
 */
export const MAX_WHOLE_FILE_BYTES = 256 * 1024 * 1024;
/** Longest line readLines() yields. */
export const MAX_LINE_BYTES = 64 * 1024 * 1024;
/** Most entries a ZIP may have. */
export const MAX_ARCHIVE_ENTRIES = 2_000_000;
/**
 * Most a ZIP's files may inflate to, as a multiple of the ZIP's size. Real datasets inflate by
 * 1 (images) to about 20 (JSON); deflate's limit, what a ZIP bomb uses, is about 1000.
 */
export const MAX_INFLATE_RATIO = 100;
/** What any ZIP may inflate to, whatever its size. */
export const MIN_INFLATE_ALLOWANCE_BYTES = 64 * 1024 * 1024;

export interface SourceFile {
  /** Path inside the archive ('/'-separated, no leading './'), or the uploaded file's name. */
  readonly path: string;
  /** Uncompressed size in bytes. */
  readonly size: number;
  /** The whole file; refused above MAX_WHOLE_FILE_BYTES (stream() it instead). */
  bytes(): Promise<Buffer>;
  /** The whole file as UTF-8, without a byte order mark. */
  text(): Promise<string>;
  stream(): Promise<Readable>;
}

export interface ImportSource {
  /** The uploaded file's name. */
  readonly fileName: string;
  /** The upload's size in bytes. */
  readonly size: number;
  /** True when the upload is a ZIP. */
  readonly archive: boolean;
  /** Every file (directories left out), sorted by path in code-point order. */
  readonly files: readonly SourceFile[];
  /** The file at exactly `path`. */
  file(path: string): SourceFile | undefined;
}

export interface OpenedImportSource extends ImportSource {
  close(): Promise<void>;
}

const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
const EMPTY_ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x05, 0x06]);

/** Opens the upload at `path`: as a ZIP when it starts like one, else as a single file named `fileName`. */
export async function openImportSource(path: string, fileName: string): Promise<OpenedImportSource> {
  const { size } = await stat(path);
  const head = Buffer.alloc(4);
  const handle = await openFile(path, "r");
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (head.equals(ZIP_MAGIC) || head.equals(EMPTY_ZIP_MAGIC)) return openZip(path, fileName, size);
  const name = basename(fileName) || "upload";
  const file = sourceFile(name, size, async () => createReadStream(path));
  return {
    fileName,
    size,
    archive: false,
    files: [file],
    file: (p) => (p === name ? file : undefined),
    close: async () => undefined,
  };
}

async function openZip(path: string, fileName: string, size: number): Promise<OpenedImportSource> {
  const reader = new BlockReader(path, await openFile(path, "r"));
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromRandomAccessReader(
      reader,
      size,
      { lazyEntries: true, autoClose: false, strictFileNames: false },
      (err, opened) => {
        if (!err) return resolve(opened);
        reader.close(() => undefined);
        reject(new ImportSourceError(`${fileName}: not a readable ZIP (${err.message})`));
      },
    ),
  );
  try {
    return await readZip(zip, fileName, size);
  } catch (err) {
    zip.close();
    throw err;
  }
}

/** The ZIP's files, from its central directory; refuses a ZIP bomb and a path given twice. */
async function readZip(zip: yauzl.ZipFile, fileName: string, size: number): Promise<OpenedImportSource> {
  // Errors after the first surface on the entry streams; an emitter without a listener would crash the process.
  zip.on("error", () => undefined);
  if (zip.entryCount > MAX_ARCHIVE_ENTRIES) {
    throw new ImportSourceError(`${fileName}: ${zip.entryCount} entries; at most ${MAX_ARCHIVE_ENTRIES}`);
  }
  const entries = await new Promise<yauzl.Entry[]>((resolve, reject) => {
    const found: yauzl.Entry[] = [];
    zip.on("entry", (entry: yauzl.Entry) => {
      // Directories, and the resource forks macOS adds to ZIPs it makes, are not files of the dataset.
      if (!entry.fileName.endsWith("/") && !entry.fileName.startsWith("__MACOSX/")) found.push(entry);
      zip.readEntry();
    });
    zip.once("end", () => resolve(found));
    zip.once("error", (err: Error) => reject(new ImportSourceError(`${fileName}: ${err.message}`)));
    zip.readEntry();
  });
  // Sizes in the headers bound what inflates (yauzl fails a stream that inflates more than its
  // entry says), so a bomb is known here, before a byte of it is inflated.
  const inflated = entries.reduce((total, entry) => total + entry.uncompressedSize, 0);
  if (inflated > Math.max(MAX_INFLATE_RATIO * size, MIN_INFLATE_ALLOWANCE_BYTES)) {
    const largest = entries.reduce((a, b) => (b.uncompressedSize > a.uncompressedSize ? b : a));
    throw new ImportSourceError(
      `${fileName}: its files would inflate to ${inflated} bytes, more than ${MAX_INFLATE_RATIO} times the ZIP's ` +
        `${size} bytes (${largest.fileName}: ${largest.uncompressedSize} bytes from ${largest.compressedSize}); ` +
        "refused as a ZIP bomb",
    );
  }
  const files = entries
    .map((entry) =>
      sourceFile(entry.fileName.replace(/^\.\//, ""), entry.uncompressedSize, () => {
        if (entry.isEncrypted()) {
          return Promise.reject(new ImportSourceError(`${entry.fileName}: encrypted ZIP entries are not supported`));
        }
        return zip.openReadStreamPromise(entry).catch((err: Error) => {
          throw new ImportSourceError(`${entry.fileName}: ${err.message}`);
        });
      }),
    )
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const byPath = new Map<string, SourceFile>();
  for (const file of files) {
    // Which of two same-named files an importer reads would be a guess; the other would go unread.
    if (byPath.has(file.path)) throw new ImportSourceError(`${fileName}: ${file.path} is in the ZIP twice`);
    byPath.set(file.path, file);
  }
  return {
    fileName,
    size,
    archive: true,
    files,
    file: (p) => byPath.get(p),
    close: async () => zip.close(),
  };
}

/** Bytes read at once from the upload for yauzl's small reads (headers, names). */
const READ_BLOCK_BYTES = 256 * 1024;

/**
 * The upload as yauzl reads it. Its central directory is read in blocks: yauzl reads each entry's
 * header and name apart, which for a ZIP of 100k files is 200k reads of a few bytes each.
 */
class BlockReader extends yauzl.RandomAccessReader {
  private block = Buffer.alloc(0);
  private blockStart = 0;

  constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
  ) {
    super();
  }

  override _readStreamForRange(start: number, end: number): Readable {
    return createReadStream(this.path, { start, end: end - 1 });
  }

  override read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
    callback: (err: Error | null) => void,
  ): void {
    const from = position - this.blockStart;
    if (from >= 0 && from + length <= this.block.length) {
      this.block.copy(buffer, offset, from, from + length);
      // Never synchronously: yauzl reads the next entry from this callback, and 100k would overflow the stack.
      setImmediate(callback, null);
      return;
    }
    const block = Buffer.alloc(Math.max(length, READ_BLOCK_BYTES));
    this.handle.read(block, 0, block.length, position).then(({ bytesRead }) => {
      this.block = block.subarray(0, bytesRead);
      this.blockStart = position;
      if (bytesRead < length) return callback(new Error("unexpected end of file"));
      block.copy(buffer, offset, 0, length);
      callback(null);
    }, callback);
  }

  override close(callback: (err: Error | null) => void): void {
    this.handle.close().then(() => callback(null), callback);
  }
}

function sourceFile(path: string, size: number, openRaw: () => Promise<Readable>): SourceFile {
  const open = async () => guarded(path, await openRaw());
  const bytes = async () => {
    if (size > MAX_WHOLE_FILE_BYTES) {
      throw new ImportSourceError(`${path}: ${size} bytes is too large to read whole (the importer must stream it)`);
    }
    const stream = await open();
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      // A ZIP header may understate the size; yauzl checks it too, this keeps memory bounded first.
      if (total > MAX_WHOLE_FILE_BYTES) {
        stream.destroy();
        throw new ImportSourceError(`${path}: more than ${MAX_WHOLE_FILE_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  };
  return {
    path,
    size,
    bytes,
    text: async () => {
      const text = (await bytes()).toString("utf8");
      return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    },
    stream: open,
  };
}

/**
 * The file's bytes as a stream whose failures (a damaged entry, one that inflates to more or fewer
 * bytes than its header says) are ImportSourceErrors naming the file. It reads the raw stream only
 * when read itself, and destroying it destroys the raw stream.
 */
function guarded(path: string, raw: Readable): Readable {
  // Errors also reach the reader below; this listener only keeps one before the first read harmless.
  raw.on("error", () => undefined);
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of raw as AsyncIterable<Buffer>) yield chunk;
    } catch (err) {
      throw new ImportSourceError(`${path}: the file cannot be read (${(err as Error).message})`);
    } finally {
      raw.destroy();
    }
  }
  const guardedStream = Readable.from(chunks(), { objectMode: false });
  // Destroyed before its first read, the generator never runs: release the raw stream here too.
  guardedStream.once("close", () => raw.destroy());
  return guardedStream;
}

/**
 * The file's lines (split at LF, a CR before it removed), numbered from 1, without a byte order
 * mark. A line over MAX_LINE_BYTES is an ImportSourceError naming the file and the line: memory is
 * bounded by the longest line allowed, not by the file.
 */
export async function* readLines(file: SourceFile): AsyncGenerator<{ line: string; number: number }> {
  const stream = await file.stream();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  const line = (end: Buffer) => {
    number += 1;
    let bytes = pending.length === 0 ? end : Buffer.concat([...pending, end]);
    pending = [];
    pendingBytes = 0;
    if (bytes.at(-1) === 0x0d) bytes = bytes.subarray(0, -1);
    const text = bytes.toString("utf8");
    return { line: number === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, number };
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = 0;
      for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
        if (pendingBytes + end - start > MAX_LINE_BYTES) break;
        yield line(chunk.subarray(start, end));
        start = end + 1;
      }
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_LINE_BYTES) {
        throw new ImportSourceError(`${file.path}: line ${number + 1} is longer than ${MAX_LINE_BYTES} bytes`);
      }
    }
    if (pendingBytes > 0) yield line(Buffer.alloc(0));
  } finally {
    stream.destroy();
  }
}
