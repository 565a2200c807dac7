// The storage driver contract: a plain factory result with declared capabilities, lazy
// connections and an idempotent dispose() (after unstorage's defineDriver).
import type { Readable } from "node:stream";

export type StorageBody = string | Uint8Array | Readable | AsyncIterable<string | Uint8Array>;

export interface PutResult {
  key: string;
  size: number;
  /** Hex sha256 of the stored bytes. */
  sha256: string;
}

export interface PutOptions {
  contentType?: string;
  signal?: AbortSignal;
  /**
   * The key is new and nothing reads it before a later object says it is complete (an export's
   * artifacts before its manifest.json): a driver may then write it in place, where readers could
   * see it partly written, instead of atomically. A rejected put still leaves no object.
   */
  inPlace?: boolean;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface ListOptions {
  /**
   * Any order will do: a driver that must hold a folder's names to sort them (local disk) streams
   * them as found instead. Drivers that list in order anyway (S3) ignore it.
   */
  unordered?: boolean;
}

export interface StorageCapabilities {
  /** presignGet() returns a URL a client can fetch directly. */
  presign: boolean;
}

export interface StorageDriver {
  /** "local", "s3", ... */
  readonly kind: string;
  readonly capabilities: StorageCapabilities;
  /**
   * Writes atomically: readers see the old object or the whole new one, never a part. A rejected
   * put (an abort through `signal` included) leaves the key as it was.
   */
  put(key: string, body: StorageBody, options?: PutOptions): Promise<PutResult>;
  /**
   * Rejects with StorageNotFoundError when missing. `end` is inclusive, as in an HTTP Range; a range
   * running past the object is cut at its end, one starting at or after its end yields no bytes.
   */
  get(key: string, options?: { start?: number; end?: number }): Promise<Readable>;
  /**
   * A small object's first `maxBytes` bytes (all of it when shorter), read in one go: where a
   * driver has a cheaper way than get() for many small reads (local disk: a thread reading them
   * in batches). Rejects with StorageNotFoundError when missing.
   */
  getBytes?(key: string, maxBytes: number): Promise<Buffer>;
  head(key: string): Promise<ObjectInfo | null>;
  /**
   * Every object whose key starts with `prefix` (a plain string prefix, "" for all), in UTF-8 byte
   * order unless `options.unordered`.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
  /** Deletes every object under the prefix; returns how many. An empty prefix is refused. */
  deletePrefix(prefix: string): Promise<number>;
  /** A GET URL valid for `expiresInSeconds`; with `fileName` the response is an attachment of that name. */
  presignGet?(key: string, options: { expiresInSeconds: number; fileName?: string }): Promise<string>;
  /** Idempotent. */
  dispose(): Promise<void>;
}
