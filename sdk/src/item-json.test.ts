import { create, type DescMessage, toJson } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import * as schemas from "./gen/labelport/v1/dataset_pb.ts";
import {
  type Annotation,
  AnnotationSchema,
  AnnotationType,
  type Item,
  ItemSchema,
} from "./gen/labelport/v1/dataset_pb.ts";
import { PLAIN_JSON_FIELDS, plainItemJson } from "./item-json-plain.ts";
import { generateItems, sampleDataset } from "./testing/fixture.ts";
import { seededRandom } from "./testing/seeded-random.ts";

/** The reflective encoder's text, or its error. */
function reflective(item: Item): string {
  try {
    return JSON.stringify(toJson(ItemSchema, item));
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

function expectSameJson(item: Item): "plain" | "reflective" {
  const plain = plainItemJson(item);
  if (plain === undefined) return "reflective";
  expect(JSON.stringify(plain)).toBe(reflective(item));
  return "plain";
}

const random = seededRandom(7);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
const DOUBLES = [0, -0, 1, -2.5, 1e-7, 123.456, 1e21, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
const doubleValue = () => pick(DOUBLES);
const uint = () => pick([0, 1, 7, 4_294_967_295]);
const text = () => pick(["", "a", "ü ✓", 'q"\\\n']);
const time = () =>
  pick([
    undefined,
    timestampFromMs(0),
    timestampFromMs(1_700_000_000_123),
    { ...timestampFromMs(1_700_000_000_000), nanos: 120_000 },
    { ...timestampFromMs(1_700_000_000_000), nanos: 1 },
    { ...timestampFromMs(-62_135_596_800_000 - 1000) },
  ]);
const struct = () =>
  pick([undefined, {}, { a: 1, b: [true, null, "x", { c: -0 }] }, { "2": "two", "1": "one" }, { bad: Number.NaN }]);

function randomAnnotation(): Annotation {
  const geometry = pick([
    { case: undefined },
    { case: "bbox", value: { x: doubleValue(), y: doubleValue(), width: doubleValue(), height: doubleValue() } },
    { case: "polygon", value: { points: pick([[], [1, 2, 3, 4, 5, 6], [doubleValue(), doubleValue()]]) } },
    { case: "polyline", value: { points: [doubleValue(), 0, -0] } },
    {
      case: "keypoints",
      value: { keypoints: pick([[], [{ x: doubleValue(), y: doubleValue(), visibility: uint() }, {}]]) },
    },
    {
      case: "boxSequence",
      value: {
        interpolationMode: text(),
        boxes: pick([
          [],
          [{ frameNumber: uint(), x: doubleValue(), isKeyframe: random() < 0.5, visible: random() < 0.5 }],
        ]),
      },
    },
    { case: "mask", value: { width: uint(), height: uint(), counts: pick([[], [0, 3, 9]]) } },
  ] as const);
  const link = pick([
    { case: undefined },
    { case: "typeAssignment", value: { typeId: text(), typeName: text() } },
    { case: "objectLink", value: { objectId: text(), objectType: text() } },
  ] as const);
  return create(AnnotationSchema, {
    id: text(),
    datasetId: text(),
    itemId: text(),
    personaId: text(),
    type: pick([0, AnnotationType.BBOX, AnnotationType.MASK, 99]),
    ...(random() < 0.5 ? { categoryId: uint() } : {}),
    ...(struct() === undefined ? {} : { attributes: struct() }),
    geometry: geometry as never,
    link: link as never,
    removed: random() < 0.3,
    createTime: time(),
    updateTime: time(),
    createdBy: text(),
    reviewedBy: text(),
    reviewTime: time(),
  });
}

function randomItem(): Item {
  const meta = struct();
  const data = struct();
  return create(ItemSchema, {
    id: text(),
    datasetId: text(),
    kind: pick([0, 1, 2, 3, 42]),
    status: pick([0, 3, 4]),
    split: text(),
    ...(random() < 0.7
      ? {
          media: {
            uri: text(),
            fileName: text(),
            width: uint(),
            height: uint(),
            frames: uint(),
            fps: doubleValue(),
            depth: uint(),
          },
        }
      : {}),
    ...(meta === undefined ? {} : { meta }),
    tags: pick([[], ["a", "b"]]),
    ...(data === undefined ? {} : { data }),
    createTime: time(),
    updateTime: time(),
    version: pick([0n, 1n, 9_007_199_254_740_993n, -5n]),
    annotations: Array.from({ length: Math.floor(random() * 4) }, randomAnnotation),
  });
}

describe("itemToJson's hand-written path", () => {
  it("knows every field of every message it writes", () => {
    const byName = schemas as unknown as Record<string, DescMessage>;
    for (const [message, fields] of Object.entries(PLAIN_JSON_FIELDS)) {
      const schema = byName[`${message}Schema`] as DescMessage;
      expect(schema.fields.map((f) => f.localName).sort(), message).toEqual([...fields].sort());
    }
  });

  it("writes the reflective encoder's JSON, key order included, for the sample items", async () => {
    for (const item of sampleDataset().items) expect(expectSameJson(item)).toBe("plain");
    for await (const item of generateItems(50)) expect(expectSameJson(item)).toBe("plain");
  });

  it("writes the same JSON for 3000 random items, or leaves them to the reflective encoder", () => {
    const used = { plain: 0, reflective: 0 };
    for (let i = 0; i < 3000; i++) {
      const item = randomItem();
      const path = expectSameJson(item);
      used[path] += 1;
      // Only what the reflective encoder refuses or words differently goes its way.
      if (path === "reflective") expect(reflective(item)).toMatch(/^error: |"kind":42|"type":99/);
    }
    expect(used.plain).toBeGreaterThan(300);
    expect(used.reflective).toBeGreaterThan(300);
  });
});
