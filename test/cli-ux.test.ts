// The `labelport` binary as people and scripts meet it: whole output through a pipe, one exit code
// per kind of outcome, --version and per-command help, --json on every command, tables with a
// header and colour only on a terminal, short export ids, datasets with categories, and import
// options in the console's shape with enum names.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli, runCliInTerminal } from "./support/cli.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const KEYS = { admin: "ux-admin-key-0123", editor: "ux-editor-key-0123", viewer: "ux-viewer-key-0123" };
const API_KEYS = `admin:admin:${KEYS.admin},editor:editor:${KEYS.editor},viewer:viewer:${KEYS.viewer}`;
const DATASET = "ux-scenes";
const SDK_VERSION = (
  JSON.parse(readFileSync(new URL("../sdk/package.json", import.meta.url), "utf8")) as { version: string }
).version;

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-cli-ux-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-cli-ux-files-"));
let stack: JobStack;
let nats: NatsConnection;
let worker: Worker;
let exportId = "";

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot, API_KEYS }, KEYS.admin);
  nats = await connect(natsConnectOptions(stack.nats.url));
  await seedDataset(stack, DATASET, 6, "ux");
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  worker = await startWorker({ nats, exporter: (await import("@labelport/plugin-coco")).default, log: quiet });
  const deadline = Date.now() + 20_000;
  while ((await stack.exports.listFormats({})).plugins.length < 1) {
    if (Date.now() > deadline) throw new Error("plugin did not register");
    await sleep(100);
  }
  const created = await cli([
    "export",
    "create",
    "--dataset",
    DATASET,
    "--format",
    "coco",
    "--name",
    "ux one",
    "--wait",
  ]);
  if (created.code !== 0) throw new Error(`export create failed: ${created.stderr}`);
  exportId = /^created export (\S+)$/m.exec(created.stdout)?.[1] ?? "";
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function cli(args: string[], key: string = KEYS.editor): Promise<CliResult> {
  return runCli(args, { url: stack.orchestrator.url, apiKey: key });
}

/** A message ends in words, never in a raw status number like "(5)". */
const expectNoRawCode = (stderr: string) => expect(stderr).not.toMatch(/\(\d+\)\s*$/m);

describe("labelport through a pipe", () => {
  it("delivers more than 1 MB of output whole (it exits only after stdout drained)", async () => {
    // 6,000 categories with 190-character names: `datasets list --json` prints well over 1 MB.
    const names = Array.from({ length: 6000 }, (_, i) => `${String(i).padStart(5, "0")}-${"x".repeat(184)}`);
    await stack.datasets.createDataset({ name: "ux-big", categories: names.map((name) => ({ name })) });
    const result = await cli(["datasets", "list", "--json"], KEYS.viewer);
    expect(result.code, result.stderr).toBe(0);
    expect(Buffer.byteLength(result.stdout)).toBeGreaterThan(1_000_000);
    const datasets = JSON.parse(result.stdout) as { name: string; categories: { name: string }[] }[];
    const big = datasets.find((d) => d.name === "ux-big");
    expect(big?.categories.map((c) => c.name)).toEqual(names);
  });
});

describe("exit codes", () => {
  it("0 ok, 1 failed, 2 usage naming the flag, 4 auth, 5 not found, 6 unavailable naming the URL", async () => {
    const ok = await cli(["datasets", "list"], KEYS.viewer);
    expect(ok.code, ok.stderr).toBe(0);

    const taken = await cli(["datasets", "create", DATASET]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/^labelport: .*ux-scenes/m);
    expectNoRawCode(taken.stderr);

    const unknownFlag = await cli(["export", "list", "--colour"]);
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toMatch(/^labelport: Unknown option '--colour'$/m);

    const badKey = await cli(["datasets", "list"], "not-a-key");
    expect(badKey.code).toBe(4);
    expect(badKey.stderr).toContain("invalid API key");
    expectNoRawCode(badKey.stderr);
    const viewer = await cli(["datasets", "create", "ux-not-allowed"], KEYS.viewer);
    expect(viewer.code).toBe(4);
    expectNoRawCode(viewer.stderr);

    const missing = await cli(["export", "get", "00000000-0000-4000-8000-000000000000"], KEYS.viewer);
    expect(missing.code).toBe(5);
    expectNoRawCode(missing.stderr);
    const noPrefix = await cli(["export", "get", "zzzzzzzz"], KEYS.viewer);
    expect(noPrefix.code).toBe(5);
    expect(noPrefix.stderr).toContain('labelport: export "zzzzzzzz" not found');

    // A port nobody listens on: taken from the OS, then released.
    const port = await new Promise<number>((done) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => done(typeof address === "object" && address ? address.port : 0));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const down = await runCli(["datasets", "list"], { url });
    expect(down.code).toBe(6);
    expect(down.stderr).toContain(`labelport: cannot reach the Labelport server at ${url}`);
    expectNoRawCode(down.stderr);
  });

  it("3 when an import completed with losses (0 with --allow-losses)", async () => {
    const file = join(scratch, "lossy.jsonl");
    // Category 99 does not exist in the dataset: the annotation is dropped.
    writeFileSync(file, `${JSON.stringify(itemLine("ux-lossy", 99))}\n`);
    const lossy = await cli(["import", file, "--dataset", DATASET, "--format", "labelport-items"]);
    expect(lossy.code, lossy.stderr).toBe(3);
    const allowed = await cli([
      "import",
      file,
      "--dataset",
      DATASET,
      "--format",
      "labelport-items",
      "--preview",
      "--allow-losses",
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
  });
});

describe("help and version", () => {
  it("--version prints the SDK's version", async () => {
    const result = await cli(["--version"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${SDK_VERSION}\n`);
  });

  it("each command's --help shows its own usage and an example", async () => {
    const commands = [
      ["datasets", "list"],
      ["datasets", "create"],
      ["datasets", "add-categories"],
      ["formats"],
      ["export", "create"],
      ["export", "list"],
      ["export", "get"],
      ["export", "download"],
      ["export", "logs"],
      ["export", "stop"],
      ["import"],
    ];
    const seen = new Set<string>();
    for (const command of commands) {
      const result = await cli([...command, "--help"]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^usage: labelport ${command.join(" ")}\\b`));
      expect(result.stdout).toMatch(new RegExp(`\nexample:\n {2}labelport ${command.join(" ")}(\\s|$)`));
      seen.add(result.stdout);
    }
    expect(seen.size).toBe(commands.length);
    const group = await cli(["export", "--help"]);
    expect(group.stdout).toContain("export download ID -o FILE|DIR/");
  });

  it("a usage error shows the command's usage, not the whole overview", async () => {
    const result = await cli(["export", "create", "--format", "coco"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      "labelport: missing --dataset\nusage: labelport export create --dataset D --format F [--name N] [--option key=value ...] " +
        "[--split S ...] [--tag T ...] [--category C ...] [--item-status draft|in_review|approved|rejected|all ...] " +
        "[--version V] [--target ground_truth|assignment|task] [--shards N] [--no-media] [--wait] [--json]\n" +
        "(labelport export create --help shows an example)\n",
    );
  });
});

describe("--json and human output", () => {
  it("every command answers --json with JSON alone on stdout", async () => {
    const parse = async (args: string[]) => {
      const result = await cli([...args, "--json"]);
      expect(result.code, `${args.join(" ")}: ${result.stderr}`).toBe(0);
      return JSON.parse(result.stdout) as unknown;
    };
    expect(await parse(["--version"])).toEqual({ version: SDK_VERSION });
    expect(await parse(["formats"])).toMatchObject({ exportFormats: [{ format: "coco" }] });
    expect(await parse(["datasets", "list"])).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: DATASET })]),
    );
    expect(await parse(["export", "list"])).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: exportId })]),
    );
    expect(await parse(["export", "get", exportId])).toMatchObject({ id: exportId, status: "EXPORT_STATUS_COMPLETED" });
    const out = join(scratch, "json.zip");
    expect(await parse(["export", "download", exportId, "-o", out])).toEqual({ path: out, bytes: expect.any(Number) });
    const created = (await parse(["export", "create", "--dataset", DATASET, "--format", "coco", "--wait"])) as {
      id: string;
      status: string;
    };
    expect(created.status).toBe("EXPORT_STATUS_COMPLETED");
    // Filters by flag: split, category by name, every item status, no media.
    const filtered = (await parse([
      ...["export", "create", "--dataset", DATASET, "--format", "coco", "--split", "val", "--category", "person"],
      ...["--item-status", "all", "--no-media", "--wait"],
    ])) as { filter: object; saveOriginalFile: boolean; counts: { itemCount: string }; status: string };
    expect(filtered).toMatchObject({
      status: "EXPORT_STATUS_COMPLETED",
      filter: { splits: ["val"], categoryIds: [2], allStatuses: true },
      counts: { itemCount: "2" },
    });
    expect(filtered.saveOriginalFile ?? false).toBe(false);
    const badStatus = await cli([
      "export",
      "create",
      "--dataset",
      DATASET,
      "--format",
      "coco",
      "--item-status",
      "done",
    ]);
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain('unknown --item-status "done"');
    const badCategory = await cli(["export", "create", "--dataset", DATASET, "--format", "coco", "--category", "cat"]);
    expect(badCategory.code).toBe(2);
    expect(badCategory.stderr).toContain('unknown --category "cat": the dataset has car, person');
    // Logs are one JSON object a line, so `--follow` can stream them.
    const logs = await cli(["export", "logs", created.id, "--json"]);
    expect(logs.code, logs.stderr).toBe(0);
    const lines = logs.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { source: string });
    expect(lines.map((l) => l.source)).toContain("orchestrator");
    expect(await parse(["datasets", "create", "ux-json", "--category", "car"])).toMatchObject({
      name: "ux-json",
      categories: [{ id: 1, name: "car" }],
    });
    expect(await parse(["datasets", "add-categories", "ux-json", "--category", "bus"])).toMatchObject({
      categories: [
        { id: 1, name: "car" },
        { id: 2, name: "bus" },
      ],
    });
  });

  it("export list is a table with a header; coloured on a terminal, plain with NO_COLOR or piped", async () => {
    const piped = await cli(["export", "list"], KEYS.viewer);
    const header = piped.stdout.split("\n")[0];
    expect(header).toMatch(/^ID\s+DATASET\s+FORMAT\s+STATUS\s+CREATED\s+NAME$/);
    expect(piped.stdout).toMatch(new RegExp(`^${exportId}  ${DATASET}\\s+coco\\s+completed\\s+\\S+Z  ux one$`, "m"));
    expect(piped.stdout).not.toContain("\u001b[");

    const terminal = await runCliInTerminal(["export", "list"], { url: stack.orchestrator.url, apiKey: KEYS.viewer });
    expect(terminal.code, terminal.stdout).toBe(0);
    expect(terminal.stdout).toContain("\u001b[32mcompleted\u001b[0m");
    const noColor = await runCliInTerminal(["export", "list"], {
      url: stack.orchestrator.url,
      apiKey: KEYS.viewer,
      env: { NO_COLOR: "1" },
    });
    expect(noColor.code, noColor.stdout).toBe(0);
    expect(noColor.stdout).toContain(exportId);
    expect(noColor.stdout).not.toContain("\u001b[");
  });
});

describe("short export ids", () => {
  it("a unique prefix of 4+ characters works wherever an id does; an ambiguous one lists the candidates", async () => {
    const prefix = exportId.slice(0, 8);
    const got = await cli(["export", "get", prefix], KEYS.viewer);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toContain(`${exportId}  completed  coco  "ux one"`);
    const logs = await cli(["export", "logs", prefix], KEYS.viewer);
    expect(logs.code, logs.stderr).toBe(0);
    const out = join(scratch, "short.zip");
    const downloaded = await cli(["export", "download", prefix, "-o", out], KEYS.viewer);
    expect(downloaded.code, downloaded.stderr).toBe(0);

    const tooShort = await cli(["export", "get", exportId.slice(0, 3)], KEYS.viewer);
    expect(tooShort.code).toBe(2);
    expect(tooShort.stderr).toContain("give at least 4 characters");

    // A second export whose id shares the first 8 characters: a copy of the first's record.
    const exports = stack.orchestrator.database.db.collection<{ _id: string; name: string }>("exports");
    const original = await exports.findOne({ _id: exportId });
    const twin = `${prefix}-ffff-4fff-8fff-ffffffffffff`;
    await exports.insertOne({ ...original, _id: twin, name: "ux one twin" });
    const ambiguous = await cli(["export", "get", prefix], KEYS.viewer);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(`export id "${prefix}" is ambiguous`);
    expect(ambiguous.stderr).toContain(exportId);
    expect(ambiguous.stderr).toContain(twin);
    await exports.deleteOne({ _id: twin });
  });
});

describe("datasets", () => {
  it("datasets create NAME --category ... and add-categories DATASET --category ...", async () => {
    const created = await cli(["datasets", "create", "ux-street", "--category", "car", "--category", "person"]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^created dataset \S+ "ux-street": 2 categories \(1 car, 2 person\)$/m);
    const added = await cli(["datasets", "add-categories", "ux-street", "--category", "bicycle"]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/"ux-street": 3 categories \(1 car, 2 person, 3 bicycle\)$/m);
    const none = await cli(["datasets", "add-categories", "ux-street"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("labelport: missing --category NAME");
  });
});

describe("import --options", () => {
  it("takes the console's REST shape and enum names; a wrong name lists the valid ones", async () => {
    const file = join(scratch, "options.jsonl");
    writeFileSync(file, `${JSON.stringify(itemLine("ux-options", 1))}\n`);
    const base = ["import", file, "--dataset", DATASET, "--format", "labelport-items"];
    const first = await cli([
      ...base,
      "--options",
      '{"conflictResolution":{"duplicateIds":"skip"},"transaction":{"atomic":true}}',
    ]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("1 received, 1 written");
    // Flat (message) shape, by the enum's full name: the same item again is overwritten, not skipped.
    const again = await cli([...base, "--options", '{"duplicateIds":"DUPLICATE_IDS_OVERWRITE"}']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("0 skipped as asked");
    const skipped = await cli([...base, "--options", '{"conflictResolution":{"duplicateIds":"skip"}}']);
    expect(skipped.stdout).toContain("1 skipped as asked");

    const wrong = await cli([...base, "--options", '{"conflictResolution":{"duplicateIds":"replace"}}']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      'labelport: --options: conflictResolution.duplicateIds: expected one of skip, overwrite, merge, fail (got "replace")',
    );
    const unknown = await cli([...base, "--options", '{"conflictResolution":{"onDuplicate":"skip"}}']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown option "conflictResolution.onDuplicate"');
  });
});

/** One labelport-items line: an image item with one box of `categoryId`. */
function itemLine(id: string, categoryId: number) {
  const time = "2026-01-01T00:00:00Z";
  return {
    id,
    kind: "ITEM_KIND_IMAGE",
    status: "ITEM_STATUS_APPROVED",
    createTime: time,
    updateTime: time,
    annotations: [
      {
        id: `${id}-a0`,
        type: "ANNOTATION_TYPE_BBOX",
        categoryId,
        bbox: { x: 1, y: 1, width: 2, height: 3 },
        createTime: time,
        updateTime: time,
      },
    ],
  };
}
