// GET /healthz: 200 only when MongoDB and NATS both answer. grpc-health.ts serves the same checks
// as grpc.health.v1.Health.
import type { Context, FeatureModule } from "./context.ts";
import { type RestRouter, sendJson } from "./rest/router.ts";

export interface Check {
  ok: boolean;
  latencyMs?: number;
  error?: string;
}

const TIMEOUT_MS = 1000;

async function timed(probe: () => Promise<unknown>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export type HealthOptions = Pick<Context, "database" | "nats">;

export async function startHealth(options: HealthOptions): Promise<FeatureModule> {
  return {
    register: (_router, rest) => registerHealth(rest, options),
    close: async () => undefined,
  };
}

export interface DependencyChecks {
  mongodb: Check;
  nats: Check;
}

/** Pings MongoDB and NATS, each within TIMEOUT_MS. */
export async function checkDependencies(options: HealthOptions): Promise<DependencyChecks> {
  const [mongodb, nats] = await Promise.all([
    timed(() => options.database.db.command({ ping: 1 })),
    timed(async () => {
      if (options.nats.isClosed()) throw new Error("connection closed");
      // rtt() round-trips a PING; while reconnecting it waits, so the timeout catches it.
      await options.nats.rtt();
    }),
  ]);
  return { mongodb, nats };
}

function registerHealth(rest: RestRouter, options: HealthOptions): void {
  rest.on("GET", "/healthz", "public", async ({ res }) => {
    const { mongodb, nats } = await checkDependencies(options);
    const ok = mongodb.ok && nats.ok;
    sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", mongodb, nats });
  });
}
