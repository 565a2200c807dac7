// A plugin package may ship a prebuilt runtime, so `labelport-plugin run <package>` starts on
// plain node instead of tsx (whose loader thread costs each plugin process ~35 MB): its
// package.json names, under `labelport.prebuilt`, a plain-JS module exporting
// `load(spec, entry)`, which returns `{ runMain, exporter, importers }` (plugin-cli.ts's runMain,
// the exporter class and the importer classes, from a bundle of them) or undefined. The SDK knows no plugin: the built-in ones
// declare plugins/builtin-bundle.mjs. Plain JavaScript: it runs before tsx.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The package.json of package `name` that `file` belongs to, or undefined. */
function packageJsonOf(name, file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, "utf8")).name === name) return candidate;
  }
  return undefined;
}

/**
 * For `spec` naming a package (resolved from `cwd`) that declares a prebuilt runtime: what that
 * runtime's load() returns. Undefined for a path, a package without one, with
 * LABELPORT_PLUGIN_BUNDLE=0, or when the runtime fails (said on stderr): the caller then runs the
 * plugin from its sources through tsx, as any other.
 */
export async function loadPrebuilt(spec, cwd = process.cwd()) {
  if (process.env.LABELPORT_PLUGIN_BUNDLE === "0" || existsSync(resolve(cwd, spec))) return undefined;
  let entry;
  try {
    entry = realpathSync(createRequire(join(cwd, "noop.js")).resolve(spec));
  } catch {
    return undefined; // not installed: the sources path says so
  }
  const manifestPath = packageJsonOf(spec, entry);
  const prebuilt = manifestPath && JSON.parse(readFileSync(manifestPath, "utf8")).labelport?.prebuilt;
  if (typeof prebuilt !== "string") return undefined;
  try {
    const runtime = await import(pathToFileURL(resolve(dirname(manifestPath), prebuilt)).href);
    return await runtime.load(spec, entry);
  } catch (err) {
    process.stderr.write(`labelport-plugin: running ${spec} from its sources (${err.message})\n`);
    return undefined;
  }
}
