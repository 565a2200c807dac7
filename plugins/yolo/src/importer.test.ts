import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isImportSourceError } from "@labelport/sdk";
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
import { YoloImporter } from "./importer.ts";
import YoloExporter from "./index.ts";

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

/** A JPEG with a JFIF APP0 block and a baseline SOF0 frame header. */
function jpeg(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof0 = [
    0xff,
    0xc0,
    0,
    17,
    8,
    height >> 8,
    height & 255,
    width >> 8,
    width & 255,
    3,
    1,
    0x11,
    0,
    2,
    0x11,
    0,
    3,
    0x11,
    0,
  ];
  return Buffer.from([0xff, 0xd8, ...app0, ...sof0, 0xff, 0xd9]);
}

/**
 * Ultralytics, zipped in its folder, with a `path` from the machine that wrote it: .JPG and .png
 * mixed, a confidence column, a polygon, an empty label file (a background image), an image
 * without a label file, a class index past `names`, and a label file without its image.
 */
const ultralytics = {
  "coco8/data.yaml": "path: ../datasets/coco8\ntrain: images/train\nval: images/val\n\nnames:\n  - person\n  - car\n",
  "coco8/images/train/a.JPG": jpeg(640, 480),
  "coco8/labels/train/a.txt": "0 0.5 0.5 0.25 0.5\n1 0.1 0.1 0.1 0.1 0.87\n7 0.5 0.5 0.1 0.1\n",
  "coco8/images/train/b.png": png(100, 50),
  "coco8/labels/train/b.txt": "1 0.1 0.2 0.5 0.2 0.5 0.8\n",
  "coco8/images/val/c.png": png(10, 10),
  "coco8/labels/val/c.txt": "",
  "coco8/images/val/d.jpg": jpeg(20, 20),
  "coco8/labels/val/ghost.txt": "0 0.5 0.5 0.1 0.1\n0 0.2 0.2 0.1 0.1\n",
};

/** Roboflow's export: <split>/images and <split>/labels, `../train/images` paths, a names map. */
const roboflow = {
  "data.yaml":
    "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 2\nnames: {0: 'Hard Hat', 1: 헬멧}\n\nroboflow:\n  workspace: w\n  project: p\n  version: 1\n  license: CC BY 4.0\n",
  "train/images/x_jpg.rf.1.jpg": jpeg(416, 416),
  "train/labels/x_jpg.rf.1.txt": "0 0.5 0.5 0.5 0.5\n1 0.25 0.25 0.1 0.1\n",
  "valid/images/y_jpg.rf.2.jpg": jpeg(416, 416),
  "valid/labels/y_jpg.rf.2.txt": "1 0.5 0.5 0.2 0.2\n",
  "test/images/z_jpg.rf.3.jpg": jpeg(416, 416),
  "test/labels/z_jpg.rf.3.txt": "",
};

/** CVAT's "YOLO 1.1" (darknet): obj.data naming data/ paths, CRLF lines, labels beside the images. */
const darknet = {
  "obj.data": "classes = 2\r\ntrain = data/train.txt\r\nnames = data/obj.names\r\nbackup = backup/\r\n",
  "obj.names": "cat\r\ndog\r\n",
  "train.txt": "data/obj_train_data/img1.jpg\r\ndata/obj_train_data/img2.PNG\r\n",
  "obj_train_data/img1.jpg": jpeg(200, 100),
  "obj_train_data/img1.txt": "1 0.500000 0.500000 1.000000 1.000000\r\n",
  "obj_train_data/img2.PNG": png(50, 50),
  "obj_train_data/img2.txt": "0 0.2 0.2 0.2 0.2\r\n0 0.8 0.8 0.2 0.2\r\n",
};

testImporter(YoloImporter, {
  samples: [
    {
      name: "an Ultralytics dataset in its folder",
      upload: { files: ultralytics },
      expected: { items: 4, annotations: 3, dropped: 3 },
    },
    { name: "a Roboflow YOLOv8 export", upload: { files: roboflow }, expected: { items: 3, annotations: 3 } },
    { name: "a CVAT YOLO 1.1 (darknet) export", upload: { files: darknet }, expected: { items: 2, annotations: 3 } },
  ],
});

const byId = (run: SampleImport) => new Map(run.items.map((item) => [item.id, item]));

describe("yolo import", () => {
  it("denormalises boxes and polygons by the image size, keeps confidences, drops what it cannot place", async () => {
    const run = await runSampleImport(YoloImporter, { files: ultralytics });
    const items = byId(run);
    expect([...items.keys()]).toEqual(["a", "b", "c", "d"]);
    expect(run.conversion.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "person"],
      [2, "car"],
    ]);
    const a = items.get("a");
    expect(a?.split).toBe("train");
    expect(a?.media).toMatchObject({
      uri: "media/sample/coco8/images/train/a.JPG",
      fileName: "a.JPG",
      width: 640,
      height: 480,
    });
    expect(a?.annotations.map((x) => [x.id, x.categoryId, x.geometry.value, x.attributes])).toEqual([
      ["a:000001", 1, expect.objectContaining({ x: 240, y: 120, width: 160, height: 240 }), undefined],
      ["a:000002", 2, expect.objectContaining({ x: 32, y: 24, width: 64, height: 48 }), { confidence: 0.87 }],
    ]);
    const polygon = items.get("b")?.annotations[0];
    expect(polygon?.geometry.case).toBe("polygon");
    expect(polygon?.geometry.value).toMatchObject({ points: [10, 10, 50, 10, 50, 40] });
    expect(items.get("c")).toMatchObject({ split: "val", annotations: [] });
    expect(items.get("d")).toMatchObject({ split: "val", annotations: [] });
    expect(run.conversion.dropped).toEqual({ "class 7 is not in the class names": 1, "no image to read its size": 2 });
    expect(run.conversion.notes).toEqual([
      "1 images have no label file: imported without annotations",
      "1 label files have no image in the upload: their labels were dropped",
    ]);
  });

  it("reads Roboflow's ../<split>/images paths and a names map; darknet lists with their data/ prefix", async () => {
    const rf = byId(await runSampleImport(YoloImporter, { files: roboflow }));
    expect([...rf.values()].map((i) => [i.id, i.split])).toEqual([
      ["z_jpg.rf.3", "test"],
      ["x_jpg.rf.1", "train"],
      ["y_jpg.rf.2", "val"],
    ]);
    const dn = await runSampleImport(YoloImporter, { files: darknet });
    expect(dn.conversion.categories.map((c) => c.name)).toEqual(["cat", "dog"]);
    expect(dn.items.map((i) => [i.id, i.split, i.annotations.length])).toEqual([
      ["obj_train_data__img1", "train", 1],
      ["obj_train_data__img2", "train", 2],
    ]);
    expect(dn.items[0]?.annotations[0]?.geometry.value).toMatchObject({ x: 0, y: 0, width: 200, height: 100 });
  });

  it("clips shapes past the border and says so; refuses lines that are not YOLO with file and line", async () => {
    const run = await runSampleImport(YoloImporter, {
      files: {
        "classes.txt": "a\n",
        "images/x.png": png(100, 100),
        "labels/x.txt": "0 0.95 0.5 0.2 0.2\n0 1.5 1.5 0.1 0.1\n0 -0.1 0.5 0.5 0.5 0.2 0.2\n",
      },
    });
    expect(run.conversion.changed).toEqual({ "box clipped to the image": 1, "polygon clipped to the image": 1 });
    expect(run.conversion.dropped).toEqual({ "box outside the image": 1 });
    expect(run.items[0]?.annotations[0]?.geometry.value).toMatchObject({ x: 85, y: 40, width: 15, height: 20 });
    const err = await runSampleImport(YoloImporter, {
      files: { "classes.txt": "a\n", "images/x.png": png(10, 10), "labels/x.txt": "0 0.5 0.5 0.1 0.1\n0 0.5 nan?\n" },
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(isImportSourceError(err)).toBe(true);
    expect(err?.message).toMatch(/^labels\/x\.txt line 2: "0 0\.5 nan\?" is not a YOLO label/);
  });
});

/** The sample dataset with real image headers of each item's size, so the sizes can be read back. */
function sampleWithImages(): SampleDataset {
  const fixture = sampleDataset();
  for (const item of fixture.items) {
    const uri = item.media?.uri ?? "";
    const { width = 0, height = 0 } = item.media ?? {};
    if (uri.endsWith(".png")) fixture.media.set(uri, png(width, height));
    if (uri.endsWith(".jpg")) fixture.media.set(uri, jpeg(width, height));
  }
  return fixture;
}

async function uploadOf(run: SampleExport): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const key of await run.files()) {
    if (key === "manifest.json" || key.startsWith("metadata/")) continue;
    files[key] = await run.read(key);
  }
  return files;
}

function fixtureOf(imported: SampleImport, upload: Record<string, Uint8Array>): SampleDataset {
  const media = new Map<string, Uint8Array>();
  for (const [path, uri] of imported.media) media.set(uri, upload[path] as Uint8Array);
  return {
    dataset: { ...sampleDataset().dataset, categories: imported.conversion.categories },
    // In id order, as StreamItems delivers them.
    items: [...imported.items].sort((a, b) => (a.id < b.id ? -1 : 1)),
    media,
  };
}

describe("yolo round trip", () => {
  for (const segmentation of [false, true]) {
    it(`export -> import -> export gives the same files (segmentation: ${segmentation})`, async () => {
      const options = { segmentation };
      const first = await runSampleExport(YoloExporter, {
        options,
        saveOriginalFile: true,
        fixture: sampleWithImages(),
      });
      let second: SampleExport | undefined;
      try {
        const upload = await uploadOf(first);
        const imported = await runSampleImport(YoloImporter, { files: upload });
        expect(imported.conversion.dropped).toEqual({});
        expect(imported.conversion.changed).toEqual({});
        const manifest = await first.json<{
          annotationCount: number;
          annotationsReceived: number;
          dropped: Record<string, number>;
        }>("manifest.json");
        // What came back is what the export wrote; the rest is exactly what it declared dropped.
        expect(imported.conversion.annotations).toBe(manifest.annotationCount);
        const declared = Object.values(manifest.dropped).reduce((a, b) => a + b, 0);
        expect(manifest.annotationsReceived - declared).toBe(imported.conversion.annotations);
        expect(imported.items.map((i) => [i.split, i.media?.fileName]).sort()).toEqual([
          ["", "street 01_1.jpg"],
          ["train", "=formula.png"],
          ["train", "street 01.jpg"],
          ["val", "자전거 사진.png"],
        ]);
        second = await runSampleExport(YoloExporter, {
          options,
          saveOriginalFile: true,
          fixture: fixtureOf(imported, upload),
        });
        const again = await uploadOf(second);
        expect(Object.keys(again)).toEqual(Object.keys(upload));
        const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString("utf8");
        let moved = 0;
        for (const [key, bytes] of Object.entries(upload)) {
          if (text(again[key]) === text(bytes)) continue;
          // A box the export clipped to the border is written as centre and size, each rounded to
          // 6 decimals, so its edge can lie 0.0000005 past the border; clipped again, its size can
          // move by one in the last decimal. Nothing else may differ.
          expect(key).toMatch(/^labels\//);
          const lines = (b: Uint8Array | undefined) => text(b).split("\n");
          lines(bytes).forEach((line, i) => {
            const other = lines(again[key])[i] ?? "";
            if (other === line) return;
            moved += 1;
            const values = line.split(" ").map(Number);
            other.split(" ").forEach((v, j) => {
              expect(Math.abs(Number(v) - (values[j] as number))).toBeLessThan(1.5e-6);
            });
          });
        }
        const changed = (await first.json<{ changed: Record<string, number> }>("manifest.json")).changed;
        expect(moved).toBeLessThanOrEqual(changed["bbox clipped to the image"] ?? 0);
      } finally {
        await first.cleanup();
        await second?.cleanup();
      }
    });
  }
});

// datumaro's Ultralytics writer: data.yaml naming train.txt / val.txt lists of ./images/<split>/ paths, real JPEGs.
const datumaroWrite = `
import sys, logging
logging.disable(logging.WARNING)
import numpy as np
import datumaro as dm
ds = dm.Dataset.from_iterable([
    dm.DatasetItem(id="a", subset="train", media=dm.Image.from_numpy(np.zeros((40, 60, 3), dtype=np.uint8)),
        annotations=[dm.Bbox(10, 5, 20, 10, label=0), dm.Bbox(0, 0, 60, 40, label=1)]),
    dm.DatasetItem(id="b", subset="val", media=dm.Image.from_numpy(np.zeros((30, 30, 3), dtype=np.uint8)),
        annotations=[dm.Bbox(3, 4, 5, 6, label=1)]),
], categories=["cat", "dog"])
ds.export(sys.argv[1], "yolo_ultralytics", save_media=True)
`;

describe("yolo written by datumaro", () => {
  it("imports datumaro's yolo_ultralytics export: list files, splits, boxes within the 6-decimal precision", async () => {
    const dir = await mkdtemp(join(tmpdir(), "yolo-datumaro-"));
    try {
      await runPython(datumaroWrite, [dir]);
      const files: Record<string, Uint8Array> = {};
      for (const key of await listFiles(dir)) files[key] = await readFile(join(dir, key));
      const run = await runSampleImport(YoloImporter, { files });
      expect(run.conversion.categories.map((c) => c.name)).toEqual(["cat", "dog"]);
      expect(run.conversion.dropped).toEqual({});
      const boxes = run.items.map((i) => [
        i.id,
        i.split,
        i.annotations.map((a) => {
          const box = a.geometry.value as { x: number; y: number; width: number; height: number };
          return [a.categoryId, ...[box.x, box.y, box.width, box.height].map((v) => Math.round(v * 1000) / 1000)];
        }),
      ]);
      expect(boxes).toEqual([
        [
          "a",
          "train",
          [
            [1, 10, 5, 20, 10],
            [2, 0, 0, 60, 40],
          ],
        ],
        ["b", "val", [[2, 3, 4, 5, 6]]],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
