// The orchestrator as an operator runs it: config errors, start-up line, graceful shutdown.
import { randomUUID } from "node:crypto";
import { expect, inject, it } from "vitest";
import { spawnOrchestrator, startOrchestratorProcess } from "./support/process.ts";

const baseEnv = () => ({
  MONGODB_URL: inject("mongoUrl"),
  NATS_URL: inject("natsUrl"),
  MONGODB_DB: `t_${randomUUID().slice(0, 8)}`,
  PORT: "0",
});

it.each([
  ["PORT", "not-a-port", /^invalid configuration: PORT: .*\(got "not-a-port"\)$/],
  ["MONGODB_URL", "postgres://x", /^invalid configuration: MONGODB_URL: expected a mongodb:\/\/ .*URL/],
  ["API_KEYS", "alice:superuser:k", /^invalid configuration: API_KEYS: entry "alice": expected name:role:key/],
  [
    "NATS_URL",
    "http://plugin:superuser@127.0.0.1:4222",
    /^invalid configuration: NATS_URL: .*\(got "http:\/\/\*\*\*@127\.0\.0\.1:4222"\)$/,
  ],
])("a bad %s is one clear line and exit code 1", async (variable, value, message) => {
  const proc = spawnOrchestrator({ ...baseEnv(), [variable]: value });
  const { code } = await proc.exited;
  expect(code).toBe(1);
  const lines = proc.output().trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(lines[0]).not.toContain("superuser:k");
});

it("prints where it listens and shuts down gracefully on SIGTERM", async () => {
  const proc = await startOrchestratorProcess(baseEnv());
  expect(proc.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect((await fetch(`${proc.url}/healthz`)).status).toBe(200);
  proc.child.kill("SIGTERM");
  expect(await proc.exited).toEqual({ code: 0, signal: null });
  // Structured JSON logs: every log line parses.
  const logs = proc
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"));
  expect(logs.length).toBeGreaterThan(0);
  for (const line of logs) expect(JSON.parse(line)).toHaveProperty("level");
});
