import { runSampleExport, type SampleExport, testExporter } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import CocoExporter, { CLASSES_KEY, instancesKey } from "./index.ts";

testExporter(CocoExporter);

interface CocoFile {
  info: Record<string, unknown>;
  licenses: unknown[];
  images: Array<{ id: number; file_name: string; width: number; height: number }>;
  annotations: Array<Record<string, unknown> & { id: number; image_id: number; category_id: number }>;
  categories: Array<Record<string, unknown> & { id: number }>;
}

describe("coco export of the sample dataset", () => {
  let run: SampleExport;
  beforeAll(async () => {
    run = await runSampleExport(CocoExporter);
  });
  afterAll(() => run.cleanup());

  it("writes one instances file per split, unsplit items in instances_default.json", async () => {
    const files = await run.files();
    expect(files.filter((f) => f.startsWith("annotations/"))).toEqual([
      instancesKey("default"),
      instancesKey("train"),
      instancesKey("val"),
    ]);
    const unsplit = await run.json<CocoFile>(instancesKey("default"));
    expect(unsplit.images).toEqual([{ id: 1, file_name: "street 01_1.jpg", width: 640, height: 480 }]);
    expect(unsplit.annotations).toEqual([]);
  });

  it("numbers images and annotations from 1 in item order and keeps the dataset's category ids", async () => {
    const train = await run.json<CocoFile>(instancesKey("train"));
    expect(Object.keys(train)).toEqual(["info", "licenses", "images", "annotations", "categories"]);
    expect(train.images.map((i) => [i.id, i.file_name])).toEqual([
      [1, "street 01.jpg"],
      [2, "=formula.png"],
      [3, "unsized.jpg"],
    ]);
    expect(train.annotations.map((a) => [a.id, a.image_id, a.category_id])).toEqual([
      [1, 1, 2],
      [2, 1, 1],
      [3, 1, 5],
      [4, 1, 1],
      [5, 2, 9],
      [6, 2, 3],
      [7, 3, 2],
    ]);
    expect(train.categories.map((c) => c.id)).toEqual([1, 2, 3, 5, 9]);
    expect(train.categories[0]).toEqual({
      id: 1,
      name: "person",
      supercategory: "living",
      keypoints: ["nose", "left_eye", "right_eye"],
      skeleton: [
        [1, 2],
        [1, 3],
      ],
    });
  });

  it("writes boxes, polygons (shoelace area) and keypoints", async () => {
    const { annotations } = await run.json<CocoFile>(instancesKey("train"));
    expect(annotations[0]).toEqual({
      id: 1,
      image_id: 1,
      category_id: 2,
      segmentation: [],
      area: 5000,
      bbox: [10, 20, 100, 50],
      iscrowd: 0,
    });
    expect(Object.keys(annotations[0] ?? {})).toEqual([
      "id",
      "image_id",
      "category_id",
      "segmentation",
      "area",
      "bbox",
      "iscrowd",
    ]);
    expect(annotations[2]).toMatchObject({
      segmentation: [[0, 300, 200, 300, 200, 480, 0, 480]],
      area: 36000,
      bbox: [0, 300, 200, 180],
    });
    expect(annotations[5]).toMatchObject({
      segmentation: [[50, 50, 90, 50, 70, 90]],
      area: 800,
      bbox: [50, 50, 40, 40],
    });
    expect(annotations[3]).toMatchObject({
      keypoints: [300, 100, 2, 290, 90, 2, 0, 0, 0],
      num_keypoints: 2,
      bbox: [290, 90, 10, 10],
      area: 100,
    });
  });

  it("notes what COCO cannot carry and writes classes.json", async () => {
    expect(run.result.formatNotes).toEqual([
      "1 images have no width/height (written as 0)",
      "attributes: dropped from 2 annotations (COCO has no attributes)",
      "classification: 1 annotations not exported (COCO has no image-level labels)",
      "polyline: 1 annotations not exported (COCO has no polyline)",
      "track: 2 annotations not exported (COCO has no video tracks)",
      "video: 1 items not exported (COCO has no video)",
    ]);
    expect((await run.json<Array<{ id: number }>>(CLASSES_KEY)).map((c) => c.id)).toEqual([1, 2, 3, 5, 9]);
  });
});

describe("coco with category folders", () => {
  it("puts meta.category folders into file_name, verbatim", async () => {
    const run = await runSampleExport(CocoExporter, { options: { categoryFolders: true }, saveOriginalFile: true });
    try {
      const train = await run.json<CocoFile>(instancesKey("train"));
      expect(train.images.map((i) => i.file_name)).toEqual([
        "1. 자연/street 01.jpg",
        "1. 자연/=formula.png",
        "unsized.jpg",
      ]);
      const files = await run.files();
      expect(files).toContain("images/train/1. 자연/street 01.jpg");
      expect(files).toContain("images/val/2. 도시/자전거 사진.png");
      // Different folders: no de-duplication needed for the unsplit copy of "street 01.jpg".
      expect(files).toContain("images/default/street 01.jpg");
    } finally {
      await run.cleanup();
    }
  });
});
