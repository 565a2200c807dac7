import { crc32, deflateSync } from "node:zlib";
import CocoExporter, { instancesKey } from "@labelport/plugin-coco";
import { type Annotation, cropToImageMask, geometryJson, type Item } from "@labelport/sdk";
import { runSampleExport, runSampleImport, type SampleUpload, testImporter } from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import { runPythonJson } from "../../../test/support/python.ts";
import { LabelmeImporter, resolveImagePath } from "./importer.ts";
import { decodePngMask } from "./png-mask.ts";

/** A greyscale PNG (1 or 8 bits a pixel) where `set(x, y)` holds; filter 0 on every line. */
function encodePng(width: number, height: number, set: (x: number, y: number) => boolean, bitDepth: 1 | 8 = 1) {
  const stride = Math.ceil((width * bitDepth) / 8);
  const raw = Buffer.alloc(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!set(x, y)) continue;
      const at = y * (stride + 1) + 1;
      if (bitDepth === 8) raw[at + x] = 255;
      else raw[at + (x >> 3)] = (raw[at + (x >> 3)] as number) | (0x80 >> (x & 7));
    }
  }
  const chunk = (type: string, body: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(body.length, 0);
    head.write(type, 4, "latin1");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = bitDepth;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** COCO's column-major RLE by brute force, the reference for the crop encoder. */
function referenceRle(width: number, height: number, set: (x: number, y: number) => boolean): number[] {
  const counts: number[] = [];
  let value = false;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      if (set(x, y) !== value) {
        counts.push(run);
        value = !value;
        run = 0;
      }
      run += 1;
    }
  }
  counts.push(run);
  return counts;
}

const image = (width: number, height: number) => encodePng(width, height, () => false, 8);
const maskPixel = (x: number, y: number) => (x + y) % 3 === 0 || x === 1;

function shape(label: string, shape_type: string | null, points: number[][], extra: Record<string, unknown> = {}) {
  return { label, points, group_id: null, description: "", shape_type, flags: {}, mask: null, ...extra };
}

function labelme(imagePath: string, shapes: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    version: "5.5.0",
    flags: {},
    shapes,
    imagePath,
    imageData: null,
    imageHeight: 40,
    imageWidth: 60,
    ...extra,
  });
}

/**
 * labelme 5 as users zip it: a single top folder, JSON beside the image (upper-case .JPG), a JSON
 * in annotations/ naming ..\images\ with Windows backslashes, a JSON whose image is only in its
 * imageData, an image without JSON, and every shape type labelme writes.
 */
const labelme5: SampleUpload = {
  files: {
    "export/frame 1.json": labelme("frame 1.JPG", [
      shape("car", "rectangle", [
        [30, 20],
        [10, 5],
      ]),
      shape("road", "polygon", [
        [0, 30],
        [60, 30],
        [60, 40],
      ]),
      shape("lane", "line", [
        [0, 0],
        [10, 10],
      ]),
      shape("lane", "linestrip", [
        [0, 0],
        [10, 10],
        [20, 5],
      ]),
      shape("nose", "point", [[4, 4]], { group_id: 1, description: "tip", flags: { hidden: true } }),
      shape("wheel", "circle", [
        [20, 20],
        [25, 20],
      ]),
      shape(
        "blob",
        "mask",
        [
          [2, 1],
          [5, 3],
        ],
        { mask: encodePng(4, 3, maskPixel).toString("base64") },
      ),
      shape("road", "polygon", [
        [0, 0],
        [1, 1],
      ]),
      shape("", "rectangle", [
        [0, 0],
        [1, 1],
      ]),
      shape("person", "cuboid", [[0, 0]]),
    ]),
    "export/frame 1.JPG": image(60, 40),
    "export/annotations/b.json": labelme(
      "..\\images\\b.png",
      [
        shape("自転車", null, [
          [1, 1],
          [5, 1],
          [5, 5],
        ]),
      ],
      {
        flags: { night: true, rain: false },
      },
    ),
    "export/images/b.png": image(60, 40),
    "export/images/unlabelled.png": image(8, 6),
    "export/embedded.json": labelme(
      "C:\\Users\\someone\\Desktop\\embedded.png",
      [
        shape("car", "rectangle", [
          [1, 1],
          [3, 3],
        ]),
      ],
      { imageData: image(12, 9).toString("base64"), imageWidth: undefined, imageHeight: undefined },
    ),
  },
};

/** labelme 3 (shape_type absent: polygons) uploaded as one JSON, its image not in the upload. */
const labelme3Single: SampleUpload = {
  single: true,
  files: {
    "2011_000003.json": JSON.stringify({
      flags: {},
      shapes: [
        {
          label: "person",
          line_color: null,
          fill_color: null,
          points: [
            [1, 1],
            [9, 1],
            [9, 9],
          ],
        },
        {
          label: "person",
          line_color: null,
          fill_color: null,
          points: [
            [2, 2],
            [8, 2],
            [8, 8],
          ],
        },
      ],
      lineColor: [0, 255, 0, 128],
      fillColor: [255, 0, 0, 128],
      imagePath: "2011_000003.jpg",
      imageData: null,
    }),
  },
};

testImporter(LabelmeImporter, {
  samples: [
    {
      name: "a labelme 5 ZIP with every shape type",
      upload: labelme5,
      expected: { items: 4, annotations: 10, dropped: 3 },
    },
    { name: "a labelme 3 JSON on its own", upload: labelme3Single, expected: { items: 1, annotations: 2 } },
  ],
});

const byId = (items: Item[]) => new Map(items.map((item) => [item.id, item]));

describe("labelme import", () => {
  it("maps every shape type, resolves image paths and keeps labelme's fields as attributes", async () => {
    const { items, conversion, media } = await runSampleImport(LabelmeImporter, labelme5);
    expect(conversion.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "自転車"],
      [2, "night"],
      [3, "car"],
      [4, "road"],
      [5, "lane"],
      [6, "nose"],
      [7, "wheel"],
      [8, "blob"],
    ]);
    expect(conversion.dropped).toEqual({
      "polygon with fewer than 3 points": 1,
      "shape without a label": 1,
      "shape_type 'cuboid': not supported": 1,
    });
    expect(conversion.changed).toEqual({ "circle: stored as a 32-sided polygon": 1 });
    const found = byId(items);
    expect([...found.keys()]).toEqual([
      "export__images__b",
      "export__embedded",
      "export__frame 1",
      "export__images__unlabelled",
    ]);
    const frame = found.get("export__frame 1") as Item;
    expect(frame.media).toMatchObject({
      uri: "media/sample/export/frame 1.JPG",
      fileName: "export/frame 1.JPG",
      width: 60,
      height: 40,
    });
    const geometry = frame.annotations.map((a) => [a.id, a.categoryId, geometryJson(a)]);
    expect(geometry.slice(0, 5)).toEqual([
      ["export__frame 1:1", 3, { x: 10, y: 5, width: 20, height: 15 }],
      ["export__frame 1:2", 4, { points: [0, 30, 60, 30, 60, 40] }],
      ["export__frame 1:3", 5, { points: [0, 0, 10, 10] }],
      ["export__frame 1:4", 5, { points: [0, 0, 10, 10, 20, 5] }],
      ["export__frame 1:5", 6, { keypoints: [{ x: 4, y: 4, visibility: 2 }] }],
    ]);
    expect(frame.annotations[4]?.attributes).toEqual({ hidden: true, group_id: 1, description: "tip" });
    const [circle, maskAnnotation] = frame.annotations.slice(5) as [Annotation, Annotation];
    expect(circle.attributes).toEqual({ shape_type: "circle" });
    const circlePoints = (geometryJson(circle) as { points: number[] }).points;
    expect(circlePoints).toHaveLength(64);
    expect(circlePoints.slice(0, 4)).toEqual([25, 20, 24.904, 20.975]);
    const mask = geometryJson(maskAnnotation);
    expect(mask).toEqual({
      width: 60,
      height: 40,
      counts: referenceRle(60, 40, (x, y) => x >= 2 && x < 6 && y >= 1 && y < 4 && maskPixel(x - 2, y - 1)),
    });

    const b = found.get("export__images__b") as Item;
    expect(b.media?.fileName).toBe("export/images/b.png");
    expect(b.annotations.map((a) => [a.categoryId, geometryJson(a)])).toEqual([
      [1, { points: [1, 1, 5, 1, 5, 5] }],
      [2, null],
    ]);

    // Only in imageData, named by an absolute Windows path: stored beside the JSON, sized from its header.
    const embedded = found.get("export__embedded") as Item;
    expect(embedded.media).toMatchObject({
      uri: "media/sample/export/embedded.png",
      fileName: "export/embedded.png",
      width: 12,
      height: 9,
    });
    expect(media.get("export/embedded.png")).toBe("media/sample/export/embedded.png");

    const unlabelled = found.get("export__images__unlabelled") as Item;
    expect(unlabelled.annotations).toEqual([]);
    expect(unlabelled.media).toMatchObject({ width: 8, height: 6 });
    expect(conversion.notes).toEqual([
      "1 images stored from the JSON's imageData (the image file is not in the upload)",
      "1 images without a LabelMe JSON imported without annotations",
    ]);
  });

  it("finds an image by its file name when imagePath does not resolve (ann/ and img/ folders)", async () => {
    const upload = {
      files: {
        "ds/ann/IMG_0748.json": labelme("IMG_0748.jpeg", [
          shape("cat", "polygon", [
            [1, 1],
            [5, 1],
            [5, 5],
          ]),
        ]),
        "ds/img/IMG_0748.jpeg": image(60, 40),
      },
    };
    const { items, conversion } = await runSampleImport(LabelmeImporter, upload);
    expect(items.map((i) => [i.id, i.media?.uri, i.annotations.length])).toEqual([
      ["ds__img__IMG_0748", "media/sample/ds/img/IMG_0748.jpeg", 1],
    ]);
    expect(conversion.notes).toEqual([]);
  });

  it("keeps image flags as item meta when asked", async () => {
    const { items } = await runSampleImport(LabelmeImporter, labelme5, { options: { flags: "meta" } });
    const b = byId(items).get("export__images__b") as Item;
    expect(b.meta).toEqual({ flags: { night: true, rain: false } });
    expect(b.annotations).toHaveLength(1);
  });

  it("says which image is missing and which file or shape is unreadable", async () => {
    const { items, conversion } = await runSampleImport(LabelmeImporter, labelme3Single);
    expect(items[0]?.media).toMatchObject({ uri: "2011_000003.jpg", width: 0, height: 0 });
    expect(conversion.notes).toContain(
      "1 images are neither in the upload nor in imageData: media.uri is the imagePath",
    );
    await expect(runSampleImport(LabelmeImporter, { files: { "a/x.json": "{ shapes: [" } })).rejects.toThrow(
      /^a\/x\.json: not valid JSON/,
    );
    const badPoints = labelme("x.png", [{ label: "a", points: [[1, "2"]], shape_type: "polygon" }]);
    await expect(runSampleImport(LabelmeImporter, { files: { "x.json": badPoints } })).rejects.toThrow(
      "x.json: shapes[0].points must be a list of [x, y] numbers",
    );
    await expect(
      runSampleImport(LabelmeImporter, { files: { "instances.json": JSON.stringify({ images: [] }) } }),
    ).rejects.toThrow('no LabelMe file in the upload: instances.json have no "shapes" list');
  });

  it("resolves imagePath relative to the JSON, with backslashes, and never outside the upload", () => {
    expect(resolveImagePath("a/ann/x.json", "..\\img\\x.jpg")).toBe("a/img/x.jpg");
    expect(resolveImagePath("x.json", "./x.jpg")).toBe("x.jpg");
    expect(resolveImagePath("x.json", "../../elsewhere/x.jpg")).toBe("x.jpg");
    expect(resolveImagePath("d/x.json", "/home/me/x.jpg")).toBe("d/x.jpg");
    expect(resolveImagePath("d/x.json", "D:\\data\\x.jpg")).toBe("d/x.jpg");
    expect(resolveImagePath("d/x.json", undefined)).toBe("d/x");
  });
});

describe("labelme masks", () => {
  it("decodes 1-bit and 8-bit PNGs and places the crop in the image, clipping what falls outside", () => {
    for (const depth of [1, 8] as const) {
      const bitmap = decodePngMask(encodePng(13, 5, maskPixel, depth));
      expect(bitmap.width).toBe(13);
      expect([...bitmap.bits]).toEqual(
        Array.from({ length: 65 }, (_, i) => (maskPixel(i % 13, Math.floor(i / 13)) ? 1 : 0)),
      );
    }
    // A header smaller than its data (as a decompression bomb has) is refused, not inflated whole.
    const bomb = encodePng(13, 5, maskPixel, 8);
    bomb.writeUInt32BE(2, 16);
    bomb.writeUInt32BE(2, 20);
    expect(() => decodePngMask(bomb)).toThrow("PNG image data does not inflate to the size its header gives");
    const bits = new Uint8Array(4 * 3).fill(1);
    const placed = cropToImageMask({ bits, width: 4, height: 3, left: 8, top: -1 }, 10, 5);
    expect(placed).toEqual({
      width: 10,
      height: 5,
      counts: referenceRle(10, 5, (x, y) => x >= 8 && y < 2),
      clipped: 8,
    });
    expect(cropToImageMask({ bits: new Uint8Array(4), width: 2, height: 2, left: 0, top: 0 }, 3, 3).counts).toEqual([
      9,
    ]);
  });
});

describe("labelme -> import -> COCO export", () => {
  it("pycocotools loads the export with every imported annotation COCO can carry", async () => {
    const imported = await runSampleImport(LabelmeImporter, labelme5);
    const run = await runSampleExport(CocoExporter, {
      fixture: {
        dataset: { id: "ds-labelme", name: "labelme", categories: imported.conversion.categories },
        items: [...imported.items].sort((a, b) => (a.id < b.id ? -1 : 1)),
        media: new Map(),
      },
    });
    try {
      const counts = run.result.counts;
      const dropped = counts.dropped.reduce((sum, d) => sum + Number(d.count), 0);
      expect(Number(counts.receivedAnnotations)).toBe(imported.conversion.annotations);
      const read = await runPythonJson<{
        images: number;
        annotations: number;
        categories: number[];
        boxes: number[][];
      }>(
        `
import contextlib, json, sys
from pycocotools.coco import COCO
with contextlib.redirect_stdout(sys.stderr):
    coco = COCO(sys.argv[1])
anns = coco.loadAnns(coco.getAnnIds())
for a in anns:
    if a["segmentation"]:
        coco.annToMask(a)
boxes = [a["bbox"] for a in anns if a["category_id"] == 3]
print(json.dumps({"images": len(coco.getImgIds()), "annotations": len(anns), "categories": sorted(coco.getCatIds()), "boxes": boxes}))
`,
        [`${run.dir}/${instancesKey("default")}`],
      );
      expect(read).toEqual({
        images: imported.items.length,
        annotations: imported.conversion.annotations - dropped,
        categories: [1, 2, 3, 4, 5, 6, 7, 8],
        boxes: [
          [1, 1, 2, 2],
          [10, 5, 20, 15],
        ],
      });
    } finally {
      await run.cleanup();
    }
  }, 600_000);
});
