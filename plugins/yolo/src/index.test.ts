import { runSampleExport, type SampleExport, testExporter } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import YoloExporter, { CLASSES_TXT_KEY, DATA_YAML_KEY, dataYaml, yoloBoxLine, yoloPolygonLine } from "./index.ts";

testExporter(YoloExporter);

describe("yolo lines", () => {
  it("normalises boxes to the image with 6 decimals", () => {
    expect(yoloBoxLine(1, { x: 10, y: 20, width: 100, height: 50 }, 640, 480)).toEqual({
      line: "1 0.093750 0.093750 0.156250 0.104167",
      clipped: false,
    });
  });

  it("clips boxes to the image and drops boxes outside it", () => {
    expect(yoloBoxLine(0, { x: -10, y: 400, width: 60, height: 100 }, 640, 480)).toEqual({
      // Centre and size rounded apart would put the bottom edge past 1 (0.916667 + 0.0833335): the size gives way.
      line: "0 0.039063 0.916667 0.078125 0.166666",
      clipped: true,
    });
    expect(yoloBoxLine(0, { x: 700, y: 0, width: 10, height: 10 }, 640, 480)).toBeNull();
  });

  it("writes polygons and boxes as YOLO-seg points", () => {
    expect(yoloPolygonLine(3, [0, 0, 320, 0, 320, 480], 640, 480)?.line).toBe(
      "3 0.000000 0.000000 0.500000 0.000000 0.500000 1.000000",
    );
    expect(yoloBoxLine(2, { x: 0, y: 0, width: 64, height: 48 }, 640, 480, true)?.line).toBe(
      "2 0.000000 0.000000 0.100000 0.000000 0.100000 0.100000 0.000000 0.100000",
    );
    expect(yoloPolygonLine(3, [0, 0, 1, 1], 640, 480)).toBeNull();
  });
});

describe("yolo export of the sample dataset", () => {
  let run: SampleExport;
  beforeAll(async () => {
    run = await runSampleExport(YoloExporter);
  });
  afterAll(() => run.cleanup());

  it("writes one label file per sized image, empty for background images", async () => {
    expect((await run.files()).filter((f) => f.startsWith("labels/"))).toEqual([
      "labels/default/street 01_1.txt",
      "labels/train/=formula.txt",
      "labels/train/street 01.txt",
      "labels/val/자전거 사진.txt",
    ]);
    expect(await run.text("labels/default/street 01_1.txt")).toBe("");
    // Class ids follow category ids 1, 2, 3, 5, 9 -> 0..4; the person box is clipped.
    expect(await run.text("labels/train/street 01.txt")).toBe(
      "1 0.093750 0.093750 0.156250 0.104167\n0 0.968750 0.916667 0.062500 0.166666\n",
    );
    expect(await run.text("labels/train/=formula.txt")).toBe("4 0.200000 0.150000 0.400000 0.300000\n");
  });

  it("writes data.yaml without `path`, every split, names as an id map in class order, and classes.txt", async () => {
    const text = await run.text(DATA_YAML_KEY);
    expect(text.startsWith("# Paths are relative to this file")).toBe(true);
    expect(parse(text)).toEqual({
      train: "images/train",
      val: "images/val",
      default: "images/default",
      nc: 5,
      names: { 0: "person", 1: "car", 2: "自転車", 3: "road", 4: 'sign & <signal> "stop", red' },
    });
    expect(await run.text(CLASSES_TXT_KEY)).toBe(`person\ncar\n自転車\nroad\nsign & <signal> "stop", red\n`);
  });

  it("counts what it wrote: label lines == annotationCount; drops and clips by reason", async () => {
    const labels = (await run.files()).filter((f) => f.startsWith("labels/"));
    let lines = 0;
    for (const file of labels) lines += (await run.text(file)).split("\n").filter(Boolean).length;
    expect(lines).toBe(4);
    expect(await run.json("manifest.json")).toMatchObject({
      annotationCount: lines,
      annotationsReceived: 12,
      dropped: {
        "classification: YOLO detection has no image-level labels": 1,
        "image without width/height: YOLO normalises by the image size": 1,
        "keypoints: YOLO pose is not supported": 1,
        "polygon: set segmentation: true to export polygons": 2,
        "polyline: YOLO has no polylines": 1,
        "video: YOLO has no video": 2,
      },
      changed: { "bbox clipped to the image": 1 },
    });
    expect(run.result.formatNotes).toEqual([
      "1 images have no width/height and were skipped (YOLO normalises by size)",
      "attributes: dropped from 2 annotations (YOLO has no attributes)",
      "video: 1 items not exported (YOLO has no video)",
    ]);
  });
});

describe("yolo data.yaml splits", () => {
  it("falls back to the unsplit items for train and val, and lists other splits by name", () => {
    expect(parse(dataYaml(new Set(["default"]), []))).toEqual({
      train: "images/default",
      val: "images/default",
      nc: 0,
      names: {},
    });
    expect(parse(dataYaml(new Set(["train", "validation", "holdout", "names", "default"]), []))).toEqual({
      train: "images/train",
      val: "images/validation",
      default: "images/default",
      holdout: "images/holdout",
      // A split named like a data.yaml setting keeps its folder under another key.
      split_names: "images/names",
      nc: 0,
      names: {},
    });
  });
});

describe("yolo segmentation and category folders", () => {
  it("writes polygons as YOLO-seg lines under meta.category folders", async () => {
    const run = await runSampleExport(YoloExporter, {
      options: { segmentation: true, categoryFolders: true },
      saveOriginalFile: true,
    });
    try {
      const files = await run.files();
      expect(files).toContain("labels/train/1. 자연/street 01.txt");
      expect(files).toContain("images/train/1. 자연/street 01.jpg");
      const lines = (await run.text("labels/train/1. 자연/street 01.txt")).trim().split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[2]).toBe("3 0.000000 0.625000 0.312500 0.625000 0.312500 1.000000 0.000000 1.000000");
      expect(lines[0]?.split(" ")).toHaveLength(9);
      const manifest = await run.json<{ annotationCount: number; dropped: Record<string, number> }>("manifest.json");
      expect(manifest.annotationCount).toBe(6);
      expect(manifest.dropped["polygon: set segmentation: true to export polygons"]).toBeUndefined();
    } finally {
      await run.cleanup();
    }
  });
});
