// Where an export's files live. Every export owns one prefix derived from its id, and a caller's
// `path` only names a folder inside it: each attempt starts by deleting its prefix, so a prefix a
// caller could choose outright ("exports", or another export's) would erase other exports.
import { InvalidStorageKeyError } from "./errors.ts";
import { validateKey } from "./keys.ts";

/** Regular exports: `exports/<exportId>[/<path>]`. */
export const EXPORTS_FOLDER = "exports";
/** Artifact snapshots of the snapshot API: `exports/snapshots/<exportId>`. */
export const SNAPSHOTS_FOLDER = `${EXPORTS_FOLDER}/snapshots`;

/**
 * The prefix of export `exportId`: `exports/<exportId>`, or `exports/<exportId>/<path>` when the
 * caller names a folder. `path` is relative to the export's own folder (one trailing `/` is
 * dropped); an absolute, traversing or otherwise invalid one throws InvalidStorageKeyError.
 */
export function exportPrefix(exportId: string, path = ""): string {
  const root = `${EXPORTS_FOLDER}/${exportSegment(exportId)}`;
  const folder = path.endsWith("/") ? path.slice(0, -1) : path;
  if (path === "") return root;
  validateKey(folder);
  const prefix = `${root}/${folder}`;
  validateKey(prefix);
  return prefix;
}

/** The prefix of an artifact snapshot export: `exports/snapshots/<exportId>`. */
export function snapshotPrefix(exportId: string): string {
  return `${SNAPSHOTS_FOLDER}/${exportSegment(exportId)}`;
}

/**
 * True when `prefix` belongs to export `exportId` alone: `exports/<id>`, a folder below it, or
 * `exports/snapshots/<id>`. Ids are single segments other than `snapshots`, so no two exports'
 * prefixes are equal or nested.
 */
export function isOwnExportPrefix(exportId: string, prefix: string): boolean {
  try {
    validateKey(prefix);
    const root = exportPrefix(exportId);
    return prefix === root || prefix.startsWith(`${root}/`) || prefix === snapshotPrefix(exportId);
  } catch {
    return false;
  }
}

/** `prefix` when it belongs to `exportId` alone; InvalidStorageKeyError otherwise. */
export function ownExportPrefix(exportId: string, prefix: string): string {
  if (!isOwnExportPrefix(exportId, prefix)) {
    throw new InvalidStorageKeyError(prefix, `not a prefix of export ${JSON.stringify(exportId)} alone`);
  }
  return prefix;
}

function exportSegment(exportId: string): string {
  validateKey(exportId);
  if (exportId.includes("/") || `${EXPORTS_FOLDER}/${exportId}` === SNAPSHOTS_FOLDER) {
    throw new InvalidStorageKeyError(exportId, "an export id must be one path segment other than snapshots");
  }
  return exportId;
}
