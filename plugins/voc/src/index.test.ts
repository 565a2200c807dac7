import { create } from "@bufbuild/protobuf";
import { AnnotationSchema, AnnotationType } from "@labelport/sdk/contracts";
import {
  expectSplitsWriteTheSameBytes,
  manySplitsDataset,
  runSampleExport,
  type SampleExport,
  sampleDataset,
  testExporter,
} from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { maskBox, polygonBox } from "./geometry.ts";
import VocExporter, { flagOf, LABELMAP_KEY, labelmap, vocBox, vocColor } from "./index.ts";
import { escapeXml, stripForbiddenXmlChars } from "./xml.ts";

// The devkit layout copies images into JPEGImages/, not images/ (checked below).
testExporter(VocExporter, { savesOriginalFiles: false });

const exact = { clipped: false, rounded: false, widened: false };

describe("voc boxes", () => {
  it("uses 1-based inclusive pixel indices: xmin = x + 1, xmax = x + width", () => {
    expect(vocBox({ x: 10, y: 20, width: 100, height: 50 }, 640, 480)).toEqual({
      xmin: 11,
      ymin: 21,
      xmax: 110,
      ymax: 70,
      truncated: 0,
      ...exact,
    });
    expect(vocBox({ x: 0, y: 0, width: 640, height: 480 }, 640, 480)).toEqual({
      xmin: 1,
      ymin: 1,
      xmax: 640,
      ymax: 480,
      truncated: 1,
      ...exact,
    });
  });

  it("rounds every edge to the nearest pixel, never outward, and says so", () => {
    expect(vocBox({ x: 10.4, y: 9.6, width: 5.2, height: 10.8 }, 640, 480)).toEqual({
      xmin: 11,
      ymin: 11,
      xmax: 16,
      ymax: 20,
      truncated: 0,
      clipped: false,
      rounded: true,
      widened: false,
    });
    // Floating-point noise is not a change.
    expect(vocBox({ x: 9.9999999, y: 10.0000001, width: 5.0000001, height: 5 }, 640, 480)).toMatchObject({
      xmin: 11,
      ymin: 11,
      xmax: 15,
      ymax: 15,
      rounded: false,
    });
    // Every corner of many random boxes stays within 0.5 px (VOC -> continuous: x = xmin - 1, x2 = xmax).
    let seed = 7;
    const random = () => {
      seed = (seed * 16807) % 2147483647;
      return seed / 2147483647;
    };
    for (let i = 0; i < 2000; i++) {
      const box = { x: random() * 600, y: random() * 440, width: 1 + random() * 39, height: 1 + random() * 39 };
      const voc = vocBox(box, 640, 480);
      expect(voc).not.toBeNull();
      if (!voc) continue;
      expect(Math.abs(voc.xmin - 1 - box.x)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(voc.ymin - 1 - box.y)).toBeLessThanOrEqual(0.5);
      expect(Math.abs(voc.xmax - (box.x + box.width))).toBeLessThanOrEqual(0.5);
      expect(Math.abs(voc.ymax - (box.y + box.height))).toBeLessThanOrEqual(0.5);
    }
  });

  it("clips to the image, marks truncation, widens sub-pixel boxes and drops boxes outside", () => {
    expect(vocBox({ x: 600, y: 400, width: 100, height: 100 }, 640, 480)).toEqual({
      xmin: 601,
      ymin: 401,
      xmax: 640,
      ymax: 480,
      truncated: 1,
      clipped: true,
      rounded: false,
      widened: false,
    });
    expect(vocBox({ x: 10.1, y: 639.8, width: 0.3, height: 0.1 }, 640, 640)).toMatchObject({
      xmin: 11,
      xmax: 11,
      ymin: 640,
      ymax: 640,
      widened: true,
    });
    expect(vocBox({ x: 640, y: 0, width: 5, height: 5 }, 640, 480)).toBeNull();
    expect(vocBox({ x: 5, y: 5, width: 0, height: 5 }, 640, 480)).toBeNull();
  });

  it("boxes polygons and COCO RLE masks", () => {
    expect(polygonBox([50, 50, 90, 50, 70, 90])).toEqual({ x: 50, y: 50, width: 40, height: 40 });
    expect(polygonBox([0, 0, 1, 1])).toBeNull();
    // 4 x 3 (width x height), column-major: column 1 rows 1-2.
    expect(maskBox({ width: 4, height: 3, counts: [4, 2, 6] })).toEqual({ x: 1, y: 1, width: 1, height: 2 });
    // Column 1 rows 1-2 and column 2 rows 0-1, as two runs and as one run wrapping a column.
    expect(maskBox({ width: 4, height: 3, counts: [4, 2, 0, 2, 4] })).toEqual({ x: 1, y: 0, width: 2, height: 3 });
    expect(maskBox({ width: 4, height: 3, counts: [4, 4, 4] })).toEqual({ x: 1, y: 0, width: 2, height: 3 });
    expect(maskBox({ width: 4, height: 3, counts: [12] })).toBeNull();
  });

  it("reads 0/1 flags from attributes", () => {
    expect(flagOf({ difficult: true }, "difficult")).toBe(1);
    expect(flagOf({ difficult: "1" }, "difficult")).toBe(1);
    expect(flagOf({ difficult: false }, "difficult")).toBe(0);
    expect(flagOf({ difficult: "maybe" }, "difficult")).toBeUndefined();
    expect(flagOf(undefined, "difficult")).toBeUndefined();
  });
});

describe("xml text", () => {
  it("escapes markup and removes characters XML 1.0 forbids", () => {
    expect(escapeXml(`a & b <c> "d" 'e'`)).toBe("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;");
    expect(stripForbiddenXmlChars("a\u0000b\u0001c\td\ne\uFFFEf\uD800g😀h")).toBe("abc\td\nefg😀h");
  });
});

describe("labelmap", () => {
  it("lists background and the categories in id order with VOC colours", () => {
    expect(vocColor(0)).toEqual([0, 0, 0]);
    expect(vocColor(1)).toEqual([128, 0, 0]);
    expect(vocColor(15)).toEqual([192, 128, 128]);
    expect(labelmap([{ id: 2, name: "b:x" } as never, { id: 1, name: "a" } as never])).toBe(
      "# label:color_rgb:parts:actions\nbackground:0,0,0::\na:128,0,0::\nb_x:0,128,0::\n",
    );
  });
});

describe("voc export of the sample dataset", () => {
  let run: SampleExport;
  beforeAll(async () => {
    // A category name with control characters, which XML 1.0 cannot hold even as references.
    const fixture = sampleDataset();
    const car = fixture.dataset.categories.find((c) => c.id === 2);
    if (car) car.name = "car\u0001\u0008";
    run = await runSampleExport(VocExporter, { fixture, saveOriginalFile: true });
  });
  afterAll(() => run.cleanup());

  it("writes the devkit layout: JPEGImages, an XML file per sized image, split lists and a labelmap", async () => {
    const files = await run.files();
    expect(files.filter((f) => !f.startsWith("Annotations/") && !f.startsWith("metadata/"))).toEqual([
      "ImageSets/Main/default.txt",
      "ImageSets/Main/train.txt",
      "ImageSets/Main/val.txt",
      "JPEGImages/=formula.png",
      "JPEGImages/street 01.jpg",
      "JPEGImages/street 01_1.jpg",
      "JPEGImages/자전거 사진.png",
      "labelmap.txt",
      "manifest.json",
    ]);
    expect(files.filter((f) => f.startsWith("Annotations/"))).toEqual([
      "Annotations/=formula.xml",
      "Annotations/street 01.xml",
      "Annotations/street 01_1.xml",
      "Annotations/자전거 사진.xml",
    ]);
    expect(await run.text("ImageSets/Main/train.txt")).toBe("street 01\n=formula\n");
    expect(await run.text("ImageSets/Main/default.txt")).toBe("street 01_1\n");
    expect((await run.text(LABELMAP_KEY)).split("\n")[2]).toBe("person:128,0,0::");
    const xml = await run.text("Annotations/street 01.xml");
    expect(xml).toContain("<folder>JPEGImages</folder>");
    expect(xml).toContain("<filename>street 01.jpg</filename>");
    expect(xml).toContain("<depth>3</depth>");
    expect(xml).toContain("<xmin>11</xmin>");
    expect(xml).toContain("<name>car</name>");
    expect(xml).toMatch(/<attribute>\s*<name>color<\/name>\s*<value>red<\/value>\s*<\/attribute>/);
    expect(await run.text("Annotations/=formula.xml")).toContain(
      "<name>sign &amp; &lt;signal&gt; &quot;stop&quot;, red</name>",
    );
  });

  it("counts what it wrote: objects in the XML == annotationCount; drops and changes by reason", async () => {
    const files = (await run.files()).filter((f) => f.startsWith("Annotations/"));
    let objects = 0;
    for (const file of files) objects += ((await run.text(file)).match(/<object>/g) ?? []).length;
    const manifest = await run.json<Record<string, unknown>>("manifest.json");
    expect(objects).toBe(6);
    expect(manifest).toMatchObject({
      annotationCount: objects,
      annotationsReceived: 12,
      dropped: {
        "classification: VOC detection holds boxes only": 1,
        "image without width/height: VOC needs the image size": 1,
        "keypoints: VOC detection holds boxes only": 1,
        "polyline: VOC detection holds boxes only": 1,
        "video: VOC has no video": 2,
      },
      changed: {
        "box clipped to the image": 1,
        "box rounded to whole pixels": 1,
        "polygon written as its bounding box": 2,
      },
    });
    expect(Number(run.result.counts.annotationCount)).toBe(objects);
  });
});

describe("voc options", () => {
  it("layout splits keeps images under images/<split>/; shapesAsBoxes false drops polygons", async () => {
    const run = await runSampleExport(VocExporter, {
      options: { layout: "splits", shapesAsBoxes: false },
      saveOriginalFile: true,
    });
    try {
      const files = await run.files();
      expect(files).toContain("images/train/street 01.jpg");
      expect(files.some((f) => f.startsWith("JPEGImages/"))).toBe(false);
      expect(await run.text("Annotations/street 01.xml")).toContain("<folder>images/train</folder>");
      const manifest = await run.json<{ annotationCount: number; dropped: Record<string, number> }>("manifest.json");
      expect(manifest.annotationCount).toBe(4);
      expect(manifest.dropped["polygon: VOC detection holds boxes only (shapesAsBoxes is off)"]).toBe(2);
    } finally {
      await run.cleanup();
    }
  });

  it("writes masks as boxes, VOC attributes, and category folders below JPEGImages and Annotations", async () => {
    const fixture = sampleDataset();
    const item = fixture.items[0];
    if (!item) throw new Error("fixture has no items");
    item.annotations = [
      create(AnnotationSchema, {
        id: "mask-1",
        type: AnnotationType.MASK,
        categoryId: 5,
        attributes: { pose: "Left", truncated: 1, occluded: "partly" },
        // 640 x 480: columns 10-11, rows 100-149.
        geometry: { case: "mask", value: { width: 640, height: 480, counts: [10 * 480 + 100, 50, 430, 50, 301770] } },
      }),
    ];
    const run = await runSampleExport(VocExporter, { fixture, options: { categoryFolders: true } });
    try {
      const xml = await run.text("Annotations/1. 자연/street 01.xml");
      expect(xml).toContain("<filename>1. 자연/street 01.jpg</filename>");
      expect(xml).toMatch(/<xmin>11<\/xmin>\s*<ymin>101<\/ymin>\s*<xmax>12<\/xmax>\s*<ymax>150<\/ymax>/);
      expect(xml).toContain("<pose>Left</pose>");
      // The attribute wins over the border test (this box is well inside the image).
      expect(xml).toContain("<truncated>1</truncated>");
      // A value <occluded> cannot hold stays an attribute.
      expect(xml).not.toContain("<occluded>");
      expect(xml).toMatch(/<attribute>\s*<name>occluded<\/name>\s*<value>partly<\/value>/);
      expect(await run.text("ImageSets/Main/train.txt")).toBe("1. 자연/street 01\n1. 자연/=formula\n");
      const manifest = await run.json<{ changed: Record<string, number> }>("manifest.json");
      expect(manifest.changed["mask written as its bounding box"]).toBe(1);
    } finally {
      await run.cleanup();
    }
  });
});

describe("voc split export", () => {
  it("writes the same files whole and split into 2, 3 and 4 shards", async () => {
    await expectSplitsWriteTheSameBytes(VocExporter, manySplitsDataset, { saveOriginalFile: true }, async (whole) => {
      const files = await whole.files();
      expect(files.filter((f) => f.startsWith("ImageSets/"))).toEqual([
        "ImageSets/Main/default.txt",
        "ImageSets/Main/night _ rain.txt",
        "ImageSets/Main/test.txt",
        "ImageSets/Main/train.txt",
        "ImageSets/Main/val.txt",
      ]);
      expect(await whole.text("ImageSets/Main/night _ rain.txt")).toBe("gen-00000004\ngen-00000009\n");
      const { notes } = await whole.json<{ notes: string[] }>("manifest.json");
      // Notes with counts summed over the shards.
      expect(notes.map((note) => note.split(" (")[0])).toEqual([
        "1 images have no width/height and were skipped",
        "truncated, difficult: written for 66 objects without those attributes",
        "video: 1 items not exported",
      ]);
    });
  });
});
