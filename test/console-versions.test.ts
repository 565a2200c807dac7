// Dataset versions in the console, in a real headless Chromium against a real orchestrator: the
// dataset page's versions panel (create a version, see what changed since it) and the export
// form's version picker, whose export reads the version. Both pass axe-core with no serious
// violations and do not scroll sideways, at 1280x800 and 390x844.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportStatus } from "@labelport/sdk/contracts";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureWebBuild } from "../web/build.mjs";
import { expectNoSeriousA11yViolations, horizontalOverflow } from "./support/axe.ts";
import { launchBrowser, type TestBrowser } from "./support/browser.ts";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";

const SIZES = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-console-versions-"));
let stack: JobStack;
let workers: PluginWorkers;
let browser: TestBrowser;
let page: Page;
let datasetId = "";

beforeAll(async () => {
  ensureWebBuild({ quiet: true });
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  workers = await startPluginWorkers(stack, ["@labelport/plugin-jsonl"], { importers: false });
  datasetId = await seedDataset(stack, "harbour", 8, "harbour");
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
});

afterAll(async () => {
  await browser?.close();
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

async function open(hash: string): Promise<void> {
  await page.goto(`${stack.orchestrator.url}/${hash}`);
  await page.reload();
}

async function checkView(view: string): Promise<void> {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await expectNoSeriousA11yViolations(page, `${view} at ${size.width}px`);
    expect(await horizontalOverflow(page), `${view} scrolls sideways at ${size.width}px`).toBeLessThanOrEqual(0);
  }
  await page.setViewportSize(SIZES[0]);
}

describe("versions in the console", () => {
  it("creates a version on the dataset page and shows what changed since it", async () => {
    await open(`#/datasets/${datasetId}`);
    const panel = page.locator("#dataset-versions");
    await expect.poll(() => panel.textContent(), { timeout: 30_000 }).toContain("No versions yet");
    await page.fill("#version-name", "before cleanup");
    await page.fill("#version-description", "eight images");
    await page.click("#create-version button[type=submit]");
    const row = page.locator('#versions tr[data-version="before cleanup"]');
    await expect.poll(() => row.textContent(), { timeout: 30_000 }).toContain("eight images");

    await stack.items.deleteItems({ datasetId, itemIds: ["harbour-00000", "harbour-00001"] });
    await page.click('button[aria-label="Changes since version before cleanup"]');
    const diff = page.locator("#version-diff");
    await expect.poll(() => diff.textContent(), { timeout: 30_000 }).toContain("Items: 0 added, 2 removed");
    expect(await diff.textContent()).toContain("before cleanup → the live dataset");
    await checkView("the dataset page with versions");
  });

  it("exports the version picked in the export form", async () => {
    await open(`#/exports?dataset=${datasetId}`);
    const picker = page.locator("#export-version");
    await expect
      .poll(() => picker.locator("option").allTextContents(), { timeout: 30_000 })
      .toEqual(["Live dataset", "before cleanup (8 items)"]);
    await page.selectOption("#export-format", "jsonl");
    await picker.selectOption({ label: "before cleanup (8 items)" });
    await checkView("the export form with a version");
    await page.click("#export-form button[type=submit]");
    await expect
      .poll(
        async () => {
          const { exports } = await stack.exports.listExports({ datasetId });
          return exports.map((e) => [e.versionName, ExportStatus[e.status]]);
        },
        { timeout: 60_000 },
      )
      .toEqual([["before cleanup", "COMPLETED"]]);
  });
});
