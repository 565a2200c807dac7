import { readFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { itemFromJson } from "@labelport/sdk";
import { CategorySchema } from "@labelport/sdk/contracts";
import { runSampleExport, sampleDataset, testExporter } from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import LabelmeExporter from "./index.ts";

testExporter(LabelmeExporter);

/** The items of examples/items.jsonl (the lossless item import format) as an export sees them. */
function exampleDataset() {
  const lines = readFileSync(new URL("../../items.jsonl", import.meta.url), "utf8")
    .split("\n")
    .filter(Boolean);
  return {
    ...sampleDataset(),
    dataset: {
      id: "ds-example",
      name: "street scenes",
      categories: [create(CategorySchema, { id: 1, name: "car" }), create(CategorySchema, { id: 2, name: "person" })],
    },
    items: lines.map((line) => itemFromJson(JSON.parse(line))),
  };
}

describe("labelme export", () => {
  it("writes one LabelMe file per item: rectangles from boxes, polygons as they are", async () => {
    const run = await runSampleExport(LabelmeExporter, { fixture: exampleDataset() });
    try {
      expect(await run.files()).toEqual([
        "annotations/street-0001.json",
        "annotations/street-0002.json",
        "annotations/street-0003.json",
        "manifest.json",
      ]);
      expect(await run.json("annotations/street-0001.json")).toEqual({
        version: "5.2.1",
        flags: {},
        shapes: [
          {
            label: "car",
            points: [
              [12, 40],
              [132, 120],
            ],
            group_id: null,
            shape_type: "rectangle",
            flags: {},
          },
          {
            label: "person",
            points: [
              [300, 200],
              [340, 200],
              [340, 320],
              [300, 320],
            ],
            group_id: null,
            shape_type: "polygon",
            flags: {},
          },
        ],
        imagePath: "street-0001.jpg",
        imageData: null,
        imageHeight: 480,
        imageWidth: 640,
      });
    } finally {
      await run.cleanup();
    }
  });
});
