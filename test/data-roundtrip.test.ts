// The lossless item JSONL (`labelport-items`): what StreamItems gives, written one
// toJson(ItemSchema) per line, imports into an empty dataset as exactly the same items and
// annotations.
import { type JsonObject, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { AnnotationType, type Item, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DataClients, dataClients, fingerprint, upload } from "../services/orchestrator/src/data/testing.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

let source: TestOrchestrator;
let target: TestOrchestrator;
let a: DataClients;
let b: DataClients;

const CATEGORIES = [
  { id: 3, name: "car", supercategory: "vehicle" },
  { id: 7, name: "person", keypoints: ["nose", "eye"], skeleton: [{ fromKeypoint: 1, toKeypoint: 2 }] },
];

async function streamAll(api: DataClients, datasetId: string): Promise<Item[]> {
  const out: Item[] = [];
  for await (const res of api.items.streamItems({
    datasetId,
    batchSize: 7,
    filter: { allStatuses: true, includeRemoved: true },
  })) {
    out.push(...res.items);
  }
  return out;
}

function itemsJsonl(items: Item[]): string {
  return items.map((item) => `${JSON.stringify(toJson(ItemSchema, item))}\n`).join("");
}

beforeAll(async () => {
  [source, target] = await Promise.all([startTestOrchestrator(), startTestOrchestrator()]);
  a = dataClients(source.url);
  b = dataClients(target.url);
  await a.datasets.createDataset({ name: "origin", categories: CATEGORIES });
  const statuses = [ItemStatus.DRAFT, ItemStatus.IN_REVIEW, ItemStatus.APPROVED, ItemStatus.REJECTED];
  await a.items.upsertItems({
    datasetId: "origin",
    items: Array.from(
      { length: 30 },
      (_, i): MessageInitShape<typeof ItemSchema> => ({
        ...(i % 4 === 0 ? {} : { id: `item-${i}` }),
        kind: i % 3 === 0 ? 2 : 1,
        status: statuses[i % 4] ?? ItemStatus.DRAFT,
        split: ["", "train", "val", "test"][i % 4] ?? "",
        tags: i % 2 ? ["odd", `t${i}`] : [],
        ...(i % 5 === 0
          ? {}
          : {
              media: {
                uri: `s3://b/${i}.jpg`,
                fileName: `${i}.jpg`,
                width: 640 + i,
                height: 480,
                fps: i % 3 === 0 ? 29.97 : 0,
                frames: i % 3 === 0 ? 300 : 0,
                depth: 3,
              },
            }),
        ...(i % 6 === 0
          ? {}
          : { meta: { category: "1. 자연", group: `g${i % 3}`, nested: { a: [1, 2.5, null, true] } } }),
        ...(i % 7 === 0 ? {} : { data: { raw: { score: 0.1 * i, labels: ["x", "y"], empty: {} } } }),
        annotations: [
          {
            categoryId: 3,
            personaId: "p-1",
            geometry: { case: "bbox" as const, value: { x: 1.5 * i, y: 2, width: 3.25, height: 4 } },
            attributes: { occluded: i % 2 === 0, note: "é✓" },
          },
          { categoryId: 7, geometry: { case: "polygon" as const, value: { points: [0, 0, 10, 0, 10, 10, 0.5, 9.5] } } },
          {
            categoryId: 7,
            geometry: { case: "polyline" as const, value: { points: [0, 0, 5, 5] } },
            removed: i % 3 === 0,
          },
          {
            categoryId: 7,
            geometry: {
              case: "keypoints" as const,
              value: {
                keypoints: [
                  { x: 1, y: 2, visibility: 2 },
                  { x: 0, y: 0, visibility: 0 },
                ],
              },
            },
          },
          { categoryId: 3 },
          {
            personaId: "p-2",
            type: AnnotationType.TRACK,
            geometry: {
              case: "boxSequence" as const,
              value: {
                interpolationMode: "linear",
                boxes: [
                  { frameNumber: 0, x: 1, y: 1, width: 5, height: 5, isKeyframe: true, visible: true },
                  { frameNumber: 5, x: 2, y: 2, width: 5, height: 5, isKeyframe: false, visible: true },
                  { frameNumber: 10, x: 3, y: 3, width: 5, height: 5, isKeyframe: true, visible: false },
                ],
              },
            },
            link:
              i % 2
                ? { case: "objectLink" as const, value: { objectId: `o-${i}`, objectType: "entity" } }
                : { case: "typeAssignment" as const, value: { typeId: "entity-001", typeName: "Pitcher" } },
          },
        ],
      }),
    ),
  });
  // A second write bumps versions and update times of some items.
  await a.items.upsertItems({
    datasetId: "origin",
    items: [{ id: "item-1", status: ItemStatus.APPROVED, tags: ["again"] }],
  });
});
afterAll(async () => {
  await Promise.all([source?.close(), target?.close()]);
});

describe("labelport-items round trip", () => {
  it("reproduces items and annotations exactly in an empty dataset", async () => {
    const origin = await a.datasets.getDataset({ datasetId: "origin" });
    const before = await streamAll(a, "origin");
    expect(before).toHaveLength(30);
    // Every item has six annotations (the second write of item-1 gave none, which leaves them).
    expect(before.flatMap((i) => i.annotations)).toHaveLength(30 * 6);
    const { dataset: copy } = await b.datasets.createDataset({ name: "copy", categories: CATEGORIES });
    const res = await upload(
      `${target.url}/api/import?datasetId=copy&format=labelport-items`,
      itemsJsonl(before),
      {},
      "items.jsonl",
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      errors: [],
      summary: {
        totalLines: 30,
        importedItems: { items: 30, annotations: before.flatMap((i) => i.annotations).length },
      },
    });
    const after = await streamAll(b, "copy");
    const normalize = (items: Item[], datasetId: string) =>
      JSON.parse(
        JSON.stringify(items.map((item) => toJson(ItemSchema, item))).replaceAll(datasetId, "<dataset>"),
      ) as JsonObject[];
    expect(normalize(after, copy?.id ?? "")).toEqual(normalize(before, origin.dataset?.id ?? ""));
  });

  it("skips, creates or fails on categories the dataset lacks", async () => {
    // Ids are scoped per dataset: the items of "copy" import here under the same ids.
    const items = (await streamAll(a, "origin")).slice(0, 3);
    const text = itemsJsonl(items);
    await b.datasets.createDataset({ name: "nocats" });
    const preview = await upload(`${target.url}/api/import/preview?datasetId=nocats&format=labelport-items`, text);
    expect(preview.body, JSON.stringify(preview.body)).toMatchObject({ counts: { items: 3 } });
    const before = await fingerprint(target.database.db);
    const failed = await upload(`${target.url}/api/import?datasetId=nocats&format=labelport-items`, text, {
      options: JSON.stringify({ conflictResolution: { missingDependencies: "fail" } }),
    });
    expect(failed.body).toMatchObject({
      success: false,
      errors: [{ line: 1, type: "missing_dependency", message: "Category 3 not found" }],
    });
    const after = await fingerprint(target.database.db);
    expect({ ...after.counts, imports: 0 }).toEqual({ ...before.counts, imports: 0 });
    const created = await upload(`${target.url}/api/import?datasetId=nocats&format=labelport-items`, text, {
      options: JSON.stringify({ conflictResolution: { missingDependencies: "create" } }),
    });
    expect(created.body).toMatchObject({ success: true, summary: { importedItems: { items: 3 } } });
    const { dataset } = await b.datasets.getDataset({ datasetId: "nocats" });
    expect(dataset?.categories.map((c) => [c.id, c.name])).toEqual([
      [3, "category 3"],
      [7, "category 7"],
    ]);
    const again = await upload(`${target.url}/api/import?datasetId=nocats&format=labelport-items`, text);
    expect(again.body).toMatchObject({
      success: true,
      summary: { importedItems: { items: 0 }, skippedItems: { items: 3 } },
      conflicts: [{ type: "duplicate_item_id", message: "Item ID already exists in database", line: 1 }, {}, {}],
    });
  });

  it("names the line and field of a bad item", async () => {
    await b.datasets.createDataset({ name: "bad-items" });
    const res = await upload(
      `${target.url}/api/import?datasetId=bad-items&format=labelport-items`,
      `${JSON.stringify({ id: "x1", kind: "ITEM_KIND_IMAGE" })}\n${JSON.stringify({ id: "x2", kind: "ITEM_KIND_SPACESHIP" })}\n${JSON.stringify({ id: "x3", annotations: [{ bbox: { x: 1 } }, { bbox: { x: "one" } }] })}\n`,
      { options: JSON.stringify({ transaction: { atomic: false } }) },
    );
    expect(res.body).toMatchObject({ success: true, summary: { importedItems: { items: 1 } } });
    expect(
      (res.body.errors as Array<{ line: number; field: string }>).map((e) => [e.line, e.field]),
      JSON.stringify(res.body.errors),
    ).toEqual([
      [2, "kind"],
      [3, "annotations[1].bbox.x"],
    ]);
  });
});
