// The web console end to end in a real headless Chromium against a real orchestrator, NATS,
// MongoDB and plugin workers: signing in with the role the server names (WhoAmI), datasets and
// their categories, an export from a generated option form watched to completion and downloaded,
// import preview and commit (video annotation lines, and a COCO ZIP through the importer plugins),
// the layout and accessibility (axe-core) at 1280 and 390 px, and the server going away.
// Screenshots (<view>-<width>.png) are written to .data/screenshots/ (docs/screenshots/ with
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
import { expectNoSeriousA11yViolations, horizontalOverflow } from "./support/axe.ts";
import { ensureChromium, launchBrowser, type TestBrowser } from "./support/browser.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { startTestOrchestrator } from "./support/orchestrator.ts";
import { BUILTIN_PLUGINS, type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";
import { ROOT } from "./support/process.ts";

const KEYS = { viewer: "viewer-key-0001", editor: "editor-key-0002", admin: "admin-key-0003" };
/** The name each key is configured with: the header shows it. */
const NAMES = { viewer: "vera", editor: "ed", admin: "ada" };
const API_KEYS = Object.entries(KEYS)
  .map(([role, key]) => `${NAMES[role as keyof typeof KEYS]}:${role}:${key}`)
  .join(",");
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;
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

/** A PNG of the page as it is, `<view>-<width>.png`, without the passing notices. */
async function shot(view: string, top?: string) {
  await page.locator(".toasts").evaluate((el) => el.replaceChildren());
  if (top) await page.locator(top).evaluate((el) => el.scrollIntoView({ block: "start" }));
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(SHOTS, `${view}-${width}.png`), fullPage: !top });
}

/** No serious axe-core violation and no sideways scrolling, then a screenshot. */
async function checkView(view: string) {
  const width = page.viewportSize()?.width ?? 0;
  await expectNoSeriousA11yViolations(page, `${view} at ${width}px`);
  expect(await horizontalOverflow(page), `${view} scrolls sideways at ${width}px`).toBeLessThanOrEqual(0);
  await shot(view);
}

const jobRow = (id: string): Locator => page.locator(`#jobs tr[data-export-id="${id}"]`);
const keyPanel = () => page.locator(".key-panel");

/** Signs in with `key` through the key panel (opening it from the header when closed). */
async function signIn(key: string) {
  if (!(await keyPanel().isVisible())) {
    const change = page.getByRole("button", { name: "Change key" });
    if (await change.isVisible()) await change.click();
    else await page.locator("#sign-in").click();
  }
  await page.locator("#api-key").fill(key);
  await keyPanel().getByRole("button", { name: "Sign in", exact: true }).click();
  await eventually(() => keyPanel().isVisible()).toBe(false);
}

/** The page loaded, signed out (with the header's Sign out when this tab kept a key). */
async function signedOutStart() {
  await page.goto(stack.orchestrator.url);
  const signOut = page.getByRole("button", { name: "Sign out" });
  await eventually(async () => (await keyPanel().isVisible()) || (await signOut.isVisible())).toBe(true);
  if (await signOut.isVisible()) await signOut.click();
  await eventually(() => keyPanel().isVisible()).toBe(true);
  expect(await page.evaluate<number>("sessionStorage.length")).toBe(0);
}

/**
 * Opens the imports view and waits for the form it renders on showing: one rendered before (the
 * view renders it again when the role changes) would be replaced under the test's hands.
 */
async function openImports() {
  await page.evaluate("document.getElementById('import-form')?.setAttribute('data-stale', '')");
  await page.getByRole("link", { name: "Imports" }).click();
  await page.locator("#import-form:not([data-stale])").waitFor();
}

/** True when the element is wholly inside the viewport's width. */
async function withinWidth(locator: Locator): Promise<boolean> {
  const box = await locator.boundingBox();
  const width = page.viewportSize()?.width ?? 0;
  return box !== null && box.x >= 0 && box.x + box.width <= width;
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
  it("asks for a key with nothing behind the prompt, refuses a wrong key, and Esc closes the panel", async () => {
    await page.goto(stack.orchestrator.url);
    await eventually(() => keyPanel().textContent()).toContain("This server needs an API key.");
    // No role to pick: the server names it.
    expect(await keyPanel().locator("select").count()).toBe(0);
    expect(await page.locator("#main").evaluate((el) => el.childElementCount)).toBe(0);
    expect(await page.getByText("No datasets yet").count()).toBe(0);
    expect(await page.evaluate<string | undefined>("document.activeElement?.id")).toBe("api-key");

    await page.locator("#api-key").fill("not-a-key-at-all");
    await keyPanel().getByRole("button", { name: "Sign in", exact: true }).click();
    await eventually(() => page.locator("#key-problem").textContent()).toBe(
      "That key was not accepted. Check it and try again.",
    );
    expect(await page.locator("#role").count()).toBe(0);
    expect(await page.locator("#main").evaluate((el) => el.childElementCount)).toBe(0);

    await page.keyboard.press("Escape");
    await eventually(() => keyPanel().isVisible()).toBe(false);
    expect(await page.evaluate<string | undefined>("document.activeElement?.id")).toBe("sign-in");
    expect(await page.evaluate<number>("sessionStorage.length")).toBe(0);
  });

  it("shows the name and role the server gives each key; a viewer gets no write buttons", async () => {
    for (const role of ["admin", "editor", "viewer"] as const) {
      await signIn(KEYS[role]);
      await eventually(() => page.locator("#role").textContent()).toBe(role);
      expect(await page.locator("#whoami").textContent()).toBe(NAMES[role]);
      const streetRow = page.locator('#datasets tr[data-dataset="street scenes"]');
      await eventually(() => streetRow.count()).toBe(1);
      expect(await streetRow.getByRole("button", { name: "Delete dataset street scenes" }).count()).toBe(
        role === "admin" ? 1 : 0,
      );
      expect(await streetRow.getByRole("button", { name: "Export dataset street scenes" }).count()).toBe(
        role === "viewer" ? 0 : 1,
      );
      expect(await page.locator("#new-dataset").isVisible()).toBe(role !== "viewer");
    }
    // Change key, then Esc: the panel closes and focus goes back to the button that opened it.
    await page.getByRole("button", { name: "Change key" }).click();
    await eventually(() => keyPanel().isVisible()).toBe(true);
    await page.keyboard.press("Escape");
    await eventually(() => keyPanel().isVisible()).toBe(false);
    expect(await page.evaluate<string | undefined>("document.activeElement?.textContent")).toBe("Change key");
    expect(await page.locator("#role").textContent()).toBe("viewer");

    await page.getByRole("link", { name: "Exports" }).click();
    await eventually(() => page.locator("#export-form button[type=submit]").isDisabled()).toBe(true);

    await page.getByRole("button", { name: "Sign out" }).click();
    await eventually(() => keyPanel().textContent()).toContain("You are signed out.");
    expect(await page.locator("#main").evaluate((el) => el.childElementCount)).toBe(0);
    expect(await page.evaluate<number>("sessionStorage.length")).toBe(0);
  });

  it("lists datasets with counts and a chart of annotations per category name", async () => {
    await signIn(KEYS.admin);
    await page.getByRole("link", { name: "Datasets" }).click();
    const row = page.locator('#datasets tr[data-dataset="street scenes"]');
    await eventually(() => row.locator("td").allTextContents()).toEqual([
      "street scenes",
      "60",
      "120",
      "2",
      expect.any(String),
      "ExportDelete",
    ]);
    await row.getByRole("link", { name: "street scenes" }).click();
    await eventually(() => page.locator("#dataset-detail-title").textContent()).toBe("street scenes");
    const chart = page.locator('#category-chart [role="img"]');
    await eventually(() => chart.getAttribute("aria-label")).toBe("car: 60, person: 60");
    await eventually(() => chart.locator(".bar-label").allTextContents()).toEqual(["car", "person"]);
    await eventually(() => page.locator("#categories tbody tr").allInnerTexts()).toEqual([
      expect.stringMatching(/^car\s+none\s+60/),
      expect.stringMatching(/^person\s+none\s+60/),
    ]);
    // A used category cannot be deleted: the server says how many annotations use it.
    await page.getByRole("button", { name: "Delete category car" }).click();
    await eventually(() => page.locator(".toast-error").last().textContent()).toContain(
      'category "car" is used by 60 annotations',
    );
  });

  it("builds the option form from the plugin's JSON Schema", async () => {
    await page.getByRole("link", { name: "Datasets" }).click();
    await page.getByRole("button", { name: "Export dataset street scenes" }).click();
    // The viewer's form from the first test is still there until the admin's replaces it.
    await eventually(() => page.locator("#export-form button[type=submit]").isDisabled()).toBe(false);
    const format = page.locator("#export-format");
    await format.selectOption("csv");
    const options = page.locator("#export-options");
    await eventually(() => options.locator("legend").textContent()).toBe("Options of csv");
    expect(await options.getByLabel("BOM", { exact: true }).isChecked()).toBe(false);
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
    await options.getByLabel("BOM", { exact: true }).check();
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
    // --warn (#8a5a00), where a complete export is --ok green.
    expect(await badge.evaluate((el) => el.ownerDocument.defaultView?.getComputedStyle(el).color)).toBe(
      "rgb(138, 90, 0)",
    );
    expect(await row.textContent()).toContain("60 items, 0 of 120 annotations");
    expect(await row.locator(".export-losses summary").textContent()).toBe("120 of 120 annotations dropped");
    expect(await row.locator(".export-losses li").allTextContents()).toEqual([
      "bbox: dataOnly writes only each item's data field (120)",
    ]);
  });

  it("previews an import with conflicts and line-numbered warnings, then commits it", async () => {
    await openImports();
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

  it("shows the item count, not video lines, for an item upload", async () => {
    const committed = page.locator("#import-commit-result");
    expect(await committed.textContent()).not.toContain("lines processed");
  });
});

for (const size of SIZES) {
  const w = size.width;
  describe(`in Chromium at ${w}x${size.height}`, () => {
    beforeAll(async () => {
      await page.setViewportSize(size);
    });

    it("signs in with the role from the server, refuses a wrong key, and keeps the header reachable", async () => {
      await signedOutStart();
      await checkView("sign-in");
      await page.locator("#api-key").fill("wrong-key");
      await page.keyboard.press("Enter");
      await eventually(() => page.locator("#key-problem").textContent()).toContain("That key was not accepted");
      expect(await page.locator("#main").evaluate((el) => el.childElementCount)).toBe(0);
      await page.keyboard.press("Escape");
      await eventually(() => keyPanel().isVisible()).toBe(false);
      for (const role of ["viewer", "editor", "admin"] as const) {
        await signIn(KEYS[role]);
        await eventually(() => page.locator("#role").textContent()).toBe(role);
      }
      for (const control of [
        page.locator("#refresh"),
        page.getByRole("button", { name: "Change key" }),
        page.getByRole("button", { name: "Sign out" }),
        ...["Datasets", "Exports", "Imports"].map((name) => page.getByRole("link", { name })),
      ]) {
        expect(await withinWidth(control), (await control.textContent()) ?? "").toBe(true);
      }
    });

    it("creates a dataset with categories, then adds, renames and deletes one", async () => {
      const name = `harbour ${w}`;
      await page.getByRole("link", { name: "Datasets" }).click();
      await eventually(() => page.locator("#datasets tbody tr").count()).toBeGreaterThan(0);
      await checkView("datasets");
      for (const button of await page.locator("#datasets .row-actions button").all()) {
        expect(await withinWidth(button), (await button.getAttribute("aria-label")) ?? "").toBe(true);
      }

      await page.getByRole("button", { name: "New dataset" }).click();
      const createForm = page.locator("#create-dataset");
      await createForm.getByLabel("Name", { exact: true }).fill(name);
      await createForm.getByLabel("Description (optional)").fill("boats in the harbour");
      await createForm.getByLabel("Categories (optional)").fill("boat, buoy\npier");
      await checkView("dataset-create");
      await createForm.getByRole("button", { name: "Create dataset" }).click();
      await eventually(() => page.locator("#dataset-detail-title").textContent()).toBe(name);
      const categoryRows = page.locator("#categories tbody tr");
      const names = () => categoryRows.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-category")));
      await eventually(names).toEqual(["boat", "buoy", "pier"]);

      const addForm = page.locator("#add-category");
      await addForm.getByLabel("New category", { exact: true }).fill("crane");
      await addForm.getByRole("button", { name: "Add category" }).click();
      await eventually(names).toEqual(["boat", "buoy", "pier", "crane"]);

      await page.getByRole("button", { name: "Edit category buoy" }).click();
      await page.getByLabel("New name for buoy").fill("marker");
      await page.getByLabel("Supercategory of buoy").fill("floating");
      await page.locator("#categories").getByRole("button", { name: "Save" }).click();
      await eventually(names).toEqual(["boat", "marker", "pier", "crane"]);
      expect(await page.locator('#categories tr[data-category="marker"] td').nth(1).textContent()).toBe("floating");

      await page.getByRole("button", { name: "Delete category pier" }).click();
      await eventually(names).toEqual(["boat", "marker", "crane"]);
      const chart = page.locator('#category-chart [role="img"]');
      await eventually(() => chart.getAttribute("aria-label")).toBe("boat: 0, marker: 0, crane: 0");
      const { dataset } = await stack.datasets.getDataset({ datasetId: name });
      expect(dataset?.categories.map((c) => [c.id, c.name, c.supercategory])).toEqual([
        [1, "boat", ""],
        [2, "marker", "floating"],
        [4, "crane", ""],
      ]);
      // A notice can be dismissed, and never sits over the rows' buttons.
      const toast = page.locator(".toast").last();
      if (await toast.isVisible()) {
        const notice = await toast.boundingBox();
        for (const button of await page.locator(".row-actions button").all()) {
          const box = await button.boundingBox();
          if (!notice || !box || w < 640) continue;
          const overlaps =
            box.x < notice.x + notice.width &&
            notice.x < box.x + box.width &&
            box.y < notice.y + notice.height &&
            notice.y < box.y + box.height;
          expect(overlaps, (await button.getAttribute("aria-label")) ?? "").toBe(false);
        }
        await toast.getByRole("button", { name: "Dismiss notice" }).click();
        await eventually(() => toast.isVisible()).toBe(false);
      }

      await page.locator('#datasets tr[data-dataset="street scenes"]').getByRole("link").click();
      await eventually(() => chart.getAttribute("aria-label")).toBe("car: 60, person: 60");
      const labelSize = await chart
        .locator(".bar-label")
        .first()
        .evaluate((el) => Number.parseFloat(el.ownerDocument.defaultView?.getComputedStyle(el).fontSize ?? "0"));
      expect(labelSize).toBeGreaterThanOrEqual(12);
      await checkView("dataset-detail");
    });

    it("lays out the import form and history", async () => {
      await page.getByRole("link", { name: "Imports" }).click();
      await eventually(() => page.locator("#import-history tbody tr").count()).toBeGreaterThan(0);
      await checkView("imports");
    });
  });
}

describe("without API keys", () => {
  it("asks for no key, and the first visit offers to create a dataset or import annotations", async () => {
    const bare = await startTestOrchestrator({ NATS_URL: stack.nats.url });
    try {
      for (const size of SIZES) {
        await page.setViewportSize(size);
        await page.goto(bare.url);
        await eventually(() => page.locator(".auth").textContent()).toContain("Authentication off");
        expect(await keyPanel().isVisible()).toBe(false);
        const empty = page.locator(".empty-state");
        await eventually(() => empty.textContent()).toContain("No datasets yet.");
        expect(await empty.getByRole("link", { name: "Import annotations" }).getAttribute("href")).toBe("#/imports");
        await checkView("datasets-empty");
      }
      await page.getByRole("button", { name: "Create a dataset" }).click();
      await page.locator("#create-dataset").getByLabel("Name", { exact: true }).fill("first");
      await page.locator("#create-dataset").getByRole("button", { name: "Create dataset" }).click();
      await eventually(() => page.locator("#dataset-detail-title").textContent()).toBe("first");
      expect(await page.locator("#categories").count()).toBe(0);
      expect(await page.locator("#dataset-detail").textContent()).toContain("No categories yet.");
    } finally {
      await page.setViewportSize(SIZES[0]);
      await bare.close();
    }
  });
});

describe("at 360 px, the narrowest phone", () => {
  it("fits every main view without sideways scrolling", async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await page.goto(stack.orchestrator.url);
      await eventually(async () => (await keyPanel().isVisible()) || (await page.locator("#role").isVisible())).toBe(
        true,
      );
      if (await keyPanel().isVisible()) await signIn(KEYS.admin);
      const { exports } = await stack.exports.listExports({ pageSize: 1 });
      const { datasets } = await stack.datasets.listDatasets({});
      const views = [
        "#/datasets",
        `#/datasets/${datasets[0]?.id ?? ""}`,
        "#/exports",
        `#/exports/${exports[0]?.id ?? ""}`,
        "#/imports",
      ];
      for (const view of views) {
        await page.goto(`${stack.orchestrator.url}/${view}`);
        await page.reload();
        await eventually(() => page.locator("#main > *").count()).toBeGreaterThan(0);
        await page.waitForLoadState("networkidle");
        expect(await horizontalOverflow(page), `${view} scrolls sideways at 360 px`).toBeLessThanOrEqual(0);
      }
    } finally {
      await page.setViewportSize(SIZES[0]);
    }
  });
});

describe("when the server goes away", () => {
  it("says so clearly", async () => {
    await page.goto(stack.orchestrator.url);
    await eventually(async () => (await keyPanel().isVisible()) || (await page.locator("#role").isVisible())).toBe(
      true,
    );
    if (await keyPanel().isVisible()) await signIn(KEYS.admin);
    await page.getByRole("link", { name: "Imports" }).click();
    await eventually(() => page.locator("#import-history tbody tr").count()).toBeGreaterThan(0);
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
