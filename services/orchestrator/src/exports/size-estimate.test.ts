// The size model (data/tracks.ts LineLengths, size-estimate.ts) against the SDK's video track
// line formatter (videoAnnotationLine).
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { interpolateBoxSequence, videoAnnotationLine } from "@labelport/sdk";
import { type Annotation, AnnotationSchema } from "@labelport/sdk/contracts";
import { describe, expect, it } from "vitest";
import type { BoxDoc } from "../data/model.ts";
import { LineLengths } from "../data/tracks.ts";
import { LARGE_EXPORT_BYTES, measureBoxes, megabytes, sizeWarning } from "./size-estimate.ts";

const when = timestampFromDate(new Date("2025-10-06T14:30:00.000Z"));

function track(boxes: BoxDoc[], link: Annotation["link"] = { case: undefined }, ids = ["a", "v", "p"]): Annotation {
  return create(AnnotationSchema, {
    id: ids[0] as string,
    itemId: ids[1] as string,
    personaId: ids[2] as string,
    createTime: when,
    updateTime: when,
    geometry: { case: "boxSequence", value: { interpolationMode: "linear", boxes } },
    link,
  });
}

const bytes = (s: string) => Buffer.byteLength(s);
const box = (frameNumber: number, x: number, isKeyframe = true, visible = true): BoxDoc => ({
  frameNumber,
  x,
  y: 20.5,
  width: 300,
  height: 41.25,
  isKeyframe,
  visible,
});

describe("line lengths", () => {
  it("are BASE + ids + mode + link + boxes + commas, as the formatter writes them", () => {
    const ids = ["550e8400-e29b-41d4-a716-446655440000", "abc123def456", "660e8400-e29b-41d4-a716-446655440001"];
    const boxes = [box(0, 100), box(12, 133.5, true, false), box(40, -7)];
    const boxBytes = boxes.reduce(
      (n, b) =>
        n +
        LineLengths.box +
        [b.frameNumber, b.x, b.y, b.width, b.height].reduce((m, v) => m + String(v).length, 0) +
        String(b.isKeyframe).length +
        String(b.visible).length,
      0,
    );
    const idBytes = ids.reduce((n, id) => n + bytes(id), 0);
    const mode = "linear".length;
    const typed = track(
      boxes,
      { case: "typeAssignment", value: { typeId: "entity-001", typeName: "Pitcher" } as never },
      ids,
    );
    expect(bytes(videoAnnotationLine(typed))).toBe(
      LineLengths.base + idBytes + mode + LineLengths.typeLink + bytes("entity-001Pitcher") + boxBytes + 2,
    );
    const linked = track(
      boxes,
      { case: "objectLink", value: { objectId: "obj-1", objectType: "entity" } as never },
      ids,
    );
    expect(bytes(videoAnnotationLine(linked))).toBe(
      LineLengths.base + idBytes + mode + LineLengths.objectLink + bytes("obj-1entity") + boxBytes + 2,
    );
    expect(bytes(videoAnnotationLine(track(boxes, { case: undefined }, ids)))).toBe(
      LineLengths.base + idBytes + mode + boxBytes + 2,
    );
  });
});

describe("measureBoxes", () => {
  it("gives the exact mean box lengths of what the SDK writes when every frame is sampled", () => {
    const sequences = [
      [box(0, 100), box(3, 200)],
      [box(10, 0.5), box(11, 7, false), box(14, 1000.25, true, false), box(20, 3)],
    ];
    const written = sequences.map((boxes) => interpolateBoxSequence(track(boxes).geometry.value as never));
    const lengths = (keyframe: boolean) =>
      written
        .flat()
        .filter((b) => b.isKeyframe === keyframe)
        .map(
          (b) =>
            JSON.stringify({
              frameNumber: b.frameNumber,
              x: b.x,
              y: b.y,
              width: b.width,
              height: b.height,
              isKeyframe: b.isKeyframe,
              visible: b.visible,
            }).length,
        );
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // Few enough frames that 16 picks per track with a cycling "random" cover each of them.
    let i = 0;
    const cycle = () => {
      i = (i + 1) % 1000;
      return (i % 8) / 8;
    };
    const measured = measureBoxes(sequences, true, cycle);
    expect(measured.keyframe).toBeCloseTo(mean(lengths(true)), 9);
    expect(Math.abs(measured.interpolated - mean(lengths(false))) / mean(lengths(false))).toBeLessThan(0.05);
    expect(measureBoxes(sequences, false).interpolated).toBe(0);
  });
});

describe("sizes", () => {
  it("prints MiB with two decimals and warns from 100 MB on, as the video track export's stats example does", () => {
    expect(megabytes(104857600)).toBe("100.00");
    expect(megabytes(12.34 * 1024 * 1024)).toBe("12.34");
    expect(sizeWarning(LARGE_EXPORT_BYTES)).toBe("Large export. Consider filtering by persona or video.");
    expect(sizeWarning(LARGE_EXPORT_BYTES - 1)).toBeUndefined();
  });
});
