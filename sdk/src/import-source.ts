// An upload as an importer sees it: the files of a ZIP (read on demand, never extracted to disk),
// or the one file uploaded. Entry names are checked by yauzl (no absolute paths, no `..`), entry
// sizes are checked against the bytes inflated, and a file read whole is capped.

import { createReadStream } from "node:fs";
import { open as openFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import yauzl from "yauzl";
import { ImportSourceError } from "./errors.ts";

/** Largest file an importer may read whole (bytes()/text()); bigger ones are read as streams. */
export const MAX_WHOLE_FILE_BYTES = 512 * 1024 * 1024;
/** Most entries a ZIP may have. */
export const MAX_ARCHIVE_ENTRIES = 2_000_000;

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
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(path, { lazyEntries: true, autoClose: false, strictFileNames: false }, (err, opened) =>
      err ? reject(new ImportSourceError(`${fileName}: not a readable ZIP (${err.message})`)) : resolve(opened),
    ),
  );
  if (zip.entryCount > MAX_ARCHIVE_ENTRIES) {
    zip.close();
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
  // Later errors surface on the entry streams; an emitter without a listener would crash the process.
  zip.on("error", () => undefined);
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
  const byPath = new Map(files.map((f) => [f.path, f]));
  return {
    fileName,
    size,
    archive: true,
    files,
    file: (p) => byPath.get(p),
    close: async () => zip.close(),
  };
}

function sourceFile(path: string, size: number, open: () => Promise<Readable>): SourceFile {
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
