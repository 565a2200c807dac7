import { isImportSourceError } from "@labelport/sdk";
import { runSampleImport, testImporter } from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import { DmJsonImporter } from "./importer.ts";

/** A PNG header: all image-size reads (signature and IHDR). */
function png(width: number, height: number): Uint8Array {
  const bytes = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0);
  bytes.writeUInt32BE(13, 8);
  bytes.write("IHDR", 12);
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  return bytes;
}

/** An assignment's data as Synapse stores it: tool codes, classification objects, coordinates apart. */
const SYNAPSE_ANNOTATIONS = [
  {
    id: "Ab3dEf9hIj",
    tool: "bounding_box",
    isLocked: false,
    isVisible: true,
    isValid: true,
    isDrawCompleted: true,
    classification: { class: "car", color: "red", parts: ["door", "wheel"] },
    label: ["car"],
  },
  { id: "Pq1rSt2uVw", tool: "polygon", isLocked: true, isVisible: true, classification: { class: "도로" } },
  { id: "Ln5mNo6pQr", tool: "polyline", isVisible: false, classification: { class: "lane" } },
  { id: "Kp7qRs8tUv", tool: "keypoint", classification: { class: "nose" } },
  { id: "Cl9aBc0dEf", tool: "classification", classification: { class: "daytime", weather: "sunny" } },
  { id: "Sg1hIj2kLm", tool: "segmentation", classification: { class: "sky" } },
];
const SYNAPSE_DATA = [
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
      { x: 1, y: 1, id: "l1" },
      { x: 9, y: 9, id: "l2" },
    ],
  },
  { id: "Kp7qRs8tUv", coordinate: { x: 5, y: 6 } },
  { id: "Sg1hIj2kLm", pixel_indices: [1, 2, 3] },
];
const synapseFile = JSON.stringify({
  assignmentId: 4711,
  extra: { image_1: { width: 1920, height: 1080 } },
  annotations: { image_1: SYNAPSE_ANNOTATIONS },
  annotationsData: { image_1: SYNAPSE_DATA },
  relations: {
    image_1: [{ id: "R1", tool: "relation", annotationId: "Ab3dEf9hIj", targetAnnotationId: "Pq1rSt2uVw" }],
  },
  annotationGroups: {},
});

/** The shorthand the Synapse export skill documents (seed 002): `type`, `data`, a class name. */
const shorthandFile = JSON.stringify({
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
    ],
  },
  annotationsData: {
    image_1: [
      { id: "abc123", type: "bbox" },
      { id: "def456", type: "polygon" },
    ],
  },
  relations: {},
  annotationGroups: {},
  extra: {},
});

/** Where the shorthand keeps its fields, as the importer records it for the exporter. */
const SHORTHAND_LAYOUT = {
  annotation: ["id", "type", "data", "classification:text"],
  data: ["id", "type"],
  coordinates: "arrays",
};

const categorized = {
  "export/1. 자연/B82026Z_0001.json": synapseFile,
  "export/1. 자연/B82026Z_0001.JPG": png(1920, 1080),
  "export/2. 도시/C_0002.json": shorthandFile,
  "export/metadata/export_summary.json": "{}",
};

const datasetLayout = {
  "train/json/a.json": shorthandFile,
  "train/original_files/a.png": png(64, 48),
  "valid/json/b.json": JSON.stringify({
    annotations: {
      image_1: [{ id: "x1", tool: "bounding_box", classification: { class: "car" } }],
      video_1: [{ id: "v1", tool: "bounding_box", classification: { class: "car" } }],
    },
    annotationsData: { image_1: [{ id: "x1", coordinate: { x: 1, y: 2, width: 3, height: 4 } }] },
  }),
};

testImporter(DmJsonImporter, {
  samples: [
    {
      name: "Synapse assignment data in category folders, an image beside one of them",
      upload: { files: categorized },
      expected: { items: 2, annotations: 7, dropped: 1 },
    },
    {
      name: "one DM v1 JSON uploaded alone (the export skill's shorthand)",
      upload: { files: { "B82026Z_0001.json": shorthandFile }, single: true },
      expected: { items: 1, annotations: 2 },
    },
    {
      name: "Synapse's dataset layout: splits, json/ and original_files/, a video media",
      upload: { files: datasetLayout },
      expected: { items: 2, annotations: 3, dropped: 1 },
    },
  ],
});

describe("dm-json import", () => {
  it("maps each tool to its kind and keeps every DM field, so a DM writer can put the file back", async () => {
    const { items, conversion, media } = await runSampleImport(DmJsonImporter, { files: categorized });
    expect(conversion.dropped).toEqual({ "segmentation: not supported": 1 });
    expect(conversion.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "car"],
      [2, "도로"],
      [3, "lane"],
      [4, "nose"],
      [5, "daytime"],
      [6, "road"],
    ]);
    const item = items.find((i) => i.id === "1. 자연__B82026Z_0001");
    expect(item?.meta).toEqual({ category: "1. 자연" });
    expect(item?.split).toBe("");
    expect(item?.media).toMatchObject({
      uri: "media/sample/export/1. 자연/B82026Z_0001.JPG",
      fileName: "B82026Z_0001.JPG",
      width: 1920,
      height: 1080,
    });
    expect(media.size).toBe(1);
    expect(item?.data).toEqual({
      assignmentId: 4711,
      extra: { image_1: { width: 1920, height: 1080 } },
      relations: {
        image_1: [{ id: "R1", tool: "relation", annotationId: "Ab3dEf9hIj", targetAnnotationId: "Pq1rSt2uVw" }],
      },
      annotationGroups: {},
    });
    const byId = new Map(item?.annotations.map((a) => [a.id, a]));
    expect(byId.get("1. 자연__B82026Z_0001:Ab3dEf9hIj")?.geometry).toEqual({
      case: "bbox",
      value: expect.objectContaining({ x: 10.5, y: 20, width: 100, height: 50 }),
    });
    expect(byId.get("1. 자연__B82026Z_0001:Pq1rSt2uVw")?.geometry.value).toMatchObject({
      points: [0, 0, 10, 0, 10, 10],
    });
    expect(byId.get("1. 자연__B82026Z_0001:Ln5mNo6pQr")?.geometry).toMatchObject({ case: "polyline" });
    expect(byId.get("1. 자연__B82026Z_0001:Kp7qRs8tUv")?.geometry.value).toMatchObject({
      keypoints: [expect.objectContaining({ x: 5, y: 6, visibility: 2 })],
    });
    expect(byId.get("1. 자연__B82026Z_0001:Cl9aBc0dEf")?.geometry.case).toBeUndefined();

    // Every converted annotation's DM halves come back from the Labelport annotation.
    const names = new Map(conversion.categories.map((c) => [c.id, c.name]));
    for (const original of SYNAPSE_ANNOTATIONS.filter((a) => a.tool !== "segmentation")) {
      const annotation = byId.get(`1. 자연__B82026Z_0001:${original.id}`);
      const { dm, ...classAttributes } = (annotation?.attributes ?? {}) as { dm: Record<string, unknown> };
      const { rotation, pointIds, ...metaFields } = dm;
      expect({
        id: original.id,
        ...metaFields,
        classification: { class: names.get(annotation?.categoryId ?? 0), ...classAttributes },
      }).toEqual(original);
      const data = SYNAPSE_DATA.find((d) => d.id === original.id);
      if (Array.isArray(data?.coordinate)) expect(pointIds).toEqual(data.coordinate.map((p) => p.id));
      if (original.tool === "bounding_box") expect(rotation).toBe(0.25);
    }
  });

  it("reads the shorthand, the dataset layout's splits and original_files, and drops other media by reason", async () => {
    const { items, conversion } = await runSampleImport(DmJsonImporter, { files: datasetLayout });
    expect(conversion.dropped).toEqual({ "video media (video_1): not supported": 1 });
    expect(items.map((i) => [i.id, i.split, i.media?.uri, i.media?.width])).toEqual([
      ["train__json__a", "train", "media/sample/train/original_files/a.png", 64],
      ["valid__json__b", "val", "b", 0],
    ]);
    expect(items[0]?.annotations.map((a) => [a.id, a.geometry.case, a.attributes])).toEqual([
      ["train__json__a:abc123", "bbox", { dm: { tool: "bbox", layout: SHORTHAND_LAYOUT } }],
      ["train__json__a:def456", "polygon", { dm: { tool: "polygon", layout: SHORTHAND_LAYOUT } }],
    ]);
  });

  it("unwraps a script export's {data, files, id} and makes one item per image of a file", async () => {
    const data = {
      annotations: {
        image_1: [{ id: "a", tool: "bounding_box", classification: { class: "car" } }],
        image_2: [{ id: "a", tool: "keypoint", classification: { class: "nose" } }],
      },
      annotationsData: {
        image_1: [{ id: "a", coordinate: { x: 0, y: 0, width: 1, height: 1 } }],
        image_2: [
          { id: "a", coordinate: { x: 3, y: 4 } },
          { id: "orphan", coordinate: { x: 1, y: 1 } },
        ],
      },
      extra: { image_1: { width: 10, height: 10 }, image_2: { width: 20, height: 20 } },
    };
    const wrapped = JSON.stringify({ data, files: { image_1: { path_original: "x.jpg" } }, id: 9 });
    const { items, conversion } = await runSampleImport(DmJsonImporter, { files: { "9.json": wrapped } });
    expect(items.map((i) => [i.id, i.annotations.map((a) => a.id), i.media?.width, i.data?.extra])).toEqual([
      ["9__image_1", ["9__image_1:a"], 10, { image_1: { width: 10, height: 10 } }],
      ["9__image_2", ["9__image_2:a"], 20, { image_2: { width: 20, height: 20 } }],
    ]);
    expect(conversion.dropped).toEqual({ "annotationsData entry without its annotation": 1 });
  });

  it("drops annotations without coordinates or with too few points, by reason", async () => {
    const file = JSON.stringify({
      annotations: {
        image_1: [
          { id: "a", tool: "bounding_box", classification: { class: "car" } },
          { id: "b", tool: "polygon", classification: { class: "road" } },
          { id: "c", tool: "polygon", classification: {} },
        ],
      },
      annotationsData: {
        image_1: [
          {
            id: "b",
            coordinate: [
              { x: 0, y: 0 },
              { x: 1, y: 1 },
            ],
          },
        ],
      },
    });
    const { conversion } = await runSampleImport(DmJsonImporter, { files: { "a.json": file } });
    expect(conversion.dropped).toEqual({
      "bounding_box: no coordinates": 1,
      "polygon: fewer than 3 points": 1,
      "polygon: no class": 1,
    });
  });

  it("names a broken file, and notes a JSON that is not DM v1", async () => {
    const err = await runSampleImport(DmJsonImporter, { files: { "a.json": shorthandFile, "b.json": "{" } }).catch(
      (e) => e,
    );
    expect(isImportSourceError(err)).toBe(true);
    expect(err.message).toMatch(/^b\.json: not valid JSON/);
    const { conversion } = await runSampleImport(DmJsonImporter, {
      files: { "a.json": shorthandFile, "classes.json": '["car"]' },
    });
    expect(conversion.notes).toEqual(['classes.json: not a DM v1 file (no "annotations" object), skipped']);
  });
});
