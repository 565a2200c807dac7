// Starts an orchestrator in this test process against the run's real MongoDB and NATS,
// on a free port with its own database, and drops that database on close.
import { randomUUID } from "node:crypto";
import { createLogger, loadConfig, type Orchestrator, startOrchestrator } from "@labelport/orchestrator";
import { inject } from "vitest";

export interface TestOrchestrator extends Orchestrator {
  /** Database name, unique per instance. */
  readonly dbName: string;
}

export async function startTestOrchestrator(env: Record<string, string> = {}): Promise<TestOrchestrator> {
  const dbName = `t_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const config = loadConfig({
    MONGODB_URL: inject("mongoUrl"),
    NATS_URL: inject("natsUrl"),
    MONGODB_DB: dbName,
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    ...env,
  });
  const orchestrator = await startOrchestrator(config, createLogger(config.LOG_LEVEL));
  let closing: Promise<void> | undefined;
  return {
    ...orchestrator,
    dbName,
    close() {
      closing ??= (async () => {
        await orchestrator.database.db.dropDatabase().catch(() => undefined);
        await orchestrator.close();
      })();
      return closing;
    },
  };
}
