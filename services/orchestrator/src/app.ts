// Wires the orchestrator: MongoDB, NATS, the Connect services and REST routes on one port.
import { randomBytes } from "node:crypto";
import type { ConnectRouter } from "@connectrpc/connect";
import { healthV1 } from "@labelport/sdk/grpc-contracts";
import { flushTracing, natsConnectOptions, redactUrl, startTracing } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { createAuthenticator } from "./auth.ts";
import { startAuthService } from "./auth-service.ts";
import type { Config } from "./config.ts";
import { startConsole } from "./console.ts";
import type { Context, FeatureModule } from "./context.ts";
import { startData } from "./data/index.ts";
import { createVersionReads } from "./data/versions.ts";
import { connectDatabase, type Database } from "./db.ts";
import { startExports } from "./exports/index.ts";
import { createStorages } from "./exports/storages.ts";
import { createExportTotalsPreparer } from "./exports/track-export.ts";
import { registerGrpcHealth } from "./grpc-health.ts";
import { registerGrpcReflection } from "./grpc-reflection.ts";
import { startHealth } from "./health.ts";
import type { Logger } from "./logger.ts";
import { createOriginGuard } from "./origin-guard.ts";
import { createRestRouter, type RestRoute } from "./rest/router.ts";
import { createRpcHandler } from "./rpc-handler.ts";
import { type ListeningServer, serve } from "./server.ts";
import { registerMetricsRoute } from "./telemetry/metrics.ts";

export interface Orchestrator {
  readonly url: string;
  readonly database: Database;
  readonly nats: NatsConnection;
  /** The REST routes this instance serves, with the role each needs. */
  readonly restRoutes: ReadonlyArray<RestRoute>;
  /** Graceful: stop accepting, finish in-flight requests, close MongoDB and NATS. Idempotent. */
  close(): Promise<void>;
}

export async function startOrchestrator(config: Config, log: Logger): Promise<Orchestrator> {
  await startTracing("labelport-orchestrator");
  const [database, nats] = await Promise.all([
    connectDatabase(config.MONGODB_URL, config.MONGODB_DB).catch((err: Error) => {
      throw new Error(`cannot reach MongoDB at ${redactUrl(config.MONGODB_URL)}: ${err.message}`);
    }),
    // NATS_URL may carry the orchestrator's NATS user: nats://user:password@host:port.
    connect({ ...natsConnectOptions(config.NATS_URL), maxReconnectAttempts: -1, name: "labelport-orchestrator" }).catch(
      (err: Error) => {
        throw new Error(`cannot reach NATS at ${redactUrl(config.NATS_URL)}: ${err.message}`);
      },
    ),
  ]);
  const signingSecret = config.SIGNING_SECRET ?? randomBytes(32).toString("hex");
  const auth = createAuthenticator(config.API_KEYS, signingSecret);
  let host = config.HOST;
  if (!auth.enabled && !isLoopback(host)) {
    log.warn({ requestedHost: host }, "no API_KEYS configured: binding to 127.0.0.1 only");
    host = "127.0.0.1";
  } else if (!auth.enabled) {
    log.warn("no API_KEYS configured: authentication is off, serving loopback only");
  }
  let server: ListeningServer | undefined;
  const storages = createStorages(config);
  const exportTotals = createExportTotalsPreparer({ log, database });
  const context: Context = {
    config,
    log,
    database,
    nats,
    auth,
    storages,
    signingSecret,
    versions: createVersionReads(database.db),
    publicUrl: () => config.PUBLIC_URL ?? server?.url ?? `http://${host}:${config.PORT}`,
    prepareExport: (datasetId, when) => exportTotals.prepare(datasetId, when),
  };
  const starts = [
    () => startHealth(context),
    () => startAuthService(context),
    () => startConsole(),
    () => startData(context),
    () => startExports(context),
  ];
  const modules: FeatureModule[] = [];
  const closeModules = async () => {
    for (const feature of modules.splice(0).reverse()) await feature.close();
    exportTotals.close();
    await storages.dispose();
  };
  try {
    for (const start of starts) modules.push(await start());
  } catch (err) {
    await closeModules();
    await Promise.all([database.close(), nats.close()]);
    throw err;
  }
  const rest = createRestRouter(log, auth, { maxBodyBytes: config.REST_MAX_BODY_BYTES });
  registerMetricsRoute(rest, context);
  const tls =
    config.TLS_CERT_FILE && config.TLS_KEY_FILE
      ? { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE }
      : undefined;
  const rpc = createRpcHandler({
    auth,
    log,
    readMaxBytes: config.RPC_MAX_MESSAGE_BYTES,
    routes: (router: ConnectRouter) => {
      for (const feature of modules) feature.register(router, rest);
    },
    publicRoutes: (router: ConnectRouter, services) => {
      registerGrpcHealth(router, services, context);
      registerGrpcReflection(router, [...services, healthV1.Health]);
    },
    fallback: (req, res) => rest.handle(req, res),
  });
  const originAllowed = createOriginGuard({
    authEnabled: auth.enabled,
    ...(config.PUBLIC_URL ? { publicUrl: config.PUBLIC_URL } : {}),
    corsOrigins: config.CORS_ORIGINS,
    tls: tls !== undefined,
  });
  try {
    server = await serve(
      (req, res) => {
        if (originAllowed(req, res)) rpc(req, res);
      },
      {
        host,
        port: config.PORT,
        ...(tls ? { tls } : {}),
        log,
        limits: {
          headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
          requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
          keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
          idleTimeoutMs: config.HTTP_IDLE_TIMEOUT_MS,
          maxConcurrentStreams: config.HTTP2_MAX_CONCURRENT_STREAMS,
          maxConnectionsPerClient: config.HTTP_MAX_CONNECTIONS_PER_CLIENT,
        },
      },
    );
  } catch (err) {
    await closeModules();
    await Promise.all([database.close(), nats.close()]);
    throw err;
  }
  let closing: Promise<void> | undefined;
  const listening = server;
  return {
    url: listening.url,
    database,
    nats,
    restRoutes: rest.routes(),
    close() {
      closing ??= (async () => {
        await listening.close();
        await closeModules();
        await nats.drain().catch(() => nats.close());
        await database.close();
        await flushTracing();
      })();
      return closing;
    },
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
