// VOC read back by independent readers: Python's xml.etree (a strict XML 1.0 parser) and datumaro.
import { runSampleExport, type SampleExport } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePythonTools, runPythonJson } from "../../../test/support/python.ts";
import VocExporter from "./index.ts";

const etree = `
import json, os, sys
import xml.etree.ElementTree as ET
root = sys.argv[1]
out = {}
for split in sorted(os.listdir(os.path.join(root, "ImageSets", "Main"))):
    with open(os.path.join(root, "ImageSets", "Main", split), encoding="utf-8") as f:
        for stem in f.read().splitlines():
            doc = ET.parse(os.path.join(root, "Annotations", stem + ".xml")).getroot()
            size = doc.find("size")
            out[stem] = {
                "split": split[:-4],
                "filename": doc.findtext("filename"),
                "size": [int(size.findtext(k)) for k in ("width", "height", "depth")],
                "objects": [
                    [o.findtext("name"), int(o.findtext("truncated")), int(o.findtext("difficult"))]
                    + [int(o.find("bndbox").findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
                    for o in doc.findall("object")
                ],
            }
print(json.dumps(out, ensure_ascii=False))
`;

// Every split the devkit importer finds, read as VOC's 1-based pixels (coordinate_mode), with
// the image path datumaro resolves for each item and whether that file exists.
const datumaro = `
import json, os, sys, logging
logging.disable(logging.WARNING)
import datumaro as dm
ds = dm.Dataset.import_from(sys.argv[1], "voc_detection", coordinate_mode="voc-one-based")
labels = [l.name for l in ds.categories()[dm.AnnotationType.label]]
out = {"labels": labels, "subsets": sorted(ds.subsets().keys()), "items": {}, "images": {}}
for item in ds:
    key = item.subset + "/" + item.id
    out["items"][key] = sorted(
        [labels[a.label], a.attributes.get("difficult"), a.attributes.get("truncated")] + [round(v, 3) for v in a.get_bbox()]
        for a in item.annotations if a.type == dm.AnnotationType.bbox
    )
    path = item.media.path if item.media is not None else ""
    out["images"][key] = [os.path.relpath(path, sys.argv[1]), os.path.isfile(path)]
print(json.dumps(out, ensure_ascii=False))
`;

describe("voc read by independent readers", () => {
  let run: SampleExport;
  beforeAll(async () => {
    await ensurePythonTools();
    run = await runSampleExport(VocExporter, { saveOriginalFile: true });
  }, 900_000);
  afterAll(() => run?.cleanup());

  it("parses every listed file with xml.etree", async () => {
    const read = await runPythonJson<Record<string, unknown>>(etree, [run.dir]);
    expect(read).toEqual({
      "street 01_1": { split: "default", filename: "street 01_1.jpg", size: [640, 480, 3], objects: [] },
      "street 01": {
        split: "train",
        filename: "street 01.jpg",
        size: [640, 480, 3],
        objects: [
          ["car", 0, 1, 11, 21, 110, 70],
          ["person", 1, 0, 601, 401, 640, 480],
          ["road", 1, 0, 1, 301, 200, 480],
        ],
      },
      "=formula": {
        split: "train",
        filename: "=formula.png",
        size: [100, 100, 3],
        objects: [
          ['sign & <signal> "stop", red', 1, 0, 1, 1, 40, 30],
          ["自転車", 0, 0, 51, 51, 90, 90],
        ],
      },
      "자전거 사진": {
        split: "val",
        filename: "자전거 사진.png",
        size: [320, 240, 3],
        objects: [["自転車", 0, 0, 14, 31, 93, 91]],
      },
    });
  });

  it("imports every split in datumaro, with the copied images and boxes within 0.5 px of the source", async () => {
    const read = await runPythonJson<{
      labels: string[];
      subsets: string[];
      items: Record<string, Array<[string, boolean, boolean, number, number, number, number]>>;
      images: Record<string, [string, boolean]>;
    }>(datumaro, [run.dir]);
    expect(read.labels).toEqual(["background", "person", "car", "自転車", "road", 'sign & <signal> "stop", red']);
    expect(read.subsets).toEqual(["default", "train", "val"]);
    expect(read.images).toEqual({
      "default/street 01_1": ["JPEGImages/street 01_1.jpg", true],
      "train/=formula": ["JPEGImages/=formula.png", true],
      "train/street 01": ["JPEGImages/street 01.jpg", true],
      "val/자전거 사진": ["JPEGImages/자전거 사진.png", true],
    });
    // The source boxes each written object came from, clipped to the image (x, y, width, height).
    const source: Record<string, Array<[string, number, number, number, number]>> = {
      "default/street 01_1": [],
      "train/street 01": [
        ["car", 10, 20, 100, 50],
        ["person", 600, 400, 40, 80],
        ["road", 0, 300, 200, 180],
      ],
      "train/=formula": [
        ['sign & <signal> "stop", red', 0, 0, 40, 30],
        ["自転車", 50, 50, 40, 40],
      ],
      "val/자전거 사진": [["自転車", 12.5, 30.25, 80, 60.75]],
    };
    expect(Object.keys(read.items).sort()).toEqual(Object.keys(source).sort());
    for (const [key, boxes] of Object.entries(source)) {
      const got = read.items[key] ?? [];
      expect(got.map((b) => b[0]).sort(), key).toEqual(boxes.map((b) => b[0]).sort());
      for (const [label, x, y, w, h] of boxes) {
        const match = got.find((b) => b[0] === label);
        if (!match) throw new Error(`${key}: no ${label}`);
        const [, , , gx, gy, gw, gh] = match;
        for (const [a, b] of [
          [gx, x],
          [gy, y],
          [gx + gw, x + w],
          [gy + gh, y + h],
        ] as const) {
          expect(Math.abs(a - b), `${key} ${label}`).toBeLessThanOrEqual(0.5);
        }
      }
    }
    expect(read.items["train/street 01"]?.find((b) => b[0] === "car")?.slice(1, 3)).toEqual([true, false]);
    expect(read.items["train/street 01"]?.find((b) => b[0] === "person")?.slice(1, 3)).toEqual([false, true]);
  });
});
