// YOLO read back outside our code: a small Python reader that follows Ultralytics' rules. The
// dataset root and split folders resolve as check_det_dataset does (ultralytics/data/utils.py:
// `path` or else the YAML's folder, then each split relative to it), images are found as its
// loader does (recursively, by image suffix) and each image's label file is
// img2label_paths(): the last /images/ in the path becomes /labels/ and the suffix .txt. Labels
// are checked as its verify_image_label does (class in range, 5 columns or an even number of
// points, coordinates normalised) and turned back into pixels.
import { relative } from "node:path";
import { runSampleExport, type SampleExport } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePythonTools, runPythonJson } from "../../../test/support/python.ts";
import YoloExporter from "./index.ts";

const reader = `
import json, os, sys, yaml
from pathlib import Path
yaml_file, sizes = sys.argv[1], json.loads(sys.argv[2])
with open(yaml_file, encoding="utf-8") as f:
    data = yaml.safe_load(f)
data["yaml_file"] = yaml_file
names = data["names"]
assert isinstance(names, dict) and all(isinstance(k, int) for k in names), names
assert "train" in data and "val" in data, data
root = Path(data.get("path") or Path(data["yaml_file"]).parent)
assert root.exists(), root
IMG_FORMATS = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
reserved = {"path", "nc", "names", "download", "yaml_file", "channels", "kpt_shape", "flip_idx"}
out = {"keys": {}, "labels": {}, "images": 0}
for key, value in data.items():
    if key in reserved:
        continue
    folder = (root / value).resolve()
    assert folder.is_dir(), (key, folder)
    images = sorted(p for p in folder.rglob("*.*") if p.suffix[1:].lower() in IMG_FORMATS)
    out["keys"][key] = value
    for image in images:
        out["images"] += 1
        label = Path(sb.join(str(image).rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt")
        rel = label.relative_to((root / "labels").resolve()).as_posix()
        width, height = sizes[rel]
        objects = []
        for line in label.read_text(encoding="utf-8").splitlines():
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

describe("yolo read by the Ultralytics rules", () => {
  let run: SampleExport;
  beforeAll(async () => {
    await ensurePythonTools();
    run = await runSampleExport(YoloExporter, { saveOriginalFile: true });
  }, 900_000);
  afterAll(() => run?.cleanup());

  it("reaches every image and label file from data.yaml, its paths resolved from the YAML's folder", async () => {
    // As `yolo train data=<relative path>` from another working directory gives it.
    const yamlFile = relative(process.cwd(), `${run.dir}/data.yaml`);
    expect(yamlFile.startsWith("..") || yamlFile.includes("/")).toBe(true);
    const read = await runPythonJson<{
      keys: Record<string, string>;
      images: number;
      labels: Record<string, unknown[][]>;
    }>(reader, [yamlFile, JSON.stringify(sizes)]);
    expect(read.keys).toEqual({ train: "images/train", val: "images/val", default: "images/default" });
    const labelFiles = (await run.files()).filter((f) => f.startsWith("labels/")).map((f) => f.slice(7));
    expect(Object.keys(read.labels).sort()).toEqual(labelFiles.sort());
    expect(read.images).toBe(labelFiles.length);
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
