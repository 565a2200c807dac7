// The exporter's view of storage: every file written under the job's prefix is recorded as an
// artifact (size, sha256, content type), and commit() writes manifest.json last, so a manifest
// in storage always describes a complete export. Records are packed (key bytes, a 32-byte digest,
// a size) and the manifest is streamed, so an export of a million files stays small in memory.
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { ArtifactWriter, ExportStorage, MediaProblem, MediaReadOptions } from "../exporter.ts";
import { type Artifact, ArtifactSchema } from "../gen/labelport/v1/export_pb.ts";
import { inSpan } from "../runtime/tracing.ts";
import type { PutOptions, PutResult, StorageBody, StorageDriver } from "./driver.ts";
import { DuplicateArtifactError, InvalidStorageKeyError, StorageError } from "./errors.ts";
import { createKeyTable } from "./key-table.ts";
import { joinKey, validateKey } from "./keys.ts";
import { createMediaResolver, type MediaSources, NO_MEDIA_SOURCES } from "./media-sources.ts";
import { classifyMediaError, type MediaProblemError, type OpenedMedia } from "./media-sources-fetch.ts";

/** Relative to the export's prefix; exporters may not write it themselves. */
export const MANIFEST_KEY = "manifest.json";

/** How many artifacts commit() returns as messages (a job event lists no more); the manifest has all. */
export const COMMIT_ARTIFACT_LIMIT = 1000;

/**
 * Small files queueFile() keeps in flight: two of the local writer thread's batches (one written
 * while the next fills) or as many object store requests at once; memory stays a few small bodies.
 */
export const WRITES_IN_FLIGHT = 64;

/** Tries of one media copy when its source fails transiently (5xx, reset, timeout). */
export const MEDIA_ATTEMPTS = 3;
/** Wait before the second try; the third waits four times as long. */
const MEDIA_RETRY_DELAY_MS = 250;

export interface ExportStorageOptions {
  /** Where copyMedia() reads relative keys and file://<key>; the export's own driver when absent. */
  mediaDriver?: StorageDriver | undefined;
  /** The worker's media sources for s3://, http(s):// and file:/// URIs; none when absent. */
  mediaSources?: MediaSources | undefined;
  /** Told of every media file copyMedia() or readMedia() gave up on, besides the call's own onProblem. */
  onMediaProblem?: ((problem: MediaProblem) => void) | undefined;
  /** First retry delay of a transient media failure (tests shorten it). */
  mediaRetryDelayMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** What the job knows about the export; commit() adds the file list. */
export interface ExportManifestFields {
  exportId: string;
  format: string;
  plugin: { name: string; version: string };
  dataset: { id: string; name: string };
  /** ISO 8601; the export's snapshot instant, so a retry writes the same bytes. */
  exportedAt: string;
  itemCount: number;
  /** Annotations written into the files. */
  annotationCount: number;
  /** Annotations the exporter received; annotationsReceived = annotationCount + the dropped ones. */
  annotationsReceived: number;
  /** Dropped annotations by reason, reasons sorted. */
  dropped: Readonly<Record<string, number>>;
  /** Changed (still written) annotations by reason, reasons sorted. */
  changed: Readonly<Record<string, number>>;
  notes: readonly string[];
}

export interface ManifestArtifact {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
}

/** manifest.json, schema version 1. */
export interface ExportManifest extends ExportManifestFields {
  schemaVersion: 1;
  fileCount: number;
  totalSize: number;
  artifacts: ManifestArtifact[];
}

export interface ExportCommit {
  /**
   * The first COMMIT_ARTIFACT_LIMIT artifacts by key (all of them when there are no more); the
   * manifest itself is not among them.
   */
  artifacts: Artifact[];
  /** Number of artifacts, manifest.json not counted. */
  fileCount: number;
  /** Sum of the artifacts' sizes in bytes. */
  totalSize: number;
  /** Full key of manifest.json, `<prefix>/manifest.json`. */
  manifestKey: string;
}

export interface CommittableExportStorage extends ExportStorage {
  /** Writes manifest.json; refused while a file is still being written, and after a commit. */
  commit(fields: ExportManifestFields): Promise<ExportCommit>;
  /** Closes the media sources' connections; idempotent. */
  dispose(): Promise<void>;
  /** Waits until no media copy is running (a failed export deletes its files only after that). */
  settled(): Promise<void>;
  /** Every artifact written so far, in key order, once queued writes are done (a shard's list for its join). */
  written(): AsyncGenerator<ManifestArtifact>;
  /**
   * Records an artifact another run wrote under this prefix (a shard's files, at its join); a key
   * already written or adopted is refused with DuplicateArtifactError.
   */
  adopt(artifact: ManifestArtifact): void;
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  json: "application/json",
  jsonl: "application/x-ndjson",
  ndjson: "application/x-ndjson",
  csv: "text/csv",
  txt: "text/plain",
  xml: "application/xml",
  yaml: "application/yaml",
  yml: "application/yaml",
  zip: "application/zip",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
};

/** Content type from the key's extension; application/octet-stream when unknown. */
export function guessContentType(key: string): string {
  const name = key.slice(key.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  const type = dot > 0 ? CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] : undefined;
  return type ?? "application/octet-stream";
}

/** A copied file's type: from its key's extension, else what the source declared. */
function mediaContentType(key: string, declared: string | undefined): string {
  const guessed = guessContentType(key);
  return guessed === "application/octet-stream" && declared ? declared : guessed;
}

export function createExportStorage(
  driver: StorageDriver,
  prefix: string,
  options: ExportStorageOptions = {},
): CommittableExportStorage {
  const root = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  validateKey(root);
  const resolver = createMediaResolver(options.mediaSources ?? NO_MEDIA_SOURCES, options.mediaDriver ?? driver);
  const { signal } = options;
  const retryDelayMs = options.mediaRetryDelayMs ?? MEDIA_RETRY_DELAY_MS;
  const records = createArtifactRecords();
  let committing = false;
  /** Media copies running (copyMedia), so a failed export can wait for them before cleaning up. */
  const copying = new Set<Promise<boolean>>();
  /** queueFile()'s writes in flight; the first failure is thrown by the next call, flush() or commit(). */
  const queued = new Set<Promise<void>>();
  let queueFailure: { error: unknown } | undefined;

  function rethrowQueued(): void {
    if (queueFailure) throw queueFailure.error;
  }

  async function drainQueue(): Promise<void> {
    await Promise.all(queued);
    rethrowQueued();
  }

  /** What a failed open or read means; an abort is not a media problem, it ends the export. */
  function problemOf(err: unknown): MediaProblemError {
    if (signal?.aborted) throw signal.reason;
    return classifyMediaError(err);
  }

  /** After a transient problem, waits (backing off) and says to try again, up to MEDIA_ATTEMPTS tries. */
  async function retrying(problem: MediaProblemError, attempt: number): Promise<boolean> {
    if (!problem.transient || attempt >= MEDIA_ATTEMPTS) return false;
    await sleep(retryDelayMs * 4 ** (attempt - 1), undefined, signal ? { signal } : {});
    return true;
  }

  function report(uri: string, error: MediaProblemError, callOptions: MediaReadOptions): false {
    const problem: MediaProblem = { uri, kind: error.kind, reason: error.message };
    callOptions.onProblem?.(problem);
    options.onMediaProblem?.(problem);
    return false;
  }

  /**
   * One try at copying `uri` to `key`: undefined when copied, else why not (the key is released).
   * Only the source's failures are media problems; the export's own storage failing throws.
   */
  async function copyOnce(uri: string, key: string): Promise<MediaProblemError | undefined> {
    const { full, record } = claim(key);
    let opened: OpenedMedia;
    try {
      opened = await resolver.open(uri, { signal });
    } catch (err) {
      records.release(record);
      return problemOf(err);
    }
    const contentType = mediaContentType(key, opened.contentType);
    try {
      // settle() releases the key when the put fails.
      await settle(record, contentType, () => driver.put(full, opened.body, putOptions(contentType)));
      return undefined;
    } catch (err) {
      opened.body.destroy();
      const problem = opened.problem();
      if (!problem || signal?.aborted) throw err;
      return problem;
    }
  }

  function claim(key: string): { full: string; record: number } {
    signal?.throwIfAborted();
    if (committing) throw new StorageError(`export storage is committed; cannot write ${JSON.stringify(key)}`, { key });
    validateKey(key);
    if (key === MANIFEST_KEY) throw new InvalidStorageKeyError(key, "reserved for the export manifest");
    // Two valid keys joined by "/" make a valid key but for its length, which the driver checks.
    const full = `${root}/${key}`;
    return { full, record: records.claim(key) };
  }

  function putOptions(contentType: string): PutOptions {
    return signal ? { contentType, signal } : { contentType };
  }

  /**
   * A queued artifact: nothing reads it before manifest.json is written, so it may be written in
   * place (local: no temp file and rename, by the writer thread). writeFile() keeps the atomic
   * path: an export of a few files then never starts that thread.
   */
  function artifactPutOptions(contentType: string): PutOptions {
    return { ...putOptions(contentType), inPlace: true };
  }

  /** Records the artifact once its put succeeds; a failed put releases the key (it left nothing). */
  async function settle(record: number, contentType: string, put: () => Promise<PutResult>): Promise<void> {
    try {
      const result = await put();
      records.written(record, result, contentType);
    } catch (err) {
      records.release(record);
      throw err;
    }
  }

  async function store(key: string, body: StorageBody, contentType: string): Promise<void> {
    const { full, record } = claim(key);
    await settle(record, contentType, () => driver.put(full, body, putOptions(contentType)));
  }

  return {
    async writeFile(key, body, writeOptions = {}) {
      await store(key, body, writeOptions.contentType ?? guessContentType(key));
    },

    async queueFile(key, body, writeOptions = {}) {
      rethrowQueued();
      while (queued.size >= WRITES_IN_FLIGHT) await Promise.race(queued);
      rethrowQueued();
      // Claimed now, in the caller's order: a duplicate key is refused by this call, not later.
      const { full, record } = claim(key);
      const contentType = writeOptions.contentType ?? guessContentType(key);
      const write = settle(record, contentType, () => driver.put(full, body, artifactPutOptions(contentType))).then(
        () => {
          queued.delete(write);
        },
        (error: unknown) => {
          queueFailure ??= { error };
          queued.delete(write);
        },
      );
      queued.add(write);
    },

    flush: drainQueue,

    // For small documents: the whole value is serialised in memory. Large outputs use open().
    async writeJson(key, value, jsonOptions = {}) {
      const text = jsonOptions.pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
      if (text === undefined) throw new TypeError(`writeJson(${JSON.stringify(key)}): value is not JSON-serialisable`);
      await store(key, jsonOptions.pretty ? `${text}\n` : text, "application/json");
    },

    async open(key, openOptions = {}): Promise<ArtifactWriter> {
      const { full, record } = claim(key);
      const contentType = openOptions.contentType ?? guessContentType(key);
      const pass = new PassThrough();
      // A failed put destroys `pass`; the failure is reported through `putting`, not as an event.
      pass.on("error", () => undefined);
      const putting = settle(record, contentType, () => driver.put(full, pass, putOptions(contentType)));
      let failure: { error: unknown } | undefined;
      putting.catch((error: unknown) => {
        failure = { error };
      });
      let closing: Promise<void> | undefined;
      return {
        key,
        async write(chunk) {
          if (closing) throw new StorageError(`artifact ${JSON.stringify(key)} is already closed`, { key });
          if (failure) throw failure.error;
          if (!pass.write(chunk)) {
            // Backpressure: wait until the driver has taken the buffered bytes, or has failed.
            const drained = once(pass, "drain");
            drained.catch(() => undefined);
            await Promise.race([drained, putting]);
          }
        },
        close() {
          if (!closing) {
            pass.end();
            closing = putting;
          }
          return closing;
        },
      };
    },

    copyMedia(uri, key, copyOptions = {}) {
      const copy = (async () => {
        for (let attempt = 1; ; attempt++) {
          const problem = await copyOnce(uri, key);
          if (!problem) return true;
          if (!(await retrying(problem, attempt))) return report(uri, problem, copyOptions);
        }
      })();
      copying.add(copy);
      void copy.then(
        () => copying.delete(copy),
        () => copying.delete(copy),
      );
      return copy;
    },

    async settled() {
      await Promise.allSettled([...copying, ...queued]);
    },

    // Reads only (no artifact): an exporter's look at an image header.
    async readMedia(uri, range, readOptions = {}) {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await resolver.open(uri, { signal, range })).body;
        } catch (err) {
          const problem = problemOf(err);
          if (await retrying(problem, attempt)) continue;
          report(uri, problem, readOptions);
          return null;
        }
      }
    },

    async dispose() {
      await resolver.dispose();
    },

    async *written() {
      await drainQueue();
      for (const record of records.sorted()) yield records.artifact(record);
    },

    adopt(artifact) {
      const { record } = claim(artifact.key);
      records.written(
        record,
        { key: artifact.key, size: artifact.size, sha256: artifact.sha256 },
        artifact.contentType,
      );
    },

    async commit(fields) {
      if (committing) throw new StorageError("export storage was already committed", { key: root });
      await drainQueue();
      const open = records.writing();
      if (open.length > 0) {
        throw new StorageError(`cannot commit while artifacts are being written: ${open.join(", ")}`, {
          key: root,
        });
      }
      committing = true;
      const order = records.sorted();
      const totalSize = records.totalSize(order);
      const manifestKey = joinKey(root, MANIFEST_KEY);
      try {
        const attributes = { "labelport.storage.key": manifestKey, "labelport.artifact_count": order.length };
        await inSpan("export storage commit", { attributes }, () =>
          driver.put(manifestKey, manifestJson(fields, records, order, totalSize), putOptions("application/json")),
        );
      } catch (err) {
        committing = false;
        throw err;
      }
      const artifacts: Artifact[] = [];
      for (const record of order.slice(0, COMMIT_ARTIFACT_LIMIT)) {
        const a = records.artifact(record);
        artifacts.push(create(ArtifactSchema, { ...a, size: BigInt(a.size) }));
      }
      return { artifacts, fileCount: order.length, totalSize, manifestKey };
    },
  };
}

const UNCLAIMED = 0;
const CLAIMED = 1;
const WRITTEN = 2;

// A record: sha256 (32 bytes), size (float64), content type index (uint32), state (uint8).
const RECORD_BYTES = 48;
const SIZE_AT = 32;
const TYPE_AT = 40;
const STATE_AT = 44;
const PAGE_RECORDS = 4096;

/**
 * One record per key ever claimed, beside a KeyTable, in pages of fixed-size records: a state,
 * the size, the sha256 as 32 bytes and the content type as an index into the few distinct ones.
 * A released key keeps its (unclaimed) record, so claiming it again reuses it.
 */
function createArtifactRecords() {
  const keys = createKeyTable();
  const pages: Buffer[] = [];
  const typeNames: string[] = [];
  const typeIndex = new Map<string, number>();
  let pending = 0;

  /** The record's page, allocated zeroed (all records UNCLAIMED) on first use. */
  function page(record: number): Buffer {
    const index = Math.floor(record / PAGE_RECORDS);
    while (pages.length <= index) pages.push(Buffer.alloc(PAGE_RECORDS * RECORD_BYTES));
    return pages[index] as Buffer;
  }

  function offset(record: number): number {
    return (record % PAGE_RECORDS) * RECORD_BYTES;
  }

  function state(record: number): number {
    return page(record)[offset(record) + STATE_AT] as number;
  }

  function setState(record: number, value: number): void {
    page(record)[offset(record) + STATE_AT] = value;
  }

  return {
    /** Claims `key` for a write; throws DuplicateArtifactError when it is written or being written. */
    claim(key: string): number {
      const record = keys.add(key);
      if (state(record) !== UNCLAIMED) throw new DuplicateArtifactError(key);
      setState(record, CLAIMED);
      pending += 1;
      return record;
    },
    release(record: number): void {
      if (state(record) === CLAIMED) pending -= 1;
      setState(record, UNCLAIMED);
    },
    written(record: number, result: PutResult, contentType: string): void {
      if (!/^[0-9a-fA-F]{64}$/.test(result.sha256)) {
        throw new StorageError(`storage returned a malformed sha256 for ${JSON.stringify(result.key)}`, {
          key: result.key,
        });
      }
      let type = typeIndex.get(contentType);
      if (type === undefined) {
        type = typeNames.push(contentType) - 1;
        typeIndex.set(contentType, type);
      }
      if (state(record) === CLAIMED) pending -= 1;
      const bytes = page(record);
      const at = offset(record);
      bytes.write(result.sha256, at, 32, "hex");
      bytes.writeDoubleLE(result.size, at + SIZE_AT);
      bytes.writeUInt32LE(type, at + TYPE_AT);
      bytes[at + STATE_AT] = WRITTEN;
    },
    /** Up to five keys still being written. */
    writing(): string[] {
      const open: string[] = [];
      for (let record = 0; pending > 0 && record < keys.size && open.length < 5; record++) {
        if (state(record) === CLAIMED) open.push(keys.key(record));
      }
      return open;
    },
    /** Written records in key order (UTF-8 bytes). */
    sorted(): number[] {
      const order: number[] = [];
      for (let record = 0; record < keys.size; record++) if (state(record) === WRITTEN) order.push(record);
      return order.sort((a, b) => keys.compare(a, b));
    },
    totalSize(order: readonly number[]): number {
      let total = 0;
      for (const record of order) total += page(record).readDoubleLE(offset(record) + SIZE_AT);
      return total;
    },
    artifact(record: number): ManifestArtifact {
      const bytes = page(record);
      const at = offset(record);
      return {
        key: keys.key(record),
        size: bytes.readDoubleLE(at + SIZE_AT),
        sha256: bytes.toString("hex", at, at + 32),
        contentType: typeNames[bytes.readUInt32LE(at + TYPE_AT)] as string,
      };
    },
  };
}

type ArtifactRecords = ReturnType<typeof createArtifactRecords>;

// Streamed: one string for a million artifacts would be ~300 MB. The bytes are exactly those of
// JSON.stringify(manifest, null, 2) + "\n", with the fields built one by one, not spread: the key
// order is part of the bytes, and a retry of the same export must produce the same manifest even
// if the caller's objects carry extra properties.
async function* manifestJson(
  fields: ExportManifestFields,
  records: ArtifactRecords,
  order: readonly number[],
  totalSize: number,
): AsyncGenerator<string> {
  const head: ExportManifest = {
    schemaVersion: 1,
    exportId: fields.exportId,
    format: fields.format,
    plugin: { name: fields.plugin.name, version: fields.plugin.version },
    dataset: { id: fields.dataset.id, name: fields.dataset.name },
    exportedAt: fields.exportedAt,
    itemCount: fields.itemCount,
    annotationCount: fields.annotationCount,
    annotationsReceived: fields.annotationsReceived,
    dropped: sortedCounts(fields.dropped),
    changed: sortedCounts(fields.changed),
    notes: [...fields.notes],
    fileCount: order.length,
    totalSize,
    artifacts: [],
  };
  const text = JSON.stringify(head, null, 2);
  if (order.length === 0) {
    yield `${text}\n`;
    return;
  }
  const empty = '"artifacts": []\n}';
  if (!text.endsWith(empty)) throw new Error("manifest.json: unexpected layout of the manifest's head");
  let chunk = `${text.slice(0, -empty.length)}"artifacts": [\n`;
  for (let n = 0; n < order.length; n++) {
    const a = records.artifact(order[n] as number);
    chunk +=
      `${n > 0 ? ",\n" : ""}    {\n      "key": ${JSON.stringify(a.key)},\n      "size": ${JSON.stringify(a.size)},\n` +
      `      "sha256": ${JSON.stringify(a.sha256)},\n      "contentType": ${JSON.stringify(a.contentType)}\n    }`;
    if (chunk.length >= 64 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  yield `${chunk}\n  ]\n}\n`;
}

/** A copy with keys in sorted order: the manifest's bytes must not depend on the order of drops. */
function sortedCounts(counts: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of Object.keys(counts).sort()) out[key] = counts[key] as number;
  return out;
}
