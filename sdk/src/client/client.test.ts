// The client's by-name calls (exports addressed by dataset name and export name, as the developer
// exports API and the Python client address them) against a real orchestrator and exporter.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import EchoExporter from "../../../test/fixtures/echo-plugin/index.ts";
import { type JobStack, seedDataset, startJobStack } from "../../../test/support/job-stack.ts";
import { ExportStatus } from "../gen/labelport/v1/export_pb.ts";
import { natsConnectOptions } from "../runtime/nats-connection.ts";
import { startWorker, type Worker } from "../runtime/worker.ts";
import { createLabelportClient } from "./client.ts";

const KEYS = { admin: "ts-admin-key-0123", editor: "ts-editor-key-0123" };
const API_KEYS = `admin:admin:${KEYS.admin},editor:editor:${KEYS.editor}`;
const DATASET = "by-name-scenes";

const scratch = mkdtempSync(join(tmpdir(), "labelport-client-by-name-"));
let stack: JobStack;
let nats: NatsConnection;
let worker: Worker;

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: join(scratch, "storage"), API_KEYS }, KEYS.admin);
  nats = await connect(natsConnectOptions(stack.nats.url));
  await seedDataset(stack, DATASET, 3, "by-name");
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  worker = await startWorker({ nats, exporter: EchoExporter, log: quiet });
  const deadline = Date.now() + 20_000;
  while ((await stack.exports.listFormats({})).plugins.length < 1) {
    if (Date.now() > deadline) throw new Error("the echo plugin did not register");
    await sleep(100);
  }
});

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const client = (apiKey = KEYS.admin) => createLabelportClient({ baseUrl: stack.orchestrator.url, apiKey });

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof ConnectError ? err.code : undefined;
}

it("creates with datasetName, then gets and downloads the export by its name", async () => {
  const created = await client().exports.create(
    { datasetName: DATASET, name: "Training Export v1", format: "echo" },
    { wait: true },
  );
  expect(created.status).toBe(ExportStatus.COMPLETED);
  expect(created.datasetName).toBe(DATASET);

  const found = await client().exports.getByName(DATASET, "Training Export v1");
  expect(found.id).toBe(created.id);
  expect(await client().exports.idOf(DATASET, "Training Export v1")).toBe(created.id);

  const path = join(scratch, "export.download");
  const written = await client().exports.downloadByName(DATASET, "Training Export v1", path);
  expect(written).toBeGreaterThan(0);
  expect(statSync(path).size).toBe(written);
});

it("deletes by name as the developer exports API does: the creating key or an admin", async () => {
  await client(KEYS.editor).exports.create({ datasetName: DATASET, name: "editor's", format: "echo" }, { wait: true });
  await client().exports.create({ datasetName: DATASET, name: "admin's", format: "echo" }, { wait: true });
  expect(await codeOf(client(KEYS.editor).exports.deleteByName(DATASET, "admin's"))).toBe(Code.PermissionDenied);
  await client(KEYS.editor).exports.deleteByName(DATASET, "editor's");
  expect(await codeOf(client().exports.getByName(DATASET, "editor's"))).toBe(Code.NotFound);
  await client().exports.deleteByName(DATASET, "admin's");
  expect(await codeOf(client().exports.getByName(DATASET, "admin's"))).toBe(Code.NotFound);
});

it("answers unknown names and conflicting dataset fields with ConnectError codes", async () => {
  expect(await codeOf(client().exports.getByName("no-such-dataset", "x"))).toBe(Code.NotFound);
  expect(await codeOf(client().exports.getByName(DATASET, "no such export"))).toBe(Code.NotFound);
  expect(await codeOf(client("wrong-key").exports.idOf(DATASET, "x"))).toBe(Code.Unauthenticated);
  expect(
    await codeOf(client().exports.create({ datasetName: DATASET, datasetId: "other", name: "x", format: "echo" })),
  ).toBe(Code.InvalidArgument);
});
