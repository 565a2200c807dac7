// `labelport import` with other tools' formats and `labelport formats`, as a child process
// (sdk/bin/labelport.mjs) against a real orchestrator whose uploads go to the built-in importer
// plugins over NATS: a folder zipped on the fly, importer options as flags, the server's own
// refusals, and the catalogue of formats with their options.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, runCli } from "./support/cli.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";
import { png } from "./support/png.ts";

const PLUGINS = ["@labelport/plugin-coco", "@labelport/plugin-labelme", "@labelport/plugin-voc"];

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-cli-import-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-cli-import-files-"));
let stack: JobStack;
let workers: PluginWorkers;

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  workers = await startPluginWorkers(stack, PLUGINS);
  // LabelMe is import-only: Labelport writes no LabelMe.
  const wanted = { exports: ["coco", "voc"], imports: ["coco", "labelme", "voc"] };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { plugins } = await stack.exports.listFormats({});
    const exporting = plugins.flatMap((p) => p.formats);
    const importing = plugins.flatMap((p) => p.importFormats);
    if (wanted.exports.every((f) => exporting.includes(f)) && wanted.imports.every((f) => importing.includes(f))) break;
    if (Date.now() > deadline) throw new Error(`plugins did not register (have ${plugins.map((p) => p.name)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const cli = (args: string[]): Promise<CliResult> => runCli(args, { url: stack.orchestrator.url });

/** Writes `files` (path -> content) under a new folder named `name` and returns its path. */
function folder(name: string, files: Record<string, string | Buffer>): string {
  const root = join(mkdtempSync(join(scratch, "upload-")), name);
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), body);
  }
  return root;
}

const coco = (extraAnnotations: object[] = []) =>
  JSON.stringify({
    images: [
      { id: 1, file_name: "street 01.jpg", width: 64, height: 48 },
      { id: 2, file_name: "park.png", width: 32, height: 32 },
    ],
    categories: [
      { id: 3, name: "car", supercategory: "vehicle" },
      { id: 7, name: "人", supercategory: "person" },
    ],
    annotations: [
      { id: 11, image_id: 1, category_id: 3, bbox: [1, 2, 10, 8], area: 80, iscrowd: 0 },
      { id: 12, image_id: 1, category_id: 7, bbox: [5, 5, 10, 10], area: 100, iscrowd: 0 },
      { id: 13, image_id: 2, category_id: 3, segmentation: [[1, 1, 20, 1, 20, 20]], bbox: [1, 1, 19, 19], iscrowd: 0 },
      ...extraAnnotations,
    ],
  });

const cocoFolder = (name: string, extraAnnotations: object[] = []) =>
  folder(name, {
    "annotations/instances_train.json": coco(extraAnnotations),
    "images/train/street 01.jpg": png(64, 48),
    "images/train/park.png": png(32, 32),
  });

/** One LabelMe file with a circle, which becomes a polygon of `circleVertices` points. */
const labelmeFolder = (name: string) =>
  folder(name, {
    "wheel.json": JSON.stringify({
      version: "5.5.0",
      flags: {},
      shapes: [
        {
          label: "wheel",
          points: [
            [20, 20],
            [25, 20],
          ],
          group_id: null,
          description: "",
          shape_type: "circle",
          flags: {},
          mask: null,
        },
      ],
      imagePath: "wheel.png",
      imageData: null,
      imageHeight: 40,
      imageWidth: 60,
    }),
    "wheel.png": png(60, 40),
  });

async function newDataset(name: string): Promise<string> {
  const { dataset } = await stack.datasets.createDataset({ name });
  return dataset?.id ?? "";
}

async function itemsOf(datasetId: string) {
  const items = [];
  for await (const page of stack.items.streamItems({ datasetId, filter: { allStatuses: true } })) {
    items.push(...page.items);
  }
  return items.sort((a, b) => a.id.localeCompare(b.id));
}

const importId = (stdout: string) => /^import (\S+): /m.exec(stdout)?.[1] ?? "";

describe("labelport import with importer formats", () => {
  it("uploads a folder as a ZIP of its files: a COCO dataset with its images comes in whole", async () => {
    const datasetId = await newDataset("cli-coco-folder");
    const result = await cli(["import", cocoFolder("my_coco"), "--format", "coco", "--dataset", datasetId]);
    expect(result.code, result.stderr).toBe(0);
    expect(importId(result.stdout)).not.toBe("");
    expect(result.stdout).toContain(": completed\n");
    expect(result.stdout).toContain("annotations: 3 received, 3 written, 0 merged, 0 skipped as asked, 0 dropped");
    // The bar counts the folder's bytes read, on stderr.
    expect(result.stderr).toMatch(/100% \| (\d+)\/\1 bytes/);

    const { dataset } = await stack.datasets.getDataset({ datasetId });
    expect(dataset?.categories.map((c) => [c.id, c.name])).toEqual([
      [3, "car"],
      [7, "人"],
    ]);
    const items = await itemsOf(datasetId);
    expect(items.map((i) => [i.id, i.split, i.annotations.length])).toEqual([
      ["park", "train", 1],
      ["street 01", "train", 2],
    ]);
    for (const item of items) expect(existsSync(join(storageRoot, item.media?.uri ?? "missing"))).toBe(true);
    const history = (await fetch(`${stack.orchestrator.url}/api/import/history?datasetId=${datasetId}`).then((r) =>
      r.json(),
    )) as { imports: object[] };
    expect(history.imports[0]).toMatchObject({ filename: "my_coco.zip", format: "coco", status: "completed" });
  });

  it("says what a preview would drop and exits 3, or 0 with --allow-losses, storing nothing", async () => {
    const datasetId = await newDataset("cli-coco-losses");
    const upload = cocoFolder("lossy", [{ id: 14, image_id: 1, category_id: 99, bbox: [0, 0, 1, 1], iscrowd: 0 }]);
    const preview = await cli(["import", upload, "--format", "coco", "--dataset", datasetId, "--preview"]);
    expect(preview.code, preview.stderr).toBe(3);
    expect(preview.stdout).toMatch(/^1 of 4 annotations would be dropped:\n\s+1 {2}\S.*99/);
    expect(preview.stdout).toContain("preview: completed_with_losses");
    const allowed = await cli(["import", upload, "--format", "coco", "--dataset", datasetId, "--preview", "--json"]);
    expect(allowed.code).toBe(3);
    expect(JSON.parse(allowed.stdout)).toMatchObject({
      status: "completed_with_losses",
      annotations: { received: "4", written: "3", dropped: "1" },
    });
    const permitted = await cli([
      ...["import", upload, "--format", "coco", "--dataset", datasetId, "--preview", "--allow-losses"],
    ]);
    expect(permitted.code, permitted.stderr).toBe(0);
    expect(await itemsOf(datasetId)).toEqual([]);
  });

  it("passes --importer-options JSON and --importer-option key=value (JSON values) to the importer", async () => {
    const datasetId = await newDataset("cli-labelme-options");
    const result = await cli([
      ...["import", labelmeFolder("labelme"), "--format", "labelme", "--dataset", datasetId],
      ...["--importer-options", '{"circleVertices": 8, "flags": "meta"}', "--importer-option", "circleVertices=12"],
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("changed: 1 circle: stored as a 12-sided polygon");
    const [item] = await itemsOf(datasetId);
    const polygon = item?.annotations[0]?.geometry;
    expect(polygon?.case).toBe("polygon");
    expect(polygon?.case === "polygon" ? polygon.value.points : []).toHaveLength(24);
  });

  it("reports the server's refusals: a bad option value, options for a record format, an unknown format", async () => {
    const datasetId = await newDataset("cli-refusals");
    const labelme = labelmeFolder("refused");
    const badValue = await cli([
      ...["import", labelme, "--format", "labelme", "--dataset", datasetId, "--importer-option", "circleVertices=3"],
    ]);
    expect(badValue.code).toBe(1);
    expect(badValue.stderr).toMatch(/^labelport: refused\.zip: invalid options: circleVertices: /m);

    const lines = join(scratch, "lines.jsonl");
    writeFileSync(lines, "{}\n");
    const recordFormat = await cli(["import", lines, "--dataset", datasetId, "--importer-option", "x=1"]);
    expect(recordFormat.code).toBe(1);
    expect(recordFormat.stderr).toContain("importerOptions: the jsonl format has none");

    const missing = await cli(["import", labelme, "--format", "pascal-3d", "--dataset", datasetId]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Invalid format "pascal-3d": expected one of jsonl, json, labelport-items, coco');
    const malformed = await cli(["import", lines, "--format", "a.b", "--dataset", datasetId]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('Invalid format "a.b": expected one of jsonl, json, labelport-items');
    expect(await itemsOf(datasetId)).toEqual([]);
  });

  it("refuses usage mistakes before uploading: a folder without --format, options that are not JSON", async () => {
    const noFormat = await cli(["import", labelmeFolder("unnamed")]);
    expect(noFormat.code).toBe(2);
    expect(noFormat.stderr).toMatch(/unnamed is a folder: say its format with --format/);
    const notJson = await cli(["import", labelmeFolder("x"), "--format", "labelme", "--importer-options", "{nope"]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain("labelport: --importer-options: not JSON");
    const notPair = await cli(["import", labelmeFolder("y"), "--format", "labelme", "--importer-option", "flags"]);
    expect(notPair.code).toBe(2);
    expect(notPair.stderr).toContain('labelport: --importer-option expects key=value, got "flags"');
    const empty = folder("empty", {});
    mkdirSync(empty, { recursive: true });
    const nothing = await cli(["import", empty, "--format", "coco"]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("the folder has no files to upload");
  });
});

describe("labelport formats", () => {
  it("lists export and import formats with their plugins and options", async () => {
    const result = await cli(["formats"]);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.split("\n");
    const imports = lines.indexOf("import formats (import FILE --format F --importer-option key=value)");
    expect(lines[0]).toBe("export formats (export create --format F --option key=value)");
    expect(imports).toBeGreaterThan(0);
    const exportLines = lines.slice(0, imports);
    const importLines = lines.slice(imports);
    expect(exportLines).toContainEqual(expect.stringMatching(/^ {2}coco +plugin coco 1\.0\.0: /));
    expect(importLines).toContainEqual(expect.stringMatching(/^ {2}coco +plugin coco-importer 1\.0\.0: /));
    expect(importLines).toContainEqual(expect.stringMatching(/^ {2}jsonl +built in: video annotation lines/));
    expect(importLines).toContainEqual(expect.stringMatching(/^ {2}labelport-items +built in: /));
    expect(importLines).toContain(
      "      --importer-option circleVertices=<integer 8..360> (default 32): Vertices of the polygon a circle becomes.",
    );
    expect(importLines).toContainEqual(
      expect.stringMatching(/^ {6}--importer-option coordinates=one-based\|zero-based \(default "one-based"\): /),
    );
    // Importers are not export formats.
    expect(exportLines.join("\n")).not.toContain("importer");
  });

  it("--json prints the catalogue with each format's JSON Schema", async () => {
    const result = await cli(["formats", "--json"]);
    expect(result.code, result.stderr).toBe(0);
    const catalogue = JSON.parse(result.stdout) as {
      exportFormats: Array<{ format: string; plugin: string | null }>;
      importFormats: Array<{ format: string; plugin: string | null; optionsSchema: Record<string, unknown> }>;
    };
    expect(catalogue.exportFormats.map((f) => f.format)).toEqual(["coco", "voc"]);
    expect(catalogue.importFormats.map((f) => [f.format, f.plugin])).toEqual([
      ["coco", "coco-importer"],
      ["json", null],
      ["jsonl", null],
      ["labelme", "labelme-importer"],
      ["labelport-items", null],
      ["voc", "voc-importer"],
    ]);
    const voc = catalogue.importFormats.find((f) => f.format === "voc");
    expect(voc?.optionsSchema).toMatchObject({
      type: "object",
      properties: { coordinates: { enum: ["one-based", "zero-based"], default: "one-based" } },
    });
  });
});
