// Orchestrator configuration from the environment, validated once at start-up.
import { z } from "zod";

const port = z.coerce.number().int().min(0).max(65535);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

const apiKey = z
  .string()
  .regex(/^[^:]+:(viewer|editor|admin):.+$/, "expected name:role:key with role viewer, editor or admin");

export const configSchema = z.object({
  PORT: port.default(8080),
  HOST: z.string().min(1).default("127.0.0.1"),
  MONGODB_URL: z.string().regex(/^mongodb(\+srv)?:\/\//, "expected a mongodb:// or mongodb+srv:// URL"),
  MONGODB_DB: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,63}$/, "expected a database name")
    .default("labelport"),
  NATS_URL: z.string().regex(/^(nats|tls|ws|wss):\/\//, "expected a nats:// URL"),
  DATA_DIR: z.string().min(1).default(".data"),
  /** Base URL written into download links; defaults to http://HOST:PORT. */
  PUBLIC_URL: z.url().optional(),
  /** Secret for signed download URLs; a random one is generated per process when unset. */
  SIGNING_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  /** Comma-separated name:role:key entries. Without keys the server only binds to loopback. */
  API_KEYS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const entries = (v ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const entry of entries) {
        const parsed = apiKey.safeParse(entry);
        if (!parsed.success) {
          ctx.addIssue({
            code: "custom",
            message: `entry "${entry.split(":")[0]}": ${parsed.error.issues[0]?.message}`,
          });
          return z.NEVER;
        }
      }
      return entries.map((entry) => {
        const [name = "", role = "", ...key] = entry.split(":");
        return { name, role: role as "viewer" | "editor" | "admin", key: key.join(":") };
      });
    }),
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  /** Start the built-in exporter plugins in this process. */
  BUILTIN_PLUGINS: bool.default(true),
});

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment; a bad value becomes one line naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const result = configSchema.safeParse(env);
  if (result.success) {
    const config = result.data;
    if ((config.TLS_CERT_FILE === undefined) !== (config.TLS_KEY_FILE === undefined)) {
      throw new ConfigError("invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be set together");
    }
    return config;
  }
  const issue = result.error.issues[0];
  const variable = issue?.path.join(".") ?? "?";
  const value = env[variable];
  const shown =
    value === undefined
      ? "unset"
      : `got ${JSON.stringify(variable === "API_KEYS" || variable === "SIGNING_SECRET" ? "***" : value)}`;
  throw new ConfigError(`invalid configuration: ${variable}: ${issue?.message ?? "invalid"} (${shown})`);
}
