// Import tuning from the environment, validated once (the orchestrator's Config does not carry
// these yet): LABELPORT_IMPORT_ATOMIC_MODE forces the journal fallback for tests and for servers
// whose transactions are unreliable.
import { z } from "zod";
import type { ImportSettings } from "./import/pipeline.ts";
import { MAX_DEPTH, MAX_FILE_BYTES, MAX_LINE_BYTES } from "./import/reader.ts";

const envSchema = z.object({
  LABELPORT_IMPORT_ATOMIC_MODE: z.enum(["auto", "transaction", "journal"]).default("auto"),
  LABELPORT_IMPORT_TRANSACTION_MAX_BYTES: z.coerce.number().int().positive().optional(),
  LABELPORT_IMPORT_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(1000),
});

export function importSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ImportSettings {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join(".")}: ${issue?.message}`);
  }
  const e = result.data;
  return {
    atomicMode: e.LABELPORT_IMPORT_ATOMIC_MODE,
    batchSize: e.LABELPORT_IMPORT_BATCH_SIZE,
    maxFileBytes: MAX_FILE_BYTES,
    maxLineBytes: MAX_LINE_BYTES,
    maxDepth: MAX_DEPTH,
    ...(e.LABELPORT_IMPORT_TRANSACTION_MAX_BYTES
      ? { transactionMaxBytes: e.LABELPORT_IMPORT_TRANSACTION_MAX_BYTES }
      : {}),
    heartbeatMs: 5000,
    staleMs: 60_000,
  };
}
