// The BSON -> protobuf transcoder writes exactly the bytes protobuf-es's reflective toBinary writes
// for the same documents as the driver decodes them.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ItemSchema } from "@labelport/sdk/contracts";
import { BSON } from "mongodb";
import { describe, expect, it } from "vitest";
import { bsonString } from "./bson-reader.ts";
import { annotationMessage, itemMessage } from "./convert.ts";
import { ProtoWriter, writeAnnotation, writeItemFields } from "./encode.ts";
import type { AnnotationDoc, ItemDoc } from "./model.ts";

const at = new Date("2025-03-04T05:06:07.089Z");

function item(overrides: Partial<ItemDoc> = {}): ItemDoc {
  return {
    _id: "item-1",
    datasetId: "ds-1",
    kind: "image",
    status: "approved",
    tags: [],
    createdAt: at,
    updatedAt: at,
    version: 1,
    ...overrides,
  };
}

function annotation(overrides: Partial<AnnotationDoc> = {}): AnnotationDoc {
  return {
    _id: "ann-1",
    datasetId: "ds-1",
    itemId: "item-1",
    type: "bbox",
    removed: false,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

function write(writer: ProtoWriter, doc: ItemDoc, annotations: AnnotationDoc[]): void {
  // Documents inside a larger buffer, as they come in a reply.
  const padded = (value: object) => Buffer.concat([Buffer.from([1, 2, 3]), BSON.serialize(value)]);
  writeItemFields(writer, padded(doc), 3);
  for (const annotation of annotations) writeAnnotation(writer, padded(annotation), 3);
}

function encoded(doc: ItemDoc, annotations: AnnotationDoc[]): Buffer {
  const writer = new ProtoWriter(16);
  write(writer, doc, annotations);
  return Buffer.from(writer.finish());
}

/** What the decoded path sends: the documents as the driver returns them, through toBinary. */
function reflective(doc: ItemDoc, annotations: AnnotationDoc[]): Buffer {
  const roundTrip = <T>(value: T): T => BSON.deserialize(BSON.serialize(value as BSON.Document)) as T;
  return Buffer.from(
    toBinary(
      ItemSchema,
      itemMessage(
        roundTrip(doc),
        annotations.map((a) => annotationMessage(roundTrip(a))),
      ),
    ),
  );
}

const cases: Array<[string, ItemDoc, AnnotationDoc[]]> = [
  ["a bare item", item(), []],
  ["zero values everywhere", item({ version: 0, split: "", tags: [""], media: {} }), []],
  [
    "every item field, non-ASCII and long strings",
    item({
      kind: "video",
      status: "in_review",
      split: "train",
      media: { uri: "s3://b/ü.mp4", fileName: "ü.mp4", width: 1920, height: 1080, frames: 3000, fps: 29.97, depth: 3 },
      meta: {
        category: "1. 자연",
        nested: { list: [1, "two", true, null, { deep: [] }] },
        zero: 0,
        no: false,
        empty: "",
      },
      tags: ["a", "é", "x".repeat(300)],
      data: { text: "y".repeat(20_000), surrogate: "\ud83d\ude00 and a lone \ud800" },
      createdAt: new Date("1969-07-20T20:17:40.5Z"),
      version: 2 ** 40,
    }),
    [],
  ],
  [
    "boxes, polygons, polylines, keypoints and classifications",
    item(),
    [
      annotation({
        geometry: { bbox: { x: 0, y: 1.5, width: -0, height: 1e-9 } },
        categoryId: 0,
        personaId: "p",
        createdBy: "bob",
        reviewedBy: "rita",
        reviewTime: new Date("2026-06-01T10:00:00.25Z"),
      }),
      annotation({ _id: "ann-2", type: "polygon", geometry: { points: [1, 2, 3.25, 4, 5, 6] }, categoryId: 3 }),
      annotation({ _id: "ann-3", type: "polyline", geometry: { points: [] }, createdBy: "alice" }),
      annotation({
        _id: "ann-4",
        type: "keypoints",
        geometry: {
          keypoints: [
            { x: 1, y: 2, visibility: 2 },
            { x: 0, y: 0, visibility: 0 },
          ],
        },
      }),
      annotation({ _id: "ann-5", type: "classification", attributes: { occluded: true, score: 0.25 }, removed: true }),
      annotation({ _id: "ann-6", type: "polygon", geometry: { points: [1, 2.5, 3, 4] }, categoryId: 2 ** 31 + 5 }),
    ],
  ],
  [
    "masks after the times, counts packed (large runs, long lists, none)",
    item(),
    [
      annotation({
        type: "mask",
        categoryId: 1,
        geometry: { mask: { width: 4, height: 3, counts: [0, 5, 2, 5] } },
        link: { typeAssignment: { typeId: "t1", typeName: "Car" } },
      }),
      annotation({
        _id: "ann-2",
        type: "mask",
        // 2^32 - 1 is stored as a BSON double, 2^31 - 1 as an int32.
        geometry: { mask: { width: 65_535, height: 65_537, counts: [2 ** 31 - 1, 2 ** 32 - 1] } },
      }),
      annotation({
        _id: "ann-3",
        type: "mask",
        geometry: { mask: { width: 1000, height: 100, counts: Array.from({ length: 2000 }, (_, i) => 1 + (i % 200)) } },
      }),
      annotation({ _id: "ann-4", type: "mask", geometry: { mask: { width: 0, height: 0, counts: [] } } }),
    ],
  ],
  [
    "internal and unknown fields are skipped",
    item({ extra: { a: 1 } } as Partial<ItemDoc>),
    [
      annotation({
        type: "track",
        boxSequence: { interpolationMode: "linear", boxes: [] },
        frameRange: [0, 0],
        trackKey: "item-1\u0000\u0000",
        unknown: [1, 2],
      } as Partial<AnnotationDoc>),
    ],
  ],
  [
    "tracks with links, big enough for multi-byte lengths",
    item({ kind: "video" }),
    [
      annotation({
        type: "track",
        personaId: "persona-1",
        boxSequence: {
          interpolationMode: "linear",
          boxes: Array.from({ length: 400 }, (_, i) => ({
            frameNumber: i * 10,
            x: i / 3,
            y: 2,
            width: 30,
            height: 0,
            isKeyframe: i % 2 === 0,
            visible: i % 3 !== 0,
          })),
        },
        link: { typeAssignment: { typeId: "t1", typeName: "Car" } },
      }),
      annotation({
        _id: "ann-2",
        type: "track",
        boxSequence: { interpolationMode: "", boxes: [] },
        link: { objectLink: { objectId: "o1", objectType: "entity" } },
      }),
    ],
  ],
];

describe("writeItemFields", () => {
  it.each(cases)("matches toBinary: %s", (_, doc, annotations) => {
    // Hex, so a mismatch shows where the bytes part.
    expect(encoded(doc, annotations).toString("hex")).toBe(reflective(doc, annotations).toString("hex"));
  });

  it("matches toBinary up to map order when Struct keys look like array indexes", () => {
    // JavaScript objects put integer-like keys first; BSON keeps the stored order.
    const doc = item({ meta: { b: 1, "2": "two", a: [{ "1": true, z: null }] } });
    expect(fromBinary(ItemSchema, encoded(doc, []))).toEqual(fromBinary(ItemSchema, reflective(doc, [])));
  });

  it("reads the join keys", () => {
    expect(bsonString(BSON.serialize(item({ _id: "é-1" })), 0, "_id")).toBe("é-1");
    expect(bsonString(BSON.serialize(annotation({ itemId: "x" })), 0, "itemId")).toBe("x");
    expect(bsonString(BSON.serialize({ _id: "a", itemIdx: "b" }), 0, "itemId")).toBe("");
    // The last key is reused only for the same bytes.
    const keys = ["item-1", "item-1", "item-2", "item-1", "item-10", "ü", "item-1"];
    expect(keys.map((id) => bsonString(BSON.serialize(annotation({ itemId: id })), 0, "itemId"))).toEqual(keys);
  });

  it("matches toBinary whatever the field order of the documents scanned before", () => {
    // Scans first try the names at the positions of the previous document of the same shape.
    const docs: AnnotationDoc[] = [
      annotation({ categoryId: 2, geometry: { bbox: { x: 1, y: 2, width: 3, height: 4 } } }),
      { geometry: { bbox: { height: 4, width: 3, y: 2, x: 1 } }, ...annotation({ _id: "ann-2" }), categoryId: 0 },
      { ...annotation({ _id: "ann-3", personaId: "p" }), trackKey: "k", frameRange: [1, 2] } as AnnotationDoc,
      annotation({ _id: "ann-4", type: "polygon", geometry: { points: [1, 2, 3, 4, 5, 6] } }),
      annotation({ _id: "ann-5", categoryId: 2, geometry: { bbox: { x: 1, y: 2, width: 3, height: 4 } } }),
    ];
    for (const doc of docs) {
      expect(encoded(item(), [doc]).toString("hex"), doc._id).toBe(reflective(item(), [doc]).toString("hex"));
    }
  });

  it("frames items one after another in one buffer", () => {
    const writer = new ProtoWriter(8);
    const spans: Array<[number, number]> = [];
    for (const [, doc, annotations] of cases) {
      const lengthAt = writer.begin(1);
      write(writer, doc, annotations);
      writer.end(lengthAt);
      spans.push([lengthAt - 1, writer.length]);
    }
    const bytes = writer.finish();
    cases.forEach(([, doc, annotations], i) => {
      const [start, end] = spans[i] as [number, number];
      const body = reflective(doc, annotations);
      const framed = Buffer.concat([Buffer.from(frame(body.length)), body]);
      expect(Buffer.from(bytes.subarray(start, end)).toString("hex")).toBe(framed.toString("hex"));
    });
  });
});

/** Tag of field 1 (length-delimited) and the varint length. */
function frame(length: number): number[] {
  const out = [0x0a];
  let rest = length;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return out;
}
