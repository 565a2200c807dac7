// `labelport export download` as a child process against a real orchestrator and the CSV plugin:
// which file it fetches for -o x.csv, --artifact, -o x.zip and -o DIR/.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createLabelportClient } from "@labelport/sdk/client";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./support/cli.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const KEY = "cli-download-admin-key-0123";
const DATASET = "cli-download-scenes";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-cli-download-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-cli-download-files-"));
let stack: JobStack;
let nats: NatsConnection;
let worker: Worker | undefined;
let exportId = "";
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot, API_KEYS: `admin:admin:${KEY}` }, KEY);
  nats = await connect(natsConnectOptions(stack.nats.url));
  await seedDataset(stack, DATASET, 5);
  worker = await startWorker({ nats, exporter: (await import("@labelport/plugin-csv")).default, log: quiet });
  const deadline = Date.now() + 20_000;
  while ((await stack.exports.listFormats({})).plugins.length < 1) {
    if (Date.now() > deadline) throw new Error("the csv plugin did not register");
    await sleep(100);
  }
  const client = createLabelportClient({ baseUrl: stack.orchestrator.url, apiKey: KEY });
  exportId = (await client.exports.create({ datasetId: DATASET, format: "csv", name: "csv" }, { wait: true })).id;
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const cli = (args: string[]) => runCli(args, { url: stack.orchestrator.url, apiKey: KEY });

describe("labelport export download", () => {
  it("-o x.csv writes the export's one CSV file, not a ZIP of all its files", async () => {
    const file = join(scratch, "x.csv");
    const result = await cli(["export", "download", exportId, "-o", file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`wrote ${statSync(file).size} bytes to ${file}`);
    const text = readFileSync(file, "utf8");
    expect(text.startsWith("item_id,file_name,image_width,image_height,split,")).toBe(true);
    expect(text.split("\r\n").filter(Boolean).length).toBeGreaterThan(5);
  });

  it("--artifact KEY writes that file; -o x.zip writes the whole export as a ZIP", async () => {
    const summary = join(scratch, "summary.out");
    const one = await cli([
      "export",
      "download",
      exportId,
      "--artifact",
      "metadata/export_summary.json",
      "-o",
      summary,
    ]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(readFileSync(summary, "utf8"))).toMatchObject({ format: "csv", itemCount: 5 });
    const zip = join(scratch, "all.zip");
    const all = await cli(["export", "download", exportId, "-o", zip]);
    expect(all.code, all.stderr).toBe(0);
    expect(readFileSync(zip).subarray(0, 2).toString()).toBe("PK");
  });

  it("-o DIR/ writes the download into the directory under the server's file name", async () => {
    const dir = join(scratch, "new-dir");
    const result = await cli(["export", "download", exportId, "-o", `${dir}/`]);
    expect(result.code, result.stderr).toBe(0);
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^${DATASET}-${exportId}-\\d{8}T\\d{6}Z\\.zip$`));
    expect(result.stdout.trim()).toBe(
      `wrote ${statSync(join(dir, files[0] ?? "")).size} bytes to ${join(dir, files[0] ?? "")}`,
    );
    // An existing directory without the trailing slash, with one artifact asked for.
    const existing = join(scratch, "existing");
    mkdirSync(existing);
    const csv = await cli(["export", "download", exportId, "--artifact", "annotations.csv", "-o", existing]);
    expect(csv.code, csv.stderr).toBe(0);
    const [name] = readdirSync(existing);
    expect(name).toMatch(/\.csv$/);
    expect(readFileSync(join(existing, name ?? ""), "utf8").startsWith("item_id,")).toBe(true);
  });

  it("an unknown artifact is an error naming it, exit 5 (not found)", async () => {
    const result = await cli(["export", "download", exportId, "--artifact", "nope.txt", "-o", join(scratch, "n")]);
    expect(result.code).toBe(5);
    expect(result.stderr).toContain('artifact "nope.txt" not found');
  });
});
