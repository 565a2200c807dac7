// The plugin CLI and the built-in plugins (../plugins/*) as a prebuilt ES module bundle, so
// `labelport-plugin run @labelport/plugin-<name>` runs on plain node: tsx's loader thread costs each
// plugin process ~35 MB. esbuild (tsx's own dependency) builds it into sdk/dist/plugin-runtime/ on
// first use and again whenever a file it was made from is newer; npm packages stay external, so they
// load from node_modules exactly as they do for the sources. Plain JavaScript: it runs before tsx.
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
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const sdkDir = resolve(import.meta.dirname, "..");
const pluginsDir = resolve(sdkDir, "..", "plugins");
const outRoot = join(sdkDir, "dist", "plugin-runtime");
const currentFile = join(outRoot, "current.json");
/** Builds older than this, other than the current one, are removed by the next build. */
const KEEP_OLD_MS = 10 * 60 * 1000;

/** Folders of ../plugins whose package.json names a TypeScript entry: the built-in plugins. */
function builtinPlugins() {
  if (!existsSync(pluginsDir)) return [];
  return readdirSync(pluginsDir).flatMap((dir) => {
    const manifestPath = join(pluginsDir, dir, "package.json");
    if (!existsSync(manifestPath)) return [];
    const pkg = JSON.parse(readFileSync(manifestPath, "utf8"));
    const entry = typeof pkg.exports === "string" ? pkg.exports : pkg.exports?.["."];
    if (typeof pkg.name !== "string" || typeof entry !== "string") return [];
    return [{ name: pkg.name, entry: join(pluginsDir, dir, entry), manifest: manifestPath }];
  });
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
  if (builtinPlugins().some((plugin) => !(plugin.name in current.builtins))) return undefined;
  return { entry, builtins: current.builtins };
}

/** Builds in this process (the child that ensureBundle() starts). */
async function build() {
  const startedAt = Date.now();
  const esbuild = await import(pathToFileURL(createRequire(import.meta.url).resolve("esbuild")).href);
  const plugins = builtinPlugins();
  const sdkManifest = join(sdkDir, "package.json");
  const { version } = JSON.parse(readFileSync(sdkManifest, "utf8"));
  const id = `${startedAt}-${process.pid}`;
  mkdirSync(outRoot, { recursive: true });
  // Build output: kept out of git without touching the root .gitignore.
  const ignore = join(sdkDir, "dist", ".gitignore");
  if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
  const outdir = join(outRoot, id);
  const contents = [
    `export { checkManifest } from ${JSON.stringify(join(sdkDir, "src/runtime/worker.ts"))};`,
    `export { runMain } from ${JSON.stringify(join(sdkDir, "src/runtime/plugin-cli.ts"))};`,
    "export const builtins = {",
    ...plugins.map((p) => `  ${JSON.stringify(p.name)}: () => import(${JSON.stringify(p.entry)}),`),
    "};",
  ].join("\n");
  const result = await esbuild.build({
    stdin: { contents, resolveDir: sdkDir, sourcefile: "<plugin-runtime>", loader: "js" },
    absWorkingDir: sdkDir,
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
          // version.ts reads ../package.json next to itself, which the bundle does not have.
          b.onLoad({ filter: /[\\/]sdk[\\/]src[\\/]version\.ts$/ }, () => ({
            contents: `export const SDK_VERSION = ${JSON.stringify(version)};`,
            loader: "ts",
          }));
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs)
    .filter((input) => !input.startsWith("<"))
    .map((input) => resolve(sdkDir, input));
  inputs.push(sdkManifest, ...plugins.map((p) => p.manifest));
  const builtins = Object.fromEntries(plugins.map((p) => [p.name, realpathSync(p.entry)]));
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
 * For `spec` naming a built-in plugin package (and resolving, from the working directory, to the
 * built-in's own entry): the bundle's runMain and the plugin's exporter class. Undefined for any
 * other spec, with LABELPORT_PLUGIN_BUNDLE=0, or when the bundle cannot be built or loaded (the
 * caller then runs the sources through tsx, as for any plugin).
 */
export async function loadBuiltin(spec) {
  if (process.env.LABELPORT_PLUGIN_BUNDLE === "0") return undefined;
  const plugin = builtinPlugins().find((p) => p.name === spec);
  if (!plugin) return undefined;
  try {
    const resolved = realpathSync(createRequire(join(process.cwd(), "noop.js")).resolve(spec));
    if (resolved !== realpathSync(plugin.entry)) return undefined;
    const bundle = ensureBundle();
    if (bundle.builtins[spec] !== resolved) return undefined;
    const runtime = await import(pathToFileURL(bundle.entry).href);
    const exporter = (await runtime.builtins[spec]()).default;
    runtime.checkManifest(exporter);
    return { runMain: runtime.runMain, exporter };
  } catch (err) {
    process.stderr.write(`labelport-plugin: running ${spec} from its sources (${err.message})\n`);
    return undefined;
  }
}

if (process.argv[2] === "--build" && import.meta.filename === resolve(process.argv[1] ?? "")) {
  await build();
}
