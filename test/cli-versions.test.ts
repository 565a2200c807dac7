// `labelport versions ...` and `export create --version`: create, list, get, diff and delete
// versions of a dataset by name, export one, and the exit codes of what goes wrong.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "./support/cli.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";

const KEYS = { admin: "versions-admin-key-0123", editor: "versions-editor-key-0123" };
const DATASET = "cli-versions";
const storageRoot = mkdtempSync(join(tmpdir(), "labelport-cli-versions-"));
let stack: JobStack;
let workers: PluginWorkers;

const cli = (args: string[], apiKey = KEYS.admin): Promise<CliResult> =>
  runCli(args, { url: stack.orchestrator.url, apiKey });

beforeAll(async () => {
  stack = await startJobStack(
    { STORAGE_LOCAL_ROOT: storageRoot, API_KEYS: `admin:admin:${KEYS.admin},editor:editor:${KEYS.editor}` },
    KEYS.admin,
  );
  workers = await startPluginWorkers(stack, ["@labelport/plugin-jsonl"], { importers: false });
  await seedDataset(stack, DATASET, 5, "cv");
}, 60_000);

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

describe("labelport versions", () => {
  it("creates, lists, gets and diffs versions by name, and exports one", async () => {
    const created = await cli(["versions", "create", DATASET, "v1", "--description", "five images"]);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^created version \S+ "v1" of dataset /);
    expect(created.stdout).toContain("5 items, 10 annotations");

    await stack.items.deleteItems({ datasetId: DATASET, itemIds: ["cv-00000"] });
    expect((await cli(["versions", "create", DATASET, "v2"])).code).toBe(0);

    const list = await cli(["versions", "list", DATASET]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^ID\s+NAME\s+ITEMS\s+ANNOTATIONS\s+BYTES\s+CREATED\s+BY$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1, 4))).toEqual([
      ["v2", "4", "8"],
      ["v1", "5", "10"],
    ]);
    const listed = JSON.parse((await cli(["versions", "list", DATASET, "--json"])).stdout) as Array<{ name: string }>;
    expect(listed.map((v) => v.name)).toEqual(["v2", "v1"]);

    const got = JSON.parse((await cli(["versions", "get", DATASET, "v1", "--json"])).stdout) as {
      name: string;
      description: string;
      createdBy: string;
    };
    expect(got).toMatchObject({ name: "v1", description: "five images", createdBy: "admin" });

    const diff = await cli(["versions", "diff", DATASET, "v1", "v2"]);
    expect(diff.code).toBe(0);
    expect(diff.stdout).toContain("v1 -> v2");
    expect(diff.stdout).toMatch(/items\s+\+0 -1 ~0/);
    expect(diff.stdout).toContain("cv-00000: item removed");

    const exported = await cli([
      "export",
      "create",
      "--dataset",
      DATASET,
      "--format",
      "jsonl",
      "--option",
      "items=true",
      "--version",
      "v1",
      "--no-media",
      "--wait",
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stdout).toContain('version "v1"');
    expect(exported.stdout).toContain("5 items, 10 annotations");
  });

  it("answers with the exit code of what went wrong, and keeps --version alone for the CLI", async () => {
    const missing = await cli(["versions", "get", DATASET, "no-such"]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toContain('version "no-such" not found');

    const usage = await cli(["versions", "create", DATASET]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("missing NAME");
    expect(usage.stderr).toContain("usage: labelport versions create DATASET NAME");

    const refused = await cli(["versions", "delete", DATASET, "v1"], KEYS.editor);
    expect(refused.code).toBe(4);

    const help = await cli(["versions", "diff", "--help"]);
    expect(help.stdout).toContain("example:\n  labelport versions diff street-scenes june-train july-train");

    const own = await cli(["--version"]);
    expect(own.code).toBe(0);
    expect(own.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);

    const deleted = await cli(["versions", "delete", DATASET, "v1"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect((await cli(["versions", "get", DATASET, "v1"])).code).toBe(5);
  });
});
