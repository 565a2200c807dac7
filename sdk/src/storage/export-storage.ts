// The exporter's view of storage: every file written under the job's prefix is recorded as an
// artifact (size, sha256, content type), and commit() writes manifest.json last, so a manifest
// in storage always describes a complete export.
import { once } from "node:events";
import type { Readable } from "node:stream";
import { PassThrough } from "node:stream";
import { create } from "@bufbuild/protobuf";
import type { ArtifactWriter, ExportStorage } from "../exporter.ts";
import { type Artifact, ArtifactSchema } from "../gen/labelport/v1/export_pb.ts";
import type { PutResult, StorageBody, StorageDriver } from "./driver.ts";
import { DuplicateArtifactError, InvalidStorageKeyError, isStorageNotFound, StorageError } from "./errors.ts";
import { compareKeys, joinKey, validateKey } from "./keys.ts";

/** Relative to the export's prefix; exporters may not write it themselves. */
export const MANIFEST_KEY = "manifest.json";

export interface ExportStorageOptions {
  /** Where copyMedia() reads originals; the export's own driver when absent. */
  mediaDriver?: StorageDriver | undefined;
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
  annotationCount: number;
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
  /** Sorted by key; the manifest itself is not among them. */
  artifacts: Artifact[];
  /** Full key of manifest.json, `<prefix>/manifest.json`. */
  manifestKey: string;
}

export interface CommittableExportStorage extends ExportStorage {
  /** Writes manifest.json; refused while a file is still being written, and after a commit. */
  commit(fields: ExportManifestFields): Promise<ExportCommit>;
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

export function createExportStorage(
  driver: StorageDriver,
  prefix: string,
  options: ExportStorageOptions = {},
): CommittableExportStorage {
  const root = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  validateKey(root);
  const media = options.mediaDriver ?? driver;
  const { signal } = options;
  // Claimed when a write starts, so two concurrent writes of one key fail fast, not last-wins.
  const claimed = new Set<string>();
  const written = new Map<string, ManifestArtifact>();
  let committing = false;

  function claim(key: string): string {
    signal?.throwIfAborted();
    if (committing) throw new StorageError(`export storage is committed; cannot write ${JSON.stringify(key)}`, { key });
    validateKey(key);
    if (key === MANIFEST_KEY) throw new InvalidStorageKeyError(key, "reserved for the export manifest");
    if (claimed.has(key)) throw new DuplicateArtifactError(key);
    const full = joinKey(root, key);
    claimed.add(key);
    return full;
  }

  function putOptions(contentType: string): { contentType: string; signal?: AbortSignal } {
    return signal ? { contentType, signal } : { contentType };
  }

  /** Records the artifact once its put succeeds; a failed put releases the key (it left nothing). */
  async function settle(key: string, contentType: string, put: () => Promise<PutResult>): Promise<void> {
    try {
      const result = await put();
      written.set(key, { key, size: result.size, sha256: result.sha256, contentType });
    } catch (err) {
      claimed.delete(key);
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

    async copyMedia(uri, key) {
      const source = mediaKey(uri);
      const full = claim(key);
      const contentType = guessContentType(key);
      let body: Readable;
      try {
        body = await media.get(source);
      } catch (err) {
        claimed.delete(key);
        if (isStorageNotFound(err)) return false;
        throw err;
      }
      await settle(key, contentType, () => driver.put(full, body, putOptions(contentType)));
      return true;
    },

    async commit(fields) {
      if (committing) throw new StorageError("export storage was already committed", { key: root });
      const open = [...claimed].filter((key) => !written.has(key));
      if (open.length > 0) {
        throw new StorageError(`cannot commit while artifacts are being written: ${open.slice(0, 5).join(", ")}`, {
          key: root,
        });
      }
      committing = true;
      const artifacts = [...written.values()].sort((a, b) => compareKeys(a.key, b.key));
      const manifestKey = joinKey(root, MANIFEST_KEY);
      try {
        await driver.put(manifestKey, manifestJson(fields, artifacts), putOptions("application/json"));
      } catch (err) {
        committing = false;
        throw err;
      }
      return {
        artifacts: artifacts.map((a) => create(ArtifactSchema, { ...a, size: BigInt(a.size) })),
        manifestKey,
      };
    },
  };
}

// Built field by field, not spread: the key order is part of the bytes, and a retry of the same
// export must produce the same manifest even if the caller's objects carry extra properties.
function manifestJson(fields: ExportManifestFields, artifacts: readonly ManifestArtifact[]): string {
  const manifest: ExportManifest = {
    schemaVersion: 1,
    exportId: fields.exportId,
    format: fields.format,
    plugin: { name: fields.plugin.name, version: fields.plugin.version },
    dataset: { id: fields.dataset.id, name: fields.dataset.name },
    exportedAt: fields.exportedAt,
    itemCount: fields.itemCount,
    annotationCount: fields.annotationCount,
    notes: [...fields.notes],
    fileCount: artifacts.length,
    totalSize: artifacts.reduce((sum, a) => sum + a.size, 0),
    artifacts: artifacts.map((a) => ({ key: a.key, size: a.size, sha256: a.sha256, contentType: a.contentType })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** An item's media.uri as a key in the media driver: a plain relative key, or file://<key>. */
function mediaKey(uri: string): string {
  if (uri.startsWith("file://")) {
    try {
      return decodeURIComponent(uri.slice("file://".length));
    } catch {
      throw new InvalidStorageKeyError(uri, "malformed percent-encoding in file:// URI");
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new InvalidStorageKeyError(uri, "unsupported media URI scheme (expected a relative key or file://<key>)");
  }
  return uri;
}
