// Seed 002's three export targets on a fixture with two labelers, a reviewer and tasks:
// `assignment` (annotation work by user, status, tags), `ground_truth` (a version, its split as
// the seed's category) and `task` (items with their task metadata); who made an annotation is the
// caller's key name unless the writer says, and an edit does not change it.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AnnotationType,
  type Export,
  ExportStatus,
  type ItemFilterSchema,
  ItemKind,
  ItemService,
  ItemStatus,
  VersionService,
} from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";

const KEYS = { lead: "lead-key-0123456789abcdef", reviewer: "reviewer-key-0123456789abcdef" };
const storageRoot = mkdtempSync(join(tmpdir(), "labelport-export-targets-"));
let stack: JobStack;
let workers: PluginWorkers;
let datasetId = "";

const clientFor = (key: string) =>
  createConnectTransport({
    baseUrl: stack.orchestrator.url,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        req.header.set("x-api-key", key);
        return next(req);
      },
    ],
  });

const REVIEWED = timestampFromDate(new Date("2026-06-01T10:00:00Z"));
const box = (id: string, createdBy: string, reviewedBy = "") => ({
  id,
  type: AnnotationType.BBOX,
  categoryId: 1,
  createdBy,
  ...(reviewedBy ? { reviewedBy, reviewTime: REVIEWED } : {}),
  geometry: { case: "bbox" as const, value: { x: 1, y: 2, width: 3, height: 4 } },
});
const image = (
  id: string,
  status: ItemStatus,
  split: string,
  task: JsonObject | undefined,
  annotations: Array<ReturnType<typeof box>>,
) => ({
  id,
  kind: ItemKind.IMAGE,
  status,
  split,
  tags: id === "t3" ? ["night"] : [],
  media: { uri: `media/${id}.jpg`, fileName: `${id}.jpg`, width: 64, height: 48 },
  ...(task ? { meta: { task } } : {}),
  annotations,
});

async function exported(request: {
  target: string;
  filter?: MessageInitShape<typeof ItemFilterSchema>;
  versionId?: string;
}) {
  const { export: created } = await stack.exports.createExport({
    datasetId,
    format: "jsonl",
    options: { items: true },
    saveOriginalFile: false,
    ...request,
  });
  let done: Export | undefined = created;
  for (let i = 0; i < 1200 && done?.status !== ExportStatus.COMPLETED && done?.status !== ExportStatus.FAILED; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    done = (await stack.exports.getExport({ exportId: created?.id ?? "" })).export;
  }
  expect(done?.status, done?.errorMessage).toBe(ExportStatus.COMPLETED);
  const lines = readFileSync(join(storageRoot, done?.path ?? "", "items.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean);
  const items = lines.map(
    (l) =>
      JSON.parse(l) as {
        id: string;
        meta?: { task?: unknown };
        annotations?: Array<{ id: string; createdBy?: string; reviewedBy?: string }>;
      },
  );
  return { done: done as Export, items };
}

const annotationIds = (items: Array<{ annotations?: Array<{ id: string }> }>) =>
  items.flatMap((i) => (i.annotations ?? []).map((a) => a.id)).sort();

beforeAll(async () => {
  stack = await startJobStack(
    { STORAGE_LOCAL_ROOT: storageRoot, API_KEYS: `lead:admin:${KEYS.lead},rita:editor:${KEYS.reviewer}` },
    KEYS.lead,
  );
  workers = await startPluginWorkers(stack, ["@labelport/plugin-jsonl"], { importers: false });
  const { dataset } = await stack.datasets.createDataset({ name: "labeling", categories: [{ name: "car" }] });
  datasetId = dataset?.id ?? "";
  // alice and bob label, rita reviews; t1-t3 are tasks, t4 is not.
  await stack.items.upsertItems({
    datasetId,
    items: [
      image("t1", ItemStatus.DRAFT, "train", { id: 1, tags: ["urgent"] }, [box("a", "alice"), box("b", "bob", "rita")]),
      image("t2", ItemStatus.IN_REVIEW, "val", { id: 2, tags: [] }, [box("c", "bob")]),
      image("t3", ItemStatus.APPROVED, "test", { id: 3, tags: [] }, [box("d", "alice", "rita")]),
      image("t4", ItemStatus.APPROVED, "val", undefined, [box("e", "alice")]),
    ],
  });
});

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

describe("export targets", () => {
  it("assignment: the work of the given users (made or reviewed), in any status unless filtered", async () => {
    const alice = await exported({ target: "assignment", filter: { users: ["alice"] } });
    expect(alice.done.target).toBe("assignment");
    expect(annotationIds(alice.items)).toEqual(["a", "d", "e"]);
    const rita = await exported({ target: "assignment", filter: { users: ["rita"] } });
    expect(annotationIds(rita.items)).toEqual(["b", "d"]);
    expect(rita.items.flatMap((i) => i.annotations ?? []).map((a) => a.reviewedBy)).toEqual(["rita", "rita"]);
    const drafts = await exported({ target: "assignment", filter: { statuses: [ItemStatus.DRAFT], users: ["bob"] } });
    expect(drafts.items.map((i) => i.id)).toEqual(["t1"]);
    expect(annotationIds(drafts.items)).toEqual(["b"]);
    const night = await exported({ target: "assignment", filter: { tags: ["night"] } });
    expect(night.items.map((i) => i.id)).toEqual(["t3"]);
  });

  it("ground_truth: needs a version; its category is the split, validation and val alike", async () => {
    const refused = await stack.exports
      .createExport({ datasetId, format: "jsonl", target: "ground_truth" })
      .catch((e) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.InvalidArgument);
    expect((refused as ConnectError).rawMessage).toMatch(/^version_id: required for target "ground_truth"/);
    const unknown = await stack.exports
      .createExport({ datasetId, format: "jsonl", target: "labels" })
      .catch((e) => ConnectError.from(e));
    expect((unknown as ConnectError).rawMessage).toBe(
      'target: must be one of ground_truth, assignment, task or empty (got "labels")',
    );

    const versions = createClient(VersionService, clientFor(KEYS.lead));
    await versions.createVersion({ datasetId, name: "gt-1" });
    // Edited after the version: the ground truth does not see it.
    await stack.items.upsertAnnotations({ datasetId, annotations: [{ ...box("late", "bob"), itemId: "t2" }] });
    const validation = await exported({
      target: "ground_truth",
      versionId: "gt-1",
      filter: { splits: ["validation"] },
    });
    expect(validation.done.versionName).toBe("gt-1");
    expect(validation.items.map((i) => i.id)).toEqual(["t2", "t4"]);
    expect(annotationIds(validation.items)).toEqual(["c", "e"]);
    const val = await exported({ target: "ground_truth", versionId: "gt-1", filter: { splits: ["val"] } });
    expect(val.items.map((i) => i.id)).toEqual(["t2", "t4"]);
    const train = await exported({ target: "ground_truth", versionId: "gt-1", filter: { splits: ["train"] } });
    expect(train.items.map((i) => i.id)).toEqual(["t1"]);
  });

  it("task: items with their task metadata, drafts included", async () => {
    const tasks = await exported({ target: "task" });
    expect(tasks.items.map((i) => [i.id, i.meta?.task ?? null])).toEqual([
      ["t1", { id: 1, tags: ["urgent"] }],
      ["t2", { id: 2, tags: [] }],
      ["t3", { id: 3, tags: [] }],
      ["t4", null],
    ]);
  });

  it("records the caller as the maker when the writer names nobody, and an edit keeps the maker", async () => {
    const asReviewer = createClient(ItemService, clientFor(KEYS.reviewer));
    const unnamed = { ...box("f", ""), itemId: "t4" };
    await stack.items.upsertAnnotations({ datasetId, annotations: [unnamed] });
    await asReviewer.upsertAnnotations({
      datasetId,
      annotations: [{ ...unnamed, geometry: { case: "bbox", value: { x: 9, y: 9, width: 1, height: 1 } } }],
    });
    const { item } = await stack.items.getItem({ datasetId, itemId: "t4" });
    const f = item?.annotations.find((a) => a.id === "f");
    expect(f?.createdBy).toBe("lead");
    expect(f?.geometry.case === "bbox" && f.geometry.value.x).toBe(9);
    const e = item?.annotations.find((a) => a.id === "e");
    expect(e?.createdBy).toBe("alice");
  });

  it("records the importer as the maker of imported annotations that name nobody", async () => {
    const line = (id: string, annotations: object[]) =>
      JSON.stringify({ id, kind: "ITEM_KIND_IMAGE", status: "ITEM_STATUS_APPROVED", annotations });
    const bbox = { x: 1, y: 2, width: 3, height: 4 };
    const text = [
      line("i1", [{ id: "g", type: "ANNOTATION_TYPE_BBOX", categoryId: 1, bbox }]),
      line("i2", [{ id: "h", type: "ANNOTATION_TYPE_BBOX", categoryId: 1, bbox, createdBy: "carol" }]),
    ].join("\n");
    const form = new FormData();
    form.set("file", new Blob([`${text}\n`]), "items.jsonl");
    const res = await fetch(`${stack.orchestrator.url}/api/import?datasetId=${datasetId}&format=labelport-items`, {
      method: "POST",
      headers: { "x-api-key": KEYS.reviewer },
      body: form,
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const makers = async (itemId: string) =>
      (await stack.items.getItem({ datasetId, itemId })).item?.annotations.map((a) => a.createdBy);
    expect(await makers("i1")).toEqual(["rita"]);
    expect(await makers("i2")).toEqual(["carol"]);
    const { items } = await exported({ target: "assignment", filter: { users: ["rita"] } });
    expect(annotationIds(items)).toContain("g");
    expect(annotationIds(items)).not.toContain("h");
  });
});
