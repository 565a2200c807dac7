// Mask geometry end to end against a real orchestrator and MongoDB: UpsertItems stores it, GetItem
// and StreamItems (binary and JSON) return it unchanged, the lossless item JSONL brings it back,
// and a mask whose runs do not cover it is refused naming the field.
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { AnnotationType, type Item, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOrchestrator, type TestOrchestrator } from "../../../../test/support/orchestrator.ts";
import { type DataClients, dataClients, upload } from "./testing.ts";

type ItemInit = MessageInitShape<typeof ItemSchema>;

let orchestrator: TestOrchestrator;
let binary: DataClients;
let json: DataClients;
let datasetId: string;

/** A 5x4 mask (column-major): 2 zeros, 7 ones, 3 zeros, 8 ones; a large run; a long run list. */
const MASKS = [
  { width: 5, height: 4, counts: [2, 7, 3, 8] },
  { width: 65_536, height: 65_536, counts: [0, 2 ** 32 - 1, 1] },
  { width: 300, height: 200, counts: Array.from({ length: 600 }, () => 100) },
];

function maskItem(id: string): ItemInit {
  return {
    id,
    status: ItemStatus.APPROVED,
    media: { fileName: `${id}.png`, width: 5, height: 4 },
    annotations: MASKS.map((mask, i) => ({
      id: `${id}-m${i}`,
      type: AnnotationType.MASK,
      categoryId: 1,
      attributes: i === 0 ? { iscrowd: 0 } : undefined,
      geometry: { case: "mask", value: mask },
    })),
  };
}

async function streamAll(api: DataClients, dataset: string): Promise<Item[]> {
  const out: Item[] = [];
  for await (const res of api.items.streamItems({ datasetId: dataset, batchSize: 2 })) out.push(...res.items);
  return out;
}

const masksOf = (items: Item[]) =>
  items.map((item) =>
    item.annotations.map((a) => (a.geometry.case === "mask" ? { ...a.geometry.value, $typeName: undefined } : null)),
  );
const expected = (n: number) => Array.from({ length: n }, () => MASKS.map((m) => ({ ...m, $typeName: undefined })));

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  binary = dataClients(orchestrator.url);
  json = dataClients(orchestrator.url, "connect-json");
  const { dataset } = await binary.datasets.createDataset({ name: "masks", categories: [{ name: "blob" }] });
  datasetId = dataset?.id ?? "";
  await binary.items.upsertItems({ datasetId, items: [maskItem("mask-1"), maskItem("mask-2"), maskItem("mask-3")] });
});
afterAll(() => orchestrator?.close());

describe("mask geometry", () => {
  it("is stored by UpsertItems and returned by GetItem and StreamItems, binary and JSON", async () => {
    const got = await binary.items.getItem({ datasetId, itemId: "mask-1" });
    expect(masksOf(got.item ? [got.item] : [])).toEqual(expected(1));
    expect(got.item?.annotations.map((a) => a.type)).toEqual(MASKS.map(() => AnnotationType.MASK));
    const streamedBinary = await streamAll(binary, datasetId);
    const streamedJson = await streamAll(json, datasetId);
    expect(masksOf(streamedBinary)).toEqual(expected(3));
    // The raw-BSON transcoder (binary) and the decoded path (JSON) agree on every field.
    expect(streamedBinary.map((i) => toJson(ItemSchema, i))).toEqual(streamedJson.map((i) => toJson(ItemSchema, i)));
  });

  it("refuses a mask whose runs do not cover width x height, naming the field", async () => {
    const bad: ItemInit = {
      id: "bad-mask",
      annotations: [
        { type: AnnotationType.MASK, geometry: { case: "mask", value: { width: 5, height: 4, counts: [2, 7] } } },
      ],
    };
    const err = await binary.items.upsertItems({ datasetId, items: [bad] }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.rawMessage).toBe(
      "items[0].annotations[0].mask.counts: the runs must cover the 5x4 mask (20 pixels), they cover 9",
    );
    const empty = await binary.items
      .upsertItems({
        datasetId,
        items: [{ id: "empty-mask", annotations: [{ geometry: { case: "mask", value: {} } }] }],
      })
      .catch((e: unknown) => ConnectError.from(e));
    expect((empty as ConnectError).rawMessage).toContain(
      "items[0].annotations[0].mask: width and height must be at least 1",
    );
  });

  it("comes back from the lossless item JSONL unchanged", async () => {
    const { dataset } = await binary.datasets.createDataset({ name: "masks copy", categories: [{ name: "blob" }] });
    const copyId = dataset?.id ?? "";
    // Item and annotation ids are unique per database: the copy gets its own.
    const source = (await streamAll(binary, datasetId)).map((item) => {
      const line = toJson(ItemSchema, item) as { id: string; annotations: Array<{ id: string; itemId: string }> };
      line.id = `copy-${line.id}`;
      for (const a of line.annotations) {
        a.id = `copy-${a.id}`;
        a.itemId = line.id;
      }
      return JSON.stringify(line);
    });
    const res = await upload(
      `${orchestrator.url}/api/import?datasetId=${copyId}&format=labelport-items`,
      `${source.join("\n")}\n`,
      {},
      "items.jsonl",
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ success: true, errors: [] });
    expect(masksOf(await streamAll(binary, copyId))).toEqual(expected(3));
  });

  it("reports an item line's mask that does not cover its size, naming the field", async () => {
    const line = {
      id: "line-bad",
      annotations: [{ id: "line-bad-a", mask: { width: 2, height: 2, counts: [1, 2] } }],
    };
    const res = await upload(
      `${orchestrator.url}/api/import/preview?datasetId=${datasetId}&format=labelport-items`,
      `${JSON.stringify(line)}\n`,
      {},
      "items.jsonl",
    );
    expect(JSON.stringify(res.body)).toContain(
      "annotations[0].mask.counts: the runs must cover the 2x2 mask (4 pixels), they cover 3",
    );
  });
});
