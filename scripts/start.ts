// `npm start`: the orchestrator with the built-in plugins on the embedded default stack.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { DATA_DIR, startStack } from "./stack/index.ts";
import { freePort } from "./stack/processes.ts";

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
process.stdout.write(`listening on ${orchestrator.url}\n`);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "shutting down");
  await orchestrator.close();
  await stack.stop();
  process.exit(0);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
