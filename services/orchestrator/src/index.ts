export { type Orchestrator, startOrchestrator } from "./app.ts";
export { type Config, ConfigError, configSchema, loadConfig } from "./config.ts";
export type { Context, FeatureModule } from "./context.ts";
export { createLogger, type Logger } from "./logger.ts";
