// Dataset versions against a real orchestrator and MongoDB: frozen bytes, diffs, storage, GC and
// the refusals (test/versions.test.ts restarts the servers under a version).
import { create, toBinary, toJson } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  ExportService,
  ItemSchema as ItemMessageSchema,
  ItemService,
  ItemStatus,
  StreamItemsRequestSchema,
  VersionService,
} from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOrchestrator, type TestOrchestrator } from "../../../../test/support/orchestrator.ts";
import { Collections } from "./model.ts";
import { type DataClients, dataClients, jsonl, upload, videoAnnotation } from "./testing.ts";

let orchestrator: TestOrchestrator;
let api: DataClients;
let versions: Client<typeof VersionService>;

function item(i: number, annotations = 3, prefix = "it") {
  return {
    id: `${prefix}-${String(i).padStart(5, "0")}`,
    status: ItemStatus.APPROVED,
    tags: [`t${i % 3}`],
    meta: { category: "1. 자연", n: i },
    media: { fileName: `${prefix}-${i}.jpg`, width: 640, height: 480 },
    annotations: Array.from({ length: annotations }, (_, j) => ({
      id: `${prefix}-${i}-a${j}`,
      categoryId: (j % 2) + 1,
      geometry: { case: "bbox" as const, value: { x: i + 0.5, y: j, width: 10, height: 20.25 } },
    })),
  };
}

async function createDataset(name: string): Promise<string> {
  const { dataset } = await api.datasets.createDataset({ name, categories: [{ name: "car" }, { name: "person" }] });
  return dataset?.id ?? "";
}

async function seed(datasetId: string, from: number, count: number, annotations = 3, prefix = "it") {
  for (let i = from; i < from + count; i += 500) {
    const n = Math.min(500, from + count - i);
    await api.items.upsertItems({
      datasetId,
      items: Array.from({ length: n }, (_, k) => item(i + k, annotations, prefix)),
    });
  }
}

/** StreamItems as the bytes on the wire (Connect protocol, binary), every envelope included. */
async function streamBytes(datasetId: string, versionId: string): Promise<Buffer> {
  const body = toBinary(
    StreamItemsRequestSchema,
    create(StreamItemsRequestSchema, { datasetId, versionId, batchSize: 64 }),
  );
  const envelope = Buffer.alloc(5 + body.length);
  envelope.writeUInt32BE(body.length, 1);
  envelope.set(body, 5);
  const res = await fetch(`${orchestrator.url}/labelport.v1.ItemService/StreamItems`, {
    method: "POST",
    headers: { "content-type": "application/connect+proto" },
    body: envelope,
  });
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

async function streamJson(datasetId: string, versionId: string, filter?: object): Promise<unknown[]> {
  const transport = createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1", useBinaryFormat: false });
  const items = createClient(ItemService, transport);
  const out: unknown[] = [];
  for await (const res of items.streamItems({ datasetId, versionId, ...(filter ? { filter } : {}) })) {
    for (const it of res.items) out.push(toJson(ItemMessageSchema, it));
  }
  return out;
}

async function codeOf(promise: Promise<unknown>): Promise<[Code | undefined, string]> {
  try {
    await promise;
    return [undefined, ""];
  } catch (err) {
    const e = ConnectError.from(err);
    return [e.code, e.rawMessage];
  }
}

const historyCount = (datasetId: string, collection: string) =>
  orchestrator.database.db.collection(collection).countDocuments({ datasetId });

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  api = dataClients(orchestrator.url);
  versions = createClient(
    VersionService,
    createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1", useBinaryFormat: true }),
  );
});
afterAll(() => orchestrator?.close());

describe("a version never changes", () => {
  it("streams the same bytes after a large edit, a delete and an import", async () => {
    const datasetId = await createDataset("frozen");
    await seed(datasetId, 0, 400);
    const live = await streamJson(datasetId, "");
    const { version } = await versions.createVersion({ datasetId, name: "june", description: "training set" });
    expect(version).toMatchObject({ name: "june", itemCount: 400n, annotationCount: 1200n, parentId: "" });
    expect(version?.sizeBytes).toBeGreaterThan(0n);
    const bytes = await streamBytes(datasetId, "june");
    const json = await streamJson(datasetId, version?.id ?? "");
    expect(json).toEqual(live);
    const selected = await streamJson(datasetId, "june", { tags: ["t1"], categoryIds: [2] });

    // A large edit: half the items rewritten (new tags, one annotation moved, one dropped, one added).
    await api.items.upsertItems({
      datasetId,
      items: Array.from({ length: 200 }, (_, i) => {
        const base = item(i * 2);
        return {
          ...base,
          tags: ["edited"],
          annotations: [
            {
              id: `it-${i * 2}-a0`,
              categoryId: 2,
              geometry: { case: "bbox" as const, value: { x: 1, y: 1, width: 1, height: 1 } },
            },
            {
              id: `new-${i}`,
              categoryId: 1,
              geometry: { case: "bbox" as const, value: { x: 2, y: 2, width: 2, height: 2 } },
            },
          ],
        };
      }),
    });
    // Annotations moved to another item, and changed in place.
    await api.items.upsertAnnotations({
      datasetId,
      annotations: Array.from({ length: 50 }, (_, i) => ({
        id: `it-${i * 2 + 1}-a1`,
        itemId: "it-00399",
        categoryId: 1,
        geometry: { case: "bbox" as const, value: { x: 9, y: 9, width: 9, height: 9 } },
      })),
    });
    // A delete, then an import that overwrites some items and adds others.
    await api.items.deleteItems({
      datasetId,
      itemIds: Array.from({ length: 60 }, (_, i) => item(100 + i).id as string),
    });
    const imported = [
      ...Array.from({ length: 30 }, (_, i) => item(300 + i, 1)),
      ...Array.from({ length: 120 }, (_, i) => item(i, 2, "imp")),
    ]
      .map((it) => JSON.stringify(toJson(ItemMessageSchema, create(ItemMessageSchema, it))))
      .join("\n");
    const res = await upload(
      `${orchestrator.url}/api/import?datasetId=${datasetId}&format=labelport-items`,
      `${imported}\n`,
      {},
      "items.jsonl",
    );
    expect(res.body, JSON.stringify(res.body)).toMatchObject({ success: true });

    expect((await streamJson(datasetId, "")).length).not.toBe(400);
    expect((await streamBytes(datasetId, "june")).equals(bytes)).toBe(true);
    expect(await streamJson(datasetId, "june")).toEqual(live);
    expect(await streamJson(datasetId, "june", { tags: ["t1"], categoryIds: [2] })).toEqual(selected);

    // The other read paths see the same version.
    const counted = await api.items.countItems({ datasetId, versionId: "june" });
    expect([counted.itemCount, counted.annotationCount]).toEqual([400n, 1200n]);
    const one = await api.items.getItem({ datasetId, itemId: "it-00100", versionId: "june" });
    expect(toJson(ItemMessageSchema, one.item as never)).toEqual(live[100]);
    await expect(api.items.getItem({ datasetId, itemId: "imp-00000", versionId: "june" })).rejects.toThrow(
      /not found in version "june"/,
    );
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await api.items.listItems({ datasetId, versionId: "june", pageSize: 37, pageToken });
      ids.push(...page.items.map((i) => i.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(ids).toEqual(live.map((i) => (i as { id: string }).id));
    const [code, message] = await codeOf(api.items.countItems({ datasetId, versionId: "july" }));
    expect(code).toBe(Code.NotFound);
    expect(message).toBe('version_id: version "july" not found in dataset "frozen"');
  });
});

describe("GetExportStats of a version", () => {
  it("counts and sizes the version, not what was written since", async () => {
    const datasetId = await createDataset("stats");
    await seed(datasetId, 0, 50, 2);
    const exports = createClient(
      ExportService,
      createConnectTransport({ baseUrl: orchestrator.url, httpVersion: "1.1", useBinaryFormat: true }),
    );
    const requests = [
      { format: "" },
      { format: "coco" },
      { format: "coco", filter: { tags: ["t1"], categoryIds: [1] } },
    ];
    const stats = () =>
      Promise.all(
        requests.map(async (r) => {
          const { $typeName: _, ...rest } = await exports.getExportStats({ datasetId, versionId: "s1", ...r });
          return rest;
        }),
      );
    const live = await Promise.all(requests.map((r) => exports.getExportStats({ datasetId, ...r })));
    await versions.createVersion({ datasetId, name: "s1" });
    const before = await stats();
    expect(before.map((s) => s.itemCount)).toEqual(live.map((s) => s.itemCount));
    expect(before.map((s) => s.totalSize)).toEqual(live.map((s) => s.totalSize));
    expect(before[2]?.annotationCount).toBe(17n);
    await api.items.deleteItems({ datasetId, itemIds: ["it-00001", "it-00004"] });
    await seed(datasetId, 50, 10, 3);
    await api.items.upsertItems({ datasetId, items: [{ ...item(7, 1), tags: ["t1"] }] });
    expect(await stats()).toEqual(before);
  });
});

describe("imports and versions", () => {
  it("a failed atomic import, undone from its journal, leaves the version and the dataset as they were", async () => {
    const journal = await startTestOrchestrator({
      LABELPORT_IMPORT_ATOMIC_MODE: "journal",
      LABELPORT_IMPORT_BATCH_SIZE: "100",
    });
    try {
      const clients = dataClients(journal.url);
      const { dataset } = await clients.datasets.createDataset({ name: "journaled" });
      const datasetId = dataset?.id ?? "";
      await clients.items.upsertItems({
        datasetId,
        items: Array.from({ length: 4 }, (_, i) => ({ id: `v-${i}`, kind: 2, status: ItemStatus.APPROVED })),
      });
      const lines = (broken: boolean) =>
        jsonl([
          ...Array.from({ length: 300 }, (_, i) =>
            videoAnnotation({ id: `ok-${i}`, videoId: `v-${i % 4}`, frames: [i, i + 5] }),
          ),
          ...(broken ? [videoAnnotation({ id: "broken", videoId: "v-1", frames: [9, 3] })] : []),
        ]);
      const options = {
        options: JSON.stringify({ conflictResolution: { duplicateIds: "overwrite", missingDependencies: "create" } }),
      };
      const first = await upload(`${journal.url}/api/import?datasetId=${datasetId}`, lines(false), options);
      expect(first.body, JSON.stringify(first.body)).toMatchObject({ success: true });
      const jv = createClient(VersionService, createConnectTransport({ baseUrl: journal.url, httpVersion: "1.1" }));
      await jv.createVersion({ datasetId, name: "before-import" });
      const read = async (versionId: string) => {
        const stream = createClient(ItemService, createConnectTransport({ baseUrl: journal.url, httpVersion: "1.1" }));
        const out: unknown[] = [];
        for await (const res of stream.streamItems({ datasetId, versionId })) {
          for (const it of res.items) out.push(toJson(ItemMessageSchema, it));
        }
        return out;
      };
      const [version, live] = [await read("before-import"), await read("")];
      expect(version).toEqual(live);
      // Every annotation is overwritten, then the last line fails: the journal undoes the lot.
      const failed = await upload(
        `${journal.url}/api/import?datasetId=${datasetId}`,
        lines(true).replaceAll('"x":100', '"x":7'),
        options,
      );
      expect(failed.body).toMatchObject({ success: false });
      // Its batches were written (each track archived first) before the failure undid them.
      const db = journal.database.db;
      const tracks = await db.collection(Collections.annotations).countDocuments({ datasetId });
      expect(tracks).toBeGreaterThan(0);
      expect(await db.collection(Collections.annotationsHistory).countDocuments({ datasetId })).toBe(tracks);
      expect(await read("before-import")).toEqual(version);
      expect(await read("")).toEqual(live);
      // A successful one afterwards changes the dataset, not the version.
      const moved = await upload(
        `${journal.url}/api/import?datasetId=${datasetId}`,
        lines(false).replaceAll('"x":100', '"x":7'),
        options,
      );
      expect(moved.body, JSON.stringify(moved.body)).toMatchObject({ success: true });
      expect(await read("")).not.toEqual(live);
      expect(await read("before-import")).toEqual(version);
    } finally {
      await journal.close();
    }
  });
});

describe("DiffVersions", () => {
  it("counts exactly what was added, removed and changed", async () => {
    const datasetId = await createDataset("diffed");
    await seed(datasetId, 0, 10, 2);
    await versions.createVersion({ datasetId, name: "v1" });
    const base = (i: number) => item(i, 2);
    await api.items.upsertItems({ datasetId, items: [{ ...base(0), tags: ["changed"] }] });
    await api.items.upsertAnnotations({
      datasetId,
      annotations: [
        {
          id: "it-1-a0",
          itemId: "it-00001",
          categoryId: 2,
          geometry: { case: "bbox", value: { x: 5, y: 5, width: 5, height: 5 } },
        },
        {
          id: "extra",
          itemId: "it-00003",
          categoryId: 1,
          geometry: { case: "bbox", value: { x: 5, y: 5, width: 5, height: 5 } },
        },
      ],
    });
    await api.items.deleteItems({ datasetId, itemIds: ["it-00002"] });
    await seed(datasetId, 10, 1, 1);
    // Re-upserting the same content is no change.
    await api.items.upsertItems({ datasetId, items: [base(4)] });
    await api.datasets.addCategories({ datasetId, categories: [{ name: "bike" }] });
    const { version: v2 } = await versions.createVersion({ datasetId, name: "v2" });
    expect(v2?.parentId).not.toBe("");

    const diff = await versions.diffVersions({ datasetId, fromVersionId: "v1", toVersionId: "v2" });
    expect(diff.items).toMatchObject({ added: 1n, removed: 1n, changed: 1n });
    expect(diff.annotations).toMatchObject({ added: 2n, removed: 2n, changed: 1n });
    expect(diff.categories).toMatchObject({ added: 1n, removed: 0n, changed: 0n });
    expect(
      diff.byCategory.map((c) => [
        c.categoryName,
        c.annotations?.added,
        c.annotations?.removed,
        c.annotations?.changed,
      ]),
    ).toEqual([
      ["car", 2n, 1n, 0n],
      ["person", 0n, 1n, 1n],
    ]);
    expect(
      diff.changes.map((c) => [c.itemId, c.item, c.addedAnnotationIds, c.removedAnnotationIds, c.changedAnnotationIds]),
    ).toEqual([
      ["it-00000", 3, [], [], []],
      ["it-00001", 0, [], [], ["it-1-a0"]],
      ["it-00002", 2, [], ["it-2-a0", "it-2-a1"], []],
      ["it-00003", 0, ["extra"], [], []],
      ["it-00010", 1, ["it-10-a0"], [], []],
    ]);
    const toLive = await versions.diffVersions({ datasetId, fromVersionId: "v1", maxChanges: 2 });
    expect(toLive.to).toBeUndefined();
    expect(toLive.items).toEqual(diff.items);
    expect(toLive.changes).toHaveLength(2);
    expect(toLive.changesTruncated).toBe(true);

    const listed = await versions.listVersions({ datasetId, pageSize: 1 });
    expect(listed.versions.map((v) => v.name)).toEqual(["v2"]);
    const rest = await versions.listVersions({ datasetId, pageToken: listed.nextPageToken });
    expect(rest.versions.map((v) => v.name)).toEqual(["v1"]);
    expect(rest.versions[0]?.categories.map((c) => c.name)).toEqual(["car", "person"]);
  });
});

describe("storage and garbage collection", () => {
  it("grows with what changes: 10 versions with 1% of annotations changed between each", async () => {
    const datasetId = await createDataset("ten-versions");
    const items = 200;
    const perItem = 10;
    const annotations = items * perItem;
    await seed(datasetId, 0, items, perItem);
    const changed = annotations / 100;
    for (let v = 1; v <= 10; v++) {
      await versions.createVersion({ datasetId, name: `v${v}` });
      await api.items.upsertAnnotations({
        datasetId,
        annotations: Array.from({ length: changed }, (_, i) => {
          const n = (v * changed + i) % items;
          return {
            id: `it-${n}-a0`,
            itemId: item(n).id as string,
            categoryId: 1,
            geometry: { case: "bbox", value: { x: v, y: v, width: 1, height: 1 } },
          };
        }),
      });
    }
    // Each round archives the annotations it changes once: 10 × 1% × N records, nothing per version.
    expect(await historyCount(datasetId, Collections.annotationsHistory)).toBeLessThanOrEqual(10 * changed);
    expect(await historyCount(datasetId, Collections.itemsHistory)).toBe(0);
    // Every version still reads its own values: round v-1's change is in version v, not in v-1.
    for (const v of [2, 5, 10]) {
      const n = ((v - 1) * changed) % items;
      const xOf = async (name: string) => {
        const got = await api.items.getItem({ datasetId, versionId: name, itemId: item(n).id as string });
        return got.item?.annotations.find((a) => a.id === `it-${n}-a0`)?.geometry.value;
      };
      expect(await xOf(`v${v}`)).toMatchObject({ x: v - 1 });
      expect(await xOf(`v${v - 1}`)).toMatchObject({ x: n + 0.5 });
    }
  });

  it("collects the history no remaining version reads", async () => {
    const datasetId = await createDataset("collected");
    await seed(datasetId, 0, 5, 1);
    const change = (x: number) =>
      api.items.upsertAnnotations({
        datasetId,
        annotations: [
          {
            id: "it-0-a0",
            itemId: "it-00000",
            categoryId: 1,
            geometry: { case: "bbox", value: { x, y: 0, width: 1, height: 1 } },
          },
        ],
      });
    await versions.createVersion({ datasetId, name: "a" });
    await change(1);
    await versions.createVersion({ datasetId, name: "b" });
    await change(2);
    expect(await historyCount(datasetId, Collections.annotationsHistory)).toBe(2);
    const bBytes = await streamBytes(datasetId, "b");
    await versions.deleteVersion({ datasetId, versionId: "a" });
    expect(await historyCount(datasetId, Collections.annotationsHistory)).toBe(1);
    expect((await streamBytes(datasetId, "b")).equals(bBytes)).toBe(true);
    await versions.deleteVersion({ datasetId, versionId: "b" });
    expect(await historyCount(datasetId, Collections.annotationsHistory)).toBe(0);
    // No version: writes archive nothing.
    await change(3);
    expect(await historyCount(datasetId, Collections.annotationsHistory)).toBe(0);
  });
});

describe("refusals", () => {
  it("keeps a version while an export reads it, and a dataset while it has versions", async () => {
    const datasetId = await createDataset("guarded");
    await seed(datasetId, 0, 3, 1);
    const { version } = await versions.createVersion({ datasetId, name: "gt" });
    const [dup] = await codeOf(versions.createVersion({ datasetId, name: "gt" }));
    expect(dup).toBe(Code.AlreadyExists);
    const exportsOf = orchestrator.database.db.collection<{
      _id: string;
      datasetId: string;
      versionId?: string;
      status: string;
    }>(Collections.exports);
    await exportsOf.insertOne({ _id: "export-reading-gt", datasetId, versionId: version?.id ?? "", status: "running" });
    const [code, message] = await codeOf(versions.deleteVersion({ datasetId, versionId: "gt" }));
    expect(code).toBe(Code.FailedPrecondition);
    expect(message).toContain('version "gt" is being exported (export export-reading-gt)');
    await exportsOf.updateOne({ _id: "export-reading-gt" }, { $set: { status: "completed" } });

    const [refused, why] = await codeOf(api.datasets.deleteDataset({ datasetId }));
    expect(refused).toBe(Code.FailedPrecondition);
    expect(why).toBe('dataset "guarded" has 1 version ("gt"); delete them first (DeleteVersion)');
    await versions.deleteVersion({ datasetId, versionId: "gt" });
    await api.datasets.deleteDataset({ datasetId });
    expect(await orchestrator.database.db.collection(Collections.versions).countDocuments({ datasetId })).toBe(0);
  });
});
