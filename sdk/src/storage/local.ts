// A StorageDriver over a local directory: one file per key, written to a temp file beside it and
// renamed into place, so a reader holds either the old file or the whole new one; puts marked
// inPlace (new export artifacts, which nothing reads before their manifest) skip the temp file.
import { createHash, randomUUID } from "node:crypto";
import { type FileHandle, mkdir, open, opendir, rename, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createBodyMeter, toReadable, validateRange } from "./body.ts";
import type { ListOptions, ObjectInfo, PutOptions, PutResult, StorageBody, StorageDriver } from "./driver.ts";
import { InvalidStorageKeyError, isStorageError, StorageError, StorageNotFoundError } from "./errors.ts";
import { compareKeys, validateKey, validatePrefix } from "./keys.ts";
import { createFileThread } from "./local-file-thread.ts";

export interface LocalStorageOptions {
  /** Directory holding the objects; created on the first put. */
  root: string;
}

// Temp files live beside their target (rename is only atomic within one filesystem); list()
// hides them and keys may not use the prefix, so a temp file is never mistaken for an object.
const TEMP_PREFIX = ".lp-tmp-";

/** Files list() has the file thread stat in one job. */
const STATS_AT_ONCE = 64;

/** Directories known to exist, so most puts skip mkdir; forgotten past this many. */
const MAX_KNOWN_DIRS = 4096;

/**
 * The files and directories in `path` as found, a directory as `name/` (it sorts where its keys
 * are); read a batch of entries at a time, so only the names are held.
 */
async function* namesIn(path: string): AsyncGenerator<string> {
  for await (const entry of await opendir(path, { bufferSize: 1024 })) {
    if (entry.isDirectory()) yield `${entry.name}/`;
    else if (entry.isFile()) yield entry.name;
  }
}

async function sortedNamesIn(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const name of namesIn(path)) names.push(name);
  return names.sort(compareKeys);
}

/**
 * Files under `root`, one per key. No presigned URLs (the orchestrator serves and signs local
 * downloads itself) and no stored content type: a file has nowhere to keep one.
 */
export function createLocalStorage(options: LocalStorageOptions): StorageDriver {
  const root = resolve(options.root);
  // Only a cache: a directory deleted behind our back makes the write fail with ENOENT, and the
  // put then makes it again. delete() and deletePrefix() prune directories, so they clear it.
  const knownDirs = new Set<string>();
  const fileThread = createFileThread();

  async function ensureDir(dir: string, fresh: boolean): Promise<void> {
    if (!fresh && knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (knownDirs.size >= MAX_KNOWN_DIRS) knownDirs.clear();
    knownDirs.add(dir);
  }

  function pathOf(key: string): string {
    validateKey(key);
    const segments = key.split("/");
    if (segments.some((segment) => segment.startsWith(TEMP_PREFIX))) {
      throw new InvalidStorageKeyError(key, `names starting with "${TEMP_PREFIX}" are reserved for temporary files`);
    }
    return join(root, ...segments);
  }

  async function put(key: string, body: StorageBody, putOptions: PutOptions = {}): Promise<PutResult> {
    const path = pathOf(key);
    const { signal } = putOptions;
    signal?.throwIfAborted();
    if (typeof body === "string" || body instanceof Uint8Array) {
      return putOptions.inPlace ? putInPlace(key, path, body, signal) : putBytes(key, path, body, signal);
    }
    const source = toReadable(body);
    const meter = createBodyMeter();
    let tmp: string | undefined;
    try {
      const temp = await openTemp(dirname(path), ensureDir);
      tmp = temp.path;
      await pipeline(source, meter.stream, temp.handle.createWriteStream(), signal ? { signal } : {});
      await rename(tmp, path);
    } catch (err) {
      source.destroy();
      if (tmp !== undefined) await rm(tmp, { force: true });
      if (signal?.aborted) throw signal.reason;
      throw wrap("put", key, err);
    }
    return { key, ...meter.result() };
  }

  // A body already in memory: hashed there and written with one call, no stream, no file handle.
  async function putBytes(
    key: string,
    path: string,
    body: string | Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const dir = dirname(path);
    let tmp: string | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        await ensureDir(dir, attempt > 1);
        const candidate = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
        try {
          await writeFile(candidate, bytes, signal ? { flag: "wx", signal } : { flag: "wx" });
          tmp = candidate;
          break;
        } catch (err) {
          // The directory went away (a concurrent delete pruned it): make it again.
          if (codeOf(err) === "ENOENT" && attempt < 3) continue;
          await rm(candidate, { force: true });
          throw err;
        }
      }
      signal?.throwIfAborted();
      await rename(tmp, path);
    } catch (err) {
      if (tmp !== undefined) await rm(tmp, { force: true });
      if (signal?.aborted) throw signal.reason;
      throw wrap("put", key, err);
    }
    return { key, size: bytes.length, sha256 };
  }

  // A new export artifact in memory: no temp file and rename (the rename doubled the kernel's
  // cost of a small file), written by the file thread.
  async function putInPlace(
    key: string,
    path: string,
    body: string | Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    const size = typeof body === "string" ? Buffer.byteLength(body, "utf8") : body.length;
    const sha256 = createHash("sha256").update(body).digest("hex");
    try {
      await fileThread.write(path, body);
    } catch (err) {
      throw wrap("put", key, err);
    }
    if (signal?.aborted) {
      await rm(path, { force: true });
      throw signal.reason;
    }
    return { key, size, sha256 };
  }

  async function get(key: string, range: { start?: number; end?: number } = {}): Promise<Readable> {
    const path = pathOf(key);
    validateRange(range);
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (err) {
      if (isMissing(err)) throw new StorageNotFoundError(key, { cause: err });
      throw wrap("get", key, err);
    }
    try {
      // open() succeeds on a directory; a directory is where keys below it live, not an object.
      if (!(await handle.stat()).isFile()) throw new StorageNotFoundError(key);
    } catch (err) {
      await handle.close();
      throw wrap("get", key, err);
    }
    // The open handle keeps reading the old file even if a put renames a new one over it.
    return handle.createReadStream({ ...range });
  }

  async function getBytes(key: string, maxBytes: number): Promise<Buffer> {
    const path = pathOf(key);
    try {
      return await fileThread.read(path, maxBytes);
    } catch (err) {
      // A directory is where keys below it live, not an object.
      if (isMissing(err) || codeOf(err) === "EISDIR") throw new StorageNotFoundError(key, { cause: err });
      throw wrap("get", key, err);
    }
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    const path = pathOf(key);
    try {
      const stats = await stat(path);
      return stats.isFile() ? { key, size: stats.size } : null;
    } catch (err) {
      if (isMissing(err)) return null;
      throw wrap("head", key, err);
    }
  }

  // Entries sort by name, directories as "name/": that makes a depth-first walk come out in the
  // byte order of whole keys ("a-b" < "a/b" < "a0"), the order S3 lists in. Unordered, a folder's
  // files go out as they are read and its folders after them, so no folder's names are held.
  async function* walk(
    dirKey: string,
    prefix: string,
    options: { withTemp: boolean; ordered: boolean },
  ): AsyncGenerator<ObjectInfo & { temp: boolean }> {
    const path = dirKey === "" ? root : join(root, ...dirKey.split("/"));
    let names: AsyncIterable<string> | string[];
    try {
      // Names only, not a Dirent each: those held 2.4 times the memory of the names (about 60 MB
      // more for a folder of a million files).
      names = options.ordered ? await sortedNamesIn(path) : wrapped(namesIn(path));
    } catch (err) {
      if (isMissing(err)) return;
      throw wrap("list", prefix, err);
    }
    // Files are stat'ed STATS_AT_ONCE at a time by the file thread (one by one here, a million
    // took a minute), and yielded in the listing's order.
    let files: { key: string; temp: boolean }[] = [];
    async function* sized(): AsyncGenerator<ObjectInfo & { temp: boolean }> {
      if (files.length === 0) return;
      let sizes: number[];
      try {
        sizes = await fileThread.sizes(files.map((file) => join(root, ...file.key.split("/"))));
      } catch (err) {
        throw wrap("list", prefix, err);
      }
      // A file deleted between the listing and its stat is simply no longer there (size -1).
      for (const [i, file] of files.entries()) {
        const size = sizes[i] ?? -1;
        if (size >= 0) yield { ...file, size };
      }
      files = [];
    }
    const folders: string[] = [];
    for await (const listed of names) {
      const isDirectory = listed.endsWith("/");
      const name = isDirectory ? listed.slice(0, -1) : listed;
      const key = dirKey === "" ? name : `${dirKey}/${name}`;
      const temp = name.startsWith(TEMP_PREFIX);
      if (isDirectory) {
        const dirPrefix = `${key}/`;
        if (!dirPrefix.startsWith(prefix) && !prefix.startsWith(dirPrefix)) continue;
        if (!options.ordered) {
          folders.push(key);
          continue;
        }
        yield* sized();
        yield* walk(key, prefix, options);
      } else if (key.startsWith(prefix) && (options.withTemp || !temp)) {
        files.push({ key, temp });
        if (files.length === STATS_AT_ONCE) yield* sized();
      }
    }
    yield* sized();
    for (const folder of folders) yield* walk(folder, prefix, options);

    /** A folder's names as read, a failure while reading them named as the listing's. */
    async function* wrapped(read: AsyncGenerator<string>): AsyncGenerator<string> {
      try {
        yield* read;
      } catch (err) {
        if (isMissing(err)) return;
        throw wrap("list", prefix, err);
      }
    }
  }

  function startOf(prefix: string): string {
    const slash = prefix.lastIndexOf("/");
    return slash < 0 ? "" : prefix.slice(0, slash);
  }

  async function* list(prefix: string, options?: ListOptions): AsyncGenerator<ObjectInfo> {
    validatePrefix(prefix);
    const walked = walk(startOf(prefix), prefix, { withTemp: false, ordered: !options?.unordered });
    for await (const { key, size } of walked) yield { key, size };
  }

  /** Unlinks the file behind a key and prunes directories it leaves empty; false if absent. */
  async function unlinkKey(key: string): Promise<boolean> {
    const path = join(root, ...key.split("/"));
    try {
      await unlink(path);
    } catch (err) {
      const code = codeOf(err);
      if (isMissing(err) || code === "EISDIR") return false;
      throw wrap("delete", key, err);
    }
    await prune(dirname(path));
    return true;
  }

  // Empty directories would make a later put of a key with that name fail, and slow list().
  async function prune(dir: string): Promise<void> {
    let current = dir;
    while (current.startsWith(root + sep)) {
      try {
        await rmdir(current);
      } catch {
        return;
      }
      current = dirname(current);
    }
  }

  return {
    kind: "local",
    capabilities: { presign: false },
    put,
    get,
    getBytes,
    head,
    list,
    async delete(key: string) {
      pathOf(key);
      knownDirs.clear();
      await unlinkKey(key);
    },
    async deletePrefix(prefix: string) {
      if (prefix === "") throw new InvalidStorageKeyError(prefix, "empty prefix (would delete everything)");
      validatePrefix(prefix);
      knownDirs.clear();
      let count = 0;
      // Temp files left by crashed writers go too, but only objects are counted.
      for await (const { key, temp } of walk(startOf(prefix), prefix, { withTemp: true, ordered: true })) {
        if ((await unlinkKey(key)) && !temp) count++;
      }
      return count;
    },
    async dispose() {
      // Nothing else is held open between calls.
      await fileThread.dispose();
    },
  };
}

async function openTemp(
  dir: string,
  ensureDir: (dir: string, fresh: boolean) => Promise<void>,
): Promise<{ path: string; handle: FileHandle }> {
  for (let attempt = 1; ; attempt++) {
    await ensureDir(dir, attempt > 1);
    const path = join(dir, `${TEMP_PREFIX}${randomUUID()}`);
    try {
      return { path, handle: await open(path, "wx") };
    } catch (err) {
      // A concurrent delete may prune the directory between mkdir and open; make it again.
      if (codeOf(err) !== "ENOENT" || attempt >= 3) throw err;
    }
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

function isMissing(err: unknown): boolean {
  const code = codeOf(err);
  return code === "ENOENT" || code === "ENOTDIR";
}

function wrap(op: string, key: string, err: unknown): Error {
  if (isStorageError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new StorageError(`local storage ${op} of ${JSON.stringify(key)} failed: ${message}`, { key, cause: err });
}
