import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { describe, expect, it } from "vitest";
import { AnnotationType, ItemKind, ItemSchema, ItemStatus } from "../gen/labelport/v1/dataset_pb.ts";
import { StreamItemsResponseSchema } from "../gen/labelport/v1/item_service_pb.ts";
import { decodeItem, decodeStreamItems } from "./item-decoder.ts";

type ItemInit = MessageInitShape<typeof ItemSchema>;
type AnnotationInit = NonNullable<ItemInit["annotations"]>[number];

const ts = (seconds: bigint, nanos = 0) => ({ seconds, nanos });

function annotations(itemId: string): AnnotationInit[] {
  return [
    {
      id: `${itemId}-a`,
      itemId,
      datasetId: "ds",
      type: AnnotationType.BBOX,
      categoryId: 3,
      geometry: { case: "bbox", value: { x: 1.5, y: -2, width: 10.25, height: 1e-9 } },
    },
    // categoryId 0 is set (explicit presence), unlike an absent one.
    {
      id: `${itemId}-b`,
      type: AnnotationType.POLYGON,
      categoryId: 0,
      geometry: { case: "polygon", value: { points: [0, 0, 5.5, 0, 5.5, 7, Number.MAX_VALUE, -0] } },
    },
    { id: `${itemId}-c`, type: AnnotationType.POLYLINE, geometry: { case: "polyline", value: { points: [] } } },
    {
      id: `${itemId}-d`,
      type: AnnotationType.KEYPOINTS,
      categoryId: 4294967295,
      geometry: {
        case: "keypoints",
        value: { keypoints: [{ x: 1, y: 2, visibility: 2 }, {}, { x: 3, y: 4, visibility: 1 }] },
      },
      attributes: {
        occluded: true,
        score: 0.5,
        note: "ünïcødé ✓ 🚗",
        nothing: null,
        list: [1, "two", false, null, { deep: [[]] }],
        empty: {},
      },
    },
    {
      id: `${itemId}-e`,
      type: AnnotationType.TRACK,
      personaId: "persona-1",
      geometry: {
        case: "boxSequence",
        value: {
          interpolationMode: "linear",
          boxes: Array.from({ length: 30 }, (_, i) => ({
            frameNumber: i * 10,
            x: i,
            y: i / 3,
            width: 20,
            height: 30,
            isKeyframe: i % 3 === 0,
            visible: i % 7 !== 0,
          })),
        },
      },
      link: { case: "objectLink", value: { objectId: "car-1", objectType: "car" } },
      removed: true,
      createTime: ts(1_700_000_000n, 123_456_789),
      updateTime: ts(-62_135_596_800n),
      createdBy: "alice",
      reviewedBy: "rita",
      reviewTime: ts(1_780_000_000n, 5),
    },
    {
      id: `${itemId}-f`,
      type: AnnotationType.CLASSIFICATION,
      categoryId: 1,
      link: { case: "typeAssignment", value: { typeId: "t1", typeName: "Типы" } },
    },
    { id: `${itemId}-g`, geometry: { case: "boxSequence", value: {} }, link: { case: "typeAssignment", value: {} } },
    {
      id: `${itemId}-h`,
      type: AnnotationType.MASK,
      categoryId: 2,
      geometry: {
        case: "mask",
        value: { width: 640, height: 480, counts: [0, 127, 128, 16_384, 4294967295, ...Array(300).fill(3)] },
      },
      createTime: ts(1_700_000_000n),
    },
    { id: `${itemId}-i`, geometry: { case: "mask", value: {} } },
    {},
  ];
}

const items: ItemInit[] = [
  {},
  { id: "only-id" },
  {
    id: "65a1b2c3d4e5f60718293a4b",
    datasetId: "dataset-1",
    kind: ItemKind.IMAGE,
    status: ItemStatus.APPROVED,
    split: "train",
    media: { uri: "file://images/a b.jpg", fileName: "a b.jpg", width: 640, height: 480, depth: 3 },
    meta: { category: "cats", n: 3, nested: { a: { b: [null, true, "x", -1.25] } } },
    tags: ["x", "", "日本語のタグ"],
    data: { "": "empty key", "k\u0000": [], long: "x".repeat(300) },
    createTime: ts(1n),
    updateTime: ts(9_999_999_999n, 999_999_999),
    version: 42n,
    annotations: annotations("item-1"),
  },
  {
    id: "video-1",
    kind: ItemKind.VIDEO,
    status: ItemStatus.REJECTED,
    media: { uri: "s3://bucket/v.mp4", frames: 3000, fps: 29.97 },
    meta: {},
    version: -5n,
    annotations: annotations("video-1"),
  },
  { id: "big-version", version: 9_223_372_036_854_775_807n, kind: 99 as ItemKind, media: {} },
  { id: "min-version", version: -9_223_372_036_854_775_808n, status: -1 as ItemStatus },
];

function response(list: ItemInit[]): Uint8Array {
  return toBinary(
    StreamItemsResponseSchema,
    create(StreamItemsResponseSchema, { items: list, snapshotTime: ts(1_700_000_000n, 5) }),
  );
}

describe("decodeStreamItems", () => {
  it("builds the items fromBinary builds", () => {
    const bytes = response(items);
    const expected = fromBinary(StreamItemsResponseSchema, bytes).items;
    const actual = decodeStreamItems(bytes);
    expect(actual).toStrictEqual(expected);
    expect(actual).toHaveLength(items.length);
  });

  it("decodes many realistic items", () => {
    const list: ItemInit[] = Array.from({ length: 500 }, (_, i) => ({
      id: `item-${String(i).padStart(6, "0")}`,
      datasetId: "ds",
      kind: ItemKind.IMAGE,
      status: ItemStatus.APPROVED,
      split: i % 5 === 0 ? "val" : "train",
      media: { uri: `images/${i}.jpg`, fileName: `${i}.jpg`, width: 1920, height: 1080 },
      meta: i % 2 ? { category: `c${i % 7}` } : undefined,
      createTime: ts(BigInt(1_700_000_000 + i)),
      version: BigInt(i),
      annotations: Array.from({ length: 10 }, (_, j) => ({
        id: `a-${i}-${j}`,
        itemId: `item-${i}`,
        type: AnnotationType.BBOX,
        categoryId: j % 20,
        geometry: { case: "bbox", value: { x: i + j, y: j * 1.5, width: 30.25, height: 40 } },
        createTime: ts(BigInt(1_700_000_000 + j)),
      })),
    }));
    const bytes = response(list);
    expect(decodeStreamItems(bytes)).toStrictEqual(fromBinary(StreamItemsResponseSchema, bytes).items);
  });

  it("decodes an empty response and one item alone", () => {
    expect(decodeStreamItems(new Uint8Array(0))).toEqual([]);
    const one = toBinary(ItemSchema, create(ItemSchema, items[2]));
    expect(decodeItem(one)).toStrictEqual(fromBinary(ItemSchema, one));
  });

  it("skips unknown fields, merges repeated messages and reads unpacked points", () => {
    const w = new BinaryWriter();
    w.tag(1, 2).fork();
    w.tag(1, 2).string("item");
    w.tag(99, 0).uint64(123n); // unknown varint
    w.tag(98, 2).bytes(new Uint8Array([1, 2, 3])); // unknown bytes
    w.tag(97, 5).fixed32(7); // unknown fixed32
    w.tag(96, 1).fixed64(7n); // unknown fixed64
    w.tag(6, 2).fork().tag(3, 0).uint32(10).join(); // media.width
    w.tag(6, 2).fork().tag(4, 0).uint32(20).join(); // media.height, merged
    w.tag(7, 2).fork().tag(1, 2).fork().tag(1, 2).string("a").tag(2, 2).fork().tag(2, 1).double(1).join().join().join();
    w.tag(7, 2).fork().tag(1, 2).fork().tag(1, 2).string("b").join().join(); // entry without a value: null
    w.tag(13, 2).fork();
    w.tag(9, 2).fork().tag(1, 1).double(1).tag(1, 1).double(2).tag(1, 2).fork().double(3).double(4).join().join();
    w.tag(9, 2).fork().tag(1, 1).double(5).join(); // merged into the same polygon
    w.tag(50, 3).tag(1, 0).int32(1).tag(50, 4); // a group, skipped
    w.join();
    w.tag(13, 2).fork();
    w.tag(18, 2).fork().tag(1, 0).uint32(4).tag(3, 0).uint32(5).tag(3, 2).fork().uint32(6).uint32(7).join().join();
    w.tag(18, 2).fork().tag(2, 0).uint32(2).tag(3, 0).uint32(8).join(); // merged into the same mask
    w.join();
    w.join();
    const bytes = w.finish();
    const expected = fromBinary(StreamItemsResponseSchema, bytes, { readUnknownFields: false }).items;
    expect(decodeStreamItems(bytes)).toStrictEqual(expected);
    expect(expected[0]?.meta).toEqual({ a: 1, b: null });
  });

  it("refuses truncated input", () => {
    const bytes = response(items);
    for (const cut of [1, 3, 10, bytes.length - 1]) {
      expect(() => decodeStreamItems(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow();
    }
  });
});
