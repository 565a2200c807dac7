// What a plugin manifest must be, written once: the plugin runtime checks it when it loads a
// plugin, the conformance kit runs the same check, and the orchestrator refuses a registration
// whose formats break the same format rule. A manifest the kit accepts therefore always loads.
import { satisfies } from "semver";
import { ManifestError } from "./errors.ts";
import type { ExporterManifest } from "./exporter.ts";
import { SDK_VERSION } from "./version.ts";

/**
 * A format is one token of the job subject (`labelport.jobs.<format>`) and part of the durable
 * consumer's name (`exporter-<format>`): a `.` would split the subject and NATS refuses it in a
 * consumer name, and `*`/`>` are wildcards. Hence lowercase letters, digits and `-`, at most 64.
 */
const FORMAT_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** A plugin's name: shown to users and in NATS connection names; npm's length limit. */
const PLUGIN_NAME = /^[a-z0-9][a-z0-9-]{0,213}$/;
/** A semver version without build metadata, at most 64 characters (what the orchestrator stores). */
const VERSION = /^(?=.{1,64}$)\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const MAX_FORMATS = 64;

/** Whether `format` may name an export format: one NATS subject token, see FORMAT_NAME. */
export function isFormatName(format: string): boolean {
  return FORMAT_NAME.test(format);
}

/** The manifest when a plugin may run with it on this SDK; else a ManifestError naming the field. */
export function validateManifest(manifest: unknown): ExporterManifest {
  if (typeof manifest !== "object" || manifest === null) {
    throw new ManifestError("", "the exporter has no static manifest {name, version, formats, sdk}");
  }
  const { name, version, formats, sdk, description } = manifest as Record<string, unknown>;
  if (typeof name !== "string" || !PLUGIN_NAME.test(name)) {
    throw new ManifestError("name", `${shown(name)} must be lowercase letters, digits and -, at most 214`);
  }
  if (typeof version !== "string" || !VERSION.test(version)) {
    throw new ManifestError("version", `${shown(version)} must be a semver version such as 1.0.0`);
  }
  if (!Array.isArray(formats) || formats.length === 0 || formats.length > MAX_FORMATS) {
    throw new ManifestError("formats", `expected 1 to ${MAX_FORMATS} format names`);
  }
  for (const [index, format] of formats.entries()) {
    if (typeof format !== "string" || !isFormatName(format)) {
      throw new ManifestError(
        `formats[${index}]`,
        `${shown(format)} must be lowercase letters, digits and -, at most 64 (it is a NATS subject token)`,
      );
    }
    if (formats.indexOf(format) !== index) throw new ManifestError(`formats[${index}]`, `"${format}" is listed twice`);
  }
  if (typeof sdk !== "string" || !satisfies(SDK_VERSION, sdk)) {
    throw new ManifestError(
      "sdk",
      `plugin ${name}@${version} needs @labelport/sdk ${shown(sdk)}; this is ${SDK_VERSION}`,
    );
  }
  if (description !== undefined && typeof description !== "string") {
    throw new ManifestError("description", "must be a string");
  }
  return manifest as ExporterManifest;
}

/** A bounded rendering of a value from a manifest, for messages. */
function shown(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
