// The console's export views in a real headless Chromium against a real orchestrator, NATS,
// MongoDB and plugin workers, at 1280x800 and at 390x844: the job list paged and filtered (the
// filters kept in the URL), the export form's filter with its live count, a job's page with its
// live log and its files, and a job canceled before it started. Each view passes axe-core with no
// serious violations and does not scroll sideways. Screenshots go where console.test.ts puts its
// own (.data/screenshots, or docs/screenshots with UPDATE_SCREENSHOTS=1).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportStatus, ItemStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ExportDoc, type JobStatus, queuedExportDoc } from "../services/orchestrator/src/exports/repository.ts";
import { ensureWebBuild } from "../web/build.mjs";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { expectNoSeriousA11yViolations, horizontalOverflow } from "./support/axe.ts";
import { launchBrowser, type TestBrowser } from "./support/browser.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { ROOT } from "./support/process.ts";

const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, "docs", "screenshots") : join(ROOT, ".data", "screenshots");
const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;
/** Jobs written straight into the collection: more than the console's page of 25. */
const HISTORY = 30;
const HISTORY_STATUSES: JobStatus[] = ["completed", "failed", "canceled"];

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-console-exports-"));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let stack: JobStack;
let nats: NatsConnection;
let browser: TestBrowser;
let page: Page;
let street = "";
let harbour = "";
const workers: Worker[] = [];

beforeAll(async () => {
  ensureWebBuild({ quiet: true });
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  street = await seedDataset(stack, "street scenes", 60);
  harbour = await seedDataset(stack, "harbour", 10, "harbour");
  for (const exporter of [
    (await import("@labelport/plugin-csv")).default,
    (await import("@labelport/plugin-json-snapshot")).default,
    EchoExporter,
  ]) {
    workers.push(await startWorker({ nats, exporter, maxDeliver: 1, log: quiet }));
  }
  await waitFor(async () => {
    const { plugins } = await stack.exports.listFormats({});
    return plugins.filter((p) => p.formats.length > 0).length === 3;
  });
  await seedHistory();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("dialog", (dialog) => void dialog.accept());
  mkdirSync(SHOTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** expect.poll with room for a browser and a server on a busy machine. */
const eventually = <T>(probe: () => Promise<T> | T, timeout = 30_000) => expect.poll(probe, { timeout });

const exportsCollection = () => stack.orchestrator.database.db.collection<ExportDoc>("exports");

/**
 * Finished jobs of the past, one a minute: street scenes then harbour, csv and coco alternating,
 * completed / failed / canceled in turn. (No worker serves coco: the list still shows such jobs.)
 */
async function seedHistory(): Promise<void> {
  const start = Date.now() - 24 * 3600_000;
  const docs = Array.from({ length: HISTORY }, (_, i) => {
    const status = HISTORY_STATUSES[i % 3] as JobStatus;
    const createdAt = new Date(start + i * 60_000);
    const dataset = i < 20 ? { id: street, name: "street scenes" } : { id: harbour, name: "harbour" };
    const doc = queuedExportDoc(
      {
        _id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        name: `history ${String(i).padStart(2, "0")}`,
        description: "",
        datasetId: dataset.id,
        datasetName: dataset.name,
        format: i % 2 === 0 ? "csv" : "coco",
        filter: {},
        storage: "local",
        path: "",
        saveOriginalFile: true,
        options: {},
        pluginName: "",
        pluginVersion: "",
        createdBy: "test",
      },
      createdAt,
    );
    return {
      ...doc,
      status,
      startedAt: createdAt,
      completedAt: new Date(createdAt.getTime() + 30_000),
      ...(status === "failed" ? { errorMessage: "the disk is full" } : {}),
    };
  });
  await exportsCollection().insertMany(docs);
}

/** A job no worker takes: queued in the collection only, in a format no worker here serves. */
async function queuedJob(name: string): Promise<string> {
  const id = `00000000-0000-4000-9000-${String(Date.now()).slice(-12)}`;
  await exportsCollection().insertOne(
    queuedExportDoc(
      {
        _id: id,
        name,
        description: "",
        datasetId: street,
        datasetName: "street scenes",
        format: "coco",
        filter: {},
        storage: "local",
        path: "",
        saveOriginalFile: true,
        options: {},
        pluginName: "",
        pluginVersion: "",
        createdBy: "test",
      },
      new Date(),
    ),
  );
  return id;
}

async function open(hash: string): Promise<void> {
  await page.goto(`${stack.orchestrator.url}/${hash}`);
  // A hash-only change does not load the page again: make sure the view follows it.
  await page.reload();
}

async function checkView(view: string, width: number): Promise<void> {
  await expectNoSeriousA11yViolations(page, `${view} at ${width}px`);
  expect(await horizontalOverflow(page), `${view} scrolls sideways at ${width}px`).toBeLessThanOrEqual(0);
}

async function shot(name: string): Promise<void> {
  await page.locator(".toasts").evaluate((el) => el.replaceChildren());
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

const rows = () => page.locator("#jobs tbody tr");
const pageInfo = () => page.locator("#jobs-page").textContent();

describe("the job list (server side)", () => {
  it("filters by format and counts every match over all pages", async () => {
    const csv = await stack.exports.listExports({ formats: ["csv"], pageSize: 5 });
    expect(csv.exports).toHaveLength(5);
    expect(csv.exports.every((e) => e.format === "csv")).toBe(true);
    expect(csv.totalCount).toBe(BigInt(HISTORY / 2));
    expect(csv.nextPageToken).not.toBe("");
    const harbourCocoFailed = await stack.exports.listExports({
      datasetId: "harbour",
      formats: ["coco", "yolo"],
      statuses: [ExportStatus.FAILED],
    });
    const expected = Array.from({ length: HISTORY }, (_, i) => i).filter(
      (i) => i >= 20 && i % 2 === 1 && HISTORY_STATUSES[i % 3] === "failed",
    );
    expect(harbourCocoFailed.exports.map((e) => e.name)).toEqual(
      expected.reverse().map((i) => `history ${String(i).padStart(2, "0")}`),
    );
    expect(harbourCocoFailed.totalCount).toBe(BigInt(expected.length));
    expect((await stack.exports.listExports({ formats: ["nothing-like-it"] })).totalCount).toBe(0n);
  });
});

for (const size of SIZES) {
  const w = size.width;
  describe(`in Chromium at ${w}x${size.height}`, () => {
    beforeAll(async () => {
      await page?.setViewportSize(size);
    });

    it("pages through every job and filters by dataset, status and format, kept over a reload", async () => {
      const all = await stack.exports.listExports({});
      const total = Number(all.totalCount);
      expect(total).toBeGreaterThan(25);
      await open("#/exports");
      await eventually(pageInfo).toBe(`1–25 of ${total} exports`);
      expect(await rows().count()).toBe(25);
      const firstPage = await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-export-id")));
      await page.locator("#jobs-older").click();
      await eventually(pageInfo).toBe(`26–${total} of ${total} exports`);
      const secondPage = await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-export-id")));
      expect(secondPage).toHaveLength(total - 25);
      expect(firstPage.filter((id) => secondPage.includes(id))).toEqual([]);
      expect(await page.locator("#jobs-older").isDisabled()).toBe(true);
      // The oldest job of all is on the last page.
      expect(secondPage.at(-1)).toBe("00000000-0000-4000-8000-000000000000");
      await page.locator("#jobs-newer").click();
      await eventually(pageInfo).toBe(`1–25 of ${total} exports`);

      // Each filter alone: the rows are what the server counts for it.
      await page.locator("#jobs-status").selectOption("failed");
      const failed = Number((await stack.exports.listExports({ statuses: [ExportStatus.FAILED] })).totalCount);
      await eventually(pageInfo).toBe(`1–${failed} of ${failed} exports`);
      expect(new Set(await rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-status"))))).toEqual(
        new Set(["failed"]),
      );
      await page.locator("#jobs-status").selectOption("");
      await page.locator("#jobs-format").selectOption("csv");
      const csv = Number((await stack.exports.listExports({ formats: ["csv"] })).totalCount);
      await eventually(pageInfo).toBe(`1–${Math.min(csv, 25)} of ${csv} exports`);
      expect(new Set(await rows().locator('td[data-label="Format"]').allTextContents())).toEqual(new Set(["CSV"]));
      await page.locator("#jobs-format").selectOption("");
      await page.locator("#jobs-dataset").selectOption(harbour);
      await eventually(pageInfo).toBe(`1–10 of 10 exports`);
      expect(new Set(await rows().locator('td[data-label="Dataset"]').allTextContents())).toEqual(new Set(["harbour"]));

      // All three at once, and a reload keeps them (they live in the URL).
      await page.locator("#jobs-status").selectOption("completed");
      await page.locator("#jobs-format").selectOption("csv");
      expect(new URL(page.url()).hash).toBe(`#/exports?dataset=${harbour}&status=completed&format=csv`);
      const expected = (
        await stack.exports.listExports({ datasetId: harbour, statuses: [ExportStatus.COMPLETED], formats: ["csv"] })
      ).exports.map((e) => e.id);
      await eventually(() => rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-export-id")))).toEqual(
        expected,
      );
      await page.reload();
      await eventually(() => rows().evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-export-id")))).toEqual(
        expected,
      );
      expect(await page.locator("#jobs-status").inputValue()).toBe("completed");
      expect(await page.locator("#jobs-format").inputValue()).toBe("csv");
      expect(await page.locator("#jobs-dataset").inputValue()).toBe(harbour);

      // Row buttons say which job they act on; every bar says whose it is.
      await open("#/exports");
      await eventually(pageInfo).toBe(`1–25 of ${total} exports`);
      const newest = rows().first();
      const name = (await newest.locator("a.job-link").textContent()) ?? "";
      expect(await newest.getByRole("button", { name: `Delete export ${name}`, exact: true }).count()).toBe(1);
      expect(await newest.locator("progress").getAttribute("aria-label")).toMatch(new RegExp(`^Export ${name}: `));
      const labels = await page
        .locator("#jobs progress")
        .evaluateAll((bars) => bars.map((b) => b.getAttribute("aria-label")));
      expect(new Set(labels).size).toBe(labels.length);
      await checkView("job list", w);
      await shot(`exports-list-${w}`);
    });

    it("counts what the filter selects as it changes, and starts the export with that filter", async () => {
      await open(`#/exports?dataset=${street}`);
      const form = page.locator("#export-form");
      await eventually(() => page.locator("#export-dataset").inputValue()).toBe(street);
      await page.locator("#export-format").selectOption("csv");
      // Format names, ids second.
      expect(await page.locator("#export-format option").allTextContents()).toEqual(
        expect.arrayContaining(["CSV", "JSON snapshot (json-snapshot)", "Echo"]),
      );
      const counted = page.locator("#export-count");
      const itemsAndAnnotations = async () =>
        `${await counted.getAttribute("data-items")}/${await counted.getAttribute("data-annotations")}`;
      await eventually(itemsAndAnnotations).toBe("60/120");
      expect(await counted.textContent()).toMatch(/^60 items, 120 annotations, about \d/);
      // Every fifth item is in "val" (seedDataset): 12 items, two boxes each.
      await page.locator("#export-splits").fill("val");
      await eventually(itemsAndAnnotations).toBe("12/24");
      // Categories by name; "car" is one box of each item.
      await form.getByLabel("car", { exact: true }).check();
      await eventually(itemsAndAnnotations).toBe("12/12");
      // No item is a draft: only drafts selects nothing.
      await form.getByLabel("draft", { exact: true }).check();
      await form.getByLabel("approved", { exact: true }).uncheck();
      await eventually(itemsAndAnnotations).toBe("0/0");
      await form.getByLabel("approved", { exact: true }).check();
      await form.getByLabel("draft", { exact: true }).uncheck();
      await eventually(itemsAndAnnotations).toBe("12/12");
      const media = page.locator("#export-save-original");
      expect(await media.isChecked()).toBe(true);
      expect(await page.getByRole("switch", { name: "Copy the original media files" }).count()).toBe(1);
      await media.uncheck();
      const name = `val cars ${w}`;
      await page.locator("#export-name").fill(name);
      await checkView("export form", w);
      await page.locator("#export-form").evaluate((el) => el.scrollIntoView({ block: "start" }));
      await shot(`export-form-${w}`);

      await page.getByRole("button", { name: "Start export" }).click();
      const created = page.locator("#jobs tbody tr", { hasText: name });
      await eventually(() => created.getAttribute("data-status")).toBe("completed");
      const { exports } = await stack.exports.listExports({ datasetId: street, formats: ["csv"] });
      const job = exports.find((e) => e.name === name);
      expect(job?.filter?.splits).toEqual(["val"]);
      expect(job?.filter?.categoryIds).toEqual([1]);
      expect(job?.filter?.statuses).toEqual([ItemStatus.APPROVED]);
      expect(job?.saveOriginalFile).toBe(false);
      expect(job?.counts?.itemCount).toBe(12n);
      expect(job?.counts?.annotationCount).toBe(12n);
    });

    it("shows a job's log live while it runs, and cancels it from its page", async () => {
      const { export: slow } = await stack.exports.createExport({
        datasetId: street,
        format: "echo",
        name: `slow echo ${w}`,
        options: { delayMs: 400 },
      });
      const id = slow?.id ?? "";
      await open(`#/exports/${id}`);
      const detail = page.locator("#export-detail");
      await eventually(() => page.locator("#export-title").textContent()).toBe(`slow echo ${w}`);
      const log = page.locator("#export-log");
      // The plugin's "export started" line arrives while the job is still running (60 items x 400 ms).
      const state = async () =>
        `${await detail.locator(".status").first().textContent()} | ${(await log.textContent())?.includes("export started")}`;
      await eventually(state, 60_000).toBe("running | true");
      expect(await page.locator("#export-log-state").textContent()).toBe("Following the log while the job runs…");
      const bar = detail.locator("progress");
      await eventually(() => bar.getAttribute("aria-label")).toMatch(new RegExp(`^Export slow echo ${w}: \\d+%$`));
      await checkView("running job", w);

      await detail.getByRole("button", { name: `Cancel export slow echo ${w}` }).click();
      await eventually(() => detail.locator(".status").first().textContent()).toBe("canceled");
      // The cancel's line comes down the same stream, and then the stream ends with the job.
      await eventually(() => log.textContent()).toContain("export canceled");
      await eventually(() => page.locator("#export-log-state").textContent()).toBe(
        "The job has ended; this is its whole log.",
      );
      expect((await stack.exports.getExport({ exportId: id })).export?.status).toBe(ExportStatus.CANCELED);
    });

    it("shows a finished job's counts, filter in words, options and files with sizes and their own downloads", async () => {
      const { export: made } = await stack.exports.createExport({
        datasetId: street,
        format: "csv",
        name: `csv with files ${w}`,
        filter: { splits: ["train"] },
        options: { categoryFolders: true },
        saveOriginalFile: false,
      });
      const id = made?.id ?? "";
      await waitFor(
        async () => (await stack.exports.getExport({ exportId: id })).export?.status === ExportStatus.COMPLETED,
      );
      const { export: done } = await stack.exports.getExport({ exportId: id });
      // From the list, by the job's link.
      await open(`#/exports?dataset=${street}&format=csv`);
      await page.locator(`#jobs tr[data-export-id="${id}"] a.job-link`).click();
      expect(new URL(page.url()).hash).toBe(`#/exports/${id}`);
      const detail = page.locator("#export-detail");
      await eventually(() => detail.locator(".status").first().textContent()).toBe("completed");
      expect(await page.locator("#export-filter-words").locator("li").allTextContents()).toEqual([
        "Approved items only",
        "Splits: train",
      ]);
      expect(await detail.textContent()).toContain("Annotations only, no media files");
      expect(await page.locator("#export-option-values").textContent()).toContain("Category foldersyes");
      const counts = await page.locator("#export-counts").textContent();
      expect(counts).toBe("Items48Annotations received96Written96Dropped0Changed0");
      expect(await page.locator("#export-facts").textContent()).toContain("FormatCSV");

      const files = page.locator("#export-files tbody tr");
      const keys = await files.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-key")));
      expect(keys).toEqual(done?.artifacts.map((a) => a.key));
      expect(keys.length).toBeGreaterThan(0);
      for (const artifact of done?.artifacts ?? []) {
        const row = page.locator(`#export-files tr[data-key="${artifact.key}"]`);
        expect(await row.locator('td[data-label="Size"]').textContent()).toMatch(/^\d+(\.\d)? (B|KB)$/);
        expect(await row.locator("code.hash").textContent()).toBe(artifact.sha256);
      }
      const first = done?.artifacts[0];
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: `Download file ${first?.key}`, exact: true }).click(),
      ]);
      const extension = first?.key.split(".").at(-1) ?? "";
      expect(download.suggestedFilename()).toMatch(new RegExp(`^street scenes-${id}-\\d{8}T\\d{6}Z\\.${extension}$`));
      expect(
        await detail.getByRole("button", { name: `Download export csv with files ${w}`, exact: true }).count(),
      ).toBe(1);
      await eventually(() => page.locator("#export-log-state").textContent()).toBe(
        "The job has ended; this is its whole log.",
      );
      expect(await page.locator("#export-log").textContent()).toContain("export completed");
      await checkView("job page", w);
      await shot(`export-detail-${w}`);
    });

    it("shows a job canceled while queued as stopped: 'Canceled before it started'", async () => {
      const name = `never started ${w}`;
      const id = await queuedJob(name);
      await stack.exports.cancelExport({ exportId: id });
      await open(`#/exports?dataset=${street}&status=canceled`);
      const row = page.locator(`#jobs tr[data-export-id="${id}"]`);
      await eventually(() => row.getAttribute("data-status")).toBe("canceled");
      expect(await row.locator(".progress").textContent()).toBe("Canceled before it started");
      // A value makes the bar determinate: it stands still.
      const bar = row.locator("progress");
      expect(await bar.getAttribute("value")).toBe("0");
      expect(await bar.evaluate((el) => (el as unknown as { position: number }).position)).toBe(0);
      expect(await bar.getAttribute("aria-label")).toBe(`Export ${name}: canceled`);
      await checkView("canceled job in the list", w);

      await row.locator("a.job-link").click();
      const detail = page.locator("#export-detail");
      await eventually(() => detail.locator(".status").first().textContent()).toBe("canceled");
      expect(await detail.locator(".progress").textContent()).toBe("Canceled before it started");
      expect(await detail.locator("progress").evaluate((el) => (el as unknown as { position: number }).position)).toBe(
        0,
      );
      await checkView("canceled job page", w);
    });
  });
}
