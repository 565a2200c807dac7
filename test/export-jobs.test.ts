// Export jobs end to end: orchestrator, NATS JetStream, plugin workers (in and out of process),
// local storage, manifest, WatchExport, cancel, retries, crash redelivery, downloads, triggers.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Export, ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { filesUnder, type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { type PluginProcess, startPluginProcess } from "./support/plugin-process.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-jobs-"));
let stack: JobStack;
let nats: NatsConnection;
let datasetId: string;
const workers: Worker[] = [];
const processes: PluginProcess[] = [];

class RetryingEcho extends EchoExporter {
  static override manifest = { ...EchoExporter.manifest, name: "echo-retrying", formats: ["echo-retrying"] };
}

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedDataset(stack, "street scenes", 40);
  workers.push(await startWorker({ nats, exporter: EchoExporter, log: quiet }));
  workers.push(await startWorker({ nats, exporter: RetryingEcho, maxDeliver: 2, retryBaseMs: 50, log: quiet }));
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.length === 2);
});

afterAll(async () => {
  for (const p of processes) p.child.kill("SIGKILL");
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function watchToEnd(exportId: string): Promise<Export[]> {
  const seen: Export[] = [];
  for await (const { export: e } of stack.exports.watchExport({ exportId })) if (e) seen.push(e);
  return seen;
}

const storedFiles = (prefix: string) => filesUnder(storageRoot, prefix);

describe("export jobs", () => {
  it("runs a job to completion with progress, counts and a verified manifest", async () => {
    const { export: created } = await stack.exports.createExport({ datasetId, format: "echo", name: "first" });
    expect(created?.status).toBe(ExportStatus.QUEUED);
    const seen = await watchToEnd(created?.id ?? "");
    const final = seen.at(-1);
    expect(seen[0]?.status).toBeLessThanOrEqual(ExportStatus.RUNNING);
    expect(final?.status).toBe(ExportStatus.COMPLETED);
    expect(final?.counts).toMatchObject({ itemCount: 40n, annotationCount: 80n, fileCount: 2n });
    // The total is known from the claim on, so a progress bar has it before the first item.
    expect(final?.progress).toMatchObject({ totalItems: 40n, processedItems: 40n });
    for (const state of seen.filter((e) => e.status === ExportStatus.RUNNING && e.pluginName !== "")) {
      expect(state.progress?.totalItems).toBe(40n);
    }
    expect(final?.artifacts.map((a) => a.key)).toEqual(["items.jsonl", "summary.json"]);
    const files = storedFiles(final?.path ?? "");
    expect([...files.keys()].sort()).toEqual(["items.jsonl", "manifest.json", "summary.json"]);
    const manifest = JSON.parse(readFileSync(join(storageRoot, final?.path ?? "", "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ schemaVersion: 1, itemCount: 40, annotationCount: 80, fileCount: 2 });
    for (const artifact of manifest.artifacts) expect(files.get(artifact.key)).toBe(artifact.sha256);
    const lines = readFileSync(join(storageRoot, final?.path ?? "", "items.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(lines.map((l) => JSON.parse(l).id)).toEqual(
      [...Array(40).keys()].map((i) => `item-${String(i).padStart(5, "0")}`),
    );
    const { exports } = await stack.exports.listExports({ datasetId, statuses: [ExportStatus.COMPLETED] });
    expect(exports.map((e) => e.id)).toContain(created?.id);
  });

  it("downloads through signed, expiring links: a ZIP for several files, 403 when tampered or expired", async () => {
    const { export: created } = await stack.exports.createExport({ datasetId, format: "echo" });
    await watchToEnd(created?.id ?? "");
    const link = await stack.exports.getExportDownload({ exportId: created?.id ?? "" });
    expect(link.fileName).toMatch(new RegExp(`^street scenes-${created?.id}-\\d{8}T\\d{6}Z\\.zip$`));
    const res = await fetch(link.downloadUrl);
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get("content-length")).toBe(String(body.length));
    expect(res.headers.get("content-disposition")).toContain('attachment; filename="street scenes-');
    // An independent reader: Python's zipfile checks every CRC and lists the entries.
    const zipPath = join(storageRoot, "download.zip");
    writeFileSync(zipPath, body);
    const listing = execFileSync("python3", [
      "-c",
      "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(','.join(sorted(z.namelist())))",
      zipPath,
    ]).toString();
    expect(listing.trim()).toBe("items.jsonl,manifest.json,summary.json");

    const one = await stack.exports.getExportDownload({ exportId: created?.id ?? "", artifactKey: "summary.json" });
    const single = await fetch(one.downloadUrl);
    expect(single.status).toBe(200);
    expect(await single.json()).toEqual({ items: 40, dataset: "street scenes" });

    const tampered = link.downloadUrl.replace(
      /signature=([^&])/,
      (_m, c: string) => `signature=${c === "A" ? "B" : "A"}`,
    );
    expect((await fetch(tampered)).status).toBe(403);
    const short = await stack.exports.getExportDownload({ exportId: created?.id ?? "", expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await fetch(short.downloadUrl);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ message: "download link expired" });
  });

  it("refuses a download before the export is ready", async () => {
    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "echo",
      options: { delayMs: 50 },
    });
    const err = await stack.exports.getExportDownload({ exportId: created?.id ?? "" }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.FailedPrecondition);
    expect(ConnectError.from(err).rawMessage).toMatch(/^export not ready yet/);
    await stack.exports.cancelExport({ exportId: created?.id ?? "" });
  });

  it("cancels a running job within two seconds and removes its partial output", async () => {
    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "echo",
      options: { delayMs: 200 },
    });
    const id = created?.id ?? "";
    await waitFor(
      async () => ((await stack.exports.getExport({ exportId: id })).export?.progress?.processedItems ?? 0n) > 0n,
    );
    const started = Date.now();
    const { export: canceled } = await stack.exports.cancelExport({ exportId: id });
    expect(canceled?.status).toBe(ExportStatus.CANCELED);
    const seen = await watchToEnd(id);
    expect(seen.at(-1)?.status).toBe(ExportStatus.CANCELED);
    await waitFor(async () => storedFiles(canceled?.path ?? "").size === 0, 2000);
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it("validates options against the plugin's published schema before queueing", async () => {
    const bad = await stack.exports
      .createExport({ datasetId, format: "echo", options: { delayMs: "slow", colour: "red" } })
      .catch((e: unknown) => ConnectError.from(e));
    expect(bad).toBeInstanceOf(ConnectError);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain('unknown option "colour"');
    expect((bad as ConnectError).rawMessage).toContain("options.delayMs");
    const unknown = await stack.exports
      .createExport({ datasetId, format: "tiff" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((unknown as ConnectError).rawMessage).toMatch(
      /format: no plugin serves "tiff"; available: echo, echo-retrying/,
    );
  });

  it("retries a failing job with backoff and fails it with the last error after max deliveries", async () => {
    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "echo-retrying",
      options: { fail: "disk on fire" },
    });
    const final = (await watchToEnd(created?.id ?? "")).at(-1);
    expect(final?.status).toBe(ExportStatus.FAILED);
    expect(final?.errorMessage).toBe("disk on fire");
    expect(final?.attempts).toBe(2);
    const lines: string[] = [];
    for await (const chunk of stack.exports.getExportLogs({ exportId: created?.id ?? "" })) {
      lines.push(...chunk.lines.map((l) => `${l.source}:${l.level}:${l.message}`));
    }
    expect(lines).toContain("plugin:error:export failed");
    expect(lines.filter((l) => l.includes("attempt"))).toHaveLength(2);
  });

  it("is idempotent on request id, and creates jobs from NATS triggers exactly once", async () => {
    const a = await stack.exports.createExport({ datasetId, format: "echo", requestId: "req-1" });
    const b = await stack.exports.createExport({ datasetId, format: "echo", requestId: "req-1" });
    expect(b.export?.id).toBe(a.export?.id);

    const completed = nats.subscribe("labelport.exports.completed");
    const request = JSON.stringify({ requestId: "trigger-7", datasetId, format: "echo" });
    const first = JSON.parse((await nats.request("labelport.triggers.export", request, { timeout: 5000 })).string());
    const again = JSON.parse((await nats.request("labelport.triggers.export", request, { timeout: 5000 })).string());
    expect(first.exportId).toBeTruthy();
    expect(again.exportId).toBe(first.exportId);
    for await (const msg of completed) {
      const done = JSON.parse(msg.string());
      if (done.id === first.exportId) {
        expect(done.status).toBe("EXPORT_STATUS_COMPLETED");
        break;
      }
    }
    const bad = JSON.parse((await nats.request("labelport.triggers.export", "{}", { timeout: 5000 })).string());
    expect(bad).toMatchObject({ code: "invalid_argument" });
    expect(bad.message).toMatch(/request_id/);
  });

  it("survives SIGKILL of a plugin process: redelivered to another worker, byte-identical, no leftovers", async () => {
    const env = { NATS_URL: stack.nats.url, ECHO_NAME: "echo-proc", ECHO_FORMAT: "echo-proc", ACK_WAIT_MS: "1500" };
    const clean = await startPluginProcess(join(import.meta.dirname, "fixtures", "echo-plugin"), env);
    processes.push(clean);
    const reference = await stack.exports.createExport({ datasetId, format: "echo-proc", options: { delayMs: 25 } });
    const referenceFinal = (await watchToEnd(reference.export?.id ?? "")).at(-1);
    expect(referenceFinal?.status).toBe(ExportStatus.COMPLETED);

    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "echo-proc",
      options: { delayMs: 25 },
    });
    const id = created?.id ?? "";
    await waitFor(
      async () => ((await stack.exports.getExport({ exportId: id })).export?.progress?.processedItems ?? 0n) >= 5n,
    );
    clean.child.kill("SIGKILL");
    await clean.exited;
    processes.push(await startPluginProcess(join(import.meta.dirname, "fixtures", "echo-plugin"), env));
    const final = (await watchToEnd(id)).at(-1);
    expect(final?.status).toBe(ExportStatus.COMPLETED);
    expect(final?.attempts).toBe(2);
    const sha = (e: Export | undefined) => e?.artifacts.map((a) => [a.key, a.sha256]);
    expect(sha(final)).toEqual(sha(referenceFinal));
    expect([...storedFiles(final?.path ?? "").keys()].sort()).toEqual(["items.jsonl", "manifest.json", "summary.json"]);
  });

  it("fails a job whose workers keep dying, with the max-deliveries advisory", async () => {
    const env = {
      NATS_URL: stack.nats.url,
      ECHO_NAME: "echo-dying",
      ECHO_FORMAT: "echo-dying",
      ACK_WAIT_MS: "1000",
      MAX_DELIVER: "2",
    };
    const spec = join(import.meta.dirname, "fixtures", "echo-plugin");
    let id = "";
    for (const attempt of [1, 2]) {
      const worker = await startPluginProcess(spec, env);
      processes.push(worker);
      if (!id) {
        await waitFor(async () => (await stack.exports.listFormats({})).plugins.some((p) => p.name === "echo-dying"));
        const { export: created } = await stack.exports.createExport({
          datasetId,
          format: "echo-dying",
          options: { delayMs: 500 },
        });
        id = created?.id ?? "";
      }
      await waitFor(async () => (await stack.exports.getExport({ exportId: id })).export?.attempts === attempt);
      worker.child.kill("SIGKILL");
      await worker.exited;
    }
    // The server gives up when it would deliver a third time: to a worker that is pulling.
    processes.push(await startPluginProcess(spec, env));
    const final = (await watchToEnd(id)).at(-1);
    expect(final?.status).toBe(ExportStatus.FAILED);
    expect(final?.errorMessage).toBe("gave up after 2 attempts (the worker stopped responding)");
  });

  it("handles exports of more files than one job event can list", async () => {
    const many = await seedDataset(stack, "many files", 1200, "many");
    const { export: created } = await stack.exports.createExport({
      datasetId: many,
      format: "echo",
      options: { filePerItem: true },
    });
    const final = (await watchToEnd(created?.id ?? "")).at(-1);
    expect(final?.status).toBe(ExportStatus.COMPLETED);
    expect(final?.counts?.fileCount).toBe(1202n);
    expect(final?.artifacts).toEqual([]);
    expect(final?.fileSize).toBeGreaterThan(0n);
    const one = await stack.exports.getExportDownload({
      exportId: final?.id ?? "",
      artifactKey: "items/many-01100.json",
    });
    expect(await (await fetch(one.downloadUrl)).json()).toEqual({ id: "many-01100" });
    const link = await stack.exports.getExportDownload({ exportId: final?.id ?? "" });
    const zipPath = join(storageRoot, "many.zip");
    const zip = Buffer.from(await (await fetch(link.downloadUrl)).arrayBuffer());
    // Sized from the listing as it arrives (not by building the ZIP's entries): the same bytes.
    expect(BigInt(zip.length)).toBe(link.fileSize);
    writeFileSync(zipPath, zip);
    const count = execFileSync("python3", [
      "-c",
      "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print(len(z.namelist()))",
      zipPath,
    ]).toString();
    expect(count.trim()).toBe("1203");
  });
});
