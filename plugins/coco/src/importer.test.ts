import { type Annotation, encodeRleString, itemToJson } from "@labelport/sdk";
import {
  runSampleExport,
  runSampleImport,
  type SampleUpload,
  sampleDataset,
  testImporter,
} from "@labelport/sdk/testing";
import { afterEach, describe, expect, it } from "vitest";
import { SPILL_RANGE_BYTES } from "./importer.ts";
import CocoExporter, { importers } from "./index.ts";
import { maskDataset } from "./mask-fixture.ts";

const [CocoImporter] = importers;

/** An annotation as plain data: id, category, geometry by kind, attributes. */
function plain(annotation: Annotation) {
  const value = annotation.geometry.value;
  return {
    id: annotation.id,
    categoryId: annotation.categoryId,
    [annotation.geometry.case ?? "classification"]: JSON.parse(
      JSON.stringify(value ?? null, (key, v: unknown) => (key === "$typeName" ? undefined : v)),
    ),
    ...(annotation.attributes ? { attributes: annotation.attributes } : {}),
  };
}
if (!CocoImporter) throw new Error("the coco plugin exports no importer");

/** The header of a PNG of the given size: enough for an image-size reader. */
function png(width: number, height: number): Uint8Array {
  const bytes = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0);
  bytes.writeUInt32BE(13, 8);
  bytes.write("IHDR", 12, "latin1");
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  bytes.set([8, 2, 0, 0, 0], 24);
  return bytes;
}

const PERSON = {
  id: 1,
  name: "person",
  supercategory: "person",
  keypoints: ["nose", "left_eye", "right_eye"],
  skeleton: [
    [1, 2],
    [1, 3],
  ],
};

// A 4x3 mask: column-major runs 0s, 1s, ... (5 zeros, 4 ones, 3 zeros).
const MASK_COUNTS = [5, 4, 3];

/** As cocodataset.org ships it: val2017/ images, instances and person_keypoints naming the same objects. */
function officialUpload(): SampleUpload {
  const images = [
    {
      license: 1,
      file_name: "000000000139.jpg",
      coco_url: "http://images.cocodataset.org/val2017/000000000139.jpg",
      height: 426,
      width: 640,
      id: 139,
    },
    { license: 1, file_name: "000000000285.jpg", height: 0, width: 0, id: 285 },
    { license: 1, file_name: "000000000632.jpg", height: 480, width: 640, id: 632 },
  ];
  const polygon = [10, 10, 60, 10, 60, 40, 10, 40];
  const person = {
    id: 201,
    image_id: 139,
    category_id: 1,
    iscrowd: 0,
    area: 1400.5,
    bbox: [10, 10, 50, 30],
    segmentation: [polygon],
  };
  const instances = {
    info: { description: "COCO 2017 Dataset", version: "1.0", year: 2017 },
    licenses: [{ url: "http://creativecommons.org/licenses/by-nc-sa/2.0/", id: 1, name: "x" }],
    images,
    annotations: [
      person,
      // Two parts: one object split by an occluder.
      {
        id: 202,
        image_id: 139,
        category_id: 62,
        iscrowd: 0,
        area: 300,
        bbox: [100, 100, 40, 20],
        segmentation: [
          [100, 100, 120, 100, 120, 120],
          [130, 100, 140, 100, 140, 120],
        ],
      },
      // A crowd as compressed RLE.
      {
        id: 900100,
        image_id: 285,
        category_id: 1,
        iscrowd: 1,
        area: 4,
        bbox: [1, 1, 2, 2],
        segmentation: { size: [4, 3], counts: encodeRleString(MASK_COUNTS) },
      },
      // A crowd as uncompressed RLE.
      {
        id: 900101,
        image_id: 285,
        category_id: 62,
        iscrowd: 1,
        area: 4,
        bbox: [1, 1, 2, 2],
        segmentation: { size: [4, 3], counts: MASK_COUNTS },
      },
      { id: 203, image_id: 999, category_id: 1, iscrowd: 0, area: 1, bbox: [0, 0, 1, 1], segmentation: [] },
      { id: 204, image_id: 632, category_id: 77, iscrowd: 0, area: 1, bbox: [0, 0, 1, 1], segmentation: [] },
    ],
    categories: [
      { supercategory: "person", id: 1, name: "person" },
      { supercategory: "furniture", id: 62, name: "chair" },
    ],
  };
  const keypoints = {
    info: instances.info,
    images,
    annotations: [{ ...person, num_keypoints: 2, keypoints: [20, 15, 2, 25, 12, 1, 0, 0, 0] }],
    categories: [PERSON],
  };
  return {
    files: {
      "annotations/instances_val2017.json": JSON.stringify(instances),
      "annotations/person_keypoints_val2017.json": JSON.stringify(keypoints, null, 2),
      "val2017/000000000139.JPG": png(640, 426),
      "val2017/000000000285.jpg": png(320, 200),
    },
  };
}

/** Roboflow's export: a folder per split with _annotations.coco.json beside the images, category 0. */
function roboflowUpload(): SampleUpload {
  const file = (name: string, box: number[]) =>
    JSON.stringify({
      info: { year: "2024" },
      categories: [
        { id: 0, name: "cells", supercategory: "none" },
        { id: 1, name: "RBC", supercategory: "cells" },
      ],
      images: [{ id: 0, license: 1, file_name: name, height: 416, width: 416, date_captured: "2024-01-01" }],
      annotations: [{ id: 0, image_id: 0, category_id: 1, bbox: box, area: 12, segmentation: [], iscrowd: 0 }],
    });
  return {
    files: {
      "train/_annotations.coco.json": file("a_jpg.rf.1.jpg", [1, 2, 3, 4]),
      "train/a_jpg.rf.1.jpg": png(416, 416),
      "valid/_annotations.coco.json": file("a_jpg.rf.1.jpg", [5, 6, 7, 8]),
      "valid/a_jpg.rf.1.jpg": png(416, 416),
    },
  };
}

/** CVAT's COCO 1.0 inside a single top folder: BOM, Windows path, attributes, images/ flat. */
function cvatUpload(): SampleUpload {
  const json = JSON.stringify({
    licenses: [{ name: "", id: 0, url: "" }],
    info: { contributor: "", date_created: "", description: "", url: "", version: "", year: "" },
    categories: [{ id: 1, name: "자동차", supercategory: "" }],
    images: [
      {
        id: 1,
        width: 100,
        height: 80,
        file_name: "frames\\img 1.PNG",
        license: 0,
        flickr_url: "",
        coco_url: "",
        date_captured: 0,
      },
      {
        id: 2,
        width: 100,
        height: 80,
        file_name: "empty.png",
        license: 0,
        flickr_url: "",
        coco_url: "",
        date_captured: 0,
      },
    ],
    annotations: [
      {
        id: 1,
        image_id: 1,
        category_id: 1,
        segmentation: [],
        area: 600,
        bbox: [10, 10, 30, 20],
        iscrowd: 0,
        attributes: { occluded: true, color: "red" },
      },
    ],
  });
  return {
    files: {
      "task_1/annotations/instances_default.json": `\ufeff${json}`,
      "task_1/images/frames/img 1.png": png(100, 80),
      "task_1/images/empty.png": png(100, 80),
    },
  };
}

function bareUpload(): SampleUpload {
  return {
    single: true,
    files: {
      "instances_train.json": JSON.stringify({
        images: [{ id: 7, file_name: "x.jpg", width: 10, height: 10 }],
        annotations: [{ id: 1, image_id: 7, category_id: 3, bbox: [1, 1, 2, 2] }],
        categories: [{ id: 3, name: "dog" }],
      }),
    },
  };
}

testImporter(CocoImporter, {
  samples: [
    // 6 objects: one dropped (missing image), one unknown category; 202 has two parts, 201 gets keypoints.
    { name: "the official COCO layout", upload: officialUpload(), expected: { items: 3, annotations: 6, dropped: 2 } },
    { name: "a Roboflow export", upload: roboflowUpload(), expected: { items: 2, annotations: 2 } },
    { name: "a CVAT export in a top folder", upload: cvatUpload(), expected: { items: 2, annotations: 1 } },
    { name: "one bare instances JSON", upload: bareUpload(), expected: { items: 1, annotations: 1 } },
  ],
});

describe("coco import of the official layout", () => {
  it("keeps polygons, multi-part polygons, RLE masks and keypoints, with what cannot be derived as attributes", async () => {
    const { items, conversion, media } = await runSampleImport(CocoImporter, officialUpload());
    expect(items.map((i) => [i.id, i.split, i.media?.fileName, i.media?.width, i.media?.height])).toEqual([
      ["000000000139", "val", "000000000139.jpg", 640, 426],
      // width/height 0 in the JSON: read from the image.
      ["000000000285", "val", "000000000285.jpg", 320, 200],
      ["000000000632", "val", "000000000632.jpg", 640, 480],
    ]);
    expect(media.get("val2017/000000000139.JPG")).toBe(items[0]?.media?.uri);
    expect(items[2]?.media?.uri).toBe("000000000632.jpg");
    const json = items.map((i) => i.annotations.map(plain));
    expect(json[0]).toEqual([
      expect.objectContaining({
        id: "000000000139:201",
        categoryId: 1,
        polygon: { points: [10, 10, 60, 10, 60, 40, 10, 40] },
        attributes: { area: 1400.5, group_id: 201 },
      }),
      expect.objectContaining({
        id: "000000000139:202",
        categoryId: 62,
        polygon: { points: [100, 100, 120, 100, 120, 120] },
        attributes: { area: 300, group_id: 202 },
      }),
      expect.objectContaining({
        id: "000000000139:202:2",
        polygon: { points: [130, 100, 140, 100, 140, 120] },
        attributes: { group_id: 202 },
      }),
      expect.objectContaining({
        id: "000000000139:201:keypoints",
        keypoints: {
          keypoints: [
            { x: 20, y: 15, visibility: 2 },
            { x: 25, y: 12, visibility: 1 },
            { x: 0, y: 0, visibility: 0 },
          ],
        },
        attributes: { group_id: 201 },
      }),
    ]);
    // Both RLE forms become the same mask; area and iscrowd match what the mask gives, so no attributes.
    expect(json[1]).toEqual([
      expect.objectContaining({
        id: "000000000285:900100",

        mask: { width: 3, height: 4, counts: MASK_COUNTS },
      }),
      expect.objectContaining({
        id: "000000000285:900101",

        mask: { width: 3, height: 4, counts: MASK_COUNTS },
      }),
    ]);
    expect(json[1]?.[0]?.attributes).toBeUndefined();
    expect(conversion.categories.map((c) => [c.id, c.name, c.keypoints.length, c.skeleton.length])).toEqual([
      [1, "person", 3, 2],
      [62, "chair", 0, 0],
    ]);
    expect(conversion.dropped).toEqual({ "annotation for a missing image": 1, "unknown category 77": 1 });
    expect(conversion.changed).toEqual({
      "polygon with several parts: one polygon per part, grouped by group_id": 2,
    });
    expect(conversion.notes).toEqual([
      "1 images are not in the upload: their media.uri is the coco_url or file_name the COCO file gives",
      "1 objects appear in two COCO files of the same split (instances and person_keypoints): merged",
      "annotations name image ids no images entry has: 999",
      'split "val2017" imported as "val"',
    ]);
  });

  it("makes one item per split when two splits name the same file, each with its own image", async () => {
    const { items, media } = await runSampleImport(CocoImporter, roboflowUpload());
    expect(items.map((i) => [i.id, i.split, i.media?.uri])).toEqual([
      ["train__a_jpg.rf.1", "train", "media/sample/train/a_jpg.rf.1.jpg"],
      ["valid__a_jpg.rf.1", "val", "media/sample/valid/a_jpg.rf.1.jpg"],
    ]);
    expect(media.size).toBe(2);
  });

  it("reads CVAT's attributes, a BOM, Windows paths and upper-case extensions; keeps unlabelled images", async () => {
    const { items, conversion } = await runSampleImport(CocoImporter, cvatUpload());
    expect(items.map((i) => [i.id, i.split, i.media?.uri, i.media?.fileName, i.annotations.length])).toEqual([
      ["frames__img 1", "", "media/sample/task_1/images/frames/img 1.png", "frames\\img 1.PNG", 1],
      ["empty", "", "media/sample/task_1/images/empty.png", "empty.png", 0],
    ]);
    const [box] = items[0]?.annotations ?? [];
    if (!box) throw new Error("the CVAT box is missing");
    expect(plain(box)).toMatchObject({
      bbox: { x: 10, y: 10, width: 30, height: 20 },
      attributes: { occluded: true, color: "red" },
    });
    expect(conversion.categories[0]?.name).toBe("자동차");
  });

  it("names the file and the problem when a COCO file is broken", async () => {
    const broken = {
      files: { "annotations/instances_train.json": '{"images": [{"id": 1, "file_name": "a.jpg"}, {"id": ' },
    };
    await expect(runSampleImport(CocoImporter, broken)).rejects.toThrow(
      /annotations\/instances_train\.json: not valid JSON: the file ends inside the JSON object/,
    );
    const noImages = { files: { "annotations/instances_train.json": '{"annotations": []}' } };
    await expect(runSampleImport(CocoImporter, noImages)).rejects.toThrow(/has no "images" list/);
    const badCategory = {
      files: { "annotations/instances_train.json": '{"images": [], "categories": [{"id": "x", "name": "a"}]}' },
    };
    await expect(runSampleImport(CocoImporter, badCategory)).rejects.toThrow(
      /categories\[0\]\.id must be a whole number/,
    );
  });
});

describe("coco import with spilled ranges", () => {
  const saved = SPILL_RANGE_BYTES.value;
  afterEach(() => {
    SPILL_RANGE_BYTES.value = saved;
  });

  it("groups annotations not sorted by image the same way when they are read one range of images at a time", async () => {
    const images = Array.from({ length: 40 }, (_, n) => ({
      id: n + 1,
      file_name: `${n + 1}.jpg`,
      width: 50,
      height: 50,
    }));
    const annotations = Array.from({ length: 200 }, (_, n) => ({
      id: n + 1,
      image_id: ((n * 7) % 41) + 1, // 41 is no image: dropped
      category_id: 1,
      bbox: [n % 10, 1, 2, 3],
    }));
    // Annotations first: a file may put its lists in any order.
    const upload = {
      files: {
        "annotations/instances_train.json": JSON.stringify({ annotations, categories: [{ id: 1, name: "a" }], images }),
      },
    };
    const whole = await runSampleImport(CocoImporter, upload);
    SPILL_RANGE_BYTES.value = 1000;
    const ranged = await runSampleImport(CocoImporter, upload);
    expect(ranged.items.map((i) => itemToJson(i))).toEqual(whole.items.map((i) => itemToJson(i)));
    expect(ranged.conversion).toEqual(whole.conversion);
    expect(whole.conversion.annotations + (whole.conversion.dropped["annotation for a missing image"] ?? 0)).toBe(200);
    expect(whole.items.map((i) => i.id).slice(0, 3)).toEqual(["1", "2", "3"]);
  });
});

describe("coco round trip", () => {
  it.each([
    ["the sample dataset", undefined],
    ["masks (RLE, crowd and not)", maskDataset()],
  ])("export -> import -> export of %s writes byte-identical instances files", async (_, source) => {
    const first = await runSampleExport(CocoExporter, source ? { fixture: source } : {});
    try {
      const keys = (await first.files()).filter((f) => f.startsWith("annotations/"));
      const files: Record<string, Uint8Array> = {};
      for (const key of keys) files[key] = await first.read(key);
      const imported = await runSampleImport(CocoImporter, { files });
      expect(imported.conversion.dropped).toEqual({});
      expect(imported.conversion.changed).toEqual({});
      const fixture = {
        dataset: {
          id: "ds-again",
          name: (source ?? sampleDataset()).dataset.name,
          categories: imported.conversion.categories,
        },
        items: imported.items,
        media: new Map<string, Uint8Array>(),
      };
      const second = await runSampleExport(CocoExporter, { fixture });
      try {
        expect((await second.files()).filter((f) => f.startsWith("annotations/"))).toEqual(keys);
        for (const key of keys)
          expect((await second.read(key)).toString("utf8"), key).toBe((await first.read(key)).toString("utf8"));
        // What the first export wrote is what came back (its drops are what did not).
        expect(imported.conversion.annotations).toBe(Number(first.result.counts.annotationCount));
      } finally {
        await second.cleanup();
      }
    } finally {
      await first.cleanup();
    }
  });
});
