// Exports and storage: a caller's `path` can never reach another export's files, an export whose
// files disappeared answers a NotFound naming the file (never a link that fails, never a crash),
// and export names a URL path cannot hold are refused. Real orchestrator, NATS, plugin workers
// and local storage.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Export, ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { filesUnder, type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-security-exports-"));
const DEVELOPER_EXPORTS = "/api/v1/developer/exports";
const DATASET = "secure-scenes";
let stack: JobStack;
let nats: NatsConnection;
let datasetId: string;
let worker: Worker;

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedDataset(stack, DATASET, 12, "sec");
  worker = await startWorker({ nats, exporter: EchoExporter, log: quiet });
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.length === 1);
});

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function finished(exportId: string): Promise<Export> {
  let last: Export | undefined;
  for await (const { export: e } of stack.exports.watchExport({ exportId })) if (e) last = e;
  if (!last) throw new Error(`no state for export ${exportId}`);
  return last;
}

async function completedExport(request: { path?: string; name?: string } = {}): Promise<Export> {
  const { export: created } = await stack.exports.createExport({ datasetId, format: "echo", ...request });
  const done = await finished(created?.id ?? "");
  expect(done.status, done.errorMessage).toBe(ExportStatus.COMPLETED);
  return done;
}

const storedFiles = (prefix: string) => filesUnder(storageRoot, prefix);

async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  if (!err) throw new Error("expected the call to fail");
  return err;
}

async function messageOf(res: Response): Promise<string> {
  return ((await res.json()) as { message: string }).message;
}

async function healthy(): Promise<boolean> {
  return (await fetch(`${stack.orchestrator.url}/healthz`)).status === 200;
}

describe("export prefixes", () => {
  it("nests a caller's path under the export's own prefix: path \"exports\" or another export's prefix erases nothing", async () => {
    const victim = await completedExport();
    const before = storedFiles(victim.path);
    expect([...before.keys()].sort()).toEqual(["items.jsonl", "manifest.json", "summary.json"]);

    const wide = await completedExport({ path: "exports" });
    expect(wide.path).toBe(`exports/${wide.id}/exports`);
    const aimed = await completedExport({ path: `exports/${victim.id}/` });
    expect(aimed.path).toBe(`exports/${aimed.id}/exports/${victim.id}`);
    expect(storedFiles(aimed.path).size).toBe(3);
    expect(storedFiles(victim.path)).toEqual(before);

    await stack.exports.deleteExport({ exportId: wide.id });
    await stack.exports.deleteExport({ exportId: aimed.id });
    expect(storedFiles(wide.path).size).toBe(0);
    expect(storedFiles(aimed.path).size).toBe(0);
    expect(storedFiles(victim.path)).toEqual(before);
  });

  it("does the same for exports triggered over NATS", async () => {
    const victim = await completedExport();
    const before = storedFiles(victim.path);
    const request = JSON.stringify({ requestId: "security-trigger-1", datasetId, format: "echo", path: "exports" });
    const reply = JSON.parse((await nats.request("labelport.triggers.export", request, { timeout: 10_000 })).string());
    const done = await finished(reply.exportId);
    expect(done.status).toBe(ExportStatus.COMPLETED);
    expect(done.path).toBe(`exports/${done.id}/exports`);
    expect(storedFiles(victim.path)).toEqual(before);
  });

  it("refuses a path that is absolute, traverses or has empty segments, naming path", async () => {
    for (const path of ["/exports", "../exports", "a/../../exports", "a//b", "a/./b", "%2e%2e/exports"]) {
      const err = await rpcError(stack.exports.createExport({ datasetId, format: "echo", path }));
      expect(err.code, path).toBe(Code.InvalidArgument);
      expect(err.rawMessage, path).toMatch(/^path: /);
    }
  });

  it("deletes only the listed files of an export stored before prefixes were its own", async () => {
    const victim = await completedExport();
    const before = storedFiles(victim.path);
    const template = await completedExport();
    // The job document of an export made by an earlier version with `path: "exports"`.
    const exports = stack.orchestrator.database.db.collection<{ _id: string; path: string; name: string }>("exports");
    const legacy = await exports.findOne({ _id: template.id });
    await exports.insertOne({ ...legacy, _id: "legacy-shared-prefix", name: "legacy", path: "exports" } as never);
    await stack.exports.deleteExport({ exportId: "legacy-shared-prefix" });
    expect(storedFiles(victim.path)).toEqual(before);
    expect(storedFiles(template.path).size).toBe(3);
  });
});

describe("exports whose files disappeared", () => {
  it("answers NotFound naming the missing artifact for new links and already issued ones, and stays up", async () => {
    const done = await completedExport();
    const link = await stack.exports.getExportDownload({ exportId: done.id });
    rmSync(join(storageRoot, done.path, "items.jsonl"));

    const res = await fetch(link.downloadUrl);
    expect(res.status).toBe(404);
    expect(await messageOf(res)).toContain(`artifact "items.jsonl" of export ${done.id} is missing from storage`);

    const err = await rpcError(stack.exports.getExportDownload({ exportId: done.id }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain(`artifact "items.jsonl" of export ${done.id} is missing from storage`);
    expect(await healthy()).toBe(true);
    await completedExport();
  });

  it("aborts only the one ZIP response when a file goes missing after streaming started", async () => {
    // More files than the ZIP opens ahead of the one it writes (64), the first larger than every
    // socket buffer between the two ends (a few MiB at most): the last file is still unopened
    // when the client has its first bytes and stops reading.
    const many = await seedDataset(stack, "many files", 120, "many");
    const { export: created } = await stack.exports.createExport({
      datasetId: many,
      format: "echo",
      options: { filePerItem: true },
    });
    const done = await finished(created?.id ?? "");
    expect(done.status, done.errorMessage).toBe(ExportStatus.COMPLETED);
    const keys = done.artifacts.map((a) => a.key);
    expect(keys.length).toBeGreaterThan(20);
    const [first] = keys;
    const last = keys.at(-1) ?? "";
    writeFileSync(join(storageRoot, done.path, first ?? ""), Buffer.alloc(32 * 1024 * 1024, "x"));
    const link = await stack.exports.getExportDownload({ exportId: done.id });
    const outcome = await new Promise<{ status: number; complete: boolean; received: number; expected: number }>(
      (resolve, reject) => {
        http
          .get(link.downloadUrl, (res) => {
            let received = 0;
            res.once("data", () => {
              res.pause();
              rmSync(join(storageRoot, done.path, last));
              res.resume();
            });
            res.on("data", (chunk: Buffer) => {
              received += chunk.length;
            });
            res.on("error", () => undefined);
            res.on("close", () =>
              resolve({
                status: res.statusCode ?? 0,
                complete: res.complete,
                received,
                expected: Number(res.headers["content-length"]),
              }),
            );
          })
          .on("error", reject);
      },
    );
    expect(outcome.status).toBe(200);
    expect(outcome.complete).toBe(false);
    expect(outcome.received).toBeLessThan(outcome.expected);
    expect(await healthy()).toBe(true);
    const err = await rpcError(stack.exports.getExportDownload({ exportId: done.id }));
    expect(err.rawMessage).toContain(`artifact "${last}"`);
  });

  it("answers NotFound for a single-artifact link whose file is gone", async () => {
    const done = await completedExport();
    const link = await stack.exports.getExportDownload({ exportId: done.id, artifactKey: "summary.json" });
    rmSync(join(storageRoot, done.path, "summary.json"));
    const res = await fetch(link.downloadUrl);
    expect(res.status).toBe(404);
    expect(await messageOf(res)).toContain('artifact "summary.json"');
    const err = await rpcError(stack.exports.getExportDownload({ exportId: done.id, artifactKey: "summary.json" }));
    expect(err.code).toBe(Code.NotFound);
    expect(await healthy()).toBe(true);
  });

  it("answers NotFound naming manifest.json when the manifest is gone, also in the developer API", async () => {
    const created = await fetch(`${stack.orchestrator.url}${DEVELOPER_EXPORTS}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dataset_name: DATASET, name: "manifest-gone", format: "echo" }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const done = await finished(((await created.json()) as { id: string }).id);
    expect(done.status).toBe(ExportStatus.COMPLETED);
    rmSync(join(storageRoot, done.path, "manifest.json"));

    const err = await rpcError(stack.exports.getExportDownload({ exportId: done.id }));
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toContain(`artifact "manifest.json" of export ${done.id} is missing from storage`);
    const res = await fetch(`${stack.orchestrator.url}${DEVELOPER_EXPORTS}/${DATASET}/manifest-gone/download`);
    expect(res.status).toBe(404);
    expect(await messageOf(res)).toContain('artifact "manifest.json"');
  });

  it("refuses an already issued single-file link once the manifest is gone: the export is no longer whole", async () => {
    const done = await completedExport();
    const link = await stack.exports.getExportDownload({ exportId: done.id, artifactKey: "summary.json" });
    rmSync(join(storageRoot, done.path, "manifest.json"));
    const res = await fetch(link.downloadUrl);
    expect(res.status).toBe(404);
    expect(await messageOf(res)).toContain('artifact "manifest.json"');
    expect(await healthy()).toBe(true);
  });
});

describe("export names", () => {
  it('refuses ".", ".." and blank names in CreateExport, naming name', async () => {
    for (const name of [".", "..", "   ", " .. ", "a/b", "tab\there"]) {
      const err = await rpcError(stack.exports.createExport({ datasetId, format: "echo", name }));
      expect(err.code, JSON.stringify(name)).toBe(Code.InvalidArgument);
      expect(err.rawMessage, JSON.stringify(name)).toMatch(/^name: /);
    }
  });

  it('refuses "." and ".." in the developer API with a 400 naming name', async () => {
    for (const name of [".", ".."]) {
      const res = await fetch(`${stack.orchestrator.url}${DEVELOPER_EXPORTS}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ dataset_name: DATASET, name, format: "echo" }),
      });
      expect(res.status, name).toBe(400);
      expect(await messageOf(res), name).toMatch(/^name: /);
    }
  });
});
