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

const datumaro = `
import json, sys, logging
logging.disable(logging.WARNING)
import datumaro as dm
ds = dm.Dataset.import_from(sys.argv[1], "voc_detection")
labels = [l.name for l in ds.categories()[dm.AnnotationType.label]]
out = {"labels": labels, "items": {}}
for item in ds:
    out["items"][item.subset + "/" + item.id] = sorted(
        [labels[a.label], a.attributes.get("difficult"), a.attributes.get("truncated")] + [round(v, 2) for v in a.get_bbox()]
        for a in item.annotations if a.type == dm.AnnotationType.bbox
    )
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
        ],
      },
      "=formula": {
        split: "train",
        filename: "=formula.png",
        size: [100, 100, 3],
        objects: [['sign & <signal> "stop", red', 1, 0, 1, 1, 40, 30]],
      },
      "자전거 사진": {
        split: "val",
        filename: "자전거 사진.png",
        size: [320, 240, 3],
        objects: [["自転車", 0, 0, 13, 31, 93, 91]],
      },
    });
  });

  it("imports in datumaro with the same items, labels and boxes", async () => {
    const read = await runPythonJson<{ labels: string[]; items: Record<string, unknown[]> }>(datumaro, [run.dir]);
    expect(read.labels).toEqual(["background", "person", "car", "自転車", "road", 'sign & <signal> "stop", red']);
    expect(Object.keys(read.items).sort()).toEqual([
      "default/street 01_1",
      "train/=formula",
      "train/street 01",
      "val/자전거 사진",
    ]);
    // datumaro takes the 1-based corners as they are (x = xmin, width = xmax - xmin).
    expect(read.items).toEqual({
      "default/street 01_1": [],
      "train/street 01": [
        ["car", true, false, 11, 21, 99, 49],
        ["person", false, true, 601, 401, 39, 79],
      ],
      "train/=formula": [['sign & <signal> "stop", red', false, true, 1, 1, 39, 29]],
      "val/자전거 사진": [["自転車", false, false, 13, 31, 80, 60]],
    });
  });
});
