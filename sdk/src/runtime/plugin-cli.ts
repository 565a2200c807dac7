// `labelport-plugin run <package-or-path>`: runs an exporter plugin as its own process.
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { connect, type NatsConnection } from "nats";
import { InitPluginError, initPlugin, nextSteps } from "../cli/plugin-init.ts";
import { PluginLoadError } from "../errors.ts";
import type { ExporterClass } from "../exporter.ts";
import { type ImporterClass, isImporterClass } from "../importer.ts";
import { validateManifest } from "../manifest.ts";
import { limitHeapGrowth } from "./heap-growth.ts";
import { startImportWorker } from "./import-worker.ts";
import { natsConnectOptions, PLUGIN_INBOX_PREFIX, redactUrl } from "./nats-connection.ts";
import { flushTracing, startTracing } from "./tracing.ts";
import { startWorker } from "./worker.ts";

const USAGE = `usage: labelport-plugin run <package-or-path>
       labelport-plugin init <name> [dir] [--sdk <spec>]

init writes a new exporter package (default ./<name>) whose tests pass; --sdk sets its
@labelport/sdk dependency (default ^<this SDK's version>, e.g. file:../labelport/sdk).
The plugin author's guide is docs/plugins.md.

run loads a package (or a folder or file) whose default export is a BaseExporter (or
BaseImporter) subclass and whose \`importers\` export lists its importers, registers them with
the orchestrator, takes its export jobs from NATS JetStream and its import jobs from NATS.

environment:
  NATS_URL      NATS server with JetStream (required), with the plugin user's credentials
                when the server has users: nats://plugin:<password>@127.0.0.1:4222
                (npm start writes it to .data/stack/nats/plugin.url)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, instance roles)
                credentials for S3 storages: the orchestrator never sends them
  ACK_WAIT_MS   redelivery timeout of the job consumer (default 30000)
  MAX_DELIVER   deliveries of one job before it fails (default 5)
  JOBS_IN_FLIGHT export jobs this process runs at once (default 1), and as many shards
                of split exports besides
  LABELPORT_SHARD_ANNOTATIONS annotations per shard of an export that leaves the count of
                shards to the worker (default 2000000; split only while two or more
                workers of the format are free)
  OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_TRACES_EXPORTER=otlp|console)
                send OpenTelemetry traces of the jobs (off when unset); OTEL_SERVICE_NAME
                and the other standard OTEL_* variables apply`;

/** The entry file of a plugin folder: its package.json `exports["."]`, `main`, or index.ts/js. */
function folderEntry(dir: string): string {
  const manifestPath = join(dir, "package.json");
  if (existsSync(manifestPath)) {
    const pkg = JSON.parse(readFileSync(manifestPath, "utf8")) as { exports?: unknown; main?: string };
    const root =
      typeof pkg.exports === "object" && pkg.exports !== null && "." in pkg.exports
        ? (pkg.exports as Record<string, unknown>)["."]
        : pkg.exports;
    const entry =
      typeof root === "string"
        ? root
        : ((root as { import?: string; default?: string } | undefined)?.import ??
          (root as { default?: string } | undefined)?.default ??
          pkg.main);
    if (entry) return join(dir, entry);
  }
  const index = ["index.ts", "index.js", "src/index.ts", "src/index.js"].map((f) => join(dir, f)).find(existsSync);
  if (!index) throw new PluginLoadError(`${dir} has no package.json entry and no index.ts/index.js`);
  return index;
}

/** What a plugin package provides: an exporter (its default export), importers, or both. */
export interface PluginModule {
  exporter?: ExporterClass;
  importers: ImporterClass[];
}

/**
 * The plugin in a module: its default export is an exporter or an importer class, and
 * `export const importers = [...]` adds importers (the runtime checks every manifest).
 */
export function pluginModuleOf(module: { default?: unknown; importers?: unknown }, spec: string): PluginModule {
  const importers: ImporterClass[] = [];
  let exporter: ExporterClass | undefined;
  if (isImporterClass(module.default)) importers.push(module.default);
  else if (typeof module.default === "function") exporter = module.default as ExporterClass;
  if (module.importers !== undefined) {
    if (!Array.isArray(module.importers) || !module.importers.every(isImporterClass)) {
      throw new PluginLoadError(`${spec}: \`importers\` must be an array of BaseImporter subclasses`);
    }
    // A default-exported importer may be listed in `importers` too: one worker each.
    for (const importer of module.importers as ImporterClass[]) {
      if (!importers.includes(importer)) importers.push(importer);
    }
  }
  if (!exporter && importers.length === 0) {
    throw new PluginLoadError(`${spec} has no default export (a BaseExporter or BaseImporter subclass)`);
  }
  return { ...(exporter ? { exporter } : {}), importers };
}

/** The exporter of a plugin (see loadPlugin); PluginLoadError when it has none. */
export async function loadExporter(spec: string): Promise<ExporterClass> {
  const { exporter } = await loadPlugin(spec);
  if (!exporter) throw new PluginLoadError(`${spec} has no exporter (its default export is an importer)`);
  return exporter;
}

/** Imports a plugin by package name (resolved from the working directory) or by path. */
export async function loadPlugin(spec: string): Promise<PluginModule> {
  const asPath = resolve(spec);
  const file = !existsSync(asPath)
    ? createRequire(join(process.cwd(), "noop.js")).resolve(spec)
    : statSync(asPath).isDirectory()
      ? folderEntry(asPath)
      : asPath;
  const url = pathToFileURL(file).href;
  let module: { default?: unknown; importers?: unknown };
  try {
    module = (await import(url)) as { default?: unknown; importers?: unknown };
  } catch (err) {
    // A CommonJS package fails in several ways (require of an ES module, a require cycle, `import`
    // syntax), depending on the Node version and tsx: any failure there gets the advice.
    if (isCommonJsFailure(err) || (packageType(file) === "commonjs" && !/\.m[jt]s$/.test(file))) {
      throw new PluginLoadError(`${spec}: ${(err as Error).message.split("\n")[0]}\n${commonJsAdvice(file)}`);
    }
    throw err;
  }
  if (typeof module.default !== "function" && module.importers === undefined) {
    const cjs = packageType(file) === "commonjs" ? `\n${commonJsAdvice(file)}` : "";
    throw new PluginLoadError(`${spec} has no default export (a BaseExporter subclass)${cjs}`);
  }
  return pluginModuleOf(module, spec);
}

/** How Node and tsx fail when a CommonJS package imports the SDK (ES modules only) or uses `import`. */
function isCommonJsFailure(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: string; message?: string };
  return (
    code?.startsWith("ERR_REQUIRE_") ||
    /Cannot use import statement outside a module|require\(\) of ES Module|exports is not defined in ES module scope/.test(
      message ?? "",
    )
  );
}

/** The `type` of the package.json nearest to `file`: "commonjs" when absent, as Node reads it. */
function packageType(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest))
      return (JSON.parse(readFileSync(manifest, "utf8")) as { type?: string }).type ?? "commonjs";
    if (dirname(dir) === dir) return "commonjs";
  }
}

function commonJsAdvice(file: string): string {
  return (
    `the plugin is loaded as CommonJS (package type "${packageType(file)}"), but @labelport/sdk is ES modules only: ` +
    `set "type": "module" in the plugin's package.json and default-export the exporter class ` +
    "(export default class MyExporter extends BaseExporter ...)"
  );
}

/** Connects as the plugin user; a refused connection or credentials say which server and what to do. */
async function connectToNats(natsUrl: string, name: string): Promise<NatsConnection> {
  const shown = redactUrl(natsUrl);
  try {
    return await connect({
      ...natsConnectOptions(natsUrl),
      inboxPrefix: PLUGIN_INBOX_PREFIX,
      maxReconnectAttempts: -1,
      name,
    });
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    if (code === "CONNECTION_REFUSED") {
      throw new Error(
        `cannot reach NATS at ${shown} (CONNECTION_REFUSED): start the stack (npm start prints the plugin's NATS_URL) ` +
          "or set NATS_URL to the server the orchestrator uses; a running stack writes it to .data/stack/nats/plugin.url",
      );
    }
    if (code === "AUTHORIZATION_VIOLATION" || /authorization violation/i.test((err as Error).message)) {
      throw new Error(
        `NATS at ${shown} refused the credentials (authorization violation): NATS_URL must carry the plugin ` +
          "user's password, nats://plugin:<password>@host:port, as .data/stack/nats/plugin.url has it",
      );
    }
    throw new Error(`cannot connect to NATS at ${shown}: ${(err as Error).message}`);
  }
}

/**
 * The CLI. `load` turns the spec into the exporter: sdk/bin/labelport-plugin.mjs passes a plugin's
 * prebuilt class through it (see sdk/bin/prebuilt-runtime.mjs). The manifest is checked before
 * anything connects.
 */
export async function main(
  argv: string[],
  load: (spec: string) => Promise<PluginModule> = loadPlugin,
): Promise<number> {
  const [command, spec] = argv;
  if (command === "init" && spec) return init(argv.slice(1));
  if (command !== "run" || !spec) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const natsUrl = process.env.NATS_URL;
  if (!natsUrl) {
    process.stderr.write(
      "NATS_URL is not set: point it at the NATS server the orchestrator uses, as the plugin user " +
        "(npm start prints it and writes it to .data/stack/nats/plugin.url)\n",
    );
    return 2;
  }
  limitHeapGrowth({ growthPercent: 20, fixedYoungGeneration: true });
  const plugin = await load(spec);
  const { exporter, importers } = plugin;
  const manifests = [...(exporter ? [exporter.manifest] : []), ...importers.map((i) => i.manifest)];
  for (const manifest of manifests) validateManifest(manifest);
  await startTracing(`labelport-plugin-${manifests[0]?.name ?? "plugin"}`);
  const nats = await connectToNats(natsUrl, `labelport-plugin-${manifests[0]?.name ?? "plugin"}`);
  const workers: Array<{ workerId: string; stop(): Promise<void> }> = [];
  // Said once every worker is up: "serving" means exports and imports are both taken.
  const banners: string[] = [];
  for (const importer of importers) {
    const worker = await startImportWorker({ nats, importer });
    workers.push(worker);
    const { name, version, formats } = importer.manifest;
    banners.push(`plugin ${name}@${version} importing ${formats.join(", ")} as ${worker.workerId}`);
  }
  if (exporter) {
    const worker = await startWorker({
      nats,
      exporter,
      ...(process.env.ACK_WAIT_MS ? { ackWaitMs: Number(process.env.ACK_WAIT_MS) } : {}),
      ...(process.env.MAX_DELIVER ? { maxDeliver: Number(process.env.MAX_DELIVER) } : {}),
      ...(process.env.JOBS_IN_FLIGHT ? { jobsInFlight: Number(process.env.JOBS_IN_FLIGHT) } : {}),
      ...(process.env.LABELPORT_SHARD_ANNOTATIONS
        ? { shardAnnotations: Number(process.env.LABELPORT_SHARD_ANNOTATIONS) }
        : {}),
    });
    workers.push(worker);
    const { name, version, formats } = exporter.manifest;
    banners.push(`plugin ${name}@${version} serving ${formats.join(", ")} as ${worker.workerId}`);
  } else {
    banners.push(`plugin serving imports of ${importers.flatMap((i) => i.manifest.formats).join(", ")}`);
  }
  process.stdout.write(`${banners.join("\n")}\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      Promise.all(workers.map((w) => w.stop()))
        .then(() => nats.drain())
        .then(flushTracing)
        .finally(done);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  return 0;
}

/** `init <name> [dir] [--sdk <spec>]` */
async function init(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { sdk: { type: "string" } }, allowPositionals: true });
  const [name = "", dir] = positionals;
  try {
    const written = await initPlugin({ name, ...(dir ? { dir } : {}), ...(values.sdk ? { sdkSpec: values.sdk } : {}) });
    process.stdout.write(nextSteps(written, name));
    return 0;
  } catch (err) {
    if (!(err instanceof InitPluginError)) throw err;
    process.stderr.write(`labelport-plugin init: ${err.message}\n`);
    return 2;
  }
}

/** Runs main() as the process: exits with its code, or 1 with the error's message. */
export function runMain(argv: string[], load?: (spec: string) => Promise<PluginModule>): void {
  main(argv, load).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`labelport-plugin: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) runMain(process.argv.slice(2));
