// `npm start`: the orchestrator with the built-in plugins on the embedded default stack.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { startWorker, type Worker } from "@labelport/sdk";
import { loadExporter } from "@labelport/sdk/plugin-cli";
import { connect } from "nats";
import { DATA_DIR, startStack } from "./stack/index.ts";
import { freePort } from "./stack/processes.ts";

export const BUILTIN_PLUGINS = [
  "@labelport/plugin-json-snapshot",
  "@labelport/plugin-jsonl",
  "@labelport/plugin-coco",
  "@labelport/plugin-yolo",
  "@labelport/plugin-voc",
  "@labelport/plugin-csv",
];

const stateDir = join(DATA_DIR, "stack");
mkdirSync(stateDir, { recursive: true });
// A persistent replica set remembers its host:port, so keep the ports of the first run.
const portsFile = join(stateDir, "ports.json");
const ports: { mongo: number; nats: number } = existsSync(portsFile)
  ? JSON.parse(readFileSync(portsFile, "utf8"))
  : { mongo: await freePort(), nats: await freePort() };
writeFileSync(portsFile, JSON.stringify(ports));

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
// The built-in plugins run in this process on the same code path as `labelport-plugin run`.
const nats = await connect({ servers: stack.natsUrl, maxReconnectAttempts: -1, name: "labelport-builtin-plugins" });
const workers: Worker[] = [];
for (const name of BUILTIN_PLUGINS) {
  const exporter = await loadExporter(name);
  workers.push(await startWorker({ nats, exporter }));
  process.stdout.write(`plugin ${exporter.manifest.name}: ${exporter.manifest.formats.join(", ")}\n`);
}
process.stdout.write(`listening on ${orchestrator.url}\n`);

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
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
