// The web console end to end in a real headless Chromium against a real orchestrator, NATS,
// MongoDB and plugin workers: API keys and roles, datasets, an export from a generated option
// form watched to completion and downloaded, import preview and commit (video annotation lines, and
// a COCO ZIP through the importer plugins), and the server going away.
// Screenshots of the main views are written to .data/screenshots/ (docs/screenshots/ with
// UPDATE_SCREENSHOTS=1, so an ordinary run does not rewrite the committed pictures).
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ItemKind, ItemStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { writeSampleUpload } from "@labelport/sdk/testing";
import { connect, type NatsConnection } from "nats";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonl, videoAnnotation } from "../services/orchestrator/src/data/testing.ts";
import { ensureWebBuild } from "../web/build.mjs";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { ensureChromium, launchBrowser, type TestBrowser } from "./support/browser.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { startTestOrchestrator } from "./support/orchestrator.ts";
import { BUILTIN_PLUGINS, type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";
import { ROOT } from "./support/process.ts";

const KEYS = { viewer: "viewer-key-0001", editor: "editor-key-0002", admin: "admin-key-0003" };
const API_KEYS = Object.entries(KEYS)
  .map(([role, key]) => `${role}:${role}:${key}`)
  .join(",");
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, "docs", "screenshots") : join(ROOT, ".data", "screenshots");
const VIDEO = "match-0001";
/** The built-in importer plugins' formats. */
const IMPORT_FORMATS = ["coco", "yolo", "voc", "labelme", "cvat", "dm-json", "csv", "labelport"];
const PERSONA = "660e8400-e29b-41d4-a716-446655440001";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-console-"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let stack: JobStack;
let nats: NatsConnection;
let browser: TestBrowser;
let page: Page;
const workers: Worker[] = [];
let importers: PluginWorkers | undefined;
const timings: Record<string, number> = {};

beforeAll(async () => {
  let started = Date.now();
  ensureWebBuild({ quiet: true });
  timings.buildMs = Date.now() - started;
  timings.chromiumInstallMs = ensureChromium().installMs;
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot, API_KEYS }, KEYS.admin);
  nats = await connect(natsConnectOptions(stack.nats.url));
  await seedDataset(stack, "street scenes", 60);
  const csv = (await import("@labelport/plugin-csv")).default;
  const snapshot = (await import("@labelport/plugin-json-snapshot")).default;
  workers.push(await startWorker({ nats, exporter: csv, log: quiet }));
  workers.push(await startWorker({ nats, exporter: snapshot, log: quiet }));
  workers.push(await startWorker({ nats, exporter: EchoExporter, maxDeliver: 1, log: quiet }));
  importers = await startPluginWorkers(stack, BUILTIN_PLUGINS, { exporters: false });
  await waitFor(async () => {
    const { plugins } = await stack.exports.listFormats({});
    const importing = plugins.flatMap((p) => p.importFormats);
    return (
      plugins.filter((p) => p.formats.length > 0).length === 3 && IMPORT_FORMATS.every((f) => importing.includes(f))
    );
  });
  await seedVideoDataset();
  await stack.datasets.createDataset({ name: "coco upload" });
  started = Date.now();
  browser = await launchBrowser();
  timings.launchMs = Date.now() - started;
  page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
  // Deletes ask for confirmation; the tests always confirm.
  page.on("dialog", (dialog) => void dialog.accept());
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await importers?.stop();
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  if (Object.keys(timings).length > 0) console.log(`console test timings: ${JSON.stringify(timings)}`);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A video item and one committed annotation, so a preview has something to conflict with. */
async function seedVideoDataset(): Promise<void> {
  await stack.datasets.createDataset({ name: "match footage", description: "one video for video annotation imports" });
  await stack.items.upsertItems({
    datasetId: "match footage",
    items: [{ id: VIDEO, kind: ItemKind.VIDEO, status: ItemStatus.APPROVED, media: { frames: 300, fps: 30 } }],
  });
  await stack.orchestrator.database.db
    .collection("personas")
    .updateOne(
      { _id: PERSONA as never },
      { $setOnInsert: { name: "Analyst", placeholder: false, createdAt: new Date() } },
      { upsert: true },
    );
  const res = await upload("/api/import?datasetId=match%20footage", jsonl([line({ id: "p-1", frames: [0, 100] })]));
  expect(res.status).toBe(200);
}

const line = (overrides: Record<string, unknown> & { frames?: number[] }) =>
  videoAnnotation({ videoId: VIDEO, personaId: PERSONA, ...overrides });

async function upload(path: string, content: string) {
  const form = new FormData();
  form.append("file", new Blob([content]), "first.jsonl");
  return fetch(`${stack.orchestrator.url}${path}`, {
    method: "POST",
    body: form,
    headers: { "x-api-key": KEYS.admin },
  });
}

/** A raw GET, path sent byte for byte (fetch would normalise `..`). */
function rawGet(path: string, headers: Record<string, string> = {}) {
  const url = new URL(stack.orchestrator.url);
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** expect.poll with room for a browser and a server: 15 s unless told. */
const eventually = <T>(probe: () => Promise<T> | T, timeout = 15_000) => expect.poll(probe, { timeout });

/** A 1280x800 PNG of the view, without the passing notices in the corner. */
async function shot(name: string, top?: string) {
  await page.locator(".toasts").evaluate((el) => el.replaceChildren());
  if (top) await page.locator(top).evaluate((el) => el.scrollIntoView({ block: "start" }));
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
const jobRow = (id: string): Locator => page.locator(`#jobs tr[data-export-id="${id}"]`);

async function signIn(key: string, role: string) {
  const panel = page.locator(".key-panel");
  if (!(await panel.isVisible())) await page.locator(".auth").getByRole("button", { name: "Change" }).click();
  await page.locator("#api-key").fill(key);
  await page.locator("#api-role").selectOption(role);
  await page.getByRole("button", { name: "Use this key" }).click();
  await eventually(() => panel.isVisible()).toBe(false);
}

/** The id of the newest job row once the list shows `count` jobs. */
async function newestJob(count: number): Promise<string> {
  await eventually(() => page.locator("#jobs tbody tr").count()).toBe(count);
  return (await page.locator("#jobs tbody tr").first().getAttribute("data-export-id")) ?? "";
}

describe("static files", () => {
  it("serves the page and hashed assets with types, ETags and cache rules, and refuses traversal", async () => {
    const index = await rawGet("/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(index.headers.etag).toMatch(/^"[\w-]+"$/);
    expect(index.body).toContain("<title>Labelport console</title>");
    expect((await rawGet("/", { "if-none-match": index.headers.etag ?? "" })).status).toBe(304);

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1] ?? "";
    const css = /href="(\/assets\/[^"]+\.css)"/.exec(index.body)?.[1] ?? "";
    const js = await rawGet(script);
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(js.body).not.toMatch(/https?:\/\/(cdn|unpkg|fonts\.googleapis)/);
    expect((await rawGet(css)).headers["content-type"]).toBe("text/css; charset=utf-8");
    const head = await fetch(`${stack.orchestrator.url}${script}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(js.body)));

    expect((await rawGet("/assets/nothing-here.js")).status).toBe(404);
    for (const path of [
      "/assets/../../package.json",
      "/assets/..%2f..%2fpackage.json",
      "/assets/%2e%2e/%2e%2e/package.json",
      "/assets/..%5c..%5cpackage.json",
      "/assets/%2fetc%2fpasswd",
      "/assets/.hidden",
    ]) {
      const res = await rawGet(path);
      expect([403, 404], path).toContain(res.status);
      expect(res.body, path).not.toContain('"workspaces"');
      expect(res.body, path).not.toContain("root:");
    }
  });

  it("says how to build the console when it is not built", async () => {
    const before = process.env.CONSOLE_DIR;
    process.env.CONSOLE_DIR = join(storageRoot, "no-console-here");
    const bare = await startTestOrchestrator({ NATS_URL: stack.nats.url });
    if (before === undefined) delete process.env.CONSOLE_DIR;
    else process.env.CONSOLE_DIR = before;
    try {
      const res = await fetch(`${bare.url}/`);
      expect(res.status).toBe(503);
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const body = await res.text();
      expect(body).toContain("not built");
      expect(body).toContain("npm run build:web");
      expect((await fetch(`${bare.url}/healthz`)).status).toBe(200);
    } finally {
      await bare.close();
    }
  });
});

describe("in Chromium", () => {
  it("asks for an API key; a viewer sees no delete buttons and the server refuses a delete anyway", async () => {
    await page.goto(stack.orchestrator.url);
    await eventually(() => page.locator(".key-panel").textContent()).toContain("This server needs an API key.");
    // A viewer claiming admin: the buttons show until the server refuses the first delete.
    await signIn(KEYS.viewer, "admin");
    const streetRow = page.locator('#datasets tr[data-dataset="street scenes"]');
    await eventually(() => streetRow.getByRole("button", { name: "Delete" }).count()).toBe(1);
    await streetRow.getByRole("button", { name: "Delete" }).click();
    await eventually(() => page.locator(".toast-error").last().textContent()).toContain(
      'API key "viewer" has role viewer; this needs admin',
    );
    await eventually(() => page.locator("#role").textContent()).toBe("viewer");
    expect(await page.getByRole("button", { name: "Delete" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Export…" }).count()).toBe(0);
    const { datasets } = await stack.datasets.listDatasets({});
    expect(datasets.map((d) => d.name)).toContain("street scenes");

    await page.getByRole("link", { name: "Exports" }).click();
    await eventually(() => page.locator("#export-form button[type=submit]").isDisabled()).toBe(true);
    expect(await page.locator("#export-form").textContent()).toContain("Your role (viewer) may not start exports.");
  });

  it("lists datasets with counts and a category chart", async () => {
    await signIn(KEYS.admin, "admin");
    await page.getByRole("link", { name: "Datasets" }).click();
    const row = page.locator('#datasets tr[data-dataset="street scenes"]');
    await eventually(() => row.locator("td").allTextContents()).toEqual([
      "street scenes",
      "60",
      "120",
      "2",
      expect.any(String),
      "Export…Delete",
    ]);
    await row.getByRole("button", { name: "street scenes" }).click();
    const chart = page.locator('#category-chart svg[role="img"]');
    await eventually(() => chart.getAttribute("aria-label")).toBe("car: 60, person: 60");
    await shot("datasets");
  });

  it("builds the option form from the plugin's JSON Schema", async () => {
    await page.locator('#datasets tr[data-dataset="street scenes"]').getByRole("button", { name: "Export…" }).click();
    // The viewer's form from the first test is still there until the admin's replaces it.
    await eventually(() => page.locator("#export-form button[type=submit]").isDisabled()).toBe(false);
    const format = page.locator("#export-format");
    await format.selectOption("csv");
    const options = page.locator("#export-options");
    await eventually(() => options.locator("legend").textContent()).toBe("Options of csv");
    expect(await options.getByLabel("Bom", { exact: true }).isChecked()).toBe(false);
    expect(await options.getByLabel("Neutralize formulas", { exact: true }).isChecked()).toBe(true);
    expect(await options.locator('[data-option="bom"] .help').textContent()).toBe(
      "Start the file with a UTF-8 byte order mark (for Excel).",
    );
    // An enum becomes a select with its default chosen.
    await format.selectOption("json-snapshot");
    const mode = options.getByLabel("Mode", { exact: true });
    expect(await mode.evaluate((el) => el.tagName)).toBe("SELECT");
    expect(await mode.locator("option:checked").textContent()).toBe("attachment");
    expect(await mode.locator("option").allTextContents()).toEqual(["attachment", "artifact"]);
    // Numbers and strings become inputs, defaults pre-filled.
    await format.selectOption("echo");
    expect(await options.getByLabel("Delay ms", { exact: true }).getAttribute("type")).toBe("number");
    expect(await options.getByLabel("Delay ms", { exact: true }).inputValue()).toBe("0");
    expect(await options.getByLabel("Delay ms", { exact: true }).getAttribute("max")).toBe("10000");
    expect(await options.getByLabel("Fail", { exact: true }).getAttribute("type")).toBe("text");

    await format.selectOption("csv");
    await page.locator("#export-name").fill("csv for the spreadsheet");
    await options.getByLabel("Bom", { exact: true }).check();
    await shot("export-form");
  });

  it("creates an export, watches it to completion and downloads it", async () => {
    const started = Date.now();
    await page.getByRole("button", { name: "Start export" }).click();
    const id = await newestJob(1);
    const row = jobRow(id);
    await eventually(() => row.getAttribute("data-status"), 30_000).toBe("completed");
    expect(await row.locator("progress").getAttribute("value")).toBe("1");
    expect(await row.textContent()).toContain("60 items, 120 annotations");
    const size = (await row.locator("td.num").textContent()) ?? "";
    expect(size).toMatch(/^\d+(\.\d)? (B|KB)$/);

    const [download] = await Promise.all([
      page.waitForEvent("download"),
      row.getByRole("button", { name: "Download" }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^street scenes-${id}-\\d{8}T\\d{6}Z\\.zip$`));
    const saved = join(storageRoot, "download.zip");
    await download.saveAs(saved);
    const listing = JSON.parse(
      execFileSync("python3", [
        "-c",
        "import sys,json,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; " +
          "print(json.dumps({'names': sorted(z.namelist()), 'csv': z.read('annotations.csv').decode('utf-8')}))",
        saved,
      ]).toString(),
    ) as { names: string[]; csv: string };
    expect(listing.names).toEqual(
      expect.arrayContaining(["annotations.csv", "manifest.json", "metadata/export_summary.json"]),
    );
    expect(
      listing.csv.startsWith("\uFEFFitem_id,file_name,image_width,image_height,split,category_id,category_name,"),
    ).toBe(true);
    const rows = listing.csv.trim().split("\r\n");
    expect(rows).toHaveLength(121);
    expect(rows[1]).toMatch(/^item-00000,.*,car,item-00000-a1,bbox,/);
    const { export: stored } = await stack.exports.getExport({ exportId: id });
    expect(stored?.options).toEqual({
      bom: true,
      categoryFolders: false,
      neutralizeFormulas: true,
      onMissingMedia: "note",
    });
    expect(stored?.name).toBe("csv for the spreadsheet");
    timings.exportRoundTripMs = Date.now() - started;
  });

  it("shows progress while a job runs, and a failed job's error", async () => {
    const format = page.locator("#export-format");
    await format.selectOption("echo");
    await page.locator("#export-options").getByLabel("Delay ms", { exact: true }).fill("60");
    await page.getByRole("button", { name: "Start export" }).click();
    const slow = jobRow(await newestJob(2));
    // WatchExport drives the bar: seen part-way (the echo plugin gives no total, so the console
    // counts what the job's filter selects), then full.
    const state = () =>
      slow.evaluate((row) => {
        const bar = row.querySelector("progress");
        const text = row.querySelector(".progress span")?.textContent;
        return `${row.getAttribute("data-status")} | ${text} | ${bar?.getAttribute("value")}/${bar?.getAttribute("max")}`;
      });
    await eventually(state, 20_000).toMatch(/^running \| ([1-9]|[1-5]\d) \/ 60 items \| ([1-9]|[1-5]\d)\/60$/);
    await eventually(() => slow.getAttribute("data-status"), 30_000).toBe("completed");

    await format.selectOption("echo");
    await page.locator("#export-options").getByLabel("Delay ms", { exact: true }).fill("0");
    await page.locator("#export-options").getByLabel("Fail", { exact: true }).fill("the disk is full");
    await page.getByRole("button", { name: "Start export" }).click();
    const failed = jobRow(await newestJob(3));
    await eventually(() => failed.getAttribute("data-status"), 30_000).toBe("failed");
    expect(await failed.locator(".job-error").textContent()).toContain("the disk is full");
    expect(await failed.getByRole("button", { name: "Download" }).count()).toBe(0);
    await shot("jobs", "#jobs-title");

    // Admins may delete; the row goes and the server forgets the job.
    await failed.getByRole("button", { name: "Delete" }).click();
    await eventually(() => page.locator("#jobs tbody tr").count()).toBe(2);
  });

  it("shows an export that left annotations out in amber, not green, with the reasons", async () => {
    // json-snapshot with dataOnly writes each item's data field only: every annotation is dropped.
    await page.locator("#export-format").selectOption("json-snapshot");
    await page.locator("#export-options").getByLabel("Data only", { exact: true }).check();
    await page.getByRole("button", { name: "Start export" }).click();
    const row = jobRow(await newestJob(3));
    await eventually(() => row.getAttribute("data-status"), 30_000).toBe("completed");
    const badge = row.locator(".status");
    expect(await badge.textContent()).toBe("completed with losses");
    // --warn (#b7791f), where a complete export is --ok green.
    expect(await badge.evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).color)).toBe(
      "rgb(183, 121, 31)",
    );
    expect(await row.textContent()).toContain("60 items, 0 of 120 annotations");
    expect(await row.locator(".export-losses summary").textContent()).toBe("120 of 120 annotations dropped");
    expect(await row.locator(".export-losses li").allTextContents()).toEqual([
      "bbox: dataOnly writes only each item's data field (120)",
    ]);
  });

  it("previews an import with conflicts and line-numbered warnings, then commits it", async () => {
    await page.getByRole("link", { name: "Imports" }).click();
    await page.locator("#import-dataset").selectOption("match footage");
    await page.locator("#import-file").setInputFiles({
      name: "second.jsonl",
      mimeType: "application/x-ndjson",
      buffer: Buffer.from(
        jsonl([
          line({ id: "p-1", frames: [0, 5] }),
          line({ id: "p-2", frames: [50, 150] }),
          line({ id: "p-3", frames: [400], personaId: undefined }),
          line({ id: "p-4", videoId: "nowhere" }),
        ]),
      ),
    });
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.locator("#import-preview");
    await eventually(() => preview.isVisible()).toBe(true);
    const conflicts = await preview.locator(".issues-conflict tbody tr").allInnerTexts();
    expect(conflicts.map((r) => r.split("\t").slice(0, 3))).toEqual([
      ["1", "duplicate id", "p-1"],
      ["2", "overlapping frames", "p-2"],
    ]);
    const warnings = await preview.locator(".issues-warning tbody tr").allInnerTexts();
    expect(warnings.map((r) => r.split("\t"))).toEqual([
      ["3", "Annotation has only one keyframe"],
      ["3", "Missing persona reference"],
      ["4", 'Video "nowhere" not found; annotation skipped'],
    ]);
    // The loss comes first, in amber: p-4's video is missing, so it would not be stored.
    const losses = preview.locator("#import-preview-accounting .losses");
    expect(await losses.locator("h4").textContent()).toBe("1 of 4 annotations would be dropped");
    expect(await losses.locator("li").allInnerTexts()).toEqual(["1 missing video"]);
    expect(await preview.locator("#import-preview-accounting .status").getAttribute("class")).toBe(
      "status status-losses",
    );
    expect(await page.locator("#import-commit").isDisabled()).toBe(false);
    await shot("import-preview");

    await page.locator("#import-commit").click();
    const committed = page.locator("#import-commit-result");
    await eventually(() => committed.locator("h3").textContent()).toBe("Imported with losses");
    expect(await committed.getAttribute("class")).toBe("panel commit losses");
    expect(await committed.locator(".losses li").allInnerTexts()).toEqual(["1 missing video"]);
    expect(await committed.locator(".accounting > p").first().textContent()).toBe(
      "completed with losses 4 annotations: 1 written, 1 merged, 1 skipped as asked, 1 dropped.",
    );
    await eventually(() => page.locator("#import-history tbody tr").count()).toBe(2);
    const newest = page.locator("#import-history tbody tr").first();
    expect(await newest.textContent()).toContain("second.jsonl");
    expect(await newest.locator(".status").textContent()).toBe("completed with losses");
    const { item } = await stack.items.getItem({ datasetId: "match footage", itemId: VIDEO });
    expect(item?.annotations.map((a) => a.id)).toEqual(expect.arrayContaining(["p-1", "p-3"]));
  });

  it("offers every import format by name and imports a COCO ZIP through the form, losses in amber", async () => {
    await page.locator("#import-dataset").selectOption("coco upload");
    const format = page.locator("#import-format");
    expect(await format.locator("option").allTextContents()).toEqual([
      "Video annotation JSONL (one annotation per line)",
      "Video annotation JSON (an array)",
      "Item JSONL (Labelport's items.jsonl)",
      "COCO",
      "YOLO",
      "Pascal VOC",
      "LabelMe",
      "CVAT for images 1.1",
      "DM Schema v1",
      "Labelport CSV",
      "Labelport export ZIP",
    ]);
    expect(await page.locator("#import-file").getAttribute("accept")).toMatch(/^\.zip,\.json,\.jsonl,.*\.xml,\.csv/);
    // An importer with options gets their form; the video records' own options go away.
    await format.selectOption("voc");
    const importerOptions = page.locator("#import-importer-options");
    await eventually(() => importerOptions.locator("legend").textContent()).toBe("Options of Pascal VOC");
    expect(await importerOptions.isVisible()).toBe(true);
    const coordinates = importerOptions.getByLabel("Coordinates", { exact: true });
    expect(await coordinates.locator("option:checked").textContent()).toBe("one-based");
    expect(await page.locator("#import-overlapping-frames").isVisible()).toBe(false);
    expect(await page.locator('label[for="import-missing-dependencies"]').textContent()).toBe("Missing categories");
    await format.selectOption("coco");
    expect(await importerOptions.isVisible()).toBe(false);
    expect(await page.locator("#import-format-note").textContent()).toMatch(/^coco-importer 1\.0\.0: MS COCO/);

    const dir = mkdtempSync(join(storageRoot, "coco-upload-"));
    const zip = await writeSampleUpload(dir, {
      files: {
        "street/annotations/instances_train.json": JSON.stringify({
          images: [
            { id: 1, file_name: "a.jpg", width: 64, height: 48 },
            { id: 2, file_name: "b.jpg", width: 32, height: 32 },
          ],
          categories: [{ id: 3, name: "car" }],
          annotations: [
            { id: 11, image_id: 1, category_id: 3, bbox: [1, 2, 10, 8], iscrowd: 0 },
            { id: 12, image_id: 1, category_id: 3, bbox: [5, 5, 10, 10], iscrowd: 0 },
            { id: 13, image_id: 2, category_id: 3, segmentation: [[1, 1, 20, 1, 20, 20]], iscrowd: 0 },
            { id: 14, image_id: 2, category_id: 99, bbox: [0, 0, 1, 1], iscrowd: 0 },
          ],
        }),
      },
    });
    await page.locator("#import-file").setInputFiles({
      name: "street.zip",
      mimeType: "application/zip",
      buffer: readFileSync(zip.path),
    });
    await page.getByRole("button", { name: "Preview" }).click();
    const preview = page.locator("#import-preview");
    await eventually(() => preview.locator("h3").textContent()).toMatch(/^Preview of street\.zip/);
    const losses = preview.locator("#import-preview-accounting .losses");
    expect(await losses.locator("h4").textContent()).toBe("1 of 4 annotations would be dropped");
    expect(await losses.locator("li").allInnerTexts()).toEqual(["1 unknown category 99"]);
    expect(await preview.locator("dl.counts").textContent()).toBe("Annotations3Items2");
    await shot("import-coco-preview");

    await page.locator("#import-commit").click();
    const committed = page.locator("#import-commit-result");
    await eventually(() => committed.locator("h3").textContent()).toBe("Imported with losses");
    expect(await committed.locator(".accounting > p").first().textContent()).toBe(
      "completed with losses 4 annotations: 3 written, 0 merged, 0 skipped as asked, 1 dropped.",
    );
    const newest = page.locator("#import-history tbody tr").first();
    await eventually(() => newest.textContent()).toContain("street.zip");
    expect(await newest.locator(".status").textContent()).toBe("completed with losses");
    const { dataset } = await stack.datasets.getDataset({ datasetId: "coco upload" });
    expect(dataset?.categories.map((c) => [c.id, c.name])).toEqual([[3, "car"]]);
    expect([dataset?.itemCount, dataset?.annotationCount]).toEqual([2n, 3n]);
  });

  it("says so clearly when the server goes away", async () => {
    await stack.orchestrator.close();
    await page.locator("#refresh").click();
    const banner = page.locator("#banner");
    await eventually(() => banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain("Cannot reach the Labelport server: it may be down or restarting.");
    expect(await page.locator("#import-history").textContent()).toContain("Cannot reach the Labelport server");
  });
});

describe("the console's own type check", () => {
  it("passes with DOM types and without Node's (web/tsconfig.json)", async () => {
    await promisify(execFile)(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", "web/tsconfig.json", "--noEmit"], {
      cwd: ROOT,
    });
  });
});
