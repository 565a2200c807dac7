export { type Deps, type Orchestrator, startOrchestrator } from "./app.ts";
export { type Config, ConfigError, configSchema, loadConfig } from "./config.ts";
export { createLogger, type Logger } from "./logger.ts";
