// Orchestrator configuration from the environment, validated once at start-up.
import { redactUrl } from "@labelport/sdk/runtime";
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
  /** Replicas of each JetStream stream: 1 on a single server, 3 on a NATS cluster (docs/deploy.md). */
  NATS_STREAM_REPLICAS: z.coerce.number().int().min(1).max(5).default(1),
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
  /** Root of the `local` storage; default <DATA_DIR>/storage. */
  STORAGE_LOCAL_ROOT: z.string().min(1).optional(),
  /** An S3-compatible storage named `s3`, when S3_BUCKET is set. */
  S3_BUCKET: z.string().min(3).optional(),
  S3_REGION: z.string().min(1).default("us-east-1"),
  S3_ENDPOINT: z.url().optional(),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  S3_FORCE_PATH_STYLE: bool.default(true),
  /** Storage used when an export names none. */
  DEFAULT_STORAGE: z.enum(["local", "s3"]).default("local"),
  /** Days a completed export stays downloadable. */
  EXPORT_TTL_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  // HTTP surface limits (docs/security.md): every connection and body is bounded.
  /** A client must send a request's headers (and a new connection its first bytes) within this. */
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(20_000),
  /** A client must send a whole request, body included, within this; responses are not limited. */
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).default(300_000),
  /** An HTTP/1.1 connection with no request in flight is closed after this. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).default(5_000),
  /** An HTTP/2 connection with no open stream is closed after this. */
  HTTP_IDLE_TIMEOUT_MS: z.coerce.number().int().min(100).default(60_000),
  HTTP2_MAX_CONCURRENT_STREAMS: z.coerce.number().int().min(1).default(100),
  /** Open connections one client address may hold. */
  HTTP_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(1).default(256),
  /** Largest RPC message, compressed and decompressed. */
  RPC_MAX_MESSAGE_BYTES: z.coerce.number().int().min(1024).default(33_554_432),
  /** Largest REST request body (the import routes allow their file limit). */
  REST_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1_048_576),
  /** Comma-separated origins (https://app.example.com) browsers may call this API from. */
  CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const origins = (v ?? "")
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      for (const origin of origins) {
        if (!URL.canParse(origin) || new URL(origin).origin !== origin) {
          ctx.addIssue({ code: "custom", message: `"${origin}" is not an origin like https://app.example.com` });
          return z.NEVER;
        }
      }
      return origins;
    }),
  // Imports (data/import): the journal fallback can be forced, for tests and for servers whose
  // transactions are unreliable.
  /** auto: a transaction when the server has them and the file fits one, else the undo journal. */
  LABELPORT_IMPORT_ATOMIC_MODE: z.enum(["auto", "transaction", "journal"]).default("auto"),
  /** Largest file imported in one transaction; unset: derived from the server's cache size. */
  LABELPORT_IMPORT_TRANSACTION_MAX_BYTES: z.coerce.number().int().positive().optional(),
  /** Lines per import batch. */
  LABELPORT_IMPORT_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Largest upload an import accepts, enforced while it streams (seed 001: 100 MB). */
  LABELPORT_IMPORT_MAX_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(100 * 1024 * 1024),
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
    if (config.DEFAULT_STORAGE === "s3" && !config.S3_BUCKET) {
      throw new ConfigError("invalid configuration: DEFAULT_STORAGE: s3 needs S3_BUCKET");
    }
    if ((config.TLS_CERT_FILE === undefined) !== (config.TLS_KEY_FILE === undefined)) {
      throw new ConfigError("invalid configuration: TLS_CERT_FILE and TLS_KEY_FILE must be set together");
    }
    return config;
  }
  const issue = result.error.issues[0];
  const variable = issue?.path.join(".") ?? "?";
  const value = env[variable];
  // Secrets never reach the screen: keys and secrets whole, a URL's user and password.
  const safe = /KEYS|SECRET/.test(variable) ? "***" : value && redactUrl(value);
  const shown = value === undefined ? "unset" : `got ${JSON.stringify(safe)}`;
  throw new ConfigError(`invalid configuration: ${variable}: ${issue?.message ?? "invalid"} (${shown})`);
}
