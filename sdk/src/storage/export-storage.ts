// The exporter's view of storage: every file written under the job's prefix is recorded as an
// artifact (size, sha256, content type), and commit() writes manifest.json last, so a manifest
// in storage always describes a complete export. Written artifacts' records (a 32-byte digest, a
// size, a content type) go to disk in sorted runs past a few MB (spill-set.ts) and the manifest is
// streamed from their merge, so memory stays flat however many files an export writes.
import { once } from "node:events";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { ArtifactWriter, ExportStorage, MediaProblem, MediaReadOptions } from "../exporter.ts";
import { type Artifact, ArtifactSchema } from "../gen/labelport/v1/export_pb.ts";
import { inSpan } from "../runtime/tracing.ts";
import type { PutOptions, PutResult, StorageBody, StorageDriver } from "./driver.ts";
import { DuplicateArtifactError, InvalidStorageKeyError, StorageError } from "./errors.ts";
import { joinKey, validateKey } from "./keys.ts";
import { createMediaResolver, type MediaSources, NO_MEDIA_SOURCES } from "./media-sources.ts";
import { classifyMediaError, type MediaProblemError, type OpenedMedia } from "./media-sources-fetch.ts";
import { createSpillSet } from "./spill-set.ts";

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
  /** Written artifacts kept in memory before they go to disk (tests lower it; see SpillSet). */
  memoryKeys?: number | undefined;
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
  const records = createArtifactRecords(options.memoryKeys);
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
    const full = claim(key);
    let opened: OpenedMedia;
    try {
      opened = await resolver.open(uri, { signal });
    } catch (err) {
      records.release(key);
      return problemOf(err);
    }
    const contentType = mediaContentType(key, opened.contentType);
    try {
      // settle() releases the key when the put fails.
      await settle(key, contentType, () => driver.put(full, opened.body, putOptions(contentType)));
      return undefined;
    } catch (err) {
      opened.body.destroy();
      const problem = opened.problem();
      if (!problem || signal?.aborted) throw err;
      return problem;
    }
  }

  /** Claims `key` for a write; returns its full key. */
  function claim(key: string): string {
    signal?.throwIfAborted();
    if (committing) throw new StorageError(`export storage is committed; cannot write ${JSON.stringify(key)}`, { key });
    validateKey(key);
    if (key === MANIFEST_KEY) throw new InvalidStorageKeyError(key, "reserved for the export manifest");
    // Two valid keys joined by "/" make a valid key but for its length, which the driver checks.
    records.claim(key);
    return `${root}/${key}`;
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
  async function settle(key: string, contentType: string, put: () => Promise<PutResult>): Promise<void> {
    try {
      const result = await put();
      records.written(key, result, contentType);
    } catch (err) {
      records.release(key);
      throw err;
    }
  }

  async function store(key: string, body: StorageBody, contentType: string): Promise<void> {
    const full = claim(key);
    await settle(key, contentType, () => driver.put(full, body, putOptions(contentType)));
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
      const full = claim(key);
      const contentType = writeOptions.contentType ?? guessContentType(key);
      const write = settle(key, contentType, () => driver.put(full, body, artifactPutOptions(contentType))).then(
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
      const full = claim(key);
      const contentType = openOptions.contentType ?? guessContentType(key);
      const pass = new PassThrough();
      // A failed put destroys `pass`; the failure is reported through `putting`, not as an event.
      pass.on("error", () => undefined);
      const putting = settle(key, contentType, () => driver.put(full, pass, putOptions(contentType)));
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
      records.close();
      await resolver.dispose();
    },

    async *written() {
      await drainQueue();
      yield* records.sorted();
    },

    adopt(artifact) {
      claim(artifact.key);
      records.written(
        artifact.key,
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
      const { count: fileCount, totalSize } = records;
      const manifestKey = joinKey(root, MANIFEST_KEY);
      try {
        const attributes = { "labelport.storage.key": manifestKey, "labelport.artifact_count": fileCount };
        await inSpan("export storage commit", { attributes }, () =>
          driver.put(
            manifestKey,
            manifestJson(fields, records.sorted(), fileCount, totalSize),
            putOptions("application/json"),
          ),
        );
      } catch (err) {
        committing = false;
        throw err;
      }
      const artifacts: Artifact[] = [];
      for (const a of records.sorted()) {
        if (artifacts.length === COMMIT_ARTIFACT_LIMIT) break;
        artifacts.push(create(ArtifactSchema, { ...a, size: BigInt(a.size) }));
      }
      return { artifacts, fileCount, totalSize, manifestKey };
    },
  };
}

// A written artifact's payload in the spill set: sha256 (32 bytes), size (float64), content type
// index (uint32).
const PAYLOAD_BYTES = 44;
const SIZE_AT = 32;
const TYPE_AT = 40;

/**
 * The export's artifacts: keys being written (as many as writes in flight) in a Set, written ones
 * with their size, digest and content type (an index into the few distinct ones) in a SpillSet,
 * so a million files cost a few MB of memory and the rest on disk. A released key (its put
 * failed) is forgotten, so claiming it again is allowed.
 */
function createArtifactRecords(memoryKeys: number | undefined) {
  const written = createSpillSet({ payloadBytes: PAYLOAD_BYTES, memoryKeys });
  const claimed = new Set<string>();
  const typeNames: string[] = [];
  const typeIndex = new Map<string, number>();
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  let totalSize = 0;

  return {
    /** Claims `key` for a write; throws DuplicateArtifactError when it is written or being written. */
    claim(key: string): void {
      if (claimed.has(key) || written.has(key)) throw new DuplicateArtifactError(key);
      claimed.add(key);
    },
    release(key: string): void {
      claimed.delete(key);
    },
    written(key: string, result: PutResult, contentType: string): void {
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
      claimed.delete(key);
      payload.write(result.sha256, 0, 32, "hex");
      payload.writeDoubleLE(result.size, SIZE_AT);
      payload.writeUInt32LE(type, TYPE_AT);
      written.add(key, payload);
      totalSize += result.size;
    },
    /** Up to five keys still being written. */
    writing(): string[] {
      return [...claimed].slice(0, 5);
    },
    get count(): number {
      return written.size;
    },
    get totalSize(): number {
      return totalSize;
    },
    /** Written artifacts in key order (UTF-8 bytes). */
    *sorted(): Generator<ManifestArtifact> {
      for (const { key, payload } of written.sorted()) {
        yield {
          key,
          size: payload.readDoubleLE(SIZE_AT),
          sha256: payload.toString("hex", 0, 32),
          contentType: typeNames[payload.readUInt32LE(TYPE_AT)] as string,
        };
      }
    },
    close(): void {
      written.close();
    },
  };
}

// Streamed: one string for a million artifacts would be ~300 MB. The bytes are exactly those of
// JSON.stringify(manifest, null, 2) + "\n", with the fields built one by one, not spread: the key
// order is part of the bytes, and a retry of the same export must produce the same manifest even
// if the caller's objects carry extra properties.
async function* manifestJson(
  fields: ExportManifestFields,
  artifacts: Iterable<ManifestArtifact>,
  fileCount: number,
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
    fileCount,
    totalSize,
    artifacts: [],
  };
  const text = JSON.stringify(head, null, 2);
  if (fileCount === 0) {
    yield `${text}\n`;
    return;
  }
  const empty = '"artifacts": []\n}';
  if (!text.endsWith(empty)) throw new Error("manifest.json: unexpected layout of the manifest's head");
  let chunk = `${text.slice(0, -empty.length)}"artifacts": [\n`;
  let n = 0;
  for (const a of artifacts) {
    chunk +=
      `${n > 0 ? ",\n" : ""}    {\n      "key": ${JSON.stringify(a.key)},\n      "size": ${JSON.stringify(a.size)},\n` +
      `      "sha256": ${JSON.stringify(a.sha256)},\n      "contentType": ${JSON.stringify(a.contentType)}\n    }`;
    n += 1;
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
