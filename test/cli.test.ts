// The `labelport` CLI as a child process (sdk/bin/labelport.mjs, LABELPORT_URL/LABELPORT_API_KEY)
// and the SDK client's create-and-wait and download, against a real orchestrator and plugin workers.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createLabelportClient, ExportFailedError } from "@labelport/sdk/client";
import { ExportStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { type CliResult, runCli } from "./support/cli.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const KEYS = { admin: "cli-admin-key-0123", editor: "cli-editor-key-0123", viewer: "cli-viewer-key-0123" };
const API_KEYS = `admin:admin:${KEYS.admin},editor:editor:${KEYS.editor},viewer:viewer:${KEYS.viewer}`;
const DATASET = "cli-scenes";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-cli-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-cli-files-"));
let stack: JobStack;
let nats: NatsConnection;
let datasetId: string;
const workers: Worker[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot, API_KEYS }, KEYS.admin);
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedDataset(stack, DATASET, 12);
  workers.push(await startWorker({ nats, exporter: (await import("@labelport/plugin-coco")).default, log: quiet }));
  workers.push(await startWorker({ nats, exporter: (await import("@labelport/plugin-jsonl")).default, log: quiet }));
  // One delivery: a failing job fails at once instead of after retries with backoff.
  workers.push(await startWorker({ nats, exporter: EchoExporter, maxDeliver: 1, log: quiet }));
  const deadline = Date.now() + 20_000;
  while ((await stack.exports.listFormats({})).plugins.length < 3) {
    if (Date.now() > deadline) throw new Error("plugins did not register");
    await sleep(100);
  }
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const cli = (args: string[], key: string = KEYS.editor): Promise<CliResult> =>
  runCli(args, { url: stack.orchestrator.url, apiKey: key });

const idOf = (stdout: string) => stdout.match(/^created export (\S+)$/m)?.[1] ?? "";

describe("labelport CLI", () => {
  let exportId = "";

  it("export create --wait: progress bar on stderr, summary with check values on stdout", async () => {
    const result = await cli([
      "export",
      "create",
      "--dataset",
      DATASET,
      "--format",
      "coco",
      "--name",
      "cli one",
      "--wait",
    ]);
    expect(result.code, result.stderr).toBe(0);
    exportId = idOf(result.stdout);
    expect(exportId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.stdout).toContain(`${exportId}  completed  coco  "cli one"`);
    expect(result.stdout).toContain(`dataset ${DATASET}`);
    expect(result.stdout).toMatch(/12 items, 24 annotations, \d+ files, \d+ bytes/);
    // The bar stays off stdout, so `labelport ... > file` stays clean.
    expect(result.stderr).toMatch(/100% \| 12\/12 items \| \d+ items\/s \| ETA \d+s \| completed/);
    expect(result.stdout).not.toMatch(/%|█|░/);
  });

  it("export create --wait: counts what the files hold and says what was dropped and why", async () => {
    // jsonl without items: true writes video tracks only; the seeded boxes are all dropped.
    const result = await cli(["export", "create", "--dataset", DATASET, "--format", "jsonl", "--wait"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/12 items, 0 annotations, \d+ files, \d+ bytes/);
    expect(result.stdout).toContain(
      "  dropped 24 of 24 annotations: bbox: annotations.jsonl carries video tracks only (items: true writes every annotation) (24)",
    );
    expect(result.stdout).not.toContain("changed");
  });

  it("export list shows the export; --status filters and is validated", async () => {
    // By dataset id: ListExports does not resolve dataset names (reported, not this file's to fix).
    const listed = await cli(["export", "list", "--dataset", datasetId], KEYS.viewer);
    expect(listed.code, listed.stderr).toBe(0);
    // A table under a header, the dataset by name; piped, so no colour escapes.
    expect(listed.stdout).toMatch(/^ID\s+DATASET\s+FORMAT\s+STATUS\s+CREATED\s+NAME$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${exportId}  ${DATASET}\\s+coco\\s+completed\\s+\\S+Z  cli one$`, "m"));
    expect(listed.stdout).not.toContain("\u001b[");
    const running = await cli(["export", "list", "--dataset", datasetId, "--status", "running"], KEYS.viewer);
    expect(running.stdout).not.toContain(exportId);
    const bad = await cli(["export", "list", "--status", "sleeping"], KEYS.viewer);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('labelport: unknown --status "sleeping"');
  });

  it("export download ID -o FILE writes the ZIP", async () => {
    const file = join(scratch, "cli-one.zip");
    const result = await cli(["export", "download", exportId, "-o", file], KEYS.viewer);
    expect(result.code, result.stderr).toBe(0);
    const size = statSync(file).size;
    expect(result.stdout.trim()).toBe(`wrote ${size} bytes to ${file}`);
    expect(readFileSync(file).subarray(0, 2).toString()).toBe("PK");
  });

  it("export logs ID prints the job's lines, orchestrator and plugin", async () => {
    const result = await cli(["export", "logs", exportId], KEYS.viewer);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\S+Z info {2}\[orchestrator\] export queued for coco@1\.0\.0$/);
    expect(result.stdout).toMatch(/ info {2}\[plugin\] export completed$/m);
  });

  it("export logs --follow ends with the job; export stop cancels a running one", async () => {
    const created = await cli([
      "export",
      "create",
      "--dataset",
      DATASET,
      "--format",
      "echo",
      "--option",
      "delayMs=20",
      "--name",
      "followed",
    ]);
    const followed = await cli(["export", "logs", idOf(created.stdout), "--follow"], KEYS.viewer);
    expect(followed.code, followed.stderr).toBe(0);
    expect(followed.stdout).toMatch(/\[plugin\] export completed$/m);

    const slow = await cli(["export", "create", "--dataset", DATASET, "--format", "echo", "--option", "delayMs=500"]);
    const slowId = idOf(slow.stdout);
    const stopped = await cli(["export", "stop", slowId]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout.trim()).toBe(`export ${slowId} is canceled`);
    const again = await cli(["export", "stop", slowId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^labelport: export is already canceled/);
    const viewer = await cli(["export", "stop", slowId], KEYS.viewer);
    expect(viewer.code).toBe(4);
    expect(viewer.stderr).toContain('API key "viewer" has role viewer; this needs editor');
  });

  it("export create --wait exits 1 with the job's error when it fails", async () => {
    const result = await cli([
      "export",
      "create",
      "--dataset",
      DATASET,
      "--format",
      "echo",
      "--option",
      "fail=disk on fire",
      "--wait",
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/labelport: export \S+ failed: disk on fire/);
  });

  it("datasets list shows datasets with their counts", async () => {
    const result = await cli(["datasets", "list"], KEYS.viewer);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^ID\s+NAME\s+ITEMS\s+ANNOTATIONS\s+CATEGORIES$/m);
    expect(result.stdout).toMatch(new RegExp(`^${datasetId}  ${DATASET}\\s+12\\s+24\\s+\\d+$`, "m"));
  });

  it("reports unknown datasets, bad keys and usage errors", async () => {
    const missing = await cli(["export", "create", "--dataset", "nowhere", "--format", "coco"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('dataset "nowhere" not found');
    const badKey = await cli(["datasets", "list"], "wrong-key");
    expect(badKey.code).toBe(4);
    expect(badKey.stderr).toContain("invalid API key");
    const usage = await cli(["export", "create", "--format", "coco"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("labelport: missing --dataset");
  });
});

describe("SDK client", () => {
  const client = () => createLabelportClient({ baseUrl: stack.orchestrator.url, apiKey: KEYS.editor });

  it("exports.create({...}, {wait: true}) resolves with the finished export, then downloads it", async () => {
    const seen: ExportStatus[] = [];
    const done = await client().exports.create(
      { datasetId: DATASET, format: "coco", name: "sdk wait" },
      { wait: true, onProgress: (e) => seen.push(e.status) },
    );
    expect(done.status).toBe(ExportStatus.COMPLETED);
    expect(done.counts).toMatchObject({ itemCount: 12n, annotationCount: 24n });
    expect(seen.at(-1)).toBe(ExportStatus.COMPLETED);
    const file = join(scratch, "sdk.zip");
    const written = await client().exports.download(done.id, file);
    expect(statSync(file).size).toBe(written);
    expect(readFileSync(file).subarray(0, 2).toString()).toBe("PK");
  });

  it("exports.create({...}, {wait: true}) rejects with the export's error message", async () => {
    const err = await client()
      .exports.create({ datasetId, format: "echo", options: { fail: "disk on fire" } }, { wait: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportFailedError);
    const failed = err as ExportFailedError;
    expect(failed.message).toBe(`export ${failed.export_.id} failed: disk on fire`);
    expect(failed.export_.status).toBe(ExportStatus.FAILED);
  });

  it("without wait resolves at once with the queued export", async () => {
    const queued = await client().exports.create({ datasetId, format: "coco", name: "sdk no wait" });
    expect(queued.status).toBe(ExportStatus.QUEUED);
    expect((await client().exports.wait(queued.id)).status).toBe(ExportStatus.COMPLETED);
  });
});
