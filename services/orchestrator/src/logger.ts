// Structured JSON logs on stdout (pino).
import { pino } from "pino";

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "orchestrator" }, timestamp: pino.stdTimeFunctions.isoTime });
}
