// The storage layer's closed error vocabulary. Guards compare `name`, not classes, so an error
// thrown by one copy of @labelport/sdk is recognised by another copy in the same process.

export interface StorageErrorOptions {
  /** The key (or prefix) the failed operation was about. */
  key?: string;
  cause?: unknown;
}

export class StorageError extends Error {
  override name = "StorageError";
  readonly key: string | undefined;

  constructor(message: string, options: StorageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.key = options.key;
  }
}

/** A key that no driver may store: empty, absolute, traversing, encoded traversal, too long, ... */
export class InvalidStorageKeyError extends StorageError {
  override name = "InvalidStorageKeyError";
  readonly reason: string;

  constructor(key: string, reason: string) {
    super(`invalid storage key ${quoteKey(key)}: ${reason}`, { key });
    this.reason = reason;
  }
}

export class StorageNotFoundError extends StorageError {
  override name = "StorageNotFoundError";

  constructor(key: string, options: { cause?: unknown } = {}) {
    super(`no object at ${quoteKey(key)}`, { key, ...options });
  }
}

/** The export wrote the same artifact key twice; the first file would silently be lost. */
export class DuplicateArtifactError extends StorageError {
  override name = "DuplicateArtifactError";

  constructor(key: string) {
    super(`artifact ${quoteKey(key)} was already written by this export`, { key });
  }
}

const STORAGE_ERROR_NAMES: ReadonlySet<string> = new Set([
  "StorageError",
  "InvalidStorageKeyError",
  "StorageNotFoundError",
  "DuplicateArtifactError",
]);

function hasName(err: unknown, name: string): boolean {
  return typeof err === "object" && err !== null && (err as { name?: unknown }).name === name;
}

export function isStorageError(err: unknown): err is StorageError {
  return typeof err === "object" && err !== null && STORAGE_ERROR_NAMES.has(String((err as { name?: unknown }).name));
}

export function isInvalidStorageKey(err: unknown): err is InvalidStorageKeyError {
  return hasName(err, "InvalidStorageKeyError");
}

export function isStorageNotFound(err: unknown): err is StorageNotFoundError {
  return hasName(err, "StorageNotFoundError");
}

export function isDuplicateArtifact(err: unknown): err is DuplicateArtifactError {
  return hasName(err, "DuplicateArtifactError");
}

/** Keys can be 1 KiB of arbitrary text; messages show a bounded, escaped form. */
function quoteKey(key: string): string {
  const shown = key.length > 120 ? `${key.slice(0, 120)}…` : key;
  return JSON.stringify(shown);
}
