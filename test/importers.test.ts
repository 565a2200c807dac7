// Uploads in other tools' formats, end to end: POST /api/import hands the upload to the importer
// plugin of its format over NATS, merges the categories it found into the dataset, imports the
// records with the caller's options, and tells the truth about every annotation.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ExportStatus, ImportService, ImportStartSchema } from "@labelport/sdk/contracts";
import { writeSampleUpload } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upload } from "../services/orchestrator/src/data/testing.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";
import { png } from "./support/png.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-importers-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-importers-uploads-"));
let stack: JobStack;
let workers: PluginWorkers;

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  workers = await startPluginWorkers(stack);
});

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const cocoFile = (extra: { annotations?: object[] } = {}) =>
  JSON.stringify({
    images: [
      { id: 1, file_name: "street 01.jpg", width: 64, height: 48 },
      { id: 2, file_name: "park.png", width: 32, height: 32 },
    ],
    categories: [
      { id: 3, name: "car", supercategory: "vehicle" },
      { id: 7, name: "人", supercategory: "person", keypoints: ["nose", "eye"], skeleton: [[1, 2]] },
    ],
    annotations: [
      { id: 11, image_id: 1, category_id: 3, bbox: [1, 2, 10, 8], area: 80, iscrowd: 0 },
      {
        id: 12,
        image_id: 1,
        category_id: 7,
        bbox: [5, 5, 10, 10],
        area: 100,
        iscrowd: 0,
        keypoints: [6, 6, 2, 9, 7, 1],
        num_keypoints: 2,
      },
      {
        id: 13,
        image_id: 2,
        category_id: 3,
        segmentation: [[1, 1, 20, 1, 20, 20]],
        bbox: [1, 1, 19, 19],
        area: 180.5,
        iscrowd: 0,
      },
      ...(extra.annotations ?? []),
    ],
  });

async function cocoZip(name: string, extra: { annotations?: object[] } = {}): Promise<Buffer> {
  const dir = mkdtempSync(join(scratch, `${name}-`));
  const written = await writeSampleUpload(dir, {
    files: {
      "annotations/instances_train.json": cocoFile(extra),
      "images/train/street 01.jpg": png(64, 48),
      "images/train/park.png": png(32, 32),
    },
  });
  return readFileSync(written.path);
}

async function newDataset(name: string): Promise<string> {
  const { dataset } = await stack.datasets.createDataset({ name });
  return dataset?.id ?? "";
}

describe("imports through importer plugins", () => {
  it("imports a COCO ZIP with its images: categories with their ids, items, media in storage", async () => {
    const datasetId = await newDataset("coco-in");
    const res = await upload(
      `${stack.orchestrator.url}/api/import`,
      await cocoZip("coco"),
      { datasetId, format: "coco" },
      "dataset.zip",
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const body = res.body as Record<string, unknown>;
    expect(body).toMatchObject({ success: true, status: "completed" });
    expect(body.annotations).toMatchObject({ received: 3, written: 3, dropped: 0 });
    const { dataset } = await stack.datasets.getDataset({ datasetId });
    expect(dataset?.categories.map((c) => [c.id, c.name, c.supercategory])).toEqual([
      [3, "car", "vehicle"],
      [7, "人", "person"],
    ]);
    expect(dataset?.categories[1]?.keypoints).toEqual(["nose", "eye"]);
    expect(dataset?.categories[1]?.skeleton.map((e) => [e.fromKeypoint, e.toKeypoint])).toEqual([[1, 2]]);
    const items = [];
    for await (const page of stack.items.streamItems({ datasetId, filter: { allStatuses: true } })) {
      items.push(...page.items);
    }
    expect(items.map((i) => i.id).sort()).toEqual(["park", "street 01"]);
    for (const item of items) {
      expect(item.media?.uri).toMatch(new RegExp(`^media/${datasetId}/`));
      expect(existsSync(join(storageRoot, item.media?.uri ?? "missing"))).toBe(true);
    }
    expect(items.reduce((n, i) => n + i.annotations.length, 0)).toBe(3);
    const history = (await fetch(`${stack.orchestrator.url}/api/import/history?datasetId=${datasetId}`).then((r) =>
      r.json(),
    )) as { imports: object[] };
    expect(history.imports[0]).toMatchObject({ filename: "dataset.zip", status: "completed", format: "coco" });
  });

  it("exports what it imported back to COCO", async () => {
    const datasetId = await newDataset("coco-back");
    await upload(`${stack.orchestrator.url}/api/import`, await cocoZip("coco-back"), { datasetId, format: "coco" });
    const { export: created } = await stack.exports.createExport({ datasetId, format: "coco" });
    const exportId = created?.id ?? "";
    let status = ExportStatus.QUEUED;
    for (let i = 0; i < 600 && status !== ExportStatus.COMPLETED && status !== ExportStatus.FAILED; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = (await stack.exports.getExport({ exportId })).export?.status ?? status;
    }
    const { export: done } = await stack.exports.getExport({ exportId });
    expect(done?.status, done?.errorMessage).toBe(ExportStatus.COMPLETED);
    expect(done?.counts?.annotationCount).toBe(3n);
    const instances = JSON.parse(
      readFileSync(join(storageRoot, done?.path ?? "", "annotations", "instances_train.json"), "utf8"),
    );
    expect(instances.categories.map((c: { id: number; name: string }) => [c.id, c.name])).toEqual([
      [3, "car"],
      [7, "人"],
    ]);
    expect(instances.categories[1].skeleton).toEqual([[1, 2]]);
    expect(instances.annotations).toHaveLength(3);
  });

  it("says which annotations it lost and why, and a preview says the same without storing anything", async () => {
    const datasetId = await newDataset("coco-losses");
    const zip = await cocoZip("losses", {
      annotations: [
        { id: 14, image_id: 1, category_id: 99, bbox: [0, 0, 1, 1], area: 1, iscrowd: 0 },
        { id: 15, image_id: 42, category_id: 3, bbox: [0, 0, 1, 1], area: 1, iscrowd: 0 },
      ],
    });
    const preview = await upload(`${stack.orchestrator.url}/api/import/preview`, zip, { datasetId, format: "coco" });
    expect(preview.status, JSON.stringify(preview.body)).toBe(200);
    const committed = await upload(`${stack.orchestrator.url}/api/import`, zip, { datasetId, format: "coco" });
    for (const res of [preview, committed]) {
      const body = res.body as { status: string; annotations: { droppedByReason: Record<string, number> } };
      expect(body.status).toBe("completed_with_losses");
      expect(body.annotations).toMatchObject({ received: 5, written: 3, dropped: 2 });
      expect(Object.keys(body.annotations.droppedByReason)).toHaveLength(2);
    }
  });

  it("keeps a category the dataset has by name, and renumbers the upload's annotations to it", async () => {
    const { dataset } = await stack.datasets.createDataset({ name: "coco-merge", categories: [{ name: "car" }] });
    const datasetId = dataset?.id ?? "";
    const res = await upload(`${stack.orchestrator.url}/api/import`, await cocoZip("merge"), {
      datasetId,
      format: "coco",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const after = (await stack.datasets.getDataset({ datasetId })).dataset;
    // "car" was id 1 here; the upload's 3 maps to it. "人" keeps 7, free in this dataset.
    expect(after?.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "car"],
      [7, "人"],
    ]);
    const ids = [];
    for await (const page of stack.items.streamItems({ datasetId, filter: { allStatuses: true } })) {
      for (const item of page.items) ids.push(...item.annotations.map((a) => a.categoryId));
    }
    expect(ids.sort()).toEqual([1, 1, 7]);
  });

  it("refuses an upload that is not the format, naming the file, and stores nothing", async () => {
    const datasetId = await newDataset("coco-refused");
    const res = await upload(
      `${stack.orchestrator.url}/api/import`,
      "just some words\n",
      { datasetId, format: "coco" },
      "notes.txt",
    );
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain("notes.txt");
    const { dataset } = await stack.datasets.getDataset({ datasetId });
    expect(dataset?.itemCount).toBe(0n);
    expect(dataset?.categories).toEqual([]);
  });

  it("answers 400 listing the formats for one no importer reads", async () => {
    const datasetId = await newDataset("no-importer");
    const unknown = await upload(`${stack.orchestrator.url}/api/import`, "{}", { datasetId, format: "pascal-3d" });
    expect(unknown.status).toBe(400);
    expect((unknown.body as { message: string }).message).toMatch(
      /^Invalid format "pascal-3d": expected one of jsonl, json, labelport-items, .*coco.*yolo/,
    );
    const malformed = await upload(`${stack.orchestrator.url}/api/import`, "{}", { datasetId, format: "a.b" });
    expect(malformed.status).toBe(400);
  });

  it("imports over gRPC/Connect with the format and importer options in ImportStart", async () => {
    const datasetId = await newDataset("coco-rpc");
    const client = createClient(
      ImportService,
      createConnectTransport({ baseUrl: stack.orchestrator.url, httpVersion: "1.1" }),
    );
    const zip = await cocoZip("rpc");
    async function* requests() {
      yield {
        part: {
          case: "start" as const,
          value: create(ImportStartSchema, { datasetId, fileName: "coco.zip", format: "coco" }),
        },
      };
      yield { part: { case: "chunk" as const, value: new Uint8Array(zip) } };
    }
    const res = await client.import(requests());
    expect(res.status).toBe("completed");
    expect(res.annotations?.written).toBe(3n);
  });

  it("answers 503 naming the format when its importers are registered but none runs", async () => {
    await workers.stop();
    const datasetId = await newDataset("importers-gone");
    const res = await upload(`${stack.orchestrator.url}/api/import`, await cocoZip("gone"), {
      datasetId,
      format: "coco",
    });
    expect(res.status).toBe(503);
    expect((res.body as { message: string }).message).toContain('no importer for format "coco" is running');
  });
});
