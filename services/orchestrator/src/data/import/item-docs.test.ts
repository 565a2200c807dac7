import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ItemSchema } from "@labelport/sdk/contracts";
import { BSON } from "mongodb";
import { describe, expect, it } from "vitest";
import { publicId } from "../ids.ts";
import { annotationDoc, type FieldProblem, itemDoc } from "../validate.ts";
import { fastItemDocs } from "./item-docs.ts";
import { parseItemLine } from "./item-line.ts";

const TIME = "2025-10-06T14:30:00.123Z";
const options = { datasetId: "ds-1", now: new Date("2026-01-02T03:04:05.678Z") };

const line = {
  id: "img-1",
  kind: "ITEM_KIND_IMAGE",
  status: "ITEM_STATUS_APPROVED",
  split: "train",
  media: { uri: "media/img-1.jpg", fileName: "img-1.jpg", width: 1280, height: 720 },
  createTime: TIME,
  updateTime: "2025-10-07T01:02:03+02:00",
  annotations: [
    { id: "a-1", type: "ANNOTATION_TYPE_BBOX", categoryId: 3, bbox: { x: 1.5, y: 2, width: 30.25, height: 4 } },
    { id: "a-2", type: "ANNOTATION_TYPE_POLYGON", categoryId: 0, polygon: { points: [1, 2, 3, 4, 5, 6.5] } },
  ],
};

/** The documents the message path stores (protobuf JSON decoding, then itemDoc and annotationDoc). */
function messagePath(value: unknown) {
  const item = fromJson(ItemSchema, value as JsonValue);
  const problems: FieldProblem[] = [];
  const convert = { ...options, preserve: true, requireKeyframes: true };
  const doc = itemDoc(item, convert, "", problems);
  const itemId = publicId(options.datasetId, doc._id);
  const annotations = item.annotations.map((a, i) => annotationDoc(a, convert, `annotations[${i}]`, problems, itemId));
  expect(problems).toEqual([]);
  return { item: doc, annotations };
}

/** The same BSON bytes (values, types and key order) as the message path. */
function expectSame(value: unknown): void {
  const fast = fastItemDocs(value, options);
  expect(fast, JSON.stringify(value)).toBeDefined();
  const reference = messagePath(value);
  const bytes = (docs: { item: object; annotations: object[] }) => [
    BSON.serialize(docs.item),
    ...docs.annotations.map((a) => BSON.serialize(a)),
  ];
  expect(bytes(fast as NonNullable<typeof fast>), JSON.stringify(value)).toEqual(bytes(reference));
  expect(fast?.warnings).toEqual([]);
}

describe("fastItemDocs", () => {
  it("stores the usual lines as the message path does", () => {
    expectSame(line);
    expectSame({ id: "x" });
    expectSame({
      ...line,
      datasetId: "other",
      kind: "ITEM_KIND_VIDEO",
      status: "ITEM_STATUS_UNSPECIFIED",
      split: "",
      tags: ["a", "b"],
      version: "42",
      media: { uri: "", fps: 29.97, frames: 3000, depth: 0, width: 4294967295 },
      annotations: [
        {
          id: "p",
          itemId: "img-1",
          datasetId: "d",
          personaId: "q",
          removed: true,
          createTime: TIME,
          updateTime: TIME,
          polyline: { points: [1, 2, 3, 4] },
        },
        { id: "b", bbox: {} },
        { id: "c", type: "ANNOTATION_TYPE_CLASSIFICATION", categoryId: 7 },
        { id: "d", createTime: TIME },
      ],
    });
    expectSame({
      id: "y",
      version: 7,
      media: {},
      annotations: [{ id: "e", itemId: "", polygon: { points: [0, 0, 1, 0, 1, 1] } }],
    });
    expectSame({ id: "z", version: "0", kind: "ITEM_KIND_RECORD", status: "ITEM_STATUS_REJECTED", split: "test" });
  });

  it("leaves the rarer and the refused lines to the message path", () => {
    const refused: unknown[] = [
      [],
      {},
      { id: "" },
      { id: "a/b" },
      { id: "x", meta: { a: 1 } },
      { id: "x", kind: 1 },
      { id: "x", split: "holdout" },
      { id: "x", tags: [""] },
      { id: "x", version: -1 },
      { id: "x", media: { fps: -1 } },
      { id: "x", createTime: "yesterday" },
      { id: "x", annotations: [{ bbox: { x: 1 } }] },
      { id: "x", annotations: [{ id: "a", itemId: "other", bbox: {} }] },
      { id: "x", annotations: [{ id: "a", bbox: { x: 1, y: 1, width: -1, height: 1 } }] },
      { id: "x", annotations: [{ id: "a", polygon: { points: [1, 2, 3, 4] } }] },
      { id: "x", annotations: [{ id: "a", polyline: { points: [1, 2, 3] } }] },
      { id: "x", annotations: [{ id: "a", type: "ANNOTATION_TYPE_POLYGON", bbox: {} }] },
      { id: "x", annotations: [{ id: "a", type: "ANNOTATION_TYPE_KEYPOINTS" }] },
      { id: "x", annotations: [{ id: "a", bbox: {}, polygon: { points: [0, 0, 1, 0, 1, 1] } }] },
      { id: "x", annotations: [{ id: "a", categoryId: null, bbox: {} }] },
      { id: "x", annotations: [{ id: "a", attributes: { k: "v" }, bbox: {} }] },
      { id: "x", annotations: [{ id: "a", mask: { width: 1, height: 1, counts: [1] } }] },
      { id: "x", annotations: [{ id: "a", typeAssignment: { typeId: "t" } }] },
    ];
    for (const value of refused) expect(fastItemDocs(value, options), JSON.stringify(value)).toBeUndefined();
  });

  it("keeps the message path's errors for what it refuses", () => {
    const parsed = parseItemLine(
      { id: "x", annotations: [{ id: "a", bbox: { x: 1, y: 1, width: -1, height: 1 } }] },
      { ...options, requireKeyframes: true },
    );
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? [] : parsed.errors.map((e) => e.field)).toEqual(["annotations[0].bbox"]);
  });
});
