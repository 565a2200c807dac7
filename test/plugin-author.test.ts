// A plugin author's path, scripted: `labelport-plugin init` writes a package whose own tests pass,
// `labelport-plugin run` serves it to a running stack and an export in its format completes; the
// sample third-party plugin (examples/labelme-exporter) passes its tests and exports the sample
// items (examples/items.jsonl, imported through the item import); the CLI's errors say what to do.
// The scaffold lives under .data/, inside the repository, so @labelport/sdk and vitest resolve
// from the workspace's node_modules as an installed `file:` SDK would.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type Export, ExportStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { upload } from "../services/orchestrator/src/data/testing.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginProcess, startPluginProcess } from "./support/plugin-process.ts";
import { ROOT } from "./support/process.ts";

const run = promisify(execFile);
const CLI = join(ROOT, "sdk/bin/labelport-plugin.mjs");
const VITEST = join(ROOT, "node_modules/vitest/vitest.mjs");
const EXAMPLE = join(ROOT, "examples/labelme-exporter");

const workDir = join(DATA_DIR, "test-runs", `plugin-author-${randomUUID().slice(0, 8)}`);
const scaffold = join(workDir, "street-boxes");
const storageRoot = mkdtempSync(join(tmpdir(), "labelport-author-"));
let stack: JobStack;
/** The sample items (examples/items.jsonl), imported once: item ids are unique across datasets. */
let datasetId: string;
const processes: PluginProcess[] = [];

/** Runs a command to its end; never rejects, so a failure's output reaches the assertion. */
async function exec(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: options.cwd ?? ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
      timeout: 240_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ""}${failed.stderr ?? ""}` };
  }
}

/** Exports the sample dataset once the orchestrator lists the plugin (it registers after "serving"). */
async function exportToEnd(format: string): Promise<Export | undefined> {
  const deadline = Date.now() + 60_000;
  while (!(await stack.exports.listFormats({})).plugins.some((p) => p.name === format)) {
    if (Date.now() > deadline) throw new Error(`no plugin registered for ${format}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const { export: created } = await stack.exports.createExport({ datasetId, format });
  for (;;) {
    const { export: current } = await stack.exports.getExport({ exportId: created?.id ?? "" });
    const done = [ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELED];
    if (current && done.includes(current.status)) return current;
    if (Date.now() > deadline) throw new Error(`export ${format} did not finish: ${JSON.stringify(current)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  mkdirSync(workDir, { recursive: true });
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  const { dataset } = await stack.datasets.createDataset({
    name: "street scenes",
    categories: [{ name: "car" }, { name: "person" }],
  });
  datasetId = dataset?.id ?? "";
  const imported = await upload(
    `${stack.orchestrator.url}/api/import?datasetId=${datasetId}&format=labelport-items`,
    readFileSync(join(ROOT, "examples/items.jsonl"), "utf8"),
  );
  if (imported.status !== 200) throw new Error(`import failed: ${JSON.stringify(imported.body)}`);
});

afterAll(async () => {
  for (const p of processes) p.child.kill("SIGTERM");
  await Promise.all(processes.map((p) => p.exited));
  await stack?.close();
  rmSync(workDir, { recursive: true, force: true });
  rmSync(storageRoot, { recursive: true, force: true });
});

describe("a plugin author", () => {
  it("scaffolds a plugin whose tests pass, serves it, and an export in its format completes", {
    timeout: 300_000,
  }, async () => {
    const init = await exec([CLI, "init", "street-boxes", "--sdk", `file:${join(ROOT, "sdk")}`], { cwd: workDir });
    expect(init, init.output).toMatchObject({ code: 0 });
    expect(init.output).toContain("npm test");
    const pkg = JSON.parse(readFileSync(join(scaffold, "package.json"), "utf8"));
    expect(pkg).toMatchObject({ type: "module", dependencies: { "@labelport/sdk": `file:${join(ROOT, "sdk")}` } });

    const tests = await exec([VITEST, "run"], { cwd: scaffold });
    expect(tests.output).toMatch(/Tests\s+\d+ passed/);
    expect(tests, tests.output).toMatchObject({ code: 0 });

    processes.push(await startPluginProcess(scaffold, { NATS_URL: stack.nats.urlFor("plugin") }));
    const exported = await exportToEnd("street-boxes");
    expect(exported?.status, exported?.errorMessage).toBe(ExportStatus.COMPLETED);
    // Approved items only, by default: two of the three sample items.
    expect(exported?.counts?.itemCount).toBe(2n);
    expect(exported?.artifacts.map((a) => a.key).sort()).toEqual(["categories.json", "items.jsonl"]);
  });

  it("runs the sample LabelMe plugin's tests and exports the sample items with it", { timeout: 300_000 }, async () => {
    const tests = await exec([VITEST, "run"], { cwd: EXAMPLE });
    expect(tests, tests.output).toMatchObject({ code: 0 });

    processes.push(await startPluginProcess(EXAMPLE, { NATS_URL: stack.nats.urlFor("plugin") }));
    const exported = await exportToEnd("labelme");
    expect(exported?.status, exported?.errorMessage).toBe(ExportStatus.COMPLETED);
    expect(exported?.artifacts.map((a) => a.key).sort()).toEqual([
      "annotations/street-0001.json",
      "annotations/street-0002.json",
    ]);
  });
});

describe("labelport-plugin errors", () => {
  it("names the NATS server without its password and says what to do on refused credentials", async () => {
    const url = stack.nats.urlFor("plugin").replace(/:[^:@/]+@/, ":wrong-password@");
    const result = await exec([CLI, "run", EXAMPLE], { env: { NATS_URL: url } });
    expect(result.code).toBe(1);
    expect(result.output).toContain(`NATS at ${url.replace(/\/\/[^@]*@/, "//***@")} refused the credentials`);
    expect(result.output).toContain("nats://plugin:<password>@host:port");
    expect(result.output).not.toContain("wrong-password");
  });

  it("says where the stack is when nothing listens at NATS_URL", async () => {
    const result = await exec([CLI, "run", EXAMPLE], { env: { NATS_URL: "nats://127.0.0.1:1" } });
    expect(result.code).toBe(1);
    expect(result.output).toContain("cannot reach NATS at nats://127.0.0.1:1 (CONNECTION_REFUSED)");
    expect(result.output).toContain("npm start prints the plugin's NATS_URL");
  });

  it('tells the author of a CommonJS package to set "type": "module"', { timeout: 60_000 }, async () => {
    const cjs = join(workDir, "commonjs-plugin");
    const init = await exec([CLI, "init", "commonjs-plugin"], { cwd: workDir });
    expect(init, init.output).toMatchObject({ code: 0 });
    const pkg = JSON.parse(readFileSync(join(cjs, "package.json"), "utf8"));
    delete pkg.type;
    writeFileSync(join(cjs, "package.json"), JSON.stringify(pkg));
    const result = await exec([CLI, "run", cjs], { env: { NATS_URL: "nats://127.0.0.1:1" } });
    expect(result.code).toBe(1);
    expect(result.output).toContain('set "type": "module" in the plugin\'s package.json');
  });
});
