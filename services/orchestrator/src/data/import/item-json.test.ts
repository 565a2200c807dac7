import { equals, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Item, ItemSchema } from "@labelport/sdk/contracts";
import { describe, expect, it } from "vitest";
import { fastItem } from "./item-json.ts";

const TIME = "2025-10-06T14:30:00.123Z";

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
    { id: "a-3", type: "ANNOTATION_TYPE_MASK", categoryId: 1, mask: { width: 4, height: 3, counts: [0, 5, 2, 5] } },
  ],
};

/** Decoded by fromJson, or the error. */
function slow(value: unknown): Item | Error {
  try {
    return fromJson(ItemSchema, value as JsonValue);
  } catch (err) {
    return err as Error;
  }
}

function expectSame(value: unknown): void {
  const fast = fastItem(value);
  expect(fast, JSON.stringify(value)).toBeDefined();
  const reference = slow(value);
  expect(reference).not.toBeInstanceOf(Error);
  expect(equals(ItemSchema, fast as Item, reference as Item), JSON.stringify(value)).toBe(true);
}

describe("fastItem", () => {
  it("decodes the usual lines as fromJson does", () => {
    expectSame(line);
    expectSame({ id: "x" });
    expectSame({});
    expectSame({
      ...line,
      datasetId: "d",
      kind: "ITEM_KIND_VIDEO",
      status: "ITEM_STATUS_UNSPECIFIED",
      tags: ["a", "b"],
      version: "42",
      media: { uri: "", fps: 29.97, frames: 3000, depth: 0, width: 4294967295 },
      annotations: [
        { id: "p", itemId: "x", personaId: "q", removed: true, createTime: TIME, updateTime: TIME, polyline: {} },
        { bbox: {} },
        { polygon: { points: [] } },
        { mask: {} },
        { mask: { counts: [4294967295, 0] } },
        {},
      ],
    });
    expectSame({ ...line, version: 7 });
  });

  it("leaves everything else to fromJson", () => {
    const others: unknown[] = [
      null,
      [],
      "item",
      { ...line, create_time: TIME },
      { ...line, split: null },
      { ...line, kind: 1 },
      { ...line, kind: "ITEM_KIND_NOPE" },
      { ...line, id: "bad\ud800" },
      { ...line, tags: ["ok", 3] },
      { ...line, version: "-1" },
      { ...line, version: "1e3" },
      { ...line, meta: { a: 1 } },
      { ...line, data: {} },
      { ...line, media: { width: -1 } },
      { ...line, media: { width: 1.5 } },
      { ...line, media: { width: "12" } },
      { ...line, media: { fps: "NaN" } },
      { ...line, media: { file_name: "x" } },
      { ...line, createTime: "yesterday" },
      { ...line, annotations: [{ bbox: { x: 1 }, polygon: { points: [] } }] },
      { ...line, annotations: [{ bbox: { x: "1" } }] },
      { ...line, annotations: [{ bbox: { z: 1 } }] },
      { ...line, annotations: [{ polygon: { points: [1, null] } }] },
      { ...line, annotations: [{ mask: { counts: [1, -1] } }] },
      { ...line, annotations: [{ mask: { counts: [1.5] } }] },
      { ...line, annotations: [{ mask: { counts: ["3"] } }] },
      { ...line, annotations: [{ mask: { width: 4294967296 } }] },
      { ...line, annotations: [{ mask: { size: [1, 2] } }] },
      { ...line, annotations: [{ bbox: {}, mask: {} }] },
      { ...line, annotations: [{ keypoints: { keypoints: [] } }] },
      { ...line, annotations: [{ boxSequence: { boxes: [] } }] },
      { ...line, annotations: [{ typeAssignment: { typeId: "t" } }] },
      { ...line, annotations: [{ attributes: {} }] },
      { ...line, annotations: [{ categoryId: -1 }] },
      { ...line, annotations: [{ type: 2 }] },
      { ...line, annotations: [{ removed: "true" }] },
      { ...line, annotations: [null] },
      { ...line, annotations: {} },
    ];
    for (const value of others) expect(fastItem(value), JSON.stringify(value)).toBeUndefined();
  });

  it("never accepts what fromJson refuses, nor decodes it differently (random lines)", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)] as T;
    const values = [
      0,
      1,
      -1,
      1.5,
      4294967296,
      "",
      "x",
      "7",
      TIME,
      "ITEM_KIND_IMAGE",
      "ITEM_STATUS_DRAFT",
      "ANNOTATION_TYPE_BBOX",
      true,
      null,
      [],
      [1, 2],
      {},
    ];
    const itemKeys = ["id", "kind", "status", "split", "tags", "version", "createTime", "datasetId"];
    const annotationKeys = [
      "id",
      "type",
      "categoryId",
      "removed",
      "personaId",
      "bbox",
      "polygon",
      "mask",
      "updateTime",
    ];
    let accepted = 0;
    for (let n = 0; n < 3000; n++) {
      const value: Record<string, unknown> = {};
      for (const key of itemKeys) if (random() < 0.3) value[key] = pick(values);
      if (random() < 0.5) {
        value.annotations = Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
          const a: Record<string, unknown> = {};
          for (const key of annotationKeys) {
            if (random() < 0.3) {
              a[key] =
                key === "bbox"
                  ? { x: pick(values), width: pick([1, 2.5]) }
                  : key === "polygon"
                    ? { points: pick([[1, 2], [], [1, "2"]]) }
                    : key === "mask"
                      ? { width: pick(values), counts: pick([[1, 2], [], [1, -2], [4294967296]]) }
                      : pick(values);
            }
          }
          return a;
        });
      }
      const fast = fastItem(value);
      if (!fast) continue;
      accepted++;
      const reference = slow(value);
      expect(reference, JSON.stringify(value)).not.toBeInstanceOf(Error);
      expect(equals(ItemSchema, fast, reference as Item), JSON.stringify(value)).toBe(true);
    }
    expect(accepted).toBeGreaterThan(100);
  });
});
