import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isImportSourceError } from "@labelport/sdk";
import type { Item } from "@labelport/sdk/contracts";
import {
  listFiles,
  runSampleExport,
  runSampleImport,
  type SampleDataset,
  type SampleExport,
  type SampleImport,
  sampleDataset,
  testImporter,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import { runPython } from "../../../test/support/python.ts";
import { VocImporter } from "./importer.ts";
import VocExporter from "./index.ts";

/** A PNG header: all image-size reads (signature and IHDR). */
function png(width: number, height: number): Uint8Array {
  const bytes = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(bytes, 0);
  bytes.writeUInt32BE(13, 8);
  bytes.write("IHDR", 12);
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  bytes[24] = 8;
  bytes[25] = 2;
  return bytes;
}

interface VocObject {
  name: string;
  box: [number, number, number, number];
  extra?: string;
}

/** A VOC annotation as the devkit ships it: no XML declaration, tabs, <source> and <owner>. */
function vocXml(filename: string, size: [number, number, number] | null, objects: VocObject[], folder = "VOC2012") {
  const body = objects
    .map(
      (o) =>
        `\t<object>\n\t\t<name>${o.name}</name>\n${o.extra ?? ""}\t\t<bndbox>\n\t\t\t<xmin>${o.box[0]}</xmin>\n\t\t\t<ymin>${o.box[1]}</ymin>\n\t\t\t<xmax>${o.box[2]}</xmax>\n\t\t\t<ymax>${o.box[3]}</ymax>\n\t\t</bndbox>\n\t</object>\n`,
    )
    .join("");
  const sizeXml = size
    ? `\t<size>\n\t\t<width>${size[0]}</width>\n\t\t<height>${size[1]}</height>\n\t\t<depth>${size[2]}</depth>\n\t</size>\n`
    : "";
  return `<annotation>\n\t<folder>${folder}</folder>\n\t<filename>${filename}</filename>\n\t<source>\n\t\t<database>The VOC2008 Database</database>\n\t</source>\n${sizeXml}\t<segmented>0</segmented>\n${body}</annotation>\n`;
}

const HORSE = `\t\t<pose>Left</pose>\n\t\t<truncated>0</truncated>\n\t\t<occluded>1</occluded>\n\t\t<difficult>0</difficult>\n`;
const PERSON_WITH_PARTS = `\t\t<pose>Unspecified</pose>\n\t\t<truncated>1</truncated>\n\t\t<difficult>0</difficult>\n\t\t<part>\n\t\t\t<name>head</name>\n\t\t\t<bndbox><xmin>169</xmin><ymin>104</ymin><xmax>209</xmax><ymax>146</ymax></bndbox>\n\t\t</part>\n\t\t<part>\n\t\t\t<name>hand</name>\n\t\t\t<bndbox><xmin>278</xmin><ymin>210</ymin><xmax>297</xmax><ymax>233</ymax></bndbox>\n\t\t</part>\n`;

/** The VOC2012 devkit in its top folder: per-class lists, trainval, an .JPG image, a test image without XML. */
const devkit = {
  "VOC2012/Annotations/2008_000008.xml": vocXml(
    "2008_000008.jpg",
    [500, 442, 3],
    [
      { name: "horse", box: [53, 87, 471, 420], extra: HORSE },
      { name: "person", box: [158, 44, 289, 167], extra: PERSON_WITH_PARTS },
    ],
  ),
  "VOC2012/Annotations/2008_000015.xml": vocXml(
    "2008_000015.jpg",
    [327, 500, 3],
    [{ name: "bottle", box: [270, 1, 378, 176], extra: "\t\t<difficult>1</difficult>\n" }],
  ),
  "VOC2012/ImageSets/Main/train.txt": "2008_000008\n",
  "VOC2012/ImageSets/Main/val.txt": "2008_000015\n",
  "VOC2012/ImageSets/Main/trainval.txt": "2008_000008\n2008_000015\n",
  "VOC2012/ImageSets/Main/test.txt": "2008_000023\n",
  "VOC2012/ImageSets/Main/horse_train.txt": "2008_000008  1\n",
  "VOC2012/JPEGImages/2008_000008.jpg": png(500, 442),
  "VOC2012/JPEGImages/2008_000015.JPG": png(327, 500),
  "VOC2012/JPEGImages/2008_000023.jpg": png(64, 48),
};

/** LabelImg: XML next to the images, a Windows <path>, a BOM, one file without <size>. */
const looseFolder = {
  "shots/cat1.xml": `\uFEFF<?xml version="1.0"?>\n${vocXml("cat1.png", [320, 200, 3], [{ name: "cat", box: [1, 1, 320, 200] }], "shots")}`,
  "shots/cat1.png": png(320, 200),
  "shots/dog2.xml": vocXml("dog2.PNG", null, [{ name: "dog", box: [10, 10, 20, 30] }], "C:\\Users\\me\\shots"),
  "shots/dog2.PNG": png(40, 40),
};

testImporter(VocImporter, {
  samples: [
    {
      name: "a VOC2012 devkit in a top folder",
      upload: { files: devkit },
      expected: { items: 3, annotations: 3, dropped: 2 },
    },
    {
      name: "a LabelImg folder of loose XML files",
      upload: { files: looseFolder },
      expected: { items: 2, annotations: 2 },
    },
  ],
});

const byId = (run: SampleImport) => new Map(run.items.map((item) => [item.id, item]));

describe("voc import", () => {
  it("reads the devkit: ids, splits from ImageSets/Main, 1-based boxes, flags and pose, parts dropped", async () => {
    const run = await runSampleImport(VocImporter, { files: devkit });
    const items = byId(run);
    expect([...items.keys()]).toEqual(["2008_000008", "2008_000015", "2008_000023"]);
    const first = items.get("2008_000008") as Item;
    expect(first.split).toBe("train");
    expect(first.media).toMatchObject({
      uri: "media/sample/VOC2012/JPEGImages/2008_000008.jpg",
      fileName: "2008_000008.jpg",
      width: 500,
      height: 442,
      depth: 3,
    });
    expect(first.annotations.map((a) => [a.id, a.categoryId, a.geometry.value, a.attributes])).toEqual([
      [
        "2008_000008:000001",
        1,
        expect.objectContaining({ x: 52, y: 86, width: 419, height: 334 }),
        { occluded: true, truncated: false, difficult: false, pose: "Left" },
      ],
      [
        "2008_000008:000002",
        2,
        expect.objectContaining({ x: 157, y: 43, width: 132, height: 124 }),
        { truncated: true, difficult: false },
      ],
    ]);
    // The .JPG is found although the XML says .jpg; trainval and per-class lists do not decide the split.
    expect(items.get("2008_000015")?.split).toBe("val");
    expect(items.get("2008_000015")?.media?.uri).toBe("media/sample/VOC2012/JPEGImages/2008_000015.JPG");
    expect(items.get("2008_000015")?.annotations[0]?.attributes).toEqual({ difficult: true });
    // A test image without XML: an item without annotations, sized from its header.
    expect(items.get("2008_000023")).toMatchObject({
      split: "test",
      annotations: [],
      media: { width: 64, height: 48 },
    });
    expect(run.conversion.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "horse"],
      [2, "person"],
      [3, "bottle"],
    ]);
    expect(run.conversion.dropped).toEqual({ "part: VOC layout parts are not imported": 2 });
    expect(run.conversion.notes).toContain("1 images have no annotation file: imported without annotations");
  });

  it("reads loose XML: the image beside it, the size from the image when <size> is missing", async () => {
    const run = await runSampleImport(VocImporter, { files: looseFolder });
    const dog = byId(run).get("dog2");
    expect(dog?.media).toMatchObject({
      uri: "media/sample/shots/dog2.PNG",
      fileName: "dog2.PNG",
      width: 40,
      height: 40,
    });
    expect(byId(run).get("cat1")?.annotations[0]?.geometry.value).toMatchObject({
      x: 0,
      y: 0,
      width: 320,
      height: 200,
    });
  });

  it("takes category order from labelmap.txt, maps its '_' back to ':' and drops labels it does not list", async () => {
    const run = await runSampleImport(VocImporter, {
      files: {
        "labelmap.txt": "# label:color_rgb:parts:actions\nbackground:0,0,0::\nzebra:128,0,0::\nspeed_limit:0,128,0::\n",
        "Annotations/a.xml": vocXml(
          "a.jpg",
          [100, 100, 3],
          [
            { name: "speed:limit", box: [1, 1, 10, 10] },
            { name: "dog", box: [1, 1, 10, 10] },
            { name: "zebra", box: [-5, 50, 120, 60] },
          ],
        ),
      },
    });
    expect(run.conversion.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "zebra"],
      [2, "speed:limit"],
    ]);
    expect(run.conversion.dropped).toEqual({ "unknown label 'dog'": 1 });
    expect(run.conversion.changed).toEqual({ "bndbox clipped to the image": 1 });
    const [speed, zebra] = run.items[0]?.annotations ?? [];
    expect(speed?.categoryId).toBe(2);
    expect(zebra?.geometry.value).toMatchObject({ x: 0, y: 49, width: 100, height: 11 });
    // The item has no image in the upload: the media names the path the annotation gives.
    expect(run.items[0]?.media?.uri).toBe("JPEGImages/a.jpg");
  });

  it("refuses broken files with the file and field, and never expands entities", async () => {
    const bad = (files: Record<string, string>) =>
      runSampleImport(VocImporter, { files }).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
    const coordinate = await bad({
      "Annotations/a.xml": vocXml("a.jpg", [10, 10, 3], [{ name: "x", box: [1, 1, 5, 5] }]).replace(
        "<xmax>5</xmax>",
        "<xmax>five</xmax>",
      ),
    });
    expect(isImportSourceError(coordinate)).toBe(true);
    expect(coordinate?.message).toBe('Annotations/a.xml: object 1 bndbox/xmax is "five", not a number');
    const entity = await bad({
      "Annotations/a.xml": `<!DOCTYPE annotation [<!ENTITY big "boom">]>\n<annotation><object><name>&big;</name></object></annotation>`,
    });
    expect(isImportSourceError(entity)).toBe(true);
    expect(entity?.message).toMatch(/^Annotations\/a\.xml: not well-formed XML .*undefined entity/);
    const notVoc = await bad({ "Annotations/a.xml": "<annotations><image/></annotations>" });
    expect(notVoc?.message).toMatch(/no <annotation> root/);
  });
});

/** The files of an export, as a user would upload them (manifest and export summary left out). */
async function uploadOf(run: SampleExport): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const key of await run.files()) {
    if (key === "manifest.json" || key.startsWith("metadata/")) continue;
    files[key] = await run.read(key);
  }
  return files;
}

/** A dataset of what an import produced, its items in id order as StreamItems delivers them. */
function fixtureOf(imported: SampleImport, upload: Record<string, Uint8Array>): SampleDataset {
  const media = new Map<string, Uint8Array>();
  for (const [path, uri] of imported.media) media.set(uri, upload[path] as Uint8Array);
  const base = sampleDataset();
  return {
    dataset: { ...base.dataset, categories: imported.conversion.categories },
    items: [...imported.items].sort((a, b) => (a.id < b.id ? -1 : 1)),
    media,
  };
}

describe("voc round trip", () => {
  it("export -> import -> export gives the same files; what differs is what the first export declared", async () => {
    const first = await runSampleExport(VocExporter, { saveOriginalFile: true });
    const second = { run: undefined as SampleExport | undefined };
    const third = { run: undefined as SampleExport | undefined };
    try {
      const upload = await uploadOf(first);
      const imported = await runSampleImport(VocImporter, { files: upload });
      expect(imported.conversion.dropped).toEqual({});
      expect(imported.conversion.changed).toEqual({});
      const manifest = await first.json<{
        annotationCount: number;
        annotationsReceived: number;
        dropped: Record<string, number>;
      }>("manifest.json");
      // Every annotation the export wrote came back; the rest is exactly what it declared dropped.
      expect(imported.conversion.annotations).toBe(manifest.annotationCount);
      const declared = Object.values(manifest.dropped).reduce((a, b) => a + b, 0);
      expect(manifest.annotationsReceived - declared).toBe(imported.conversion.annotations);
      // The declared changes: the clipped box, the rounded box and the polygons as their bounds.
      const boxes = new Map(imported.items.map((i) => [i.id, i.annotations.map((a) => a.geometry.value)]));
      expect(boxes.get("street 01")).toEqual([
        expect.objectContaining({ x: 10, y: 20, width: 100, height: 50 }),
        expect.objectContaining({ x: 600, y: 400, width: 40, height: 80 }),
        expect.objectContaining({ x: 0, y: 300, width: 200, height: 180 }),
      ]);
      // (12.5, 30.25)-(92.5, 91) rounded to whole pixels: every corner within 0.5 px.
      expect(boxes.get("자전거 사진")).toEqual([expect.objectContaining({ x: 13, y: 30, width: 80, height: 61 })]);
      expect(boxes.get("=formula")).toEqual([
        expect.objectContaining({ x: 0, y: 0, width: 40, height: 30 }),
        expect.objectContaining({ x: 50, y: 50, width: 40, height: 40 }),
      ]);
      expect(imported.items.find((i) => i.id === "street 01")?.split).toBe("train");
      expect(imported.items.find((i) => i.id === "street 01_1")?.split).toBe("");

      second.run = await runSampleExport(VocExporter, { saveOriginalFile: true, fixture: fixtureOf(imported, upload) });
      const again = await uploadOf(second.run);
      expect(Object.keys(again)).toEqual(Object.keys(upload));
      for (const [key, bytes] of Object.entries(upload)) {
        const text = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString("utf8");
        if (key.startsWith("ImageSets/")) {
          // Lists follow item id order, and ids are the file stems now: the same names, maybe reordered.
          const lines = (b: Uint8Array | undefined) => text(b).split("\n").sort();
          expect(lines(again[key]), key).toEqual(lines(bytes));
        } else {
          expect(text(again[key]), key).toBe(text(bytes));
        }
      }
      // From then on the export is a fixed point, ImageSets order included.
      const reimported = await runSampleImport(VocImporter, { files: again });
      third.run = await runSampleExport(VocExporter, { saveOriginalFile: true, fixture: fixtureOf(reimported, again) });
      expect(await uploadOf(third.run)).toEqual(again);
    } finally {
      await first.cleanup();
      await second.run?.cleanup();
      await third.run?.cleanup();
    }
  });
});

// datumaro writes VOC with real JPEGs; in both of its coordinate modes.
const datumaroWrite = `
import sys, logging
logging.disable(logging.WARNING)
import numpy as np
import datumaro as dm
ds = dm.Dataset.from_iterable([
    dm.DatasetItem(id="a", subset="train", media=dm.Image.from_numpy(np.zeros((40, 60, 3), dtype=np.uint8)),
        annotations=[dm.Bbox(10, 5, 20, 10, label=0, attributes={"difficult": True}), dm.Bbox(0, 0, 60, 40, label=1)]),
    dm.DatasetItem(id="b", subset="val", media=dm.Image.from_numpy(np.zeros((30, 30, 3), dtype=np.uint8)),
        annotations=[dm.Bbox(3, 4, 5, 6, label=1)]),
], categories=["cat", "dog"])
ds.export(sys.argv[1], "voc_detection", save_media=True, coordinate_mode=sys.argv[2])
`;

describe("voc written by datumaro", () => {
  for (const [mode, coordinates] of [
    ["voc-one-based", "one-based"],
    ["dm-zero-based", "zero-based"],
  ] as const) {
    it(`imports datumaro's ${mode} boxes with coordinates: ${coordinates}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "voc-datumaro-"));
      try {
        await runPython(datumaroWrite, [dir, mode]);
        const files: Record<string, Uint8Array> = {};
        for (const key of await listFiles(dir)) files[key] = await readFile(join(dir, key));
        const run = await runSampleImport(VocImporter, { files }, { options: { coordinates } });
        expect(run.conversion.categories.map((c) => c.name)).toEqual(["cat", "dog"]);
        expect(run.conversion.dropped).toEqual({});
        expect(run.conversion.changed).toEqual({});
        expect(
          run.items.map((i) => [
            i.id,
            i.split,
            i.media?.width,
            i.annotations.map((a) => [a.categoryId, a.geometry.value]),
          ]),
        ).toEqual([
          [
            "a",
            "train",
            60,
            [
              [1, expect.objectContaining({ x: 10, y: 5, width: 20, height: 10 })],
              [2, expect.objectContaining({ x: 0, y: 0, width: 60, height: 40 })],
            ],
          ],
          ["b", "val", 30, [[2, expect.objectContaining({ x: 3, y: 4, width: 5, height: 6 })]]],
        ]);
        expect(run.items[0]?.annotations[0]?.attributes).toMatchObject({ difficult: true });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }, 900_000);
  }
});
