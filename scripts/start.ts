// `npm start`: the orchestrator with the built-in plugins on the embedded default stack.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { loadPlugin } from "@labelport/sdk/plugin-cli";
import {
  limitHeapGrowth,
  loadMediaSources,
  type MediaSources,
  natsConnectOptions,
  PLUGIN_INBOX_PREFIX,
  startImportWorker,
  startWorker,
} from "@labelport/sdk/runtime";
import { connect } from "nats";
import { DATA_DIR, ROOT, startStack } from "./stack/index.ts";
import { freePort } from "./stack/processes.ts";

/** The one list of built-in plugins, which plugins/builtin-bundle.mjs bundles too. */
const BUILTIN_PLUGINS = JSON.parse(readFileSync(join(ROOT, "plugins", "builtin.json"), "utf8")) as string[];

limitHeapGrowth({ growthPercent: 100, fixedYoungGeneration: false });
const stateDir = join(DATA_DIR, "stack");
mkdirSync(stateDir, { recursive: true });
// A persistent replica set remembers its host:port, so keep the ports of the first run.
const portsFile = join(stateDir, "ports.json");
const ports: { mongo: number; nats: number } = existsSync(portsFile)
  ? JSON.parse(readFileSync(portsFile, "utf8"))
  : { mongo: await freePort(), nats: await freePort() };
writeFileSync(portsFile, JSON.stringify(ports));

// The in-process export workers read media sources as any worker does; a bad value stops here.
let mediaSources: MediaSources;
try {
  mediaSources = loadMediaSources(process.env);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}

process.stdout.write("starting MongoDB and NATS...\n");
const stack = await startStack({ stateDir, ports });
process.stdout.write(`mongodb: ${stack.sources.mongo}\nnats:    ${stack.sources.nats}\n`);
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig({ DATA_DIR, ...process.env, MONGODB_URL: stack.mongoUrl, NATS_URL: stack.natsUrl });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  await stack.stop();
  process.exit(1);
}
const log = createLogger(config.LOG_LEVEL);
const orchestrator = await startOrchestrator(config, log).catch(async (err: Error) => {
  process.stderr.write(`orchestrator failed to start: ${err.message}\n`);
  await stack.stop();
  process.exit(1);
});
// The built-in plugins run in this process on the same code path as `labelport-plugin run`,
// as the NATS `plugin` user when the stack made the users (else with the NATS_URL given).
const pluginNatsUrl = stack.natsUrlFor?.("plugin") ?? stack.natsUrl;
const nats = await connect({
  ...natsConnectOptions(pluginNatsUrl),
  inboxPrefix: PLUGIN_INBOX_PREFIX,
  maxReconnectAttempts: -1,
  name: "labelport-builtin-plugins",
});
// They share this process with the orchestrator, so they may use its S3 credentials.
const s3Credentials =
  config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
    ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
    : undefined;
const workers: Array<{ stop(): Promise<void> }> = [];
const credentials = s3Credentials ? { s3Credentials } : {};
for (const name of BUILTIN_PLUGINS) {
  const { exporter, importers } = await loadPlugin(name);
  if (exporter) {
    workers.push(await startWorker({ nats, exporter, mediaSources, ...credentials }));
    process.stdout.write(`plugin ${exporter.manifest.name}: exports ${exporter.manifest.formats.join(", ")}\n`);
  }
  for (const importer of importers) {
    workers.push(await startImportWorker({ nats, importer, ...credentials }));
    process.stdout.write(`plugin ${importer.manifest.name}: imports ${importer.manifest.formats.join(", ")}\n`);
  }
}
const shown = (path: string) => (path.startsWith(`${ROOT}/`) ? relative(ROOT, path) : path);
const withoutPassword = (url: string) => url.replace(/\/\/[^@/]*@/, "//");
let natsLine = withoutPassword(stack.natsUrl);
let attachLine = `NATS_URL=<a NATS URL with a user> node sdk/bin/labelport-plugin.mjs run <package-or-folder>`;
if (stack.natsUrlFor) {
  // Other plugins and triggers read their NATS_URL (with a password) from files only this user can read.
  const natsDir = join(stateDir, "nats");
  for (const user of ["plugin", "trigger"] as const) {
    writeFileSync(join(natsDir, `${user}.url`), `${stack.natsUrlFor(user)}\n`, { mode: 0o600 });
  }
  natsLine += ` (users orchestrator, plugin, trigger; passwords in ${shown(join(natsDir, "users.json"))})`;
  attachLine = `NATS_URL="$(cat ${shown(join(natsDir, "plugin.url"))})" node sdk/bin/labelport-plugin.mjs run <package-or-folder>`;
}
const storage =
  config.DEFAULT_STORAGE === "s3"
    ? `S3 bucket ${config.S3_BUCKET}${config.S3_ENDPOINT ? ` at ${config.S3_ENDPOINT}` : ""}`
    : `local disk, ${shown(resolve(config.STORAGE_LOCAL_ROOT ?? join(config.DATA_DIR, "storage")))}`;
const database = process.env.MONGODB_URL
  ? `${withoutPassword(process.env.MONGODB_URL)}, database ${config.MONGODB_DB}`
  : `MongoDB files in ${shown(join(stateDir, "mongo"))}, database ${config.MONGODB_DB}`;
const authentication =
  config.API_KEYS.length > 0
    ? `on: ${config.API_KEYS.length} API key(s); send X-API-Key or Authorization: Bearer`
    : "off, loopback only; to turn it on set API_KEYS=name:role:key,... (roles viewer, editor, admin; see docs/security.md)";
process.stdout.write(
  [
    "",
    "Labelport is up",
    `  API (gRPC, Connect, REST)  ${orchestrator.url}`,
    `  web console                ${orchestrator.url}/`,
    `  NATS                       ${natsLine}`,
    `  attach a plugin            ${attachLine}`,
    `  data                       ${database}`,
    `  exports                    ${storage}`,
    `  media sources              ${mediaSources.names.length > 0 ? mediaSources.names.join(", ") : "none (relative keys only; see LABELPORT_MEDIA_SOURCES)"}`,
    `  authentication             ${authentication}`,
    `listening on ${orchestrator.url}`,
    "",
  ].join("\n"),
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  await Promise.all(workers.map((w) => w.stop()));
  await nats.drain();
  await orchestrator.close();
  await stack.stop();
  process.exit(0);
}
// `on`, not `once`: Ctrl-C reaches this process twice (from the terminal and from the bootstrap).
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
