// The built-in plugins (builtin.json) and the SDK's plugin CLI as one prebuilt ES module bundle,
// so `labelport-plugin run @labelport/plugin-<name>` runs on plain node: tsx's loader thread costs
// each plugin process ~35 MB. Each built-in's package.json names this module as its prebuilt
// runtime (`labelport.prebuilt`), which the SDK's bin asks before falling back to the sources.
// esbuild (tsx's own dependency) builds the bundle into dist/plugin-runtime/ on first use and
// again whenever a file it was made from is newer; npm packages stay external, so they load from
// node_modules exactly as they do for the sources. Plain JavaScript: it runs before tsx.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const pluginsDir = import.meta.dirname;
const listFile = join(pluginsDir, "builtin.json");
const outRoot = join(pluginsDir, "dist", "plugin-runtime");
const currentFile = join(outRoot, "current.json");
/** Builds older than this, other than the current one, are removed by the next build. */
const KEEP_OLD_MS = 10 * 60 * 1000;

/** The built-in plugins: package name, entry file and package.json, resolved from this folder. */
function builtinPlugins() {
  const require = createRequire(join(pluginsDir, "noop.js"));
  return JSON.parse(readFileSync(listFile, "utf8")).map((name) => {
    const entry = realpathSync(require.resolve(name));
    return { name, entry, manifest: packageJsonOf(name, entry) };
  });
}

/** The package.json of package `name` that `file` belongs to. */
function packageJsonOf(name, file) {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate) && JSON.parse(readFileSync(candidate, "utf8")).name === name) return candidate;
  }
  throw new Error(`no package.json of ${name} above ${file}`);
}

/** The current build, when none of the files it was made from changed since it started. */
function freshBuild() {
  let current;
  try {
    current = JSON.parse(readFileSync(currentFile, "utf8"));
  } catch {
    return undefined;
  }
  const entry = join(outRoot, current.dir, "entry.mjs");
  if (!existsSync(entry)) return undefined;
  for (const input of current.inputs) {
    try {
      if (statSync(input).mtimeMs > current.startedAt) return undefined;
    } catch {
      return undefined;
    }
  }
  return { entry, builtins: current.builtins };
}

/** Builds in this process (the child that ensureBundle() starts). */
async function build() {
  const startedAt = Date.now();
  const esbuild = await import(pathToFileURL(createRequire(import.meta.url).resolve("esbuild")).href);
  const plugins = builtinPlugins();
  const id = `${startedAt}-${process.pid}`;
  mkdirSync(outRoot, { recursive: true });
  // Build output: kept out of git without touching the root .gitignore.
  const ignore = join(pluginsDir, "dist", ".gitignore");
  if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
  const outdir = join(outRoot, id);
  const contents = [
    `export { runMain } from "@labelport/sdk/plugin-cli";`,
    "export const builtins = {",
    ...plugins.map((p) => `  ${JSON.stringify(p.name)}: () => import(${JSON.stringify(p.name)}),`),
    "};",
  ].join("\n");
  const sdkManifests = [];
  const result = await esbuild.build({
    stdin: { contents, resolveDir: pluginsDir, sourcefile: "<plugin-runtime>", loader: "js" },
    absWorkingDir: pluginsDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outdir,
    entryNames: "entry",
    chunkNames: "[name]-[hash]",
    outExtension: { ".js": ".mjs" },
    metafile: true,
    logLevel: "warning",
    plugins: [
      {
        name: "labelport-plugin-runtime",
        setup(b) {
          // npm packages load from node_modules at run time; the workspace's own (TypeScript) are bundled.
          b.onResolve({ filter: /^[^./]/ }, (args) =>
            args.path.startsWith("@labelport/") || args.kind === "entry-point" ? undefined : { external: true },
          );
          // The SDK's version.ts reads ../package.json next to itself, which the bundle does not have.
          b.onLoad({ filter: /[\\/]sdk[\\/]src[\\/]version\.ts$/ }, (args) => {
            const manifest = join(dirname(args.path), "..", "package.json");
            sdkManifests.push(manifest);
            const { version } = JSON.parse(readFileSync(manifest, "utf8"));
            return { contents: `export const SDK_VERSION = ${JSON.stringify(version)};`, loader: "ts" };
          });
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.startsWith("<"))
    .map((input) => resolve(pluginsDir, input));
  inputs.push(listFile, ...sdkManifests, ...plugins.map((p) => p.manifest));
  const builtins = Object.fromEntries(plugins.map((p) => [p.name, p.entry]));
  const staging = `${currentFile}.${process.pid}`;
  writeFileSync(staging, JSON.stringify({ dir: id, startedAt, inputs, builtins }, null, 2));
  renameSync(staging, currentFile);
  for (const dir of readdirSync(outRoot)) {
    const path = join(outRoot, dir);
    if (dir !== id && dir !== "current.json" && Date.now() - statSync(path).mtimeMs > KEEP_OLD_MS) {
      rmSync(path, { recursive: true, force: true });
    }
  }
}

/** The bundle's entry and built-in plugins, building it first when stale; throws when it cannot. */
function ensureBundle() {
  const fresh = freshBuild();
  if (fresh) return fresh;
  // In a child process, so a plugin process never loads esbuild.
  const child = spawnSync(process.execPath, [import.meta.filename, "--build"], { encoding: "utf8" });
  if (child.status !== 0) throw new Error(`bundle build failed: ${(child.stderr || child.stdout || "").trim()}`);
  const built = freshBuild();
  if (!built) throw new Error("bundle build left no fresh bundle (a source changed while it ran?)");
  return built;
}

/**
 * The prebuilt runtime the SDK's bin asks for (sdk/bin/prebuilt-runtime.mjs): for `spec` naming a
 * built-in plugin whose package resolved to `entry` (the file the sources would run), the bundle's
 * runMain, the plugin's exporter class and its importer classes; undefined for any other plugin. Throws when the bundle
 * cannot be built or loaded (the bin then runs the sources).
 */
export async function load(spec, entry) {
  if (!JSON.parse(readFileSync(listFile, "utf8")).includes(spec)) return undefined;
  const bundle = ensureBundle();
  if (bundle.builtins[spec] !== entry) return undefined;
  const runtime = await import(pathToFileURL(bundle.entry).href);
  const module = await runtime.builtins[spec]();
  const importers = [...(module.importers ?? [])];
  // An importer-only package default-exports its importer (it has an `import` method).
  const defaultIsImporter = typeof module.default?.prototype?.import === "function";
  if (defaultIsImporter) importers.unshift(module.default);
  return { runMain: runtime.runMain, exporter: defaultIsImporter ? undefined : module.default, importers };
}

if (process.argv[2] === "--build" && import.meta.filename === resolve(process.argv[1] ?? "")) {
  await build();
}
