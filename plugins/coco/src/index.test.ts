import { create } from "@bufbuild/protobuf";
import { encodeRleString, maskArea } from "@labelport/sdk";
import {
  AnnotationSchema,
  AnnotationType,
  CategorySchema,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { runSampleExport, type SampleDataset, type SampleExport, testExporter } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import CocoExporter, { CLASSES_KEY, type CocoAnnotation, cocoAnnotationJson, instancesKey } from "./index.ts";
import { DISK, HEIGHT, maskDataset, RECTANGLE, WIDTH } from "./mask-fixture.ts";

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

describe("coco accounting on the sample dataset", () => {
  it("drops what it does not write, by reason, and counts what it wrote", async () => {
    const run = await runSampleExport(CocoExporter);
    try {
      const written = await Promise.all(
        ["default", "train", "val"].map(
          async (split) => (await run.json<CocoFile>(instancesKey(split))).annotations.length,
        ),
      );
      const { counts } = run.result;
      expect(counts.dropped.map((d) => [d.reason, Number(d.count)])).toEqual([
        ["classification: COCO has no image-level labels", 1],
        ["polyline: COCO has no polyline", 1],
        ["track: COCO has no video tracks", 2],
      ]);
      expect(Number(counts.annotationCount)).toBe(written.reduce((a, b) => a + b, 0));
      expect(Number(counts.receivedAnnotations)).toBe(Number(counts.annotationCount) + 4);
    } finally {
      await run.cleanup();
    }
  });
});

describe("coco masks and iscrowd", () => {
  let run: SampleExport;
  let annotations: CocoFile["annotations"];
  beforeAll(async () => {
    run = await runSampleExport(CocoExporter, { fixture: maskDataset() });
    annotations = (await run.json<CocoFile>(instancesKey("train"))).annotations;
  });
  afterAll(() => run.cleanup());

  it("writes masks as RLE with bbox and area from the mask, crowds by default", () => {
    expect(annotations[0]).toEqual({
      id: 1,
      image_id: 1,
      category_id: 4,
      segmentation: { size: [HEIGHT, WIDTH], counts: [...RECTANGLE.counts] },
      area: 70,
      bbox: [5, 3, 10, 7],
      iscrowd: 1,
    });
    expect(annotations[1]).toMatchObject({
      segmentation: { size: [HEIGHT, WIDTH], counts: DISK.counts },
      area: maskArea(DISK),
      bbox: [19, 9, 13, 13],
      iscrowd: 0,
    });
    // img-2: a run across two columns, a full mask, an empty one.
    expect(annotations.slice(4).map((a) => [a.image_id, a.bbox, a.area, a.iscrowd])).toEqual([
      [2, [2, 0, 2, 30], 4, 1],
      [2, [0, 0, WIDTH, HEIGHT], WIDTH * HEIGHT, 1],
      [2, [0, 0, 0, 0], 0, 1],
    ]);
  });

  it("keeps iscrowd of polygons from their attribute, 0 by default", () => {
    expect(annotations.slice(2, 4).map((a) => [a.segmentation, a.iscrowd])).toEqual([
      [[[1, 1, 9, 1, 9, 5]], 1],
      [[[20, 20, 30, 20, 30, 28, 20, 28]], 0],
    ]);
  });

  it("drops and counts what COCO cannot hold, and notes attributes other than iscrowd", () => {
    const { counts, formatNotes } = run.result;
    expect(counts.dropped.map((d) => [d.reason, Number(d.count)])).toEqual([
      ["classification: COCO has no image-level labels", 1],
      ["mask of another size than its image: COCO masks cover their image", 1],
      ["polyline: COCO has no polyline", 1],
    ]);
    expect([Number(counts.receivedAnnotations), Number(counts.annotationCount)]).toEqual([10, annotations.length]);
    expect(annotations).toHaveLength(7);
    expect(formatNotes).toContain("attributes: dropped from 1 annotations (COCO has no attributes)");
  });

  it("writes compressed RLE strings with compressRle", async () => {
    const compressed = await runSampleExport(CocoExporter, { fixture: maskDataset(), options: { compressRle: true } });
    try {
      const train = await compressed.json<CocoFile>(instancesKey("train"));
      expect(train.annotations[0]?.segmentation).toEqual({
        size: [HEIGHT, WIDTH],
        counts: encodeRleString(RECTANGLE.counts),
      });
      // Polygons stay polygons.
      expect(train.annotations[2]?.segmentation).toEqual([[1, 1, 9, 1, 9, 5]]);
    } finally {
      await compressed.cleanup();
    }
  });
});

/**
 * Seven images over two splits, split names taken in turns so every shard boundary falls inside a
 * split, with 0 to 3 boxes each: an annotation's box x is its item's number, so its image_id can
 * be checked against the image's file name (`…-<n>.png`). One name holds text that looks like a
 * line's id prefix.
 */
function twoSplitDataset(): SampleDataset {
  const splits = ["train", "val", "train", "train", "val", "val", "train"];
  const boxes = [2, 0, 3, 1, 0, 2, 1];
  const fileName = (n: number) => (n === 3 ? `사진 {"id":9,"image_id":9,}-${n}.png` : `item-${n}.png`);
  const items = splits.map((split, n) =>
    create(ItemSchema, {
      id: `item-${n}`,
      datasetId: "ds-splits",
      kind: ItemKind.IMAGE,
      status: ItemStatus.APPROVED,
      split,
      media: { uri: `media/item-${n}.png`, fileName: fileName(n), width: 100, height: 80 },
      annotations: Array.from({ length: boxes[n] ?? 0 }, (_, k) =>
        create(AnnotationSchema, {
          id: `item-${n}-box-${k}`,
          type: AnnotationType.BBOX,
          categoryId: 1 + (k % 2),
          geometry: { case: "bbox", value: { x: n, y: k, width: 10, height: 5 } },
        }),
      ),
    }),
  );
  return {
    dataset: {
      id: "ds-splits",
      name: "two splits",
      categories: [
        create(CategorySchema, { id: 1, name: "car", supercategory: "vehicle" }),
        create(CategorySchema, { id: 2, name: "bike", supercategory: "vehicle" }),
      ],
    },
    items,
    media: new Map(),
  };
}

describe("coco split into shards", () => {
  it("writes the same instances files whole and in 2, 3 and 4 shards, ids 1..N per split", async () => {
    const whole = await runSampleExport(CocoExporter, { fixture: twoSplitDataset() });
    try {
      const keys = (await whole.files()).filter((key) => key.startsWith("annotations/"));
      expect(keys).toEqual([instancesKey("train"), instancesKey("val")]);
      for (const key of keys) {
        const coco = await whole.json<CocoFile>(key);
        expect(coco.images.map((image) => image.id)).toEqual(coco.images.map((_, i) => i + 1));
        expect(coco.annotations.map((annotation) => annotation.id)).toEqual(coco.annotations.map((_, i) => i + 1));
        const names = coco.images.map((image) => image.file_name);
        for (const annotation of coco.annotations) {
          const n = (annotation.bbox as number[])[0] as number;
          expect(names[annotation.image_id - 1], `annotation ${annotation.id}`).toMatch(new RegExp(`-${n}\\.png$`));
        }
      }
      const train = await whole.json<CocoFile>(instancesKey("train"));
      expect([train.images.length, train.annotations.length]).toEqual([4, 7]);
      for (const shards of [2, 3, 4]) {
        const split = await runSampleExport(CocoExporter, { fixture: twoSplitDataset(), shards });
        try {
          for (const key of keys) {
            expect((await split.read(key)).toString("utf8"), `${key} in ${shards} shards`).toBe(
              (await whole.read(key)).toString("utf8"),
            );
          }
        } finally {
          await split.cleanup();
        }
      }
    } finally {
      await whole.cleanup();
    }
  });
});

describe("cocoAnnotationJson", () => {
  it("writes what JSON.stringify writes, for every kind of object and number", () => {
    // Keys in the exporter's order: the text must match key for key.
    const coco = (
      segmentation: CocoAnnotation["segmentation"],
      bbox: CocoAnnotation["bbox"],
      more: { area?: number; iscrowd?: 0 | 1; keypoints?: number[] } = {},
    ): CocoAnnotation => ({
      id: 12,
      image_id: 3,
      category_id: 7,
      segmentation,
      area: more.area ?? 6570.357000000001,
      bbox,
      iscrowd: more.iscrowd ?? 0,
      ...(more.keypoints ? { keypoints: more.keypoints, num_keypoints: 1 } : {}),
    });
    const objects: CocoAnnotation[] = [
      coco([], [692.66, 641.05, 133.3, 49.29]),
      coco([[0, -0, 1e21, 5e-7, 3.5, 4]], [-0, 0, 1e-7, 2]),
      coco([], [1, 2, 3, 4], { area: Number.NaN }),
      coco([], [1, Number.POSITIVE_INFINITY, 3, 4]),
      coco([[1, 2, 3, 4, 5, Number.NaN]], [1, 2, 3, 4]),
      coco(
        [
          [1, 2, 3, 4, 5, 6],
          [7, 8, 9, 10, 11, 12],
        ],
        [1, 2, 3, 4],
      ),
      coco({ size: [4, 5], counts: [3, 2, 15] }, [0, 0, 5, 4], { iscrowd: 1 }),
      coco([], [1, 2, 3, 4], { keypoints: [1, 2, 2, 0, 0, 0] }),
    ];
    for (const object of objects) expect(cocoAnnotationJson(object)).toBe(JSON.stringify(object));
  });
});
