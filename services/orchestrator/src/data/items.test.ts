// ItemService against a real orchestrator and MongoDB, StreamItems included.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AnnotationType,
  type Item,
  type ItemSchema,
  ItemService,
  ItemStatus,
  type StreamItemsRequest,
  type StreamItemsRequestSchema,
} from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOrchestrator, type TestOrchestrator } from "../../../../test/support/orchestrator.ts";
import { createAuthenticator } from "../auth.ts";
import { type DataClients, dataClients } from "./testing.ts";

const SECRET = "0123456789abcdef0123456789abcdef";
let orchestrator: TestOrchestrator;
let api: DataClients;
let datasetId: string;

async function codeOf(promise: Promise<unknown>): Promise<[Code | undefined, string]> {
  try {
    await promise;
    return [undefined, ""];
  } catch (err) {
    const e = ConnectError.from(err);
    return [e.code, e.rawMessage];
  }
}

async function stream(
  req: Partial<Omit<StreamItemsRequest, "$typeName" | "datasetId" | "filter" | "snapshotTime">> & {
    filter?: object;
    snapshotTime?: object;
  },
  client = api.items,
) {
  const batches: Item[][] = [];
  const snapshots = new Set<string>();
  for await (const res of client.streamItems({ ...req, datasetId } as MessageInitShape<
    typeof StreamItemsRequestSchema
  >)) {
    batches.push(res.items);
    snapshots.add(`${res.snapshotTime?.seconds}.${res.snapshotTime?.nanos}`);
  }
  return { batches, items: batches.flat(), snapshots };
}

beforeAll(async () => {
  orchestrator = await startTestOrchestrator({ SIGNING_SECRET: SECRET });
  api = dataClients(orchestrator.url);
  const { dataset } = await api.datasets.createDataset({
    name: "items",
    categories: [{ name: "car" }, { name: "person" }],
  });
  datasetId = dataset?.id ?? "";
});
afterAll(() => orchestrator?.close());

describe("UpsertItems / GetItem / UpsertAnnotations", () => {
  it("generates time-ordered ids, keeps createdAt, bumps version, replaces inline annotations", async () => {
    const first = await api.items.upsertItems({
      datasetId,
      items: Array.from({ length: 5 }, (_, i) => ({ status: ItemStatus.APPROVED, media: { fileName: `f${i}.jpg` } })),
    });
    expect(first.upsertedItems).toBe(5n);
    const listed = await api.items.listItems({ datasetId, filter: { allStatuses: true } });
    expect(listed.items.map((i) => i.media?.fileName)).toEqual(["f0.jpg", "f1.jpg", "f2.jpg", "f3.jpg", "f4.jpg"]);
    const ids = listed.items.map((i) => i.id);
    expect([...ids].sort()).toEqual(ids);

    await api.items.upsertItems({
      datasetId,
      items: [
        {
          id: "img-1",
          kind: 1,
          status: ItemStatus.APPROVED,
          split: "train",
          tags: ["a"],
          meta: { category: "1. 자연", group: "g" },
          data: { free: [1, 2, { x: null }] },
          media: { uri: "s3://b/img-1.jpg", fileName: "img-1.jpg", width: 640, height: 480, depth: 3 },
          annotations: [
            {
              id: "a1",
              categoryId: 1,
              geometry: { case: "bbox", value: { x: 1, y: 2, width: 3, height: 4 } },
              attributes: { occluded: true },
            },
            { id: "a2", categoryId: 2, geometry: { case: "polygon", value: { points: [0, 0, 10, 0, 10, 10] } } },
          ],
        },
      ],
    });
    const one = (await api.items.getItem({ datasetId, itemId: "img-1" })).item;
    expect(one?.version).toBe(1n);
    expect(one?.meta).toEqual({ category: "1. 자연", group: "g" });
    expect(one?.data).toEqual({ free: [1, 2, { x: null }] });
    expect(one?.annotations.map((a) => [a.id, a.type, a.geometry.case])).toEqual([
      ["a1", AnnotationType.BBOX, "bbox"],
      ["a2", AnnotationType.POLYGON, "polygon"],
    ]);
    await new Promise((r) => setTimeout(r, 5));
    await api.items.upsertItems({
      datasetId,
      items: [
        {
          id: "img-1",
          status: ItemStatus.APPROVED,
          annotations: [
            {
              id: "a3",
              categoryId: 1,
              geometry: { case: "keypoints", value: { keypoints: [{ x: 1, y: 1, visibility: 2 }] } },
            },
          ],
        },
      ],
    });
    const two = (await api.items.getItem({ datasetId, itemId: "img-1" })).item;
    expect(two?.version).toBe(2n);
    expect(two?.createTime).toEqual(one?.createTime);
    expect(
      two?.updateTime?.seconds !== one?.updateTime?.seconds || two?.updateTime?.nanos !== one?.updateTime?.nanos,
    ).toBe(true);
    expect(two?.media).toBeUndefined();
    expect(two?.split).toBe("");
    expect(two?.annotations.map((a) => a.id)).toEqual(["a3"]);
  });

  it("names the field of every problem", async () => {
    const [code, message] = await codeOf(
      api.items.upsertItems({
        datasetId,
        items: [
          { id: "ok" },
          {
            id: "bad",
            split: "training",
            annotations: [
              { categoryId: 99 },
              { type: AnnotationType.BBOX, geometry: { case: "polygon", value: { points: [1, 2, 3] } } },
              {
                geometry: {
                  case: "boxSequence",
                  value: {
                    boxes: [
                      { frameNumber: 5, isKeyframe: true },
                      { frameNumber: 2, width: -1 },
                    ],
                  },
                },
              },
            ],
          },
        ],
      }),
    );
    expect(code).toBe(Code.InvalidArgument);
    expect(message).toContain("items[1].split: must be one of train, val, test");
    expect(message).toContain("items[1].annotations[0].categoryId: unknown category id 99");
    expect(message).toContain("items[1].annotations[1].type");
    expect(message).toContain(
      "items[1].annotations[2].boxSequence.boxes[1].frameNumber: Frame numbers must be in ascending order",
    );
    expect((await api.items.listItems({ datasetId, filter: { itemIds: ["ok"], allStatuses: true } })).items).toEqual(
      [],
    );
  });

  it("upserts annotations onto existing items only", async () => {
    const res = await api.items.upsertAnnotations({
      datasetId,
      annotations: [
        {
          id: "t1",
          itemId: "img-1",
          categoryId: 2,
          geometry: { case: "boxSequence", value: { boxes: [{ frameNumber: 0, isKeyframe: true }] } },
        },
      ],
    });
    expect(res.upsertedAnnotations).toBe(1n);
    const [code, message] = await codeOf(
      api.items.upsertAnnotations({ datasetId, annotations: [{ itemId: "ghost", categoryId: 1 }] }),
    );
    expect(code).toBe(Code.InvalidArgument);
    expect(message).toContain('annotations[0].itemId: item "ghost" not found');
    const item = (await api.items.getItem({ datasetId, itemId: "img-1" })).item;
    expect(item?.annotations.map((a) => [a.id, a.type])).toEqual([
      ["a3", AnnotationType.KEYPOINTS],
      ["t1", AnnotationType.TRACK],
    ]);
  });

  it("refuses a document MongoDB could not store before writing any part of the request", async () => {
    await api.items.upsertItems({
      datasetId,
      items: [
        { id: "big", status: ItemStatus.APPROVED, tags: ["before"], annotations: [{ id: "big-a", categoryId: 1 }] },
      ],
    });
    const label = "x".repeat(17 * 1024 * 1024);
    const [code, message] = await codeOf(
      api.items.upsertItems({
        datasetId,
        items: [
          {
            id: "big",
            status: ItemStatus.APPROVED,
            tags: ["after"],
            annotations: [{ id: "big-a", categoryId: 1, attributes: { label } }],
          },
        ],
      }),
    );
    // Either the size check names the annotation, or the body cap refuses the request first.
    expect([Code.InvalidArgument, Code.ResourceExhausted]).toContain(code);
    if (code === Code.InvalidArgument) expect(message).toContain("items[0].annotations[0]: is 17.0 MiB once stored");
    const item = (await api.items.getItem({ datasetId, itemId: "big" })).item;
    expect(item?.tags).toEqual(["before"]);
    expect(item?.annotations.map((a) => [a.id, a.attributes])).toEqual([["big-a", undefined]]);
  });
});

describe("ListItems / CountItems / DeleteItems", () => {
  it("filters, pages by id, counts and deletes", async () => {
    const { dataset } = await api.datasets.createDataset({ name: "listing", categories: [{ name: "x" }] });
    const id = dataset?.id ?? "";
    await api.items.upsertItems({
      datasetId: id,
      items: Array.from({ length: 25 }, (_, i) => ({
        id: `item-${String(i).padStart(2, "0")}`,
        status: i % 2 === 0 ? ItemStatus.APPROVED : ItemStatus.DRAFT,
        split: i < 10 ? "train" : "val",
        tags: i % 5 === 0 ? ["five"] : [],
        annotations: [{ categoryId: 1 }, { categoryId: 1, removed: i === 0 }],
      })),
    });
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await api.items.listItems({ datasetId: id, pageSize: 4, pageToken });
      seen.push(...page.items.map((i) => i.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(seen).toEqual(Array.from({ length: 13 }, (_, i) => `item-${String(i * 2).padStart(2, "0")}`));
    const train = await api.items.listItems({
      datasetId: id,
      filter: { allStatuses: true, splits: ["train"], tags: ["five"] },
    });
    expect(train.items.map((i) => i.id)).toEqual(["item-00", "item-05"]);
    const counted = await api.items.countItems({ datasetId: id });
    expect(counted.itemCount).toBe(13n);
    expect(counted.annotationCount).toBe(25n);
    const all = await api.items.countItems({ datasetId: id, filter: { allStatuses: true, includeRemoved: true } });
    expect(all).toMatchObject({ itemCount: 25n, annotationCount: 50n });
    const deleted = await api.items.deleteItems({ datasetId: id, itemIds: ["item-00", "item-01", "missing"] });
    expect(deleted).toMatchObject({ deletedItems: 2n, deletedAnnotations: 4n });
  });
});

describe("StreamItems", () => {
  let sid: string;
  beforeAll(async () => {
    const { dataset } = await api.datasets.createDataset({
      name: "stream",
      categories: [{ name: "a" }, { name: "b" }],
    });
    sid = dataset?.id ?? "";
    const items = Array.from(
      { length: 23 },
      (_, i): MessageInitShape<typeof ItemSchema> => ({
        id: `s-${String(i).padStart(3, "0")}`,
        status: i === 3 ? ItemStatus.DRAFT : ItemStatus.APPROVED,
        split: i % 2 ? "val" : "train",
        tags: i % 3 === 0 ? ["three"] : [],
        annotations: [
          {
            id: `s-${i}-b`,
            categoryId: 1,
            personaId: "p1",
            geometry: { case: "bbox" as const, value: { x: i, y: 0, width: 1, height: 1 } },
          },
          { id: `s-${i}-a`, categoryId: 2, personaId: "p2", removed: i === 5 },
          {
            id: `s-${i}-t`,
            categoryId: 1,
            personaId: "p1",
            geometry: {
              case: "boxSequence" as const,
              value: { boxes: [{ frameNumber: 0, isKeyframe: true, visible: true }] },
            },
            link:
              i % 2
                ? { case: "typeAssignment" as const, value: { typeId: "e", typeName: "E" } }
                : { case: "objectLink" as const, value: { objectId: "o", objectType: "entity" } },
          },
        ],
      }),
    );
    await api.items.upsertItems({ datasetId: sid, items });
  });

  it("streams approved items in id order with annotations in id order, in batches", async () => {
    datasetId = sid;
    const { batches, items, snapshots } = await stream({ batchSize: 5 });
    expect(batches.map((b) => b.length)).toEqual([5, 5, 5, 5, 2]);
    expect(items.map((i) => i.id)).toEqual(
      Array.from({ length: 23 }, (_, i) => `s-${String(i).padStart(3, "0")}`).filter((id) => id !== "s-003"),
    );
    expect(items[0]?.annotations.map((a) => a.id)).toEqual(["s-0-a", "s-0-b", "s-0-t"]);
    expect(items.find((i) => i.id === "s-005")?.annotations.map((a) => a.id)).toEqual(["s-5-b", "s-5-t"]);
    expect(snapshots.size).toBe(1);
  });

  it("applies item and annotation filters", async () => {
    datasetId = sid;
    const all = await stream({ filter: { allStatuses: true, includeRemoved: true } });
    expect(all.items).toHaveLength(23);
    expect(all.items.find((i) => i.id === "s-005")?.annotations).toHaveLength(3);
    const drafts = await stream({ filter: { statuses: [ItemStatus.DRAFT] } });
    expect(drafts.items.map((i) => i.id)).toEqual(["s-003"]);
    const filtered = await stream({
      filter: {
        splits: ["val"],
        tags: ["three"],
        categoryIds: [1],
        annotationTypes: [AnnotationType.TRACK],
        personaIds: ["p1"],
        linkKinds: ["type"],
      },
    });
    expect(filtered.items.map((i) => i.id)).toEqual(["s-009", "s-015", "s-021"]);
    expect(filtered.items.map((i) => i.annotations.map((a) => a.id))).toEqual([["s-9-t"], ["s-15-t"], ["s-21-t"]]);
    const objects = await stream({ filter: { itemIds: ["s-000", "s-001"], linkKinds: ["object"] } });
    expect(objects.items.map((i) => i.annotations.map((a) => a.id))).toEqual([["s-0-t"], []]);
    const [code] = await codeOf(stream({ filter: { linkKinds: ["bogus"] } }));
    expect(code).toBe(Code.InvalidArgument);
  });

  it("resumes after an id, honours limit and the snapshot bound", async () => {
    datasetId = sid;
    const first = await stream({ limit: 4n, batchSize: 3 });
    expect(first.batches.map((b) => b.length)).toEqual([3, 1]);
    const snapshotTime = timestampFromDate(new Date());
    await new Promise((r) => setTimeout(r, 10));
    await api.items.upsertItems({ datasetId: sid, items: [{ id: "s-999", status: ItemStatus.APPROVED }] });
    const rest = await stream({ afterId: first.items.at(-1)?.id ?? "", snapshotTime });
    expect(rest.items.map((i) => i.id)).not.toContain("s-999");
    expect([...first.items, ...rest.items]).toHaveLength(22);
    const fresh = await stream({});
    expect(fresh.items.map((i) => i.id)).toContain("s-999");
    const [code] = await codeOf(stream({ batchSize: 5001 }));
    expect(code).toBe(Code.InvalidArgument);
  });

  it("sends the same items over Connect JSON, Connect binary and gRPC", async () => {
    datasetId = sid;
    const filter = { allStatuses: true, includeRemoved: true };
    const binary = await stream({ filter });
    const json = await stream({ filter }, dataClients(orchestrator.url, "connect-json").items);
    const grpc = await stream({ filter }, dataClients(orchestrator.url, "grpc").items);
    expect(binary.items.length).toBeGreaterThan(20);
    expect(json.items).toEqual(binary.items);
    expect(grpc.items).toEqual(binary.items);
  });

  it("closes a response at the first item past 4 MiB, whatever batch_size asks", async () => {
    const { dataset } = await api.datasets.createDataset({ name: "big-tracks", categories: [{ name: "a" }] });
    const boxes = Array.from({ length: 32_000 }, (_, frameNumber) => ({
      frameNumber,
      x: frameNumber / 7,
      y: 1,
      width: 2,
      height: 3,
      isKeyframe: true,
      visible: true,
    }));
    for (let i = 0; i < 5; i++) {
      await api.items.upsertItems({
        datasetId: dataset?.id ?? "",
        items: [
          {
            id: `big-${i}`,
            status: ItemStatus.APPROVED,
            annotations: [{ id: `big-${i}-t`, categoryId: 1, geometry: { case: "boxSequence", value: { boxes } } }],
          },
        ],
      });
    }
    datasetId = dataset?.id ?? "";
    const { batches } = await stream({ batchSize: 500 });
    // Each item is about 1.5 MB on the wire: three pass 4 MiB.
    expect(batches.map((b) => b.length)).toEqual([3, 2]);
    const lengths = batches.flat().map((i) => {
      const geometry = i.annotations[0]?.geometry;
      return geometry?.case === "boxSequence" ? geometry.value.boxes.length : 0;
    });
    expect(lengths).toEqual([32_000, 32_000, 32_000, 32_000, 32_000]);
  });

  it("sends the snapshot time even when nothing matches", async () => {
    datasetId = sid;
    const empty = await stream({ filter: { splits: ["test"] } });
    expect(empty.batches).toEqual([[]]);
  });

  it("lets a job token read its own dataset only", async () => {
    const token = createAuthenticator([], SECRET).issueJobToken(sid, 60);
    const client = createClient(
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
    datasetId = sid;
    expect((await stream({}, client)).items.length).toBe(23);
    datasetId = "items";
    const [code] = await codeOf(stream({}, client));
    expect(code).toBe(Code.PermissionDenied);
  });
});
