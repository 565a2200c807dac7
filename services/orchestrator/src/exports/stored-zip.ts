// The whole-export ZIP that downloads stream: every entry stored (not compressed) with its size
// known, so the ZIP's exact size is known before its first byte. The layout is yazl's with
// forceZip64Format (stored-zip.test.ts holds the two to the same bytes), written here because
// yazl keeps an object per entry until the end (555 MB for a million files). This writer keeps
// none: each entry's central-directory record goes to a scratch file once records pass
// SPILL_AFTER_BYTES, and is read back after the last entry.
import { type FileHandle, mkdtemp, open as openFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";

const LOCAL_FILE_HEADER = 30;
const DATA_DESCRIPTOR = 16;
const ZIP64_DATA_DESCRIPTOR = 24;
const CENTRAL_DIRECTORY_RECORD = 46;
/** The Info-ZIP universal timestamp, in every entry's central-directory record. */
const TIMESTAMP_EXTRA_FIELD = 9;
const ZIP64_EXTRA_FIELD = 28;
const ZIP64_END_RECORD = 56;
const ZIP64_END_LOCATOR = 20;
const END_RECORD = 22;
/** ZIP64 end of central directory record and locator, then the classic record; no comment. */
const END_RECORDS = ZIP64_END_RECORD + ZIP64_END_LOCATOR + END_RECORD;
const SPILL_AFTER_BYTES = 4 * 1024 * 1024;
/**
 * Entries opened this many ahead of the one being written, the small ones read whole: a file's
 * open, stat, read and close each wait on storage, and one after another took 0.6 ms a file.
 */
const OPEN_AHEAD = 64;
const READ_WHOLE_UP_TO = 256 * 1024;
/** Bytes of small entries gathered into one chunk of the ZIP. */
const CHUNK_BYTES = 64 * 1024;

const VERSION_NEEDED_UTF8 = 20;
const VERSION_NEEDED_ZIP64 = 45;
/** Unix, spec version 6.3. */
const VERSION_MADE_BY = (3 << 8) | 63;
/** UTF-8 names; CRC and sizes in the data descriptor after the data. */
const FLAGS = (1 << 11) | (1 << 3);
/** A regular file, rw-rw-r--. */
const EXTERNAL_ATTRIBUTES = (0o100664 << 16) >>> 0;

/** An entry needs ZIP64 fields when its size or the offset of its header passes 32 bits (yazl's rule). */
const needsZip64 = (size: number, offset: number) => size > 0xfffffffe || offset > 0xfffffffe;

export interface StoredZipSize {
  /** The next entry, in the order the ZIP holds them. */
  add(name: string, size: number): void;
  total(): number;
  /**
   * True when the total is the same whatever the order the entries were added in: no entry
   * starts past 4 GiB (where it gets ZIP64 fields) in any order.
   */
  sameInAnyOrder(): boolean;
}

/** The exact size of the ZIP storedZipStream() writes, added up entry by entry. */
export function storedZipSize(): StoredZipSize {
  let cursor = 0;
  let centralDirectory = 0;
  return {
    add(name, size) {
      const nameBytes = Buffer.byteLength(name, "utf8");
      const zip64 = needsZip64(size, cursor);
      cursor += LOCAL_FILE_HEADER + nameBytes + size + (zip64 ? ZIP64_DATA_DESCRIPTOR : DATA_DESCRIPTOR);
      centralDirectory +=
        CENTRAL_DIRECTORY_RECORD + nameBytes + TIMESTAMP_EXTRA_FIELD + (zip64 ? ZIP64_EXTRA_FIELD : 0);
    },
    total: () => cursor + centralDirectory + END_RECORDS,
    // Every entry starts before the sum of the others' local bytes, below the last entry's end.
    sameInAnyOrder: () => cursor <= 0xfffffffe,
  };
}

export interface StoredZipEntry {
  name: string;
  /** Bytes the entry's stream must deliver; a stream of any other length fails the ZIP. */
  size: number;
}

export interface StoredZipOptions {
  /** Every entry's modification time. */
  mtime: Date;
  /** The entry's bytes, opened when the ZIP reaches it. */
  open(name: string): Promise<Readable>;
  /**
   * A small entry's first `maxBytes` bytes (all of it when shorter), in place of open(): where
   * storage reads small files in fewer steps than through a stream.
   */
  read?: ((name: string, maxBytes: number) => Promise<Buffer>) | undefined;
  /** The size storedZipSize() gave: the ZIP fails before its end records if it came out another. */
  size?: number;
  /** Central-directory bytes held in memory before they go to a scratch file. */
  spillAfterBytes?: number;
}

/**
 * The ZIP of `entries`, in their order. It fails (the stream errors) naming the entry when an
 * entry cannot be opened or is not the size given. Destroying it closes the entry being read
 * and removes the scratch file.
 */
export function storedZipStream(
  entries: Iterable<StoredZipEntry> | AsyncIterable<StoredZipEntry>,
  options: StoredZipOptions,
): Readable {
  // Not Readable.from(): its destroy() waits for the generator to stop, which an entry stream
  // that stalls never lets it do. This one closes the open streams first.
  const opened = new Set<Readable>();
  const open = async (name: string) => {
    const stream = await options.open(name);
    opened.add(stream);
    stream.once("close", () => opened.delete(stream));
    return stream;
  };
  const chunks = writeStoredZip(entries, { ...options, open });
  const zip = new Readable({
    read() {
      chunks.next().then(
        ({ done, value }) => {
          if (!zip.destroyed) zip.push(done ? null : value);
        },
        (err: Error) => zip.destroy(err),
      );
    },
    destroy(err, callback) {
      for (const stream of opened) stream.destroy();
      chunks.return(undefined).then(
        () => callback(err),
        (returnErr: Error) => callback(err ?? returnErr),
      );
    },
  });
  return zip;
}

async function* writeStoredZip(
  entries: Iterable<StoredZipEntry> | AsyncIterable<StoredZipEntry>,
  options: StoredZipOptions,
): AsyncGenerator<Buffer> {
  const { time, date } = dosDateTime(options.mtime);
  const unixTime = Math.min(Math.max(Math.floor(options.mtime.getTime() / 1000), -0x80000000), 0x7fffffff);
  const centralDirectory = spilledRecords(options.spillAfterBytes ?? SPILL_AFTER_BYTES);
  let cursor = 0;
  let count = 0;
  // Small entries go out together, about CHUNK_BYTES at a time, not one chunk (and one write to
  // the client) each.
  let small: Buffer[] = [];
  let smallBytes = 0;
  const takeSmall = () => {
    const chunk = Buffer.concat(small, smallBytes);
    small = [];
    smallBytes = 0;
    return chunk;
  };
  try {
    for await (const { name, size, body } of openedAhead(entries, options)) {
      const nameBytes = Buffer.from(name, "utf8");
      const offset = cursor;
      const zip64 = needsZip64(size, offset);
      const header = localFileHeader(nameBytes, time, date);
      let crc = 0;
      let read = 0;
      if (Buffer.isBuffer(body)) {
        read = body.length;
        crc = crc32(body);
        if (read === size) {
          const descriptor = dataDescriptor(crc, size, zip64);
          small.push(header, body, descriptor);
          smallBytes += header.length + body.length + descriptor.length;
          if (smallBytes >= CHUNK_BYTES) yield takeSmall();
        }
      } else {
        if (smallBytes > 0) yield takeSmall();
        yield header;
        for await (const chunk of body) {
          const bytes = asBuffer(chunk);
          crc = crc32(bytes, crc);
          read += bytes.length;
          if (read > size) break;
          yield bytes;
        }
        if (read === size) yield dataDescriptor(crc, size, zip64);
      }
      if (read !== size) throw new Error(`${name} is not the ${size} bytes listed (${read > size ? "more" : read})`);
      await centralDirectory.append(
        centralDirectoryRecord({ nameBytes, time, date, unixTime, crc, size, offset, zip64 }),
      );
      cursor = offset + LOCAL_FILE_HEADER + nameBytes.length + size + (zip64 ? ZIP64_DATA_DESCRIPTOR : DATA_DESCRIPTOR);
      count += 1;
    }
    const total = cursor + centralDirectory.bytes() + END_RECORDS;
    if (options.size !== undefined && total !== options.size) {
      throw new Error(`the export's files changed while they were zipped (${total} bytes, not ${options.size})`);
    }
    if (smallBytes > 0) yield takeSmall();
    yield* centralDirectory.drain();
    yield endRecords(count, centralDirectory.bytes(), cursor);
  } finally {
    await centralDirectory.remove();
  }
}

interface OpenedEntry extends StoredZipEntry {
  /** A small entry's bytes (up to one more than its size), a larger one's stream. */
  body: Buffer | Readable;
}

/** `entries` in order, each opened OPEN_AHEAD entries before it is yielded. */
async function* openedAhead(
  entries: Iterable<StoredZipEntry> | AsyncIterable<StoredZipEntry>,
  { open, read }: Pick<StoredZipOptions, "open" | "read">,
): AsyncGenerator<OpenedEntry> {
  const ahead: Promise<OpenedEntry>[] = [];
  // A small entry is read to one byte past its size, so one that grew fails as one that shrank.
  const bodyOf = async ({ name, size }: StoredZipEntry): Promise<Buffer | Readable> => {
    if (size > READ_WHOLE_UP_TO) return open(name);
    return read ? read(name, size + 1) : readWhole(await open(name), size);
  };
  const openEntry = (entry: StoredZipEntry): Promise<OpenedEntry> => {
    const opening = bodyOf(entry).then((body) => ({ ...entry, body }));
    opening.catch(() => undefined); // its error is thrown when the ZIP reaches the entry
    return opening;
  };
  try {
    for await (const entry of entries) {
      ahead.push(openEntry(entry));
      if (ahead.length > OPEN_AHEAD) yield await (ahead.shift() as Promise<OpenedEntry>);
    }
    while (ahead.length > 0) yield await (ahead.shift() as Promise<OpenedEntry>);
  } finally {
    for (const opening of ahead) {
      opening.then(
        ({ body }) => Buffer.isBuffer(body) || body.destroy(),
        () => undefined,
      );
    }
  }
}

/** A stream's chunk as bytes (storage streams give Buffers; a string is taken as UTF-8). */
const asBuffer = (chunk: unknown): Buffer => (typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));

/** The stream's bytes, stopping at one more than `size`. */
async function readWhole(stream: Readable, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of stream) {
    const bytes = asBuffer(chunk);
    chunks.push(bytes);
    length += bytes.length;
    if (length > size) break;
  }
  return Buffer.concat(chunks, length);
}

/** Central-directory records, in memory up to `spillAfterBytes`, past it appended to a scratch file. */
function spilledRecords(spillAfterBytes: number) {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  let scratch: { dir: string; file: FileHandle } | undefined;

  async function flush(): Promise<void> {
    if (pendingBytes === 0) return;
    if (!scratch) {
      const dir = await mkdtemp(join(tmpdir(), "labelport-zip-"));
      scratch = { dir, file: await openFile(join(dir, "central-directory"), "w+") };
    }
    await scratch.file.write(Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  }

  return {
    bytes: () => total,
    async append(record: Buffer): Promise<void> {
      pending.push(record);
      pendingBytes += record.length;
      total += record.length;
      if (pendingBytes >= spillAfterBytes) await flush();
    },
    async *drain(): AsyncGenerator<Buffer> {
      if (scratch) {
        await flush();
        const chunk = 1024 * 1024;
        for (let position = 0; position < total; position += chunk) {
          const buffer = Buffer.allocUnsafe(Math.min(chunk, total - position));
          const { bytesRead } = await scratch.file.read(buffer, 0, buffer.length, position);
          if (bytesRead !== buffer.length) throw new Error("the ZIP's scratch file came back short");
          yield buffer;
        }
      } else if (pendingBytes > 0) {
        yield Buffer.concat(pending, pendingBytes);
      }
    },
    async remove(): Promise<void> {
      if (!scratch) return;
      const { dir, file } = scratch;
      scratch = undefined;
      await file.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function localFileHeader(nameBytes: Buffer, time: number, date: number): Buffer {
  const header = Buffer.alloc(LOCAL_FILE_HEADER + nameBytes.length);
  header.writeUInt32LE(0x04034b50, 0);
  header.writeUInt16LE(VERSION_NEEDED_UTF8, 4);
  header.writeUInt16LE(FLAGS, 6);
  header.writeUInt16LE(0, 8); // stored
  header.writeUInt16LE(time, 10);
  header.writeUInt16LE(date, 12);
  // CRC and sizes (14-25) stay 0: they follow the data, in the data descriptor.
  header.writeUInt16LE(nameBytes.length, 26);
  header.writeUInt16LE(0, 28);
  nameBytes.copy(header, LOCAL_FILE_HEADER);
  return header;
}

function dataDescriptor(crc: number, size: number, zip64: boolean): Buffer {
  const descriptor = Buffer.alloc(zip64 ? ZIP64_DATA_DESCRIPTOR : DATA_DESCRIPTOR);
  descriptor.writeUInt32LE(0x08074b50, 0);
  descriptor.writeUInt32LE(crc, 4);
  if (zip64) {
    descriptor.writeBigUInt64LE(BigInt(size), 8);
    descriptor.writeBigUInt64LE(BigInt(size), 16);
  } else {
    descriptor.writeUInt32LE(size, 8);
    descriptor.writeUInt32LE(size, 12);
  }
  return descriptor;
}

interface RecordFields {
  nameBytes: Buffer;
  time: number;
  date: number;
  unixTime: number;
  crc: number;
  size: number;
  offset: number;
  zip64: boolean;
}

function centralDirectoryRecord(entry: RecordFields): Buffer {
  const { nameBytes, zip64 } = entry;
  const extra = TIMESTAMP_EXTRA_FIELD + (zip64 ? ZIP64_EXTRA_FIELD : 0);
  const record = Buffer.alloc(CENTRAL_DIRECTORY_RECORD + nameBytes.length + extra);
  record.writeUInt32LE(0x02014b50, 0);
  record.writeUInt16LE(VERSION_MADE_BY, 4);
  record.writeUInt16LE(zip64 ? VERSION_NEEDED_ZIP64 : VERSION_NEEDED_UTF8, 6);
  record.writeUInt16LE(FLAGS, 8);
  record.writeUInt16LE(0, 10); // stored
  record.writeUInt16LE(entry.time, 12);
  record.writeUInt16LE(entry.date, 14);
  record.writeUInt32LE(entry.crc, 16);
  record.writeUInt32LE(zip64 ? 0xffffffff : entry.size, 20);
  record.writeUInt32LE(zip64 ? 0xffffffff : entry.size, 24);
  record.writeUInt16LE(nameBytes.length, 28);
  record.writeUInt16LE(extra, 30);
  // File comment length, disk number and internal attributes (32-37) stay 0.
  record.writeUInt32LE(EXTERNAL_ATTRIBUTES, 38);
  record.writeUInt32LE(zip64 ? 0xffffffff : entry.offset, 42);
  let at = nameBytes.copy(record, CENTRAL_DIRECTORY_RECORD) + CENTRAL_DIRECTORY_RECORD;
  // Info-ZIP's universal timestamp: modification time, with the access-time flag set as Info-ZIP does.
  at = record.writeUInt16LE(0x5455, at);
  at = record.writeUInt16LE(TIMESTAMP_EXTRA_FIELD - 4, at);
  at = record.writeUInt8(0b11, at);
  at = record.writeInt32LE(entry.unixTime, at);
  if (zip64) {
    at = record.writeUInt16LE(0x0001, at);
    at = record.writeUInt16LE(ZIP64_EXTRA_FIELD - 4, at);
    at = record.writeBigUInt64LE(BigInt(entry.size), at);
    at = record.writeBigUInt64LE(BigInt(entry.size), at);
    record.writeBigUInt64LE(BigInt(entry.offset), at);
  }
  return record;
}

/** ZIP64 end of central directory record and locator, then the classic record pointing past 32 bits. */
function endRecords(count: number, directoryBytes: number, directoryStart: number): Buffer {
  const end = Buffer.alloc(END_RECORDS);
  end.writeUInt32LE(0x06064b50, 0);
  end.writeBigUInt64LE(BigInt(ZIP64_END_RECORD - 12), 4);
  end.writeUInt16LE(VERSION_MADE_BY, 12);
  end.writeUInt16LE(VERSION_NEEDED_ZIP64, 14);
  // Disk numbers (16-23) stay 0.
  end.writeBigUInt64LE(BigInt(count), 24);
  end.writeBigUInt64LE(BigInt(count), 32);
  end.writeBigUInt64LE(BigInt(directoryBytes), 40);
  end.writeBigUInt64LE(BigInt(directoryStart), 48);
  const locator = ZIP64_END_RECORD;
  end.writeUInt32LE(0x07064b50, locator);
  end.writeBigUInt64LE(BigInt(directoryStart + directoryBytes), locator + 8);
  end.writeUInt32LE(1, locator + 16);
  const classic = locator + ZIP64_END_LOCATOR;
  end.writeUInt32LE(0x06054b50, classic);
  end.writeUInt16LE(0xffff, classic + 8);
  end.writeUInt16LE(0xffff, classic + 10);
  end.writeUInt32LE(0xffffffff, classic + 12);
  end.writeUInt32LE(0xffffffff, classic + 16);
  return end;
}

/** MS-DOS date and time in local time, clamped to 1980-2107 (as yazl and zip readers take it). */
function dosDateTime(when: Date): { time: number; date: number } {
  const min = new Date(1980, 0, 1);
  const max = new Date(2107, 11, 31, 23, 59, 58);
  const at = when < min ? min : when > max ? max : when;
  return {
    date: (at.getDate() & 0x1f) | (((at.getMonth() + 1) & 0xf) << 5) | (((at.getFullYear() - 1980) & 0x7f) << 9),
    time: Math.floor(at.getSeconds() / 2) | ((at.getMinutes() & 0x3f) << 5) | ((at.getHours() & 0x1f) << 11),
  };
}
