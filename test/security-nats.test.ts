// The NATS control plane under attack: garbage on every subject, forged events, job tokens used
// beyond their job, secrets in claims, and users acting outside their permissions.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  ClaimJobRequestSchema,
  ClaimJobResponseSchema,
  ExportJobSchema,
  ExportService,
  ExportStatus,
  ItemService,
  JobEventSchema,
  PluginInfoSchema,
} from "@labelport/sdk/contracts";
import { JOB_TOKEN_HEADER, natsConnectOptions, PLUGIN_INBOX_PREFIX, Subjects } from "@labelport/sdk/runtime";
import { connect, headers, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { INBOX_PREFIXES } from "../scripts/stack/nats-auth.ts";
import { type RunningS3, startS3 } from "../scripts/stack/servers.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { type PluginProcess, startPluginProcess } from "./support/plugin-process.ts";

const KEYS = { admin: "admin-key-0123456789", editor: "editor-key-0123456789", viewer: "viewer-key-0123456789" };
const ECHO = join(import.meta.dirname, "fixtures", "echo-plugin");

let s3: RunningS3;
let stack: JobStack;
let plugin: PluginProcess;
/** Orchestrator credentials: may publish on every labelport subject, as the fuzz needs. */
let admin: NatsConnection;
const opened: NatsConnection[] = [];
let datasetA = "";
let datasetB = "";

async function natsAs(user: "plugin" | "trigger"): Promise<NatsConnection> {
  const nc = await connect({ ...natsConnectOptions(stack.nats.urlFor(user)), inboxPrefix: INBOX_PREFIXES[user] });
  opened.push(nc);
  return nc;
}

/** The error the server answers a subscription with (a permission violation), if any. */
function subscriptionError(nc: NatsConnection, subject: string): Promise<Error> {
  return new Promise((resolve) => {
    nc.subscribe(subject, { callback: (err) => err && resolve(err) });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function finalStatus(exportId: string): Promise<ExportStatus | undefined> {
  let status: ExportStatus | undefined;
  for await (const { export: e } of stack.exports.watchExport({ exportId })) status = e?.status;
  return status;
}

beforeAll(async () => {
  s3 = await startS3({ dir: join(DATA_DIR, "test-runs", `s3-sec-${randomUUID().slice(0, 8)}`), dataDir: DATA_DIR });
  const bucketClient = new S3Client({
    endpoint: s3.url,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await bucketClient.send(new CreateBucketCommand({ Bucket: "exports" }));
  bucketClient.destroy();
  stack = await startJobStack(
    {
      API_KEYS: `admin:admin:${KEYS.admin},editor:editor:${KEYS.editor},viewer:viewer:${KEYS.viewer}`,
      S3_BUCKET: "exports",
      S3_ENDPOINT: s3.url,
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      DEFAULT_STORAGE: "s3",
    },
    KEYS.admin,
  );
  admin = await connect(natsConnectOptions(stack.nats.url));
  // A third-party plugin as an operator runs it: the plugin NATS user, S3 credentials from its env.
  plugin = await startPluginProcess(ECHO, {
    NATS_URL: stack.nats.urlFor("plugin"),
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });
  datasetA = await seedDataset(stack, "sec a", 12, "sec-a");
  datasetB = await seedDataset(stack, "sec b", 5, "sec-b");
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.some((p) => p.name === "echo"), "echo");
});

afterAll(async () => {
  plugin?.child.kill("SIGTERM");
  await plugin?.exited;
  for (const nc of [admin, ...opened]) await nc?.close().catch(() => undefined);
  await stack?.close();
  await s3?.stop();
});

/** A registered format no worker serves, so its jobs wait for the claim this test sends. */
async function registerIdleFormat(format: string): Promise<void> {
  const nc = await natsAs("plugin");
  const info = create(PluginInfoSchema, { name: format, version: "1.0.0", formats: [format], sdkRange: "^0.1.0" });
  nc.publish(Subjects.register, toBinary(PluginInfoSchema, info));
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.some((p) => p.name === format), format);
}

/** Claims an export as a plugin does; returns the claimed job. */
async function claim(exportId: string) {
  const nc = await natsAs("plugin");
  const request = create(ClaimJobRequestSchema, { exportId, delivery: 1, workerId: "test", pluginName: "test" });
  const reply = await nc.request(Subjects.claims, toBinary(ClaimJobRequestSchema, request), { timeout: 10_000 });
  const response = fromBinary(ClaimJobResponseSchema, reply.data);
  expect(response.proceed).toBe(true);
  return response;
}

describe("messages nobody should send", () => {
  it("drops random and truncated messages on every subject it listens on, and still exports", async () => {
    // Deterministic, so a failure can be replayed.
    let seed = 0x5eed;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
    const truncations = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => {
      const whole = toBinary(schema, create(schema, init));
      return Array.from({ length: 8 }, () => whole.slice(0, Math.floor(random() * whole.length)));
    };
    const someId = "0123456789abcdef01234567";
    const valid = {
      register: truncations(PluginInfoSchema, {
        name: "fuzz",
        version: "1.0.0",
        formats: ["fuzz"],
        sdkRange: "^0.1.0",
      }),
      claims: truncations(ClaimJobRequestSchema, { exportId: someId, delivery: 1, workerId: "w", pluginName: "p" }),
      events: truncations(JobEventSchema, { exportId: someId, attempt: 1, sequence: 1n, workerId: "w" }),
      jobs: truncations(ExportJobSchema, { export: { id: someId, format: "echo", datasetId: datasetA } }),
    };
    const payloads = (extra: Uint8Array[]) => [
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff), // the five bytes that used to break the link
      new Uint8Array(0),
      ...Array.from({ length: 24 }, () => bytes(1 + Math.floor(random() * 64))),
      ...extra,
    ];
    const core: Array<[string, Uint8Array[]]> = [
      [Subjects.register, payloads(valid.register)],
      [Subjects.claims, payloads(valid.claims)],
      [Subjects.discover, payloads([])],
      [Subjects.cancel(someId), payloads([])],
      [Subjects.trigger, payloads([])],
    ];
    for (const [subject, list] of core) {
      for (const data of list) {
        admin.publish(subject, data);
        // Requests too: a handler that answers must not die answering garbage.
        await admin.request(subject, data, { timeout: 300 }).catch(() => undefined);
      }
    }
    // JetStream subjects: the orchestrator's event consumer and the echo workers' job consumer.
    const js = admin.jetstream();
    for (const data of payloads(valid.events)) await js.publish(Subjects.events(someId), data);
    for (const data of payloads(valid.jobs)) await js.publish(Subjects.job("echo"), data);
    await admin.flush();

    const health = await fetch(`${stack.orchestrator.url}/healthz`);
    expect(health.status).toBe(200);
    const { export: created } = await stack.exports.createExport({ datasetId: datasetA, format: "echo" });
    expect(await finalStatus(created?.id ?? "")).toBe(ExportStatus.COMPLETED);
    expect((await fetch(`${stack.orchestrator.url}/healthz`)).status).toBe(200);
    expect(plugin.child.exitCode).toBeNull();
    // No junk plugin was registered from a garbage registration.
    const names = (await stack.exports.listFormats({})).plugins.map((p) => p.name);
    expect(names.every((name) => /^[\x20-\x7e]+$/.test(name))).toBe(true);
  });
});

describe("claims and job tokens", () => {
  it("never sends storage credentials in a claim; the plugin brings its own", async () => {
    await registerIdleFormat("idle-secret");
    const { export: created } = await stack.exports.createExport({ datasetId: datasetA, format: "idle-secret" });
    const claimed = await claim(created?.id ?? "");
    const storage = JSON.parse(claimed.job?.storageConfigJson ?? "{}");
    expect(storage).toMatchObject({ kind: "s3", bucket: "exports", endpoint: s3.url });
    expect(claimed.job?.storageConfigJson).not.toContain(s3.secretAccessKey);
    expect(storage).not.toHaveProperty("secretAccessKey");
    expect(storage).not.toHaveProperty("accessKeyId");
    // The echo plugin process wrote to S3 in the fuzz test with credentials from its environment.
  });

  it("lets a job token stream its own dataset's items and nothing else", async () => {
    await registerIdleFormat("idle-token");
    const { export: other } = await stack.exports.createExport({ datasetId: datasetB, format: "echo" });
    expect(await finalStatus(other?.id ?? "")).toBe(ExportStatus.COMPLETED);
    const { export: created } = await stack.exports.createExport({ datasetId: datasetA, format: "idle-token" });
    const token = (await claim(created?.id ?? "")).job?.token ?? "";
    const transport = createConnectTransport({
      baseUrl: stack.orchestrator.url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    const items = createClient(ItemService, transport);
    let streamed = 0;
    for await (const page of items.streamItems({ datasetId: datasetA })) streamed += page.items.length;
    expect(streamed).toBe(12);

    const denied = async (call: () => Promise<unknown>) => {
      const err = await call().then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      return err?.code;
    };
    const exportsAsJob = createClient(ExportService, transport);
    expect(await denied(async () => items.streamItems({ datasetId: datasetB })[Symbol.asyncIterator]().next())).toBe(
      Code.PermissionDenied,
    );
    expect(await denied(() => exportsAsJob.listExports({}))).toBe(Code.PermissionDenied);
    expect(await denied(() => exportsAsJob.getExport({ exportId: other?.id ?? "" }))).toBe(Code.PermissionDenied);
    expect(await denied(() => exportsAsJob.getExportDownload({ exportId: other?.id ?? "" }))).toBe(
      Code.PermissionDenied,
    );
    expect(await denied(() => items.countItems({ datasetId: datasetA }))).toBe(Code.PermissionDenied);
    // REST routes take no job token at all, not even for its own dataset.
    for (const path of [
      `/api/export?datasetId=${datasetA}`,
      `/api/export/stats?datasetId=${datasetA}`,
      "/api/import/history",
    ]) {
      const res = await fetch(`${stack.orchestrator.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { message: string }).message, path).toMatch(
        /^job tokens may only call StreamItems/,
      );
    }
  });

  it("applies a job's events only with that job's token", async () => {
    await registerIdleFormat("idle-events");
    const { export: target } = await stack.exports.createExport({ datasetId: datasetA, format: "idle-events" });
    const { export: mine } = await stack.exports.createExport({ datasetId: datasetA, format: "idle-events" });
    const targetId = target?.id ?? "";
    const ownToken = (await claim(targetId)).job?.token ?? "";
    const otherToken = (await claim(mine?.id ?? "")).job?.token ?? "";
    const nc = await natsAs("plugin");
    const js = nc.jetstream();
    const event = (init: MessageInitShape<typeof JobEventSchema>) =>
      toBinary(JobEventSchema, create(JobEventSchema, { exportId: targetId, attempt: 1, workerId: "x", ...init }));
    const withToken = (token: string) => {
      const h = headers();
      h.set(JOB_TOKEN_HEADER, token);
      return { headers: h };
    };
    const forged = event({ sequence: 1n, event: { case: "failed", value: { errorMessage: "forged" } } });
    await js.publish(Subjects.events(targetId), forged);
    await js.publish(Subjects.events(targetId), forged, withToken(otherToken));
    await js.publish(Subjects.events(targetId), forged, withToken("job.e30.bm90LXNpZ25lZA"));
    // Events are applied in order: once this one shows, the forged ones were seen and dropped.
    const marker = `marker-${randomUUID()}`;
    await js.publish(
      Subjects.events(targetId),
      event({ sequence: 2n, event: { case: "log", value: { level: "info", message: marker, source: "plugin" } } }),
      withToken(ownToken),
    );
    await waitFor(async () => {
      for await (const { lines } of stack.exports.getExportLogs({ exportId: targetId })) {
        if (lines.some((line) => line.message === marker)) return true;
      }
      return false;
    }, "the marker log line");
    const { export: after } = await stack.exports.getExport({ exportId: targetId });
    expect(after?.status).toBe(ExportStatus.RUNNING);
    expect(after?.errorMessage ?? "").not.toContain("forged");
    await stack.exports.cancelExport({ exportId: targetId });
    await stack.exports.cancelExport({ exportId: mine?.id ?? "" });
  });
});

describe("NATS users", () => {
  it("refuses connections without valid credentials", async () => {
    await expect(connect({ servers: stack.nats.bareUrl, reconnect: false })).rejects.toThrow(/authorization/i);
    const wrong = stack.nats.urlFor("plugin").replace(/:[^:@/]+@/, ":wrong-password@");
    await expect(connect({ ...natsConnectOptions(wrong), reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it("keeps each user to its subjects", async () => {
    const request = JSON.stringify({ requestId: randomUUID(), datasetId: datasetA, format: "echo" });
    const pluginUser = await natsAs("plugin");
    await expect(pluginUser.request(Subjects.trigger, request, { timeout: 5000 })).rejects.toThrow(/permission/i);
    // A plugin cannot answer claims in the orchestrator's place, nor read the orchestrator's replies.
    expect((await subscriptionError(pluginUser, Subjects.claims)).message).toMatch(/permission/i);
    expect((await subscriptionError(pluginUser, "_INBOX.>")).message).toMatch(/permission/i);
    const triggerUser = await natsAs("trigger");
    const claimRequest = toBinary(ClaimJobRequestSchema, create(ClaimJobRequestSchema, { exportId: "x", delivery: 1 }));
    await expect(triggerUser.request(Subjects.claims, claimRequest, { timeout: 5000 })).rejects.toThrow(/permission/i);
    await expect(triggerUser.request(Subjects.register, new Uint8Array(), { timeout: 5000 })).rejects.toThrow(
      /permission/i,
    );
    // Claim replies carry job tokens: other users may not read the plugins' inbox.
    expect((await subscriptionError(triggerUser, `${PLUGIN_INBOX_PREFIX}.>`)).message).toMatch(/permission/i);
  });

  it("takes a trigger only with an editor's API key when keys are configured", async () => {
    const nc = await natsAs("trigger");
    const trigger = async (key?: string) => {
      const h = headers();
      if (key) h.set("X-API-Key", key);
      const request = JSON.stringify({ requestId: randomUUID(), datasetId: datasetA, format: "echo" });
      return JSON.parse((await nc.request(Subjects.trigger, request, { timeout: 10_000, headers: h })).string());
    };
    expect(await trigger()).toMatchObject({ code: "unauthenticated" });
    expect(await trigger("not-a-key")).toMatchObject({ code: "unauthenticated" });
    expect(await trigger(KEYS.viewer)).toMatchObject({ code: "permission_denied" });
    const accepted = await trigger(KEYS.editor);
    expect(accepted.exportId).toMatch(/\S/);
    // The trigger user reads outcomes from the completed subject.
    expect(await finalStatus(accepted.exportId)).toBe(ExportStatus.COMPLETED);
  });
});
