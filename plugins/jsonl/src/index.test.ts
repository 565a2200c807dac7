import { type Item, itemFromJson, itemToJson } from "@labelport/sdk";
import { runSampleExport, sampleDataset, testExporter } from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import JsonlExporter, { ANNOTATIONS_JSON, ANNOTATIONS_JSONL, ITEMS_JSONL } from "./index.ts";

testExporter(JsonlExporter);

const firstLine =
  '{"id":"item-05-a01","videoId":"item-05","personaId":"660e8400-e29b-41d4-a716-446655440001","annotationType":"type","typeAssignment":{"typeId":"entity-001","typeName":"Pitcher"},"boundingBoxSequence":{"interpolationMode":"linear","boxes":[{"frameNumber":0,"x":100,"y":100,"width":200,"height":150,"isKeyframe":true,"visible":true},{"frameNumber":4,"x":140,"y":120,"width":200,"height":150,"isKeyframe":true,"visible":false},{"frameNumber":6,"x":160,"y":100,"width":220,"height":170,"isKeyframe":true,"visible":true}]},"createdAt":"2025-10-06T14:30:01.000Z","updatedAt":"2025-10-06T14:30:02.000Z"}';

describe("jsonl export (video annotation lines)", () => {
  it("writes one video annotation line per track, keyframes only by default", async () => {
    const run = await runSampleExport(JsonlExporter);
    try {
      const lines = (await run.text(ANNOTATIONS_JSONL)).split("\n");
      expect(lines).toHaveLength(3);
      expect(lines[0]).toBe(firstLine);
      expect(JSON.parse(lines[1] ?? "")).toMatchObject({
        annotationType: "object",
        objectLink: { objectId: "object-7", objectType: "entity" },
      });
      expect(lines[2]).toBe("");
      expect(run.result.formatNotes).toEqual([
        "10 annotations are not video tracks and are not in annotations.jsonl (items: true writes them losslessly)",
      ]);
      expect((await run.files()).includes(ITEMS_JSONL)).toBe(false);
    } finally {
      await run.cleanup();
    }
  });

  it("writes every frame with includeInterpolated", async () => {
    const run = await runSampleExport(JsonlExporter, { options: { includeInterpolated: true } });
    try {
      const [track] = (await run.text(ANNOTATIONS_JSONL))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const boxes = track.boundingBoxSequence.boxes as Array<{
        frameNumber: number;
        x: number;
        isKeyframe: boolean;
        visible: boolean;
      }>;
      expect(boxes.map((b) => b.frameNumber)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(boxes.map((b) => b.isKeyframe)).toEqual([true, false, false, false, true, false, true]);
      expect(boxes.map((b) => b.visible)).toEqual([true, true, true, true, false, false, true]);
      expect(boxes[2]?.x).toBe(120);
    } finally {
      await run.cleanup();
    }
  });

  it("writes a JSON array for format json", async () => {
    const jsonl = await runSampleExport(JsonlExporter);
    const json = await runSampleExport(JsonlExporter, { format: "json" });
    try {
      const array = await json.json<unknown[]>(ANNOTATIONS_JSON);
      const lines = (await jsonl.text(ANNOTATIONS_JSONL))
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(array).toEqual(lines);
      expect(await json.files()).not.toContain(ANNOTATIONS_JSONL);
    } finally {
      await jsonl.cleanup();
      await json.cleanup();
    }
  });

  it("writes lossless items.jsonl that reads back to the same items", async () => {
    const run = await runSampleExport(JsonlExporter, { options: { items: true } });
    try {
      const lines = (await run.text(ITEMS_JSONL)).trim().split("\n");
      const items = lines.map((line) => itemFromJson(JSON.parse(line)));
      expect(items.map((i) => itemToJson(i))).toEqual(sampleDataset().items.map((i: Item) => itemToJson(i)));
      expect(items[0]?.annotations[3]?.geometry.case).toBe("keypoints");
      expect(items[4]?.annotations[0]?.link.case).toBe("typeAssignment");
    } finally {
      await run.cleanup();
    }
  });
});
