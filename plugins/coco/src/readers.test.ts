// COCO read back by independent readers: pycocotools (the reference API) and datumaro.
import { maskArea } from "@labelport/sdk";
import { runSampleExport, type SampleExport } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePythonTools, runPythonJson } from "../../../test/support/python.ts";
import CocoExporter, { instancesKey } from "./index.ts";
import { DISK, EMPTY, FULL, HEIGHT, maskDataset, RECTANGLE, WIDTH, WRAPPING } from "./mask-fixture.ts";

const pycocotools = `
import contextlib, json, sys
from pycocotools.coco import COCO
out = {}
for path in sys.argv[1:]:
    with contextlib.redirect_stdout(sys.stderr):  # COCO() prints progress
        coco = COCO(path)
    anns = coco.loadAnns(coco.getAnnIds())
    out[path.rsplit("/", 1)[-1]] = {
        "images": len(coco.getImgIds()),
        "annotations": len(anns),
        "categories": sorted(coco.getCatIds()),
        "perImage": {str(i): len(coco.getAnnIds(imgIds=[i])) for i in coco.getImgIds()},
        "bbox": {str(a["id"]): a["bbox"] for a in anns},
        "area": {str(a["id"]): a["area"] for a in anns},
        "maskPixels": {str(a["id"]): int(coco.annToMask(a).sum()) for a in anns if a["segmentation"]},
        "keypointCats": [c["id"] for c in coco.loadCats(coco.getCatIds()) if c.get("keypoints")],
    }
print(json.dumps(out))
`;

const datumaro = `
import json, sys, logging
logging.disable(logging.WARNING)
from datumaro.components.dataset import Dataset
ds = Dataset.import_from(sys.argv[1], "coco_instances")
labels = [l.name for l in ds.categories()[__import__("datumaro").AnnotationType.label]]
out = {"labels": labels, "subsets": {}}
for name in sorted(ds.subsets()):
    subset = ds.get_subset(name)
    out["subsets"][name] = {
        "items": len(subset),
        "annotations": sum(len(item.annotations) for item in subset),
        "types": sorted({a.type.name for item in subset for a in item.annotations}),
    }
print(json.dumps(out))
`;

describe("coco read by independent readers", () => {
  let run: SampleExport;
  beforeAll(async () => {
    await ensurePythonTools();
    // datumaro looks for the images/ folder next to annotations/.
    run = await runSampleExport(CocoExporter, { saveOriginalFile: true });
  }, 900_000);
  afterAll(() => run?.cleanup());

  it("loads in pycocotools with the same counts, ids, boxes and areas; annToMask works", async () => {
    const keys = ["default", "train", "val"].map(instancesKey);
    const read = await runPythonJson<Record<string, Record<string, unknown>>>(
      pycocotools,
      keys.map((k) => `${run.dir}/${k}`),
    );
    expect(read["instances_default.json"]).toMatchObject({ images: 1, annotations: 0 });
    expect(read["instances_val.json"]).toMatchObject({ images: 1, annotations: 1 });
    const train = read["instances_train.json"] as {
      images: number;
      annotations: number;
      categories: number[];
      perImage: Record<string, number>;
      bbox: Record<string, number[]>;
      area: Record<string, number>;
      maskPixels: Record<string, number>;
      keypointCats: number[];
    };
    expect(train).toMatchObject({ images: 3, annotations: 7, categories: [1, 2, 3, 5, 9], keypointCats: [1] });
    expect(train.perImage).toEqual({ "1": 4, "2": 2, "3": 1 });
    expect(train.bbox["1"]).toEqual([10, 20, 100, 50]);
    expect(train.area["3"]).toBe(36000);
    expect(train.area["6"]).toBe(800);
    // Rasterised polygons cover about their area (pixel-centre sampling moves the edges).
    expect(Math.abs((train.maskPixels["3"] ?? 0) - 36000) / 36000).toBeLessThan(0.02);
    expect(Math.abs((train.maskPixels["6"] ?? 0) - 800) / 800).toBeLessThan(0.1);
  });

  it("imports in datumaro with the same subsets, items and annotations", async () => {
    const read = await runPythonJson<{
      labels: string[];
      subsets: Record<string, { items: number; annotations: number; types: string[] }>;
    }>(datumaro, [run.dir]);
    expect(read.labels).toEqual(["person", "car", "自転車", "road", 'sign & <signal> "stop", red']);
    expect(read.subsets.default).toEqual({ items: 1, annotations: 0, types: [] });
    expect(read.subsets.val).toMatchObject({ items: 1, annotations: 1 });
    expect(read.subsets.train?.items).toBe(3);
    // 7 objects, plus the box datumaro derives from each of the 2 polygons.
    expect(read.subsets.train?.annotations).toBe(9);
    expect(read.subsets.train?.types).toEqual(expect.arrayContaining(["bbox", "polygon"]));
  });
});

// Each mask as pycocotools rasterises it (annToMask at the image's size), as runs again.
const pycocotoolsMasks = `
import contextlib, json, sys
import numpy as np
from pycocotools import mask as M
from pycocotools.coco import COCO
with contextlib.redirect_stdout(sys.stderr):
    coco = COCO(sys.argv[1])
out = []
for a in coco.loadAnns(coco.getAnnIds()):
    pixels = coco.annToMask(a)
    flat = pixels.flatten(order="F")
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    out.append({
        "id": a["id"],
        "rle": isinstance(a["segmentation"], dict),
        "iscrowd": a["iscrowd"],
        "shape": list(pixels.shape),
        "counts": np.diff(np.concatenate([[0], edges])).tolist(),
        "pixels": int(pixels.sum()),
        "area": float(M.area(coco.annToRLE(a))),
        "bbox": [float(v) for v in M.toBbox(coco.annToRLE(a))],
        "written": {"area": a["area"], "bbox": a["bbox"]},
    })
print(json.dumps(out))
`;

const datumaroMasks = `
import json, sys, logging
logging.disable(logging.WARNING)
from datumaro.components.dataset import Dataset
ds = Dataset.import_from(sys.argv[1], "coco_instances")
out = {}
for item in ds:
    for a in item.annotations:
        if a.type.name == "mask":
            out.setdefault(item.id, []).append({"pixels": int(a.image.sum()), "crowd": a.attributes.get("is_crowd")})
# datumaro keeps its own order of annotations: compare as sorted lists.
print(json.dumps({k: sorted(v, key=lambda m: m["pixels"]) for k, v in out.items()}))
`;

describe.each([
  ["list counts", {}],
  ["compressed strings", { compressRle: true }],
])("coco masks (%s) read by independent readers", (_, options) => {
  let run: SampleExport;
  beforeAll(async () => {
    await ensurePythonTools();
    run = await runSampleExport(CocoExporter, { fixture: maskDataset(), options, saveOriginalFile: true });
  }, 900_000);
  afterAll(() => run?.cleanup());

  it("pycocotools rasterises every mask to its pixels; area and bbox match what was written", async () => {
    const read = await runPythonJson<
      Array<{
        id: number;
        rle: boolean;
        iscrowd: number;
        shape: number[];
        counts: number[];
        pixels: number;
        area: number;
        bbox: number[];
        written: { area: number; bbox: number[] };
      }>
    >(pycocotoolsMasks, [`${run.dir}/${instancesKey("train")}`]);
    const masks = read.filter((a) => a.rle);
    expect(masks.map((m) => [m.id, m.iscrowd])).toEqual([
      [1, 1],
      [2, 0],
      [5, 1],
      [6, 1],
      [7, 1],
    ]);
    [RECTANGLE, DISK, WRAPPING, FULL, EMPTY].forEach((mask, i) => {
      const m = masks[i] as (typeof masks)[number];
      expect(m.shape).toEqual([HEIGHT, WIDTH]);
      expect(m.counts, `mask ${m.id}`).toEqual(mask.counts);
      expect(m.pixels).toBe(m.written.area);
      expect(m.area).toBe(m.written.area);
      expect(m.bbox).toEqual(m.written.bbox);
    });
  });

  it("datumaro imports the masks with their pixels and crowd flags", async () => {
    const read = await runPythonJson<Record<string, Array<{ pixels: number; crowd: boolean }>>>(datumaroMasks, [
      run.dir,
    ]);
    expect(read).toEqual({
      "img-1": [
        { pixels: maskArea(RECTANGLE), crowd: true },
        { pixels: maskArea(DISK), crowd: false },
      ],
      "img-2": [
        { pixels: 0, crowd: true },
        { pixels: maskArea(WRAPPING), crowd: true },
        { pixels: WIDTH * HEIGHT, crowd: true },
      ],
    });
  });
});
