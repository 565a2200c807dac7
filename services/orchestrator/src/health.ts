// GET /healthz: 200 only when MongoDB and NATS both answer.
import type { NatsConnection } from "nats";
import type { Database } from "./db.ts";
import type { RestRouter } from "./rest/router.ts";
import { sendJson } from "./rest/router.ts";

interface Check {
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

export function registerHealth(router: RestRouter, deps: { database: Database; nats: NatsConnection }): void {
  router.on("GET", "/healthz", "public", async ({ res }) => {
    const [mongodb, nats] = await Promise.all([
      timed(() => deps.database.db.command({ ping: 1 })),
      timed(async () => {
        if (deps.nats.isClosed()) throw new Error("connection closed");
        // rtt() round-trips a PING; while reconnecting it waits, so the timeout catches it.
        await deps.nats.rtt();
      }),
    ]);
    const ok = mongodb.ok && nats.ok;
    sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "unavailable", mongodb, nats });
  });
}
