import { create } from "@bufbuild/protobuf";
import { AnnotationSchema, AnnotationType, ItemSchema } from "@labelport/sdk/contracts";
import {
  expectSplitsWriteTheSameBytes,
  manySplitsDataset,
  runSampleExport,
  runSampleImport,
  sampleDataset,
  testExporter,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import { DmJsonExporter } from "./exporter.ts";
import { DmJsonImporter } from "./importer.ts";

testExporter(DmJsonExporter);
testExporter(DmJsonExporter, { options: { filePerClassification: false } });

/** Synapse's own shape: tool codes, classification objects, coordinates in the data half. */
const synapse = {
  assignmentId: 4711,
  extra: { image_1: { width: 1920, height: 1080 } },
  annotations: {
    image_1: [
      {
        id: "Ab3dEf9hIj",
        tool: "bounding_box",
        isLocked: false,
        isVisible: true,
        classification: { class: "car", color: "red", parts: ["door", "wheel"] },
        label: ["car"],
      },
      { id: "Pq1rSt2uVw", tool: "polygon", isLocked: true, classification: { class: "도로" } },
      { id: "Ln5mNo6pQr", tool: "polyline", isVisible: false, classification: { class: "lane" } },
      { id: "Kp7qRs8tUv", tool: "keypoint", classification: { class: "nose" } },
      { id: "Cl9aBc0dEf", tool: "classification", classification: { class: "daytime", weather: "sunny" } },
      { id: "Zz1", tool: "bounding_box", classification: { class: "car" } },
    ],
  },
  annotationsData: {
    image_1: [
      { id: "Ab3dEf9hIj", coordinate: { x: 10.5, y: 20, width: 100, height: 50, rotation: 0.25 } },
      {
        id: "Pq1rSt2uVw",
        coordinate: [
          { x: 0, y: 0, id: "p1" },
          { x: 10, y: 0, id: "p2" },
          { x: 10, y: 10, id: "p3" },
        ],
      },
      {
        id: "Ln5mNo6pQr",
        coordinate: [
          { x: 1, y: 1 },
          { x: 9, y: 9 },
        ],
        smoothing: 2,
      },
      { id: "Kp7qRs8tUv", coordinate: { x: 5, y: 6 } },
      { id: "Zz1", coordinate: { x: 1, y: 2, width: 3, height: 4 } },
    ],
  },
  relations: {
    image_1: [{ id: "R1", tool: "relation", annotationId: "Ab3dEf9hIj", targetAnnotationId: "Pq1rSt2uVw" }],
  },
  annotationGroups: {},
};

/** The shorthand seed 002 shows: `type`, `data` arrays, a bare class name, a data half with `type`. */
const shorthand = {
  assignmentId: "job-123",
  annotations: {
    image_1: [
      { id: "abc123", type: "bbox", data: [100, 200, 50, 80], classification: "car" },
      {
        id: "def456",
        type: "polygon",
        data: [
          [10, 20],
          [30, 40],
          [50, 20],
        ],
        classification: "road",
      },
      {
        id: "kp1",
        type: "keypoint",
        data: [
          [1, 2],
          [3, 4, 1],
        ],
        classification: "nose",
      },
    ],
  },
  annotationsData: {
    image_1: [
      { id: "abc123", type: "bbox" },
      { id: "def456", type: "polygon" },
      { id: "kp1", type: "keypoint" },
    ],
  },
  relations: {},
  annotationGroups: {},
  extra: {},
};

const upload = {
  "1. 자연/B82026Z_0001.json": JSON.stringify(synapse),
  "2. 도시/C_0002.json": JSON.stringify(shorthand),
};

/** Import the files, then export the items with the categories the import made. */
async function roundTrip(options: Record<string, unknown>) {
  const imported = await runSampleImport(DmJsonImporter, { files: upload });
  expect(imported.conversion.dropped).toEqual({});
  return runSampleExport(DmJsonExporter, {
    options,
    fixture: {
      dataset: { id: "ds", name: "dm", categories: imported.conversion.categories },
      items: [...imported.items].sort((a, b) => (a.id < b.id ? -1 : 1)),
      media: new Map(),
    },
  });
}

/** A DM file's halves by id, so annotation order inside a class file does not matter. */
function byId(file: typeof synapse | typeof shorthand) {
  const halves = (list: Array<{ id: string }>) => Object.fromEntries(list.map((entry) => [entry.id, entry]));
  return {
    ...file,
    annotations: halves(file.annotations.image_1),
    annotationsData: halves(file.annotationsData.image_1),
  };
}

describe("dm-json export", () => {
  it("writes every file back as it was imported (one file per item), in its meta.category folder", async () => {
    const run = await roundTrip({ filePerClassification: false });
    try {
      expect((await run.files()).filter((f) => f.endsWith(".json"))).toEqual([
        "1. 자연/B82026Z_0001.json",
        "2. 도시/C_0002.json",
        "manifest.json",
        "metadata/categories.json",
        "metadata/export_summary.json",
      ]);
      expect(await run.json("1. 자연/B82026Z_0001.json")).toEqual(synapse);
      expect(await run.json("2. 도시/C_0002.json")).toEqual(shorthand);
      const summary = await run.json<Record<string, unknown>>("metadata/export_summary.json");
      expect(summary).toMatchObject({ format: "dm-json", itemCount: 2, annotationCount: 9 });
      expect(summary.itemCategories).toEqual({
        "1. 자연": { items: 1, annotations: 6 },
        "2. 도시": { items: 1, annotations: 3 },
      });
    } finally {
      await run.cleanup();
    }
  });

  it("writes one <stem>_<class>.json per class present; together they are the original file", async () => {
    const run = await roundTrip({});
    try {
      const files = (await run.files()).filter((f) => f.includes("/") && !f.startsWith("metadata/"));
      expect(files).toEqual([
        "1. 자연/B82026Z_0001_car.json",
        "1. 자연/B82026Z_0001_daytime.json",
        "1. 자연/B82026Z_0001_lane.json",
        "1. 자연/B82026Z_0001_nose.json",
        "1. 자연/B82026Z_0001_도로.json",
        "2. 도시/C_0002_car.json",
        "2. 도시/C_0002_nose.json",
        "2. 도시/C_0002_road.json",
      ]);
      for (const [original, prefix] of [
        [synapse, "1. 자연/B82026Z_0001_"],
        [shorthand, "2. 도시/C_0002_"],
      ] as const) {
        const parts = await Promise.all(
          files.filter((f) => f.startsWith(prefix)).map((f) => run.json<typeof synapse>(f)),
        );
        const { annotations: _a, annotationsData: _d, ...rest } = original;
        for (const part of parts) expect(part).toMatchObject(rest);
        const merged = {
          ...rest,
          annotations: { image_1: parts.flatMap((p) => p.annotations.image_1) },
          annotationsData: { image_1: parts.flatMap((p) => p.annotationsData.image_1) },
        };
        expect(byId(merged as typeof original)).toEqual(byId(original));
      }
      const car = await run.json<typeof synapse>("1. 자연/B82026Z_0001_car.json");
      expect(car.annotations.image_1.map((a) => a.id)).toEqual(["Ab3dEf9hIj", "Zz1"]);
    } finally {
      await run.cleanup();
    }
  });

  it("writes Labelport annotations in Synapse's shape, drops videos by reason and keeps folder names verbatim", async () => {
    const run = await runSampleExport(DmJsonExporter, { options: { filePerClassification: false } });
    try {
      const files = await run.files();
      expect(files).toContain("train/1. 자연/street 01.json");
      const file = await run.json<typeof synapse>("train/1. 자연/street 01.json");
      const [first] = file.annotations.image_1;
      expect(first).toMatchObject({ tool: "bounding_box", classification: { difficult: true, color: "red" } });
      expect(file.annotationsData.image_1[0]).toEqual({
        id: first?.id,
        coordinate: { x: 10, y: 20, width: 100, height: 50 },
      });
      expect(file).toMatchObject({ assignmentId: "job-123" });
      expect(run.result.counts.dropped.map((d) => d.reason)).toEqual(["video: dm-json writes image data units only"]);
    } finally {
      await run.cleanup();
    }
  });
});

describe("dm-json split export", () => {
  it("writes the same files whole and split into 2, 3 and 4 shards", async () => {
    await expectSplitsWriteTheSameBytes(
      DmJsonExporter,
      manySplitsDataset,
      { saveOriginalFile: true },
      async (whole) => {
        const files = await whole.files();
        expect(files).toContain("night _ rain/1. 자연/gen-00000009_road.json");
        expect(files).toContain("metadata/categories.json");
      },
    );
  });

  it("names a class file that meets another item's stem as one pass does", async () => {
    // `A` + class car is A_car.json, and the next item's stem is a_car: one pass de-duplicates
    // case-insensitively and writes a_car_1.json, so shards that each wrote their own name must
    // give way to one pass.
    const fixture = sampleDataset();
    fixture.items = [
      create(ItemSchema, {
        id: "item-a",
        datasetId: fixture.dataset.id,
        media: { uri: "media/a.jpg", fileName: "A.jpg", width: 64, height: 64 },
        annotations: [
          create(AnnotationSchema, {
            id: "item-a-box",
            itemId: "item-a",
            type: AnnotationType.BBOX,
            categoryId: 2,
            geometry: { case: "bbox", value: { x: 1, y: 2, width: 3, height: 4 } },
          }),
        ],
      }),
      create(ItemSchema, {
        id: "item-b",
        datasetId: fixture.dataset.id,
        media: { uri: "media/a_car.jpg", fileName: "a_car.jpg", width: 64, height: 64 },
      }),
    ];
    await expectSplitsWriteTheSameBytes(
      DmJsonExporter,
      () => fixture,
      {},
      async (whole) => {
        const files = await whole.files();
        expect(files.filter((f) => f.toLowerCase().startsWith("a_"))).toEqual(["A_car.json", "a_car_1.json"]);
      },
      { shardCounts: [2], joined: false },
    );
  });
});
