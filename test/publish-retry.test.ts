// A JetStream publish that waits out a stream without a leader: here a stream that does not exist
// yet answers like a leaderless one (503, no responders) until it is created.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { natsConnectOptions } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { type RunningNats, startNats } from "../scripts/stack/servers.ts";
import { publishRetrying } from "../sdk/src/runtime/publish-retry.ts";

let server: RunningNats;
let nats: NatsConnection;

beforeAll(async () => {
  server = await startNats({ dir: join(DATA_DIR, "test-runs", `nats-${randomUUID().slice(0, 8)}`), dataDir: DATA_DIR });
  nats = await connect(natsConnectOptions(server.url));
});

afterAll(async () => {
  await nats?.drain();
  await server?.stop();
});

it("publishes once the stream answers, and stores a retried message once", async () => {
  const js = nats.jetstream();
  const jsm = await nats.jetstreamManager();
  const data = new TextEncoder().encode("completed");
  await expect(js.publish("labelport.retry-test.a", data)).rejects.toThrow();
  const published = publishRetrying(js, "labelport.retry-test.a", data, { msgID: "job-1.1.7" }, { withinMs: 30_000 });
  await new Promise((resolve) => setTimeout(resolve, 700));
  await jsm.streams.add({ name: "RETRY", subjects: ["labelport.retry-test.>"] });
  const ack = await published;
  expect(ack.stream).toBe("RETRY");
  // The same event again (its first answer lost): the stream keeps one.
  expect(
    (await publishRetrying(js, "labelport.retry-test.a", data, { msgID: "job-1.1.7" }, { withinMs: 1000 })).duplicate,
  ).toBe(true);
  expect((await jsm.streams.info("RETRY")).state.messages).toBe(1);
});

it("gives up after its time, or at once when its attempt is stopped", async () => {
  const js = nats.jetstream();
  const data = new TextEncoder().encode("x");
  await expect(publishRetrying(js, "labelport.nowhere.a", data, {}, { withinMs: 600 })).rejects.toThrow();
  const stopped = new AbortController();
  stopped.abort();
  await expect(
    publishRetrying(js, "labelport.nowhere.b", data, {}, { withinMs: 60_000, signal: stopped.signal }),
  ).rejects.toThrow();
});
