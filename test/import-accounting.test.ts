// Honest import accounting against a real orchestrator and MongoDB: every annotation of an upload
// is written, merged, skipped as asked or dropped with a reason (received = the sum), the outcome
// says completed only when nothing was dropped, preview reports what the commit does, history keeps
// it, a conversion before the import adds its own counts, and the CLI exits 3 on losses.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@labelport/orchestrator";
import { ItemStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { importDataset } from "../services/orchestrator/src/data/datasets.ts";
import type { AnnotationAccountingEntry } from "../services/orchestrator/src/data/import/accounting.ts";
import { defaultImportOptions } from "../services/orchestrator/src/data/import/options.ts";
import { type ImportContext, probeCapabilities, runImport } from "../services/orchestrator/src/data/import/pipeline.ts";
import { spool } from "../services/orchestrator/src/data/import/reader.ts";
import { importSettingsOf } from "../services/orchestrator/src/data/index.ts";
import {
  type DataClients,
  dataClients,
  jsonl,
  upload,
  videoAnnotation,
} from "../services/orchestrator/src/data/testing.ts";
import { runCli } from "./support/cli.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

const TIME = "2025-10-06T14:30:00Z";
const PERSONA = "660e8400-e29b-41d4-a716-446655440001";

let orchestrator: TestOrchestrator;
let api: DataClients;
let scratch: string;
let dataset = "";
let counter = 0;

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  api = dataClients(orchestrator.url);
  scratch = mkdtempSync(join(tmpdir(), "labelport-accounting-"));
  await orchestrator.database.db
    .collection("personas")
    .updateOne(
      { _id: PERSONA as never },
      { $setOnInsert: { name: "Analyst", placeholder: false, createdAt: new Date() } },
      { upsert: true },
    );
});
afterAll(async () => {
  await orchestrator?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** A fresh dataset per test with category 1 and one video. */
beforeEach(async () => {
  dataset = `accounting-${++counter}`;
  await api.datasets.createDataset({ name: dataset, categories: [{ id: 1, name: "car" }] });
  await api.items.upsertItems({
    datasetId: dataset,
    items: [{ id: video(), kind: 2, status: ItemStatus.APPROVED, media: { frames: 300, fps: 30 } }],
  });
});

const video = () => `video-${counter}`;

/** A lossless item line with `n` boxes of `categoryId` (0: none). */
function item(id: string, n: number, categoryId = 0) {
  return {
    id,
    kind: "ITEM_KIND_IMAGE",
    status: "ITEM_STATUS_APPROVED",
    createTime: TIME,
    updateTime: TIME,
    annotations: Array.from({ length: n }, (_, i) => ({
      id: `${id}-a${i}`,
      type: "ANNOTATION_TYPE_BBOX",
      ...(categoryId ? { categoryId } : {}),
      bbox: { x: i, y: 1, width: 2, height: 3 },
      createTime: TIME,
      updateTime: TIME,
    })),
  };
}

/** 100 items of 3 annotations each, all of a category the dataset lacks. */
const uncategorised = (prefix = "u") =>
  jsonl(Array.from({ length: 100 }, (_, i) => item(`${dataset}-${prefix}${i}`, 3, 5)));

const post = (route: "import" | "import/preview", content: string, format: string, options?: object) =>
  upload(`${orchestrator.url}/api/${route}?datasetId=${dataset}&format=${format}`, content, {
    ...(options ? { options: JSON.stringify(options) } : {}),
  });

function accounting(partial: Partial<AnnotationAccountingEntry>): AnnotationAccountingEntry {
  return { received: 0, written: 0, merged: 0, skipped: 0, dropped: 0, droppedByReason: {}, changed: {}, ...partial };
}

function expectBalanced(a: AnnotationAccountingEntry): void {
  expect(a.received).toBe(a.written + a.merged + a.skipped + a.dropped);
  expect(a.dropped).toBe(Object.values(a.droppedByReason).reduce((x, y) => x + y, 0));
}

describe("import accounting over REST", () => {
  it("an import whose every annotation misses its category completes with losses, preview and history alike", async () => {
    const file = uncategorised();
    const expected = accounting({ received: 300, dropped: 300, droppedByReason: { "missing category": 300 } });
    const preview = await post("import/preview", file, "labelport-items");
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ status: "completed_with_losses", annotations: expected, notes: [] });

    const res = await post("import", file, "labelport-items");
    expect(res.status).toBe(200);
    // The seed's fields keep their meaning (the import ran and kept what it stored); status tells the loss.
    expect(res.body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 0, items: 100 }, skippedItems: { annotations: 300 } },
      status: "completed_with_losses",
      annotations: expected,
      notes: [],
    });
    expect(Object.keys(res.body).slice(0, 6)).toEqual([
      "importId",
      "success",
      "summary",
      "warnings",
      "errors",
      "conflicts",
    ]);

    const { import: record } = await api.imports.getImport({ importId: String(res.body.importId) });
    expect(record).toMatchObject({ outcome: "completed_with_losses", format: "labelport-items", notes: [] });
    expect(record?.annotations).toMatchObject({ received: 300n, written: 0n, dropped: 300n });
    expect(record?.annotations?.droppedByReason.map((d) => [d.reason, d.count])).toEqual([["missing category", 300n]]);
    const { imports } = await api.imports.listImports({ datasetId: dataset });
    expect(imports[0]).toMatchObject({ id: res.body.importId, outcome: "completed_with_losses" });

    const history = (await (await fetch(`${orchestrator.url}/api/import/history?datasetId=${dataset}`)).json()) as {
      imports: Array<Record<string, unknown>>;
    };
    expect(history.imports[0]).toMatchObject({
      id: res.body.importId,
      success: true,
      status: "completed_with_losses",
      format: "labelport-items",
      annotations: expected,
    });
  });

  it("a clean import completes; skip-as-asked duplicates complete with the skips counted", async () => {
    const file = jsonl([item(`${dataset}-c1`, 2), item(`${dataset}-c2`, 1, 1)]);
    const clean = await post("import", file, "labelport-items");
    expect(clean.body).toMatchObject({
      success: true,
      status: "completed",
      annotations: accounting({ received: 3, written: 3 }),
    });
    const again = await post("import", file, "labelport-items");
    expect(again.body).toMatchObject({
      success: true,
      status: "completed",
      annotations: accounting({ received: 3, skipped: 3 }),
    });
    const tracks = jsonl([
      videoAnnotation({ id: `${dataset}-t1`, videoId: video(), frames: [0, 10] }),
      videoAnnotation({ id: `${dataset}-t1`, videoId: video(), frames: [20, 30] }),
      videoAnnotation({ id: `${dataset}-t2`, videoId: video(), frames: [5, 8] }),
    ]);
    const skipped = await post("import", tracks, "jsonl", { conflictResolution: { overlappingFrames: "skip" } });
    expect(skipped.body).toMatchObject({
      status: "completed",
      annotations: accounting({ received: 3, written: 1, skipped: 2 }),
    });
  });

  it("counts merges, drops by reason, changes, and a failed atomic import as rolled back", async () => {
    const v = video();
    const merged = await post(
      "import",
      jsonl([
        videoAnnotation({ id: `${dataset}-m1`, videoId: v, frames: [0, 10] }),
        videoAnnotation({ id: `${dataset}-m2`, videoId: v, frames: [5, 20], note: "extra" }),
      ]),
      "jsonl",
    );
    expect(merged.body).toMatchObject({
      status: "completed",
      annotations: accounting({ received: 2, written: 1, merged: 1, changed: { "unknown fields ignored": 1 } }),
    });

    const lines = [
      videoAnnotation({ id: `${dataset}-d1`, videoId: v, frames: [100, 110] }),
      videoAnnotation({ id: `${dataset}-d2`, videoId: "nowhere" }),
      videoAnnotation({ id: `${dataset}-d3`, videoId: v, frames: [130, 120] }),
      videoAnnotation({ id: `${dataset}-d4`, videoId: v, typeAssignment: undefined }),
    ];
    const text = `${jsonl(lines)}{not json\n`;
    const nonAtomic = await post("import", text, "jsonl", { transaction: { atomic: false } });
    const droppedByReason = {
      "missing video": 1,
      "invalid bounding box sequence": 1,
      "invalid annotation": 1,
      "invalid JSON": 1,
    };
    expect(nonAtomic.body).toMatchObject({
      success: true,
      status: "completed_with_losses",
      annotations: accounting({ received: 5, written: 1, dropped: 4, droppedByReason }),
    });
    expectBalanced(nonAtomic.body.annotations as AnnotationAccountingEntry);

    const atomicLines = jsonl([
      videoAnnotation({ id: `${dataset}-d5`, videoId: v, frames: [200, 210] }),
      videoAnnotation({ id: `${dataset}-d6`, videoId: v, frames: [230, 220] }),
    ]);
    const expected = accounting({
      received: 2,
      dropped: 2,
      droppedByReason: { "import rolled back": 1, "invalid bounding box sequence": 1 },
    });
    const atomicPreview = await post("import/preview", atomicLines, "jsonl");
    expect(atomicPreview.body).toMatchObject({ status: "failed", annotations: expected });
    const atomic = await post("import", atomicLines, "jsonl");
    expect(atomic.body).toMatchObject({ success: false, status: "failed", annotations: expected });
  });

  it("an import a fail policy stops accounts for the lines it read after the stop", async () => {
    const v = video();
    await post("import", jsonl([videoAnnotation({ id: `${dataset}-s1`, videoId: v, frames: [0, 10] })]), "jsonl");
    const res = await post(
      "import",
      jsonl([
        videoAnnotation({ id: `${dataset}-s2`, videoId: v, frames: [50, 60] }),
        videoAnnotation({ id: `${dataset}-s1`, videoId: v, frames: [20, 30] }),
        videoAnnotation({ id: `${dataset}-s3`, videoId: v, frames: [80, 90] }),
      ]),
      "jsonl",
      { conflictResolution: { duplicateIds: "fail" } },
    );
    expect(res.body).toMatchObject({
      success: false,
      status: "failed",
      annotations: accounting({
        received: 3,
        dropped: 3,
        droppedByReason: { "import rolled back": 1, "duplicate id": 1, "import stopped": 1 },
      }),
      notes: ["The import stopped at line 2; the lines after it were not imported"],
    });
  });

  it("missingDependencies create writes, with the annotations under a placeholder category counted as changed", async () => {
    const file = jsonl([item(`${dataset}-p1`, 2, 9), item(`${dataset}-p2`, 1, 1)]);
    const created = await post("import", file, "labelport-items", {
      conflictResolution: { missingDependencies: "create" },
    });
    expect(created.body).toMatchObject({
      status: "completed",
      annotations: accounting({ received: 3, written: 3, changed: { "placeholder category": 2 } }),
    });
  });
});

describe("a conversion before the import", () => {
  it("adds its drops, changes and notes to the import's own accounting", async () => {
    const db = orchestrator.database.db;
    const settings = importSettingsOf({
      LABELPORT_IMPORT_ATOMIC_MODE: "auto",
      LABELPORT_IMPORT_BATCH_SIZE: 100,
      LABELPORT_IMPORT_TRANSACTION_MAX_BYTES: undefined,
    } as Parameters<typeof importSettingsOf>[0]);
    const ctx: ImportContext = {
      db,
      client: orchestrator.database.client,
      log: createLogger("silent"),
      instance: { host: "test", pid: process.pid, instanceId: `conversion-${counter}` },
      settings,
      capabilities: probeCapabilities(db, settings),
      ready: Promise.resolve(),
      active: new Set(),
    };
    const datasetDoc = await importDataset(db, dataset, { preview: false, field: "datasetId" });
    const file = await spool(
      (async function* () {
        yield new TextEncoder().encode(jsonl([item(`${dataset}-k1`, 2, 1), item(`${dataset}-k2`, 1, 7)]));
      })(),
    );
    try {
      const result = await runImport(ctx, {
        dataset: datasetDoc,
        file,
        fileName: "upload.zip",
        format: "labelport-items",
        options: defaultImportOptions,
        actor: "test",
        conversion: {
          dropped: { "unsupported geometry": 4, "missing image": 1 },
          changed: { "rounded to whole pixels": 2 },
          notes: ["3 label files had no image"],
        },
      });
      expect(result.outcome).toBe("completed_with_losses");
      expect(result.annotations).toEqual(
        accounting({
          received: 8,
          written: 2,
          dropped: 6,
          droppedByReason: { "unsupported geometry": 4, "missing image": 1, "missing category": 1 },
          changed: { "rounded to whole pixels": 2 },
        }),
      );
      expect(result.notes).toEqual(["3 label files had no image"]);
      const { import: record } = await api.imports.getImport({ importId: result.importId });
      expect(record).toMatchObject({ outcome: "completed_with_losses", notes: ["3 label files had no image"] });
      expect(record?.annotations?.received).toBe(8n);
    } finally {
      await file.dispose();
    }
  });
});

describe("labelport import (the CLI)", () => {
  const cli = (args: string[]) => runCli(args, { url: orchestrator.url });

  it("exits 3 on losses with the reasons first, 0 with --allow-losses or a clean import, JSON with --json", async () => {
    const lossy = join(scratch, `lossy-${counter}.jsonl`);
    writeFileSync(lossy, uncategorised());
    const args = ["import", lossy, "--dataset", dataset, "--format", "labelport-items"];

    const preview = await cli([...args, "--preview"]);
    expect(preview.code, preview.stderr).toBe(3);
    expect(preview.stdout.split("\n").slice(0, 3)).toEqual([
      "300 of 300 annotations would be dropped:",
      "       300  missing category",
      "preview: completed_with_losses",
    ]);

    const lost = await cli(args);
    expect(lost.code, lost.stderr).toBe(3);
    const lines = lost.stdout.split("\n");
    expect(lines.slice(0, 2)).toEqual(["300 of 300 annotations were dropped:", "       300  missing category"]);
    expect(lines[2]).toMatch(/^import \S+: completed_with_losses$/);
    expect(lost.stdout).toContain("annotations: 300 received, 0 written, 0 merged, 0 skipped as asked, 300 dropped");

    // Other items: the ones above are in the dataset now, and would be skipped as duplicates.
    const other = join(scratch, `other-${counter}.jsonl`);
    writeFileSync(other, uncategorised("w"));
    const allowed = await cli([
      "import",
      other,
      "--dataset",
      dataset,
      "--format",
      "labelport-items",
      "--allow-losses",
      "--json",
    ]);
    expect(allowed.code, allowed.stderr).toBe(0);
    const body = JSON.parse(allowed.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({
      success: true,
      status: "completed_with_losses",
      annotations: { received: "300", dropped: "300", droppedByReason: [{ reason: "missing category", count: "300" }] },
    });

    const clean = join(scratch, `clean-${counter}.jsonl`);
    writeFileSync(clean, jsonl([item(`${dataset}-ok`, 2, 1)]));
    const ok = await cli(["import", clean, "--dataset", dataset, "--format", "labelport-items"]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(
      /^import \S+: completed\n {2}annotations: 2 received, 2 written, 0 merged, 0 skipped as asked, 0 dropped$/m,
    );

    const broken = join(scratch, `broken-${counter}.jsonl`);
    writeFileSync(broken, jsonl([{ ...item(`${dataset}-bad`, 1), kind: "ITEM_KIND_NOPE" }]));
    const failed = await cli(["import", broken, "--dataset", dataset, "--format", "labelport-items"]);
    expect(failed.code, failed.stdout).toBe(1);
    expect(failed.stdout).toMatch(/: failed$/m);
  }, 60_000);
});
