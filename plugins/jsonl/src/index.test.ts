import { clone, create, equals, fromJson, isFieldSet } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Annotation, annotationTypeName, type Item, itemFromJson, itemToJson } from "@labelport/sdk";
import { AnnotationSchema, AnnotationType, CategorySchema, ItemSchema, MaskSchema } from "@labelport/sdk/contracts";
import {
  expectSplitsWriteTheSameBytes,
  runSampleExport,
  type SampleDataset,
  type SampleExport,
  sampleDataset,
  testExporter,
  withDistinctFileNames,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import JsonlExporter, {
  ANNOTATIONS_JSON,
  ANNOTATIONS_JSONL,
  DATASET_JSON,
  type DatasetJson,
  ITEMS_JSONL,
} from "./index.ts";

testExporter(JsonlExporter);

const firstLine =
  '{"id":"item-05-a01","videoId":"item-05","personaId":"660e8400-e29b-41d4-a716-446655440001","annotationType":"type","typeAssignment":{"typeId":"entity-001","typeName":"Pitcher"},"boundingBoxSequence":{"interpolationMode":"linear","boxes":[{"frameNumber":0,"x":100,"y":100,"width":200,"height":150,"isKeyframe":true,"visible":true},{"frameNumber":4,"x":140,"y":120,"width":200,"height":150,"isKeyframe":true,"visible":false},{"frameNumber":6,"x":160,"y":100,"width":220,"height":170,"isKeyframe":true,"visible":true}]},"createdAt":"2025-10-06T14:30:01.000Z","updatedAt":"2025-10-06T14:30:02.000Z"}';

/** The sample's annotations that are not video tracks, by type: what annotations.jsonl cannot carry. */
function notTracksByType(file: string): Record<string, number> {
  const dropped: Record<string, number> = {};
  for (const annotation of sampleDataset().items.flatMap((i) => i.annotations)) {
    if (annotation.geometry.case === "boxSequence") continue;
    const reason = `${annotationTypeName(annotation)}: ${file} carries video tracks only (items: true writes every annotation)`;
    dropped[reason] = (dropped[reason] ?? 0) + 1;
  }
  return dropped;
}

/** The counts (ExportCounts) and the manifest both say `written` of `received`, the rest dropped as `dropped`. */
async function expectAccounting(run: SampleExport, written: number, dropped: Record<string, number>) {
  const received = sampleDataset().items.reduce((n, i) => n + i.annotations.length, 0);
  const { counts } = run.result;
  expect(Number(counts.annotationCount)).toBe(written);
  expect(Number(counts.receivedAnnotations)).toBe(received);
  expect(Object.fromEntries(counts.dropped.map((d) => [d.reason, Number(d.count)]))).toEqual(dropped);
  const manifest = await run.json<{ annotationCount: number; annotationsReceived: number; dropped: object }>(
    "manifest.json",
  );
  expect(manifest).toMatchObject({ annotationCount: written, annotationsReceived: received, dropped });
}

describe("jsonl export (video annotation lines)", () => {
  it("counts as written only the tracks in annotations.jsonl and drops the rest by type, saying why", async () => {
    const run = await runSampleExport(JsonlExporter);
    try {
      const lines = (await run.text(ANNOTATIONS_JSONL)).trim().split("\n");
      await expectAccounting(run, lines.length, notTracksByType(ANNOTATIONS_JSONL));
      const why = "annotations.jsonl carries video tracks only (items: true writes every annotation)";
      expect(run.result.counts.dropped.map((d) => [d.reason, Number(d.count)])).toEqual([
        [`bbox: ${why}`, 5],
        [`classification: ${why}`, 1],
        [`keypoints: ${why}`, 1],
        [`polygon: ${why}`, 2],
        [`polyline: ${why}`, 1],
      ]);
    } finally {
      await run.cleanup();
    }
  });

  it("names annotations.json in the reasons for format json", async () => {
    const run = await runSampleExport(JsonlExporter, { format: "json" });
    try {
      const array = await run.json<unknown[]>(ANNOTATIONS_JSON);
      await expectAccounting(run, array.length, notTracksByType(ANNOTATIONS_JSON));
    } finally {
      await run.cleanup();
    }
  });

  it("reports 0 written when the files hold none of the annotations received", async () => {
    const images = () =>
      (async function* () {
        yield* sampleDataset().items.filter((i) => i.annotations.every((a) => a.geometry.case !== "boxSequence"));
      })();
    const run = await runSampleExport(JsonlExporter, { items: images });
    try {
      expect(await run.text(ANNOTATIONS_JSONL)).toBe("");
      const received = Number(run.result.counts.receivedAnnotations);
      expect(received).toBeGreaterThan(0);
      expect(Number(run.result.counts.annotationCount)).toBe(0);
      expect(run.result.counts.dropped.reduce((n, d) => n + Number(d.count), 0)).toBe(received);
    } finally {
      await run.cleanup();
    }
  });

  it("writes one video annotation line per track, keyframes only by default", async () => {
    const run = await runSampleExport(JsonlExporter);
    try {
      const lines = (await run.text(ANNOTATIONS_JSONL)).split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[0]).toBe(firstLine);
      expect(JSON.parse(lines[1] ?? "")).toMatchObject({
        annotationType: "object",
        objectLink: { objectId: "object-7", objectType: "entity" },
      });
      expect(lines[2]).toBe("");
      expect(run.result.formatNotes).toEqual([]);
      expect((await run.files()).includes(ITEMS_JSONL)).toBe(false);
      expect((await run.files()).includes(DATASET_JSON)).toBe(false);
    } finally {
      await run.cleanup();
    }
  });

  it("writes every frame with includeInterpolated", async () => {
    const run = await runSampleExport(JsonlExporter, { options: { includeInterpolated: true } });
    try {
      const [track] = (await run.text(ANNOTATIONS_JSONL))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const boxes = track.boundingBoxSequence.boxes as Array<{
        frameNumber: number;
        x: number;
        isKeyframe: boolean;
        visible: boolean;
      }>;
      expect(boxes.map((b) => b.frameNumber)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(boxes.map((b) => b.isKeyframe)).toEqual([true, false, false, false, true, false, true]);
      expect(boxes.map((b) => b.visible)).toEqual([true, true, true, true, false, false, true]);
      expect(boxes[2]?.x).toBe(120);
    } finally {
      await run.cleanup();
    }
  });

  it("writes a JSON array for format json", async () => {
    const jsonl = await runSampleExport(JsonlExporter);
    const json = await runSampleExport(JsonlExporter, { format: "json" });
    try {
      const array = await json.json<unknown[]>(ANNOTATIONS_JSON);
      const lines = (await jsonl.text(ANNOTATIONS_JSONL))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(array).toEqual(lines);
      expect(await json.files()).not.toContain(ANNOTATIONS_JSONL);
    } finally {
      await jsonl.cleanup();
      await json.cleanup();
    }
  });

  it("writes lossless items.jsonl that reads back to the same items", async () => {
    const run = await runSampleExport(JsonlExporter, { options: { items: true } });
    try {
      const lines = (await run.text(ITEMS_JSONL)).trim().split("\n");
      const items = lines.map((line) => itemFromJson(JSON.parse(line)));
      expect(items.map((i) => itemToJson(i))).toEqual(sampleDataset().items.map((i: Item) => itemToJson(i)));
      expect(items[0]?.annotations[3]?.geometry.case).toBe("keypoints");
      expect(items[4]?.annotations[0]?.link.case).toBe("typeAssignment");
      // Every annotation is in items.jsonl: nothing dropped.
      await expectAccounting(
        run,
        lines.reduce((n, l) => n + (JSON.parse(l).annotations?.length ?? 0), 0),
        {},
      );
    } finally {
      await run.cleanup();
    }
  });

  it("keeps every Item and Annotation field in items.jsonl", async () => {
    const sample = sampleDataset().items;
    // The sample lacks a mask, a removed annotation and who made and reviewed one: one item adds them.
    const last = sample.at(-1) as Item;
    const extra = clone(ItemSchema, last);
    extra.id = "item-99";
    const mask = clone(AnnotationSchema, sample[0]?.annotations[0] as Annotation);
    Object.assign(mask, {
      id: "item-99-a01",
      itemId: "item-99",
      type: AnnotationType.MASK,
      removed: true,
      createdBy: "alice",
      reviewedBy: "rita",
      reviewTime: timestampFromDate(new Date("2026-06-01T10:00:00Z")),
    });
    mask.geometry = { case: "mask", value: create(MaskSchema, { width: 4, height: 2, counts: [1, 3, 4] }) };
    extra.annotations = [mask];
    const items = [...sample, extra];
    for (const [schema, messages] of [
      [ItemSchema, items],
      [AnnotationSchema, items.flatMap((i) => i.annotations)],
    ] as const) {
      const unset = schema.fields.filter((f) => !messages.some((m) => isFieldSet(m as never, f)));
      expect(unset.map((f) => `${schema.name}.${f.name}`)).toEqual([]);
    }
    const run = await runSampleExport(JsonlExporter, {
      options: { items: true },
      items: async function* () {
        yield* items;
      },
      totalItems: items.length,
    });
    try {
      const back = (await run.text(ITEMS_JSONL))
        .trim()
        .split("\n")
        .map((line) => itemFromJson(JSON.parse(line)));
      expect(back).toHaveLength(items.length);
      for (const [i, item] of items.entries()) expect(equals(ItemSchema, back[i] as Item, item), item.id).toBe(true);
    } finally {
      await run.cleanup();
    }
  });

  it("writes dataset.json with items: true: the dataset and every field of its categories, by id", async () => {
    const first = await runSampleExport(JsonlExporter, { options: { items: true } });
    const second = await runSampleExport(JsonlExporter, { options: { items: true } });
    try {
      const dataset = await first.json<DatasetJson>(DATASET_JSON);
      const sample = sampleDataset().dataset;
      expect(dataset).toMatchObject({ schemaVersion: 1, id: sample.id, name: sample.name });
      expect(dataset.categories.map((c) => fromJson(CategorySchema, c))).toEqual([...sample.categories]);
      expect(dataset.categories[0]).toEqual({
        id: 1,
        name: "person",
        supercategory: "living",
        keypoints: ["nose", "left_eye", "right_eye"],
        skeleton: [
          { fromKeypoint: 1, toKeypoint: 2 },
          { fromKeypoint: 1, toKeypoint: 3 },
        ],
      });
      // Every field is present, also the empty ones, in one order: the same dataset gives the same bytes.
      expect(dataset.categories[3]).toEqual({ id: 5, name: "road", supercategory: "", keypoints: [], skeleton: [] });
      expect((await second.read(DATASET_JSON)).equals(await first.read(DATASET_JSON))).toBe(true);
    } finally {
      await first.cleanup();
      await second.cleanup();
    }
  });
});

const distinctNames = (): SampleDataset => withDistinctFileNames(sampleDataset());
const noItems = (): SampleDataset => ({ ...sampleDataset(), items: [] });

describe("split export", () => {
  it("split into 2, 3 and 4 shards writes the bytes of one pass, as jsonl and json, with items.jsonl", async () => {
    for (const format of ["jsonl", "json"]) {
      await expectSplitsWriteTheSameBytes(
        JsonlExporter,
        distinctNames,
        { format, options: { items: true } },
        async (whole) => {
          expect((await whole.text(ITEMS_JSONL)).split("\n")).toHaveLength(6 + 1);
          expect(await whole.files()).toContain(DATASET_JSON);
        },
      );
    }
  });

  it("split export of a dataset without items writes empty lines files and [] as one pass does", async () => {
    await expectSplitsWriteTheSameBytes(JsonlExporter, noItems, { options: { items: true } }, async (whole) => {
      expect(await whole.text(ANNOTATIONS_JSONL)).toBe("");
      expect(await whole.text(ITEMS_JSONL)).toBe("");
    });
    await expectSplitsWriteTheSameBytes(JsonlExporter, noItems, { format: "json" }, async (whole) => {
      expect(await whole.text(ANNOTATIONS_JSON)).toBe("[]\n");
    });
  });
});
