// Entry point: `tsx services/orchestrator/src/main.ts` with MONGODB_URL and NATS_URL set.
import { limitHeapGrowth } from "@labelport/sdk/runtime";
import { startOrchestrator } from "./app.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";

async function main(): Promise<void> {
  limitHeapGrowth({ growthPercent: 100, fixedYoungGeneration: false });
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  const orchestrator = await startOrchestrator(config, log);
  process.stdout.write(`listening on ${orchestrator.url}\n`);
  const shutdown = (signal: string) => {
    log.info({ signal }, "shutting down");
    orchestrator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err: unknown) => {
  process.stderr.write(`orchestrator failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});
