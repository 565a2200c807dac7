// Where a shard's parts live and how join() reads them: local files in the scratch directory when
// the export runs as one shard, objects under `<prefix>/.shards/<index>/` when it is split (any
// worker may run the join). Gathered files (one JSON array, JSON lines, a CSV, one list per
// split) are written so that a whole export and a joined split export have the same bytes.
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { ArtifactWriter, ExportContext, JoinContext, ShardParts } from "./exporter.ts";
import type { StorageDriver } from "./storage/driver.ts";
import { StorageError, StorageNotFoundError } from "./storage/errors.ts";

/** Below the export's prefix: every shard's parts, removed by the join before the manifest. */
export const SHARDS_DIR = ".shards";

const PART_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/** The storage key of a shard's part (or, without `name`, of its folder, ending in "/"). */
export function shardPartKey(prefix: string, index: number, name = ""): string {
  return `${prefix}/${SHARDS_DIR}/${index}/${name}`;
}

function checkName(name: string, opened: Set<string>): void {
  if (!PART_NAME.test(name)) throw new StorageError(`part name ${JSON.stringify(name)}: letters, digits, . - _`);
  if (opened.has(name)) throw new StorageError(`part ${JSON.stringify(name)} is already open`);
  opened.add(name);
}

/** The parts of an export run as one shard: local files in its scratch directory. */
export function wholeExportParts(scratchDir: string) {
  return localParts(join(scratchDir, "parts"));
}

/** A shard's parts as local files (a whole export: the one shard and its join share a process). */
export function localParts(dir: string): ShardParts & { read(name: string): AsyncIterable<Uint8Array> } {
  const opened = new Set<string>();
  return {
    async open(name) {
      checkName(name, opened);
      await mkdir(dir, { recursive: true });
      const stream = createWriteStream(join(dir, name));
      let failure: Error | undefined;
      stream.on("error", (err) => {
        failure = err;
      });
      return {
        key: name,
        async write(chunk) {
          if (failure) throw failure;
          if (!stream.write(chunk)) await once(stream, "drain");
        },
        async close() {
          if (failure) throw failure;
          stream.end();
          await once(stream, "close");
          if (failure) throw failure;
        },
      };
    },
    async *read(name) {
      try {
        for await (const chunk of createReadStream(join(dir, name))) yield chunk as Uint8Array;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    },
  };
}

/** A shard's parts as objects in the export's storage, written by one worker, read by the join's. */
export function storedParts(driver: StorageDriver, prefix: string, index: number): ShardParts {
  const opened = new Set<string>();
  return {
    async open(name) {
      checkName(name, opened);
      return streamingPut(driver, shardPartKey(prefix, index, name));
    },
  };
}

/** Reads a stored part; nothing when the shard wrote no such part. */
export async function* readStoredPart(
  driver: StorageDriver,
  prefix: string,
  index: number,
  name: string,
): AsyncGenerator<Uint8Array> {
  let body: AsyncIterable<Uint8Array>;
  try {
    body = await driver.get(shardPartKey(prefix, index, name));
  } catch (err) {
    if (err instanceof StorageNotFoundError) return;
    throw err;
  }
  yield* body;
}

/** An object written as a stream, with backpressure; close() resolves once it is stored. */
export function streamingPut(driver: StorageDriver, key: string): ArtifactWriter {
  const pass = new PassThrough();
  pass.on("error", () => undefined);
  const putting = driver.put(key, pass, { contentType: "application/octet-stream" });
  const failure: { error?: unknown; failed: boolean } = { failed: false };
  putting.catch((error: unknown) => {
    failure.failed = true;
    failure.error = error;
  });
  return {
    key,
    async write(chunk) {
      if (failure.failed) throw failure.error;
      if (!pass.write(chunk)) await Promise.race([once(pass, "drain"), putting]);
      if (failure.failed) throw failure.error;
    },
    async close() {
      pass.end();
      await putting;
    },
  };
}

/**
 * How a gathered file is framed: `head`, then the entries (the first preceded by `first`, each
 * later one by `between`), then `tail`, or `emptyTail` when there is no entry. `skipEmpty`: no
 * file at all without an entry.
 */
export interface GatheredFileFormat {
  contentType: string;
  head?: string;
  first?: string;
  between?: string;
  tail?: string;
  emptyTail?: string;
  skipEmpty?: boolean;
}

export interface GatheredFile {
  /** Appends one entry (its text, without separators); resolves when it is accepted. */
  add(entry: string): Promise<void>;
  readonly entries: number;
  /** Ends this shard's share of the file. */
  close(): Promise<void>;
}

/** Characters gathered before one write (one write per ~64 KB, not per entry). */
const CHUNK = 64 * 1024;

/**
 * Opens a gathered file for this shard. A whole export (one shard) writes `key` itself, framed;
 * a shard of a split export writes its entries, separated, to the part `part`, and the join
 * frames every shard's part (joinGatheredFile). Opened at the first entry, so a shard (or a
 * whole export) without entries writes nothing.
 */
export function openGatheredFile(
  ctx: ExportContext<unknown>,
  key: string,
  part: string,
  format: GatheredFileFormat,
): GatheredFile {
  const whole = ctx.shard.count === 1;
  let out: ArtifactWriter | undefined;
  let pending = "";
  let entries = 0;
  const flush = async (force: boolean) => {
    if (pending.length < CHUNK && !(force && pending)) return;
    const text = pending;
    pending = "";
    out ??= whole ? await ctx.storage.open(key, { contentType: format.contentType }) : await ctx.shard.parts.open(part);
    await out.write(text);
  };
  return {
    get entries() {
      return entries;
    },
    async add(entry) {
      if (whole)
        pending +=
          entries === 0 ? `${format.head ?? ""}${format.first ?? ""}${entry}` : `${format.between ?? ""}${entry}`;
      else pending += entries === 0 ? entry : `${format.between ?? ""}${entry}`;
      entries += 1;
      await flush(false);
    },
    async close() {
      if (whole) {
        if (entries === 0 && format.skipEmpty) return;
        if (entries === 0) pending += format.head ?? "";
        pending += entries === 0 ? (format.emptyTail ?? format.tail ?? "") : (format.tail ?? "");
      }
      await flush(true);
      if (!out && whole) out = await ctx.storage.open(key, { contentType: format.contentType });
      await out?.close();
    },
  };
}

/**
 * Writes a gathered file from every shard's part, in shard order: the same bytes a whole export
 * writes. A whole export already wrote it (openGatheredFile): nothing to do then.
 */
export async function joinGatheredFile(
  ctx: JoinContext<unknown>,
  key: string,
  part: string,
  format: GatheredFileFormat,
): Promise<void> {
  if (ctx.shards.length === 1) return;
  let out: ArtifactWriter | undefined;
  let any = false;
  const open = async () => {
    out = await ctx.storage.open(key, { contentType: format.contentType });
    if (format.head) await out.write(format.head);
    return out;
  };
  for (const shard of ctx.shards) {
    let started = false;
    for await (const chunk of shard.read(part)) {
      if (chunk.length === 0) continue;
      const writer = out ?? (await open());
      if (!started) {
        started = true;
        const separator = any ? (format.between ?? "") : (format.first ?? "");
        if (separator) await writer.write(separator);
        any = true;
      }
      await writer.write(chunk);
    }
  }
  if (!any && format.skipEmpty) return;
  const writer = out ?? (await open());
  await writer.write(any ? (format.tail ?? "") : (format.emptyTail ?? format.tail ?? ""));
  await writer.close();
}

/** A part's whole text (small parts: a state, a list of counts); a chunk may end inside a character. */
export async function readText(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString("utf8");
}
