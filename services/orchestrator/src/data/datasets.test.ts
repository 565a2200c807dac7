// DatasetService against a real orchestrator and MongoDB.
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOrchestrator, type TestOrchestrator } from "../../../../test/support/orchestrator.ts";
import { type DataClients, dataClients } from "./testing.ts";

let orchestrator: TestOrchestrator;
let api: DataClients;

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  api = dataClients(orchestrator.url);
});
afterAll(() => orchestrator?.close());

async function codeOf(promise: Promise<unknown>): Promise<Code | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

describe("DatasetService", () => {
  it("assigns category ids 1..n, keeps given ids, and never renumbers", async () => {
    const { dataset } = await api.datasets.createDataset({
      name: "cats",
      categories: [{ name: "cat" }, { name: "dog" }],
    });
    expect(dataset?.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "cat"],
      [2, "dog"],
    ]);
    const given = await api.datasets.createDataset({
      name: "given",
      categories: [{ id: 7, name: "person" }, { name: "bike" }],
    });
    expect(given.dataset?.categories.map((c) => [c.id, c.name])).toEqual([
      [7, "person"],
      [8, "bike"],
    ]);
    const added = await api.datasets.addCategories({
      datasetId: dataset?.id ?? "",
      categories: [{ name: "bird" }, { id: 10, name: "fish" }, { name: "horse" }],
    });
    expect(added.dataset?.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "cat"],
      [2, "dog"],
      // Unassigned ids start above every id given in the same request, so they never clash.
      [11, "bird"],
      [10, "fish"],
      [12, "horse"],
    ]);
    expect(await codeOf(api.datasets.addCategories({ datasetId: "cats", categories: [{ name: "cat" }] }))).toBe(
      Code.AlreadyExists,
    );
    expect(await codeOf(api.datasets.addCategories({ datasetId: "cats", categories: [{ id: 2, name: "x" }] }))).toBe(
      Code.AlreadyExists,
    );
  });

  it("keeps keypoints and skeletons", async () => {
    const { dataset } = await api.datasets.createDataset({
      name: "people",
      categories: [
        {
          name: "person",
          supercategory: "human",
          keypoints: ["nose", "left_eye", "right_eye"],
          skeleton: [
            { fromKeypoint: 1, toKeypoint: 2 },
            { fromKeypoint: 1, toKeypoint: 3 },
          ],
        },
      ],
    });
    const got = await api.datasets.getDataset({ datasetId: dataset?.id ?? "" });
    expect(got.dataset?.categories[0]?.keypoints).toEqual(["nose", "left_eye", "right_eye"]);
    expect(got.dataset?.categories[0]?.skeleton.map((e) => [e.fromKeypoint, e.toKeypoint])).toEqual([
      [1, 2],
      [1, 3],
    ]);
    expect(
      await codeOf(
        api.datasets.createDataset({
          name: "bad-skeleton",
          categories: [{ name: "p", keypoints: ["a"], skeleton: [{ fromKeypoint: 1, toKeypoint: 2 }] }],
        }),
      ),
    ).toBe(Code.InvalidArgument);
  });

  it("refuses duplicate names and empty names", async () => {
    await api.datasets.createDataset({ name: "unique" });
    expect(await codeOf(api.datasets.createDataset({ name: "unique" }))).toBe(Code.AlreadyExists);
    expect(await codeOf(api.datasets.createDataset({ name: "  " }))).toBe(Code.InvalidArgument);
  });

  it("gets by id or name with counts", async () => {
    const { dataset } = await api.datasets.createDataset({ name: "counted", categories: [{ name: "a" }] });
    await api.items.upsertItems({
      datasetId: "counted",
      items: [
        {
          id: "i1",
          annotations: [{ geometry: { case: "bbox", value: { x: 1, y: 2, width: 3, height: 4 } }, categoryId: 1 }],
        },
        { id: "i2", annotations: [{ categoryId: 1 }, { categoryId: 1, removed: true }] },
      ],
    });
    const byName = await api.datasets.getDataset({ datasetId: "counted" });
    expect(byName.dataset?.id).toBe(dataset?.id);
    expect(byName.dataset?.itemCount).toBe(2n);
    expect(byName.dataset?.annotationCount).toBe(2n);
    expect(await codeOf(api.datasets.getDataset({ datasetId: "nope" }))).toBe(Code.NotFound);
  });

  it("lists with keyset pages", async () => {
    const names: string[] = [];
    let pageToken = "";
    do {
      const page = await api.datasets.listDatasets({ pageSize: 2, pageToken });
      expect(page.datasets.length).toBeLessThanOrEqual(2);
      names.push(...page.datasets.map((d) => d.name));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(names).toEqual(["cats", "given", "people", "unique", "counted"]);
    expect(await codeOf(api.datasets.listDatasets({ pageToken: "garbage!" }))).toBe(Code.InvalidArgument);
  });

  it("deletes with items, annotations and history; refuses while an export runs", async () => {
    const { dataset } = await api.datasets.createDataset({ name: "doomed" });
    const id = dataset?.id ?? "";
    await api.items.upsertItems({ datasetId: id, items: [{ id: "d1", annotations: [{}] }, { id: "d2" }] });
    const exports = orchestrator.database.db.collection("exports");
    await exports.insertOne({ _id: "job-1" as never, datasetId: id, status: "running" });
    expect(await codeOf(api.datasets.deleteDataset({ datasetId: id }))).toBe(Code.FailedPrecondition);
    await exports.updateOne({ _id: "job-1" as never }, { $set: { status: "queued" } });
    expect(await codeOf(api.datasets.deleteDataset({ datasetId: id }))).toBe(Code.FailedPrecondition);
    await exports.updateOne({ _id: "job-1" as never }, { $set: { status: "completed" } });
    await orchestrator.database.db.collection("imports").insertOne({ _id: "imp-1" as never, datasetId: id });
    const deleted = await api.datasets.deleteDataset({ datasetId: id });
    expect(deleted.deletedItems).toBe(2n);
    expect(deleted.deletedAnnotations).toBe(1n);
    expect(await orchestrator.database.db.collection("imports").countDocuments({ datasetId: id })).toBe(0);
    expect(await codeOf(api.datasets.getDataset({ datasetId: id }))).toBe(Code.NotFound);
  });
});

describe("DatasetService categories", () => {
  it("renames a category and changes its supercategory, keeping its id", async () => {
    const { dataset } = await api.datasets.createDataset({
      name: "renamed",
      categories: [{ name: "car" }, { name: "truck", supercategory: "vehicle" }],
    });
    const id = dataset?.id ?? "";
    const renamed = await api.datasets.updateCategory({ datasetId: id, categoryId: 1, name: " automobile " });
    expect(renamed.dataset?.categories.map((c) => [c.id, c.name, c.supercategory])).toEqual([
      [1, "automobile", ""],
      [2, "truck", "vehicle"],
    ]);
    // Only the fields sent change; an empty supercategory clears it.
    await api.datasets.updateCategory({ datasetId: "renamed", categoryId: 1, supercategory: "vehicle" });
    const cleared = await api.datasets.updateCategory({ datasetId: id, categoryId: 2, supercategory: "" });
    expect(cleared.dataset?.categories.map((c) => [c.id, c.name, c.supercategory])).toEqual([
      [1, "automobile", "vehicle"],
      [2, "truck", ""],
    ]);

    expect(await codeOf(api.datasets.updateCategory({ datasetId: id, categoryId: 2, name: "automobile" }))).toBe(
      Code.AlreadyExists,
    );
    expect(await codeOf(api.datasets.updateCategory({ datasetId: id, categoryId: 2, name: "  " }))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(api.datasets.updateCategory({ datasetId: id, categoryId: 9, name: "x" }))).toBe(Code.NotFound);
    expect(await codeOf(api.datasets.updateCategory({ datasetId: "nowhere", categoryId: 1, name: "x" }))).toBe(
      Code.NotFound,
    );
  });

  it("deletes an unused category, refuses a used one naming the count, and never reuses its id", async () => {
    const { dataset } = await api.datasets.createDataset({
      name: "pruned",
      categories: [{ name: "used" }, { name: "unused" }, { name: "last" }],
    });
    const id = dataset?.id ?? "";
    await api.items.upsertItems({
      datasetId: id,
      items: [{ id: "p1", annotations: [{ categoryId: 1 }, { categoryId: 1 }, { categoryId: 3, removed: true }] }],
    });
    let refusal: ConnectError | undefined;
    try {
      await api.datasets.deleteCategory({ datasetId: id, categoryId: 1 });
    } catch (err) {
      refusal = ConnectError.from(err);
    }
    expect(refusal?.code).toBe(Code.FailedPrecondition);
    expect(refusal?.rawMessage).toBe('category "used" is used by 2 annotations; delete or relabel them first');

    const afterUnused = await api.datasets.deleteCategory({ datasetId: id, categoryId: 2 });
    expect(afterUnused.dataset?.categories.map((c) => c.name)).toEqual(["used", "last"]);
    // Removed annotations do not hold a category.
    const afterLast = await api.datasets.deleteCategory({ datasetId: "pruned", categoryId: 3 });
    expect(afterLast.dataset?.categories.map((c) => c.name)).toEqual(["used"]);
    expect(await codeOf(api.datasets.deleteCategory({ datasetId: id, categoryId: 3 }))).toBe(Code.NotFound);

    const added = await api.datasets.addCategories({ datasetId: id, categories: [{ name: "unused" }] });
    expect(added.dataset?.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "used"],
      [4, "unused"],
    ]);
  });
});
