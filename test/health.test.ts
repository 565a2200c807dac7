// /healthz reports each dependency and turns 503 when NATS goes away.
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { type RunningServer, startNats } from "../scripts/stack/servers.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

let nats: RunningServer | undefined;
let orchestrator: TestOrchestrator | undefined;
afterAll(async () => {
  await orchestrator?.close();
  await nats?.stop();
});

it("reflects a stopped NATS server", async () => {
  nats = await startNats({ dir: join(DATA_DIR, "test-runs", `health-${process.pid}`), dataDir: DATA_DIR });
  orchestrator = await startTestOrchestrator({ NATS_URL: nats.url });

  const up = await fetch(`${orchestrator.url}/healthz`);
  expect(up.status).toBe(200);
  expect(await up.json()).toMatchObject({ status: "ok", mongodb: { ok: true }, nats: { ok: true } });

  await nats.stop();
  const down = await fetch(`${orchestrator.url}/healthz`);
  expect(down.status).toBe(503);
  expect(await down.json()).toMatchObject({
    status: "unavailable",
    mongodb: { ok: true },
    nats: { ok: false, error: expect.stringMatching(/closed|answer|disconnect/i) },
  });
});
