import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import CocoExporter, { instancesKey } from "@labelport/plugin-coco";
import { type Annotation, geometryJson, type Item, maskArea, openImportSource } from "@labelport/sdk";
import {
  listFiles,
  runSampleExport,
  runSampleImport,
  type SampleUpload,
  testImporter,
  writeSampleUpload,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import { runPython, runPythonJson } from "../../../test/support/python.ts";
import { CvatImporter } from "./importer.ts";

/** An 8x6 greyscale PNG (PIL's): the XML gives the sizes, the bytes only have to be an image. */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAgAAAAGCAAAAADbboAnAAAADElEQVR4nGNgIAcAAAA2AAG2dLktAAAAAElFTkSuQmCC",
  "base64",
);

/** CVAT for images 1.1 as a task export writes it (labels with typed attributes, a skeleton with sub-labels). */
const taskXml = `\uFEFF<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>7</id>
      <name>street</name>
      <size>3</size>
      <mode>annotation</mode>
      <labels>
        <label>
          <name>car</name>
          <color>#fa3253</color>
          <type>any</type>
          <attributes>
            <attribute><name>parked</name><mutable>False</mutable><input_type>checkbox</input_type><default_value>false</default_value><values>false</values></attribute>
            <attribute><name>doors</name><mutable>False</mutable><input_type>number</input_type><default_value>2</default_value><values>2
5
1</values></attribute>
            <attribute><name>color</name><mutable>True</mutable><input_type>select</input_type><default_value>red</default_value><values>red
blue</values></attribute>
          </attributes>
        </label>
        <label><name>road</name><color>#000000</color><type>polygon</type><attributes></attributes></label>
        <label><name>person</name><type>skeleton</type><attributes/><svg>&lt;line x1="1" y1="2" x2="3" y2="4" stroke="black" data-type="edge" data-node-from="2" stroke-width="0.5" data-node-to="1"&gt;&lt;/line&gt;&lt;circle r="0.75" cx="1" cy="2" data-type="element node" data-element-id="1" data-node-id="1" data-label-id="11" data-label-name="eye"&gt;&lt;/circle&gt;&lt;circle r="0.75" cx="3" cy="4" data-type="element node" data-element-id="2" data-node-id="2" data-label-id="12" data-label-name="nose"&gt;&lt;/circle&gt;</svg></label>
        <label><name>nose</name><type>points</type><attributes/><parent>person</parent></label>
        <label><name>eye</name><type>points</type><attributes/><parent>person</parent></label>
        <label><name>sign &amp; "stop"</name><attributes/></label>
      </labels>
      <owner><username>admin</username></owner>
    </task>
    <dumped>2024-05-01 10:00:00.000000+00:00</dumped>
  </meta>
  <image id="0" name="frame_000000.JPG" width="60" height="40">
    <box label="car" source="manual" occluded="1" xtl="10.5" ytl="5" xbr="30" ybr="20" z_order="1" group_id="2">
      <attribute name="parked">true</attribute>
      <attribute name="doors">5</attribute>
      <attribute name="color">blue</attribute>
    </box>
    <box label="car" source="manual" occluded="0" xtl="0" ytl="0" xbr="10" ybr="20" rotation="90" z_order="0">
    </box>
    <polygon label="road" source="manual" occluded="0" points="0.00,30.00;60.00,30.00;60.00,40.00" z_order="0">
    </polygon>
    <polyline label="road" source="manual" occluded="0" points="0.00,0.00;10.00,10.00" z_order="0">
    </polyline>
    <points label="sign &amp; &quot;stop&quot;" source="manual" occluded="1" points="4.00,4.00;6.00,6.00" z_order="0">
    </points>
    <mask label="road" source="semi-auto" occluded="0" rle="1, 2, 3, 4" left="2" top="1" width="5" height="2" z_order="0">
    </mask>
    <tag label="car" source="manual">
    </tag>
    <ellipse label="car" source="manual" occluded="0" cx="20" cy="20" rx="5" ry="3" z_order="0">
    </ellipse>
    <cuboid label="car" source="manual" occluded="0" xtl1="1" ytl1="1" xbl1="1" ybl1="2" xtr1="2" ytr1="1" xbr1="2" ybr1="2" xtl2="3" ytl2="1" xbl2="3" ybl2="2" xtr2="4" ytr2="1" xbr2="4" ybr2="2" z_order="0">
    </cuboid>
    <skeleton label="person" source="manual" z_order="0">
      <points label="eye" source="manual" outside="0" occluded="1" points="5.00,5.00">
      </points>
      <points label="nose" source="manual" outside="0" occluded="0" points="4.00,6.00">
      </points>
    </skeleton>
    <polygon label="road" source="manual" occluded="0" points="1.00,1.00;2.00,2.00" z_order="0">
    </polygon>
    <box label="truck" source="manual" occluded="0" xtl="1" ytl="1" xbr="2" ybr="2" z_order="0">
    </box>
  </image>
  <image id="1" name="sub/frame_000001.png" width="60" height="40">
  </image>
  <image id="2" name="missing.jpg" width="60" height="40">
    <tag label="road" source="manual">
    </tag>
  </image>
</annotations>
`;

/** A task export re-zipped under a top folder, with an image the XML does not name. */
const taskExport: SampleUpload = {
  files: {
    "task_1/annotations.xml": taskXml,
    "task_1/images/frame_000000.JPG": PNG,
    "task_1/images/sub/frame_000001.png": PNG,
    "task_1/images/extra.png": PNG,
  },
};

/** A project export: labels under <project>, `subset` on each image, images under images/<subset>/. */
const projectExport: SampleUpload = {
  files: {
    "annotations.xml": `<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <project>
      <id>1</id>
      <name>pets</name>
      <labels>
        <label><name>cat</name><color>#33ddff</color><type>any</type><attributes></attributes></label>
      </labels>
      <subsets>Train
Validation
Extra</subsets>
    </project>
  </meta>
  <image id="0" name="a.png" subset="Train" task_id="1" width="8" height="6">
    <box label="cat" source="manual" occluded="0" xtl="1" ytl="1" xbr="3" ybr="3" z_order="0"></box>
  </image>
  <image id="1" name="a.png" subset="Validation" task_id="2" width="8" height="6">
    <polygon label="cat" source="manual" occluded="0" points="1,1;3,1;3,3" z_order="0"></polygon>
  </image>
  <image id="2" name="b.png" subset="Extra" task_id="2">
  </image>
</annotations>
`,
    "images/Train/a.png": PNG,
    "images/Validation/a.png": PNG,
    "images/Extra/b.png": PNG,
  },
};

/** CVAT for video 1.1: box tracks with keyframes and outside frames, and a polygon track. */
const videoExport: SampleUpload = {
  files: {
    "annotations.xml": `<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta>
    <task>
      <id>3</id><name>clip task</name><size>10</size><mode>interpolation</mode>
      <labels><label><name>car</name><attributes></attributes></label></labels>
      <original_size><width>1920</width><height>1080</height></original_size>
      <source>clip.mp4</source>
    </task>
  </meta>
  <track id="0" label="car" source="manual">
    <box frame="5" keyframe="1" outside="1" occluded="0" xtl="15" ytl="10" xbr="25" ybr="20" z_order="0"></box>
    <box frame="0" keyframe="1" outside="0" occluded="0" xtl="10" ytl="10" xbr="20" ybr="20" z_order="0"></box>
    <box frame="1" keyframe="0" outside="0" occluded="1" xtl="11" ytl="10" xbr="21" ybr="20" z_order="0"></box>
  </track>
  <track id="1" label="car" source="manual">
    <polygon frame="0" keyframe="1" outside="0" occluded="0" points="1,1;2,2;3,1" z_order="0"></polygon>
  </track>
</annotations>
`,
  },
};

testImporter(CvatImporter, {
  samples: [
    { name: "a CVAT task export", upload: taskExport, expected: { items: 3, annotations: 11, dropped: 2 } },
    { name: "a CVAT project export with subsets", upload: projectExport, expected: { items: 3, annotations: 2 } },
    { name: "a CVAT for video export", upload: videoExport, expected: { items: 1, annotations: 1, dropped: 1 } },
  ],
});

const byId = (items: Item[]) => new Map(items.map((item) => [item.id, item]));

/** COCO's column-major RLE by brute force. */
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

describe("cvat import", () => {
  it("maps every CVAT shape, types attributes by the label's input_type and finds images under images/", async () => {
    const { items, conversion } = await runSampleImport(CvatImporter, taskExport);
    expect(conversion.categories.map((c) => [c.id, c.name, [...c.keypoints]])).toEqual([
      [1, "car", []],
      [2, "road", []],
      [3, "person", ["nose", "eye"]],
      [4, 'sign & "stop"', []],
      [5, "truck", []],
    ]);
    expect(conversion.dropped).toEqual({ "cuboid: not supported": 1, "polygon with fewer than 3 points": 1 });
    expect(conversion.changed).toEqual({
      "box: rotated, stored as the polygon of its corners": 1,
      "ellipse: stored as a 32-sided polygon": 1,
    });
    expect(conversion.notes).toEqual([
      "1 images are not in the upload: media.uri is their name",
      "1 images in the upload are not named in the XML: not imported",
      "labels used but not declared in <meta>, added as categories: truck",
    ]);
    // The SVG's edge runs from node 2 (nose, keypoint 1) to node 1 (eye, keypoint 2).
    expect(conversion.categories[2]?.skeleton.map((e) => [e.fromKeypoint, e.toKeypoint])).toEqual([[1, 2]]);
    const found = byId(items);
    expect([...found.keys()]).toEqual(["frame_000000", "sub__frame_000001", "missing"]);
    const frame = found.get("frame_000000") as Item;
    expect(frame.media).toMatchObject({
      uri: "media/sample/task_1/images/frame_000000.JPG",
      fileName: "frame_000000.JPG",
      width: 60,
      height: 40,
    });
    const [box, rotated, polygon, polyline, points, mask, tag, ellipse, skeleton, truck] =
      frame.annotations as Annotation[];
    expect(box?.id).toBe("frame_000000:1");
    expect(geometryJson(box as Annotation)).toEqual({ x: 10.5, y: 5, width: 19.5, height: 15 });
    expect(box?.attributes).toEqual({
      occluded: true,
      z_order: 1,
      source: "manual",
      group_id: 2,
      parked: true,
      doors: 5,
      color: "blue",
    });
    // 90 degrees clockwise about (5, 10): the 10x20 box lies 20x10 around the same centre.
    expect(geometryJson(rotated as Annotation)).toEqual({ points: [15, 5, 15, 15, -5, 15, -5, 5] });
    expect(geometryJson(polygon as Annotation)).toEqual({ points: [0, 30, 60, 30, 60, 40] });
    expect(geometryJson(polyline as Annotation)).toEqual({ points: [0, 0, 10, 10] });
    expect([points?.categoryId, geometryJson(points as Annotation)]).toEqual([
      4,
      {
        keypoints: [
          { x: 4, y: 4, visibility: 1 },
          { x: 6, y: 6, visibility: 1 },
        ],
      },
    ]);
    // rle "1, 2, 3, 4" over the 5x2 box at (2, 1): row 0 = 01100, row 1 = 01111.
    const maskRows = ["01100", "01111"];
    expect(geometryJson(mask as Annotation)).toEqual({
      width: 60,
      height: 40,
      counts: referenceRle(60, 40, (x, y) => maskRows[y - 1]?.[x - 2] === "1"),
    });
    expect(mask?.attributes).toEqual({ occluded: false, z_order: 0, source: "semi-auto" });
    expect([tag?.categoryId, geometryJson(tag as Annotation), tag?.attributes]).toEqual([
      1,
      null,
      { source: "manual" },
    ]);
    const ellipsePoints = (geometryJson(ellipse as Annotation) as { points: number[] }).points;
    expect(ellipsePoints.slice(0, 4)).toEqual([25, 20, 24.904, 20.585]);
    expect([skeleton?.categoryId, geometryJson(skeleton as Annotation)]).toEqual([
      3,
      {
        keypoints: [
          { x: 4, y: 6, visibility: 2 },
          { x: 5, y: 5, visibility: 1 },
        ],
      },
    ]);
    expect([truck?.id, truck?.categoryId]).toEqual(["frame_000000:12", 5]);
    expect(found.get("missing")?.media).toMatchObject({ uri: "missing.jpg", fileName: "missing.jpg" });
  });

  it("reads a project export's subsets as splits and keeps other subsets in item meta", async () => {
    const { items, conversion } = await runSampleImport(CvatImporter, projectExport);
    expect(items.map((i) => [i.id, i.split, i.media?.uri, i.meta])).toEqual([
      ["a", "train", "media/sample/images/Train/a.png", undefined],
      ["a.png", "val", "media/sample/images/Validation/a.png", undefined],
      ["b", "", "media/sample/images/Extra/b.png", { subset: "Extra" }],
    ]);
    // b.png has no size in the XML: read from the image's header.
    expect(items[2]?.media).toMatchObject({ width: 8, height: 6 });
    expect(conversion.notes).toEqual([
      "subset 'Extra' is not train/val/test: 1 images unsplit, subset kept in item meta",
    ]);
  });

  it("turns a video export's box tracks into a video item with box sequences", async () => {
    const { items, conversion } = await runSampleImport(CvatImporter, videoExport);
    expect(conversion.dropped).toEqual({ "track of polygon: not supported": 1 });
    expect(conversion.notes).toEqual([
      "1 track boxes have per-frame attributes (occluded, z_order, <attribute>): not imported",
      "1 videos imported from tracks; frame images are not stored",
    ]);
    const [video] = items;
    expect(video?.id).toBe("clip");
    expect(video?.media).toMatchObject({
      uri: "clip.mp4",
      fileName: "clip.mp4",
      width: 1920,
      height: 1080,
      frames: 10,
    });
    const [track] = video?.annotations ?? [];
    expect([track?.id, track?.categoryId, track?.attributes]).toEqual([
      "clip:track-0",
      1,
      { source: "manual", track_id: 0 },
    ]);
    expect(geometryJson(track as Annotation)).toEqual({
      interpolationMode: "linear",
      boxes: [
        { frameNumber: 0, x: 10, y: 10, width: 10, height: 10, isKeyframe: true, visible: true },
        { frameNumber: 1, x: 11, y: 10, width: 10, height: 10, isKeyframe: false, visible: true },
        { frameNumber: 5, x: 15, y: 10, width: 10, height: 10, isKeyframe: true, visible: false },
      ],
    });
  });

  it("names the file and line of malformed XML and of unreadable coordinates", async () => {
    const broken = { files: { "annotations.xml": "<annotations><image name='a.png'><box label='a'></image>" } };
    await expect(runSampleImport(CvatImporter, broken)).rejects.toThrow(/^annotations\.xml:1:\d+: /);
    const badBox = {
      files: {
        "x/annotations.xml": `<annotations>\n<image id="0" name="a.png" width="4" height="4">\n<box label="a" xtl="one" ytl="0" xbr="1" ybr="1"/></image></annotations>`,
      },
    };
    await expect(runSampleImport(CvatImporter, badBox)).rejects.toThrow(
      'x/annotations.xml: <box> at line 3: xtl="one" is not a number',
    );
    const voc = { files: { "Annotations/a.xml": "<annotation><filename>a.jpg</filename></annotation>" } };
    await expect(runSampleImport(CvatImporter, voc)).rejects.toThrow(
      "no CVAT XML in the upload: the root element of Annotations/a.xml is not <annotations>",
    );
  });
});

describe("cvat streaming", () => {
  it("yields items in batches of at most 500 from one annotations.xml of 1,300 images", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labelport-cvat-batches-"));
    try {
      let xml =
        "<annotations><version>1.1</version><meta><task><labels><label><name>car</name></label></labels></task></meta>";
      for (let i = 0; i < 1300; i++) {
        xml += `<image id="${i}" name="${i}.jpg" width="9" height="9"><box label="car" xtl="1" ytl="1" xbr="2" ybr="2"/></image>`;
      }
      const written = await writeSampleUpload(dir, { files: { "annotations.xml": `${xml}</annotations>` } });
      const source = await openImportSource(written.path, written.name);
      const sizes: number[] = [];
      try {
        const batches = new CvatImporter().import({
          options: {},
          source,
          datasetId: "ds",
          drop() {},
          changed() {},
          note() {},
          storeMedia: async (file) => file.path,
          imageSize: async () => undefined,
          signal: new AbortController().signal,
          log: { debug() {}, info() {}, warn() {}, error() {} },
          scratchDir: dir,
        });
        for await (const batch of batches) sizes.push(batch.items?.length ?? 0);
      } finally {
        await source.close();
      }
      expect(sizes).toEqual([500, 500, 300]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** datumaro 1.13 writes CVAT as one <subset>.xml per subset with images/<name>. */
const datumaroWriter = `
import logging, sys
logging.disable(logging.WARNING)
import numpy as np
from datumaro.components.dataset import Dataset
from datumaro.components.dataset_base import DatasetItem
from datumaro.components.annotation import AnnotationType, Bbox, Label, LabelCategories, Mask, Points, Polygon, PolyLine
from datumaro.components.media import Image
labels = LabelCategories(attributes={"occluded"})
labels.add("car", attributes={"color"})
labels.add("person")
labels.add("道路")
mask = np.zeros((40, 60), dtype=np.uint8)
mask[5:10, 3:8] = 1
Dataset.from_iterable([
    DatasetItem(id="img_1", subset="train", media=Image.from_numpy(data=np.zeros((40, 60, 3), dtype=np.uint8)), annotations=[
        Bbox(1, 2, 10, 20, label=0, attributes={"color": "red", "occluded": True}, group=1, z_order=2),
        Polygon([1, 1, 5, 1, 5, 5], label=1),
        PolyLine([0, 0, 3, 3], label=2),
        Points([4, 4, 6, 6], label=1),
        Label(label=0),
        Mask(image=mask, label=2),
    ]),
    DatasetItem(id="sub/img_2", subset="val", media=Image.from_numpy(data=np.zeros((30, 20, 3), dtype=np.uint8))),
], categories={AnnotationType.label: labels}).export(sys.argv[1], "cvat", save_media=True)
`;

describe("cvat written by datumaro", () => {
  it("imports every item and annotation datumaro wrote, with splits from the file names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "labelport-cvat-datumaro-"));
    try {
      await runPython(datumaroWriter, [dir]);
      const files: Record<string, Uint8Array> = {};
      for (const path of await listFiles(dir)) files[path] = await readFile(join(dir, path));
      const { items, conversion } = await runSampleImport(CvatImporter, { files });
      expect(conversion.categories.map((c) => c.name)).toEqual(["car", "person", "道路"]);
      expect(conversion.dropped).toEqual({});
      expect(items.map((i) => [i.id, i.split, i.media?.uri, i.media?.width, i.annotations.length])).toEqual([
        ["img_1", "train", "media/sample/images/img_1.jpg", 60, 6],
        ["sub__img_2", "val", "media/sample/images/sub/img_2.jpg", 20, 0],
      ]);
      const [box, polygon, polyline, points, tag, mask] = items[0]?.annotations ?? [];
      expect([geometryJson(box as Annotation), box?.attributes]).toEqual([
        { x: 1, y: 2, width: 10, height: 20 },
        { occluded: true, z_order: 2, group_id: 1, color: "red" },
      ]);
      expect(geometryJson(polygon as Annotation)).toEqual({ points: [1, 1, 5, 1, 5, 5] });
      expect(geometryJson(polyline as Annotation)).toEqual({ points: [0, 0, 3, 3] });
      expect(geometryJson(points as Annotation)?.keypoints).toHaveLength(2);
      expect(geometryJson(tag as Annotation)).toBeNull();
      const rle = geometryJson(mask as Annotation) as { width: number; height: number; counts: number[] };
      expect(rle.counts).toEqual(referenceRle(60, 40, (x, y) => x >= 3 && x < 8 && y >= 5 && y < 10));
      expect(maskArea(rle)).toBe(25);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 600_000);
});

describe("cvat -> import -> COCO export", () => {
  it("pycocotools loads the export with every imported annotation COCO can carry", async () => {
    const imported = await runSampleImport(CvatImporter, taskExport);
    const run = await runSampleExport(CocoExporter, {
      fixture: {
        dataset: { id: "ds-cvat", name: "cvat", categories: imported.conversion.categories },
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
        keypoints: string[];
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
person = coco.loadCats([3])[0]
print(json.dumps({"images": len(coco.getImgIds()), "annotations": len(anns), "categories": sorted(coco.getCatIds()), "keypoints": person["keypoints"], "skeleton": person["skeleton"]}))
`,
        [`${run.dir}/${instancesKey("default")}`],
      );
      expect(read).toEqual({
        images: imported.items.length,
        annotations: imported.conversion.annotations - dropped,
        categories: [1, 2, 3, 4, 5],
        keypoints: ["nose", "eye"],
        skeleton: [[1, 2]],
      });
    } finally {
      await run.cleanup();
    }
  }, 600_000);
});
