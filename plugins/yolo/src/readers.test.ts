// YOLO read back outside our code: PyYAML for data.yaml, and a small Python reader of the label
// files that checks the format the way Ultralytics' loader does (class in range, 5 columns or an
// even number of points, coordinates normalised) and turns boxes back into pixels.
import { runSampleExport, type SampleExport } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePythonTools, runPythonJson } from "../../../test/support/python.ts";
import YoloExporter from "./index.ts";

const reader = `
import json, os, sys, yaml
root = sys.argv[1]
sizes = json.loads(sys.argv[2])
with open(os.path.join(root, "data.yaml"), encoding="utf-8") as f:
    data = yaml.safe_load(f)
names = data["names"]
assert isinstance(names, dict) and all(isinstance(k, int) for k in names), names
out = {"data": {k: v for k, v in data.items() if k != "names"}, "names": {str(k): v for k, v in names.items()}, "labels": {}}
for split in ("train", "val", "test", "default"):
    if split in ("train", "val", "test") and split not in data:
        continue
    labels_dir = os.path.join(root, "labels", split)
    if not os.path.isdir(labels_dir):
        continue
    for dirpath, _, files in os.walk(labels_dir):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, os.path.join(root, "labels"))
            width, height = sizes[rel]
            objects = []
            with open(path, encoding="utf-8") as f:
                for line in f.read().splitlines():
                    parts = line.split()
                    cls = int(parts[0])
                    assert 0 <= cls < len(names), line
                    values = [float(v) for v in parts[1:]]
                    assert all(0.0 <= v <= 1.0 for v in values), line
                    if len(values) == 4:
                        cx, cy, w, h = values
                        objects.append([names[cls], round((cx - w / 2) * width, 2), round((cy - h / 2) * height, 2), round(w * width, 2), round(h * height, 2)])
                    else:
                        assert len(values) >= 6 and len(values) % 2 == 0, line
                        objects.append([names[cls]] + [round(v * (width if i % 2 == 0 else height), 2) for i, v in enumerate(values)])
            out["labels"][rel] = objects
print(json.dumps(out, ensure_ascii=False))
`;

const sizes = {
  "default/street 01_1.txt": [640, 480],
  "train/street 01.txt": [640, 480],
  "train/=formula.txt": [100, 100],
  "val/자전거 사진.txt": [320, 240],
};

describe("yolo read by independent readers", () => {
  let run: SampleExport;
  beforeAll(async () => {
    await ensurePythonTools();
    run = await runSampleExport(YoloExporter, { saveOriginalFile: true });
  }, 900_000);
  afterAll(() => run?.cleanup());

  it("reads data.yaml with PyYAML and the labels back to pixel boxes", async () => {
    const read = await runPythonJson<{
      data: Record<string, unknown>;
      names: Record<string, string>;
      labels: Record<string, unknown[][]>;
    }>(reader, [run.dir, JSON.stringify(sizes)]);
    expect(read.data).toEqual({ path: ".", train: "images/train", val: "images/val", nc: 5 });
    expect(read.names).toEqual({
      "0": "person",
      "1": "car",
      "2": "自転車",
      "3": "road",
      "4": 'sign & <signal> "stop", red',
    });
    expect(read.labels).toEqual({
      "default/street 01_1.txt": [],
      "train/=formula.txt": [['sign & <signal> "stop", red', 0, 0, 40, 30]],
      "train/street 01.txt": [
        ["car", 10, 20, 100, 50],
        // Clipped to the image: 600..640 x 400..480.
        ["person", 600, 400, 40, 80],
      ],
      // 6-decimal rounding moves this box by at most half a millionth of the image.
      "val/자전거 사진.txt": [["自転車", 12.5, 30.25, 80, 60.75]],
    });
  });
});
