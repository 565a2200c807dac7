// SplitItems over a real orchestrator and MongoDB: the ranges it plans, each read with
// StreamItems(after_id, last_id), give every item of the stream once and in order, live and for a
// dataset version; a plugin's job token may plan its own dataset only.
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DatasetService, type Item, ItemService, ItemStatus, VersionService } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuthenticator } from "../services/orchestrator/src/auth.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

const SIGNING_SECRET = "split-items-test-signing-secret";
const API_KEY = "split-items-admin-key";

let orchestrator: TestOrchestrator;
let datasets: Client<typeof DatasetService>;
let items: Client<typeof ItemService>;
let versions: Client<typeof VersionService>;

beforeAll(async () => {
  orchestrator = await startTestOrchestrator({ SIGNING_SECRET, API_KEYS: `root:admin:${API_KEY}` });
  const transport = createConnectTransport({
    baseUrl: orchestrator.url,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        req.header.set("x-api-key", API_KEY);
        return next(req);
      },
    ],
  });
  datasets = createClient(DatasetService, transport);
  items = createClient(ItemService, transport);
  versions = createClient(VersionService, transport);
});
afterAll(() => orchestrator?.close());

const itemId = (i: number) => `s-${String(i).padStart(3, "0")}`;

/** Item i has i % 4 annotations (some none), item 7 has 40: sizes the planner must balance. */
function item(i: number, prefix = "a") {
  const count = i === 7 ? 40 : i % 4;
  return {
    id: itemId(i),
    status: ItemStatus.APPROVED,
    annotations: Array.from({ length: count }, (_, j) => ({
      id: `${itemId(i)}-${prefix}${j}`,
      categoryId: 1,
      geometry: { case: "bbox" as const, value: { x: i, y: j, width: 5, height: 5 } },
    })),
  };
}

async function createDataset(name: string, count: number): Promise<string> {
  const { dataset } = await datasets.createDataset({ name, categories: [{ name: "car" }] });
  const datasetId = dataset?.id ?? "";
  if (count > 0) await items.upsertItems({ datasetId, items: Array.from({ length: count }, (_, i) => item(i)) });
  return datasetId;
}

/** StreamItems in small pages (so a range spans several), with the given bounds. */
async function stream(
  datasetId: string,
  bounds: { afterId?: string; lastId?: string; versionId?: string } = {},
): Promise<Item[]> {
  const out: Item[] = [];
  for await (const res of items.streamItems({ datasetId, batchSize: 4, ...bounds })) out.push(...res.items);
  return out;
}

/** Every range read back to back, as the shards of a split export read them. */
async function streamRanges(
  datasetId: string,
  ranges: ReadonlyArray<{ afterId: string; lastId: string }>,
  versionId = "",
): Promise<Item[]> {
  const out: Item[] = [];
  for (const { afterId, lastId } of ranges) out.push(...(await stream(datasetId, { afterId, lastId, versionId })));
  return out;
}

function expectConsecutive(ranges: ReadonlyArray<{ afterId: string; lastId: string }>) {
  expect(ranges[0]?.afterId).toBe("");
  expect(ranges[ranges.length - 1]?.lastId).toBe("");
  for (let i = 1; i < ranges.length; i++) expect(ranges[i]?.afterId).toBe(ranges[i - 1]?.lastId);
}

async function codeOf(call: Promise<unknown>): Promise<{ code: Code; message: string } | undefined> {
  return call.then(
    () => undefined,
    (err: unknown) => {
      const e = ConnectError.from(err);
      return { code: e.code, message: e.rawMessage };
    },
  );
}

describe("SplitItems", () => {
  it("plans 3 ranges of a 30-item dataset that StreamItems(after_id, last_id) reads back as the whole stream", async () => {
    const datasetId = await createDataset("split-live", 30);
    const plan = await items.splitItems({ datasetId, ranges: 3 });
    expect(plan.ranges).toHaveLength(3);
    expectConsecutive(plan.ranges);
    const annotations = Array.from({ length: 30 }, (_, i) => item(i).annotations.length).reduce((a, b) => a + b);
    expect(plan.totalAnnotations).toBe(BigInt(annotations));
    expect(plan.totalItems).toBe(30n);
    expect(plan.ranges.reduce((sum, r) => sum + r.items, 0n)).toBe(30n);
    expect(plan.ranges.reduce((sum, r) => sum + r.annotations, 0n)).toBe(BigInt(annotations));

    const whole = await stream(datasetId);
    expect(whole.map((i) => i.id)).toEqual(Array.from({ length: 30 }, (_, i) => itemId(i)));
    const ranged = await streamRanges(datasetId, plan.ranges);
    expect(ranged).toEqual(whole);
    // Each range holds what the plan estimated (live, unfiltered: the estimate is exact here).
    for (const range of plan.ranges) {
      const read = await stream(datasetId, range);
      expect(BigInt(read.length)).toBe(range.items);
      expect(BigInt(read.reduce((sum, i) => sum + i.annotations.length, 0))).toBe(range.annotations);
    }
  });

  it("plans by annotations per range, and gives one range covering everything for an empty dataset", async () => {
    const datasetId = await createDataset("split-per-range", 30);
    const plan = await items.splitItems({ datasetId, annotationsPerRange: 10n });
    expect(plan.ranges.length).toBeGreaterThan(3);
    expect(plan.ranges.length).toBeLessThanOrEqual(30);
    expectConsecutive(plan.ranges);
    expect(await streamRanges(datasetId, plan.ranges)).toEqual(await stream(datasetId));

    const empty = await createDataset("split-empty", 0);
    const none = await items.splitItems({ datasetId: empty, ranges: 8 });
    expect(none.ranges.map((r) => ({ ...r }))).toMatchObject([{ afterId: "", lastId: "", items: 0n, annotations: 0n }]);
    expect(none.totalItems).toBe(0n);
  });

  it("plans ranges of a version that read back as the version's stream, after the live dataset changed", async () => {
    const datasetId = await createDataset("split-version", 30);
    const { version } = await versions.createVersion({ datasetId, name: "v1" });
    const versionId = version?.id ?? "";
    // Live edits the version must not see: deleted items, new ones between and after, new annotations.
    await items.deleteItems({ datasetId, itemIds: [itemId(0), itemId(7), itemId(15), itemId(29)] });
    await items.upsertItems({
      datasetId,
      items: [item(3, "b"), { ...item(31), id: "s-015a" }, item(40), item(41)],
    });
    const whole = await stream(datasetId, { versionId });
    expect(whole.map((i) => i.id)).toEqual(Array.from({ length: 30 }, (_, i) => itemId(i)));
    expect(whole.find((i) => i.id === itemId(7))?.annotations).toHaveLength(40);

    const plan = await items.splitItems({ datasetId, versionId, ranges: 3 });
    expect(plan.ranges.length).toBeGreaterThan(1);
    expect(plan.ranges.length).toBeLessThanOrEqual(3);
    expectConsecutive(plan.ranges);
    expect(await streamRanges(datasetId, plan.ranges, versionId)).toEqual(whole);
    // Any cut at item ids reads back exactly, ids the version has and the live dataset does not included.
    const cuts = [
      { afterId: "", lastId: itemId(7) },
      { afterId: itemId(7), lastId: itemId(15) },
      { afterId: itemId(15), lastId: "" },
    ];
    expect(await streamRanges(datasetId, cuts, versionId)).toEqual(whole);
    expect((await streamRanges(datasetId, cuts)).map((i) => i.id)).toEqual((await stream(datasetId)).map((i) => i.id));
  });

  it("refuses too many ranges naming the field, and an unknown dataset or version as not found", async () => {
    const datasetId = await createDataset("split-errors", 3);
    expect(await codeOf(items.splitItems({ datasetId, ranges: 257 }))).toMatchObject({
      code: Code.InvalidArgument,
      message: expect.stringMatching(/^ranges: at most 256/),
    });
    expect((await codeOf(items.splitItems({ datasetId: "no-such-dataset", ranges: 2 })))?.code).toBe(Code.NotFound);
    expect((await codeOf(items.splitItems({ datasetId, versionId: "no-such-version" })))?.code).toBe(Code.NotFound);
  });

  it("lets a job token plan its own dataset and no other", async () => {
    const own = await createDataset("split-job-own", 6);
    const other = await createDataset("split-job-other", 6);
    const token = createAuthenticator([], SIGNING_SECRET).issueJobToken(own, 600, "export-for-split-test");
    const asJob = createClient(
      ItemService,
      createConnectTransport({
        baseUrl: orchestrator.url,
        httpVersion: "1.1",
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      }),
    );
    const plan = await asJob.splitItems({ datasetId: own, ranges: 2 });
    expectConsecutive(plan.ranges);
    expect(plan.totalItems).toBe(6n);
    expect((await codeOf(asJob.splitItems({ datasetId: other, ranges: 2 })))?.code).toBe(Code.PermissionDenied);
  });
});
