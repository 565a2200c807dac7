// The SDK's error vocabulary for plugins: what a plugin module, its manifest or an export's
// options got wrong, and which failures another attempt cannot fix. Guards compare `name` (and a
// ConnectError's code), never classes, as nats.js and unstorage do: a plugin bundled with its own
// copy of the SDK throws errors that another copy in the same process must still recognise. The
// storage layer's errors (storage/errors.ts) are built the same way.
import { Code, ConnectError } from "@connectrpc/connect";
import { isInvalidStorageKey } from "./storage/errors.ts";

export class LabelportError extends Error {
  override name = "LabelportError";
}

/** A plugin module that is not a plugin: no default export, a folder without an entry. */
export class PluginLoadError extends LabelportError {
  override name = "PluginLoadError";
}

/** A plugin manifest that cannot be loaded or registered. */
export class ManifestError extends LabelportError {
  override name = "ManifestError";
  /** The manifest field at fault: "name", "formats[1]", ... ("" for the manifest itself). */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(field ? `manifest ${field}: ${problem}` : `manifest: ${problem}`);
    this.field = field;
  }
}

export interface OptionIssue {
  /** Dotted path of the option ("" for the options object itself). */
  path: string;
  message: string;
}

/** Export options the exporter's schema refuses. */
export class OptionsError extends LabelportError {
  override name = "OptionsError";
  readonly issues: readonly OptionIssue[];
  /** The path of the first option at fault ("" for the options object itself). */
  readonly field: string;

  constructor(issues: readonly OptionIssue[]) {
    super(`invalid options: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`);
    this.issues = issues;
    this.field = issues[0]?.path ?? "";
  }
}

/**
 * An upload an importer cannot read: not the format, a broken ZIP, a file missing or malformed.
 * The message names the file (and the line or field when there is one); the user must fix the upload.
 */
export class ImportSourceError extends LabelportError {
  override name = "ImportSourceError";
}

const LABELPORT_ERROR_NAMES: ReadonlySet<string> = new Set([
  "LabelportError",
  "PluginLoadError",
  "ManifestError",
  "OptionsError",
  "ImportSourceError",
  "MissingMediaError",
]);

function nameOf(err: unknown): string | undefined {
  const name = typeof err === "object" && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === "string" ? name : undefined;
}

export function isLabelportError(err: unknown): err is LabelportError {
  return LABELPORT_ERROR_NAMES.has(nameOf(err) ?? "");
}

export function isPluginLoadError(err: unknown): err is PluginLoadError {
  return nameOf(err) === "PluginLoadError";
}

export function isManifestError(err: unknown): err is ManifestError {
  return nameOf(err) === "ManifestError";
}

export function isOptionsError(err: unknown): err is OptionsError {
  return nameOf(err) === "OptionsError";
}

export function isImportSourceError(err: unknown): err is ImportSourceError {
  return nameOf(err) === "ImportSourceError";
}

/** Codes of orchestrator answers that another attempt cannot change. */
const PERMANENT_CODES: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.FailedPrecondition,
  Code.Unauthenticated,
]);

/**
 * Whether another attempt of the same job would fail the same way: a bad plugin, manifest, options
 * or storage key, or an orchestrator answer such as NotFound. (ConnectError's own `instanceof`
 * compares name and code, so it recognises errors from any copy of connect.)
 */
export function isPermanentError(err: unknown): boolean {
  if (isPluginLoadError(err) || isManifestError(err) || isOptionsError(err) || isInvalidStorageKey(err)) return true;
  // onMissingMedia "fail": the same originals are missing on the next attempt (export-layout.ts).
  if (nameOf(err) === "MissingMediaError") return true;
  // A shard of a split export that failed for good already used its own retries (runtime/split-export.ts).
  if (nameOf(err) === "ShardFailedError") return true;
  return err instanceof ConnectError && PERMANENT_CODES.has(err.code);
}
