import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { BoundingBoxSequenceSchema } from "./gen/labelport/v1/dataset_pb.ts";
import {
  interpolateBoxSequence,
  interpolatedFrameCount,
  keyframes,
  SequenceErrors,
  validateBoxSequence,
} from "./tracks.ts";

function sequence(boxes: Array<[frame: number, x: number, key: boolean, visible?: boolean]>, mode = "linear") {
  return create(BoundingBoxSequenceSchema, {
    interpolationMode: mode,
    boxes: boxes.map(([frameNumber, x, isKeyframe, visible = true]) => ({
      frameNumber,
      x,
      y: x * 2,
      width: 10 + x,
      height: 20,
      isKeyframe,
      visible,
    })),
  });
}

describe("interpolateBoxSequence", () => {
  it("fills frames strictly between consecutive keyframes linearly", () => {
    const boxes = interpolateBoxSequence(
      sequence([
        [0, 0, true],
        [4, 40, true],
      ]),
    );
    expect(boxes.map((b) => [b.frameNumber, b.x, b.y, b.width, b.isKeyframe])).toEqual([
      [0, 0, 0, 10, true],
      [1, 10, 20, 20, false],
      [2, 20, 40, 30, false],
      [3, 30, 60, 40, false],
      [4, 40, 80, 50, true],
    ]);
  });

  it("takes visibility from the earlier keyframe", () => {
    const boxes = interpolateBoxSequence(
      sequence([
        [0, 0, true, false],
        [2, 2, true, true],
        [4, 4, true, false],
      ]),
    );
    expect(boxes.map((b) => b.visible)).toEqual([false, false, true, true, false]);
  });

  it("keeps a single keyframe and adjacent keyframes as they are", () => {
    expect(interpolateBoxSequence(sequence([[7, 1, true]])).map((b) => b.frameNumber)).toEqual([7]);
    expect(
      interpolateBoxSequence(
        sequence([
          [1, 1, true],
          [2, 2, true],
        ]),
      ).map((b) => b.frameNumber),
    ).toEqual([1, 2]);
  });

  it("keeps stored in-between boxes and drops those outside the keyframes", () => {
    const boxes = interpolateBoxSequence(
      sequence([
        [0, 0, false],
        [1, 0, true],
        [2, 99, false],
        [3, 30, true],
        [4, 0, false],
      ]),
    );
    expect(boxes.map((b) => [b.frameNumber, b.x])).toEqual([
      [1, 0],
      [2, 99],
      [3, 30],
    ]);
  });

  it("sorts keyframes and counts what interpolation adds", () => {
    const seq = sequence([
      [10, 1, true],
      [0, 0, true],
      [5, 0, false],
    ]);
    expect(keyframes(seq).map((b) => b.frameNumber)).toEqual([0, 10]);
    expect(interpolatedFrameCount(seq)).toBe(9);
    expect(interpolateBoxSequence(seq)).toHaveLength(11);
  });
});

describe("validateBoxSequence", () => {
  it("accepts a valid sequence", () => {
    expect(
      validateBoxSequence(
        sequence([
          [0, 0, true],
          [3, 1, false],
          [5, 1, true],
        ]),
      ),
    ).toEqual([]);
  });

  it("reports the video annotation API's messages", () => {
    expect(
      validateBoxSequence(
        sequence([
          [5, 0, false],
          [1, 0, false],
        ]),
      ),
    ).toEqual(["Sequence must have at least one keyframe", "Frame numbers must be in ascending order"]);
    expect(validateBoxSequence(sequence([]))).toEqual([SequenceErrors.noKeyframe]);
  });

  it("lets requireKeyframes: false through", () => {
    expect(validateBoxSequence(sequence([[0, 0, false]]), { requireKeyframes: false })).toEqual([]);
  });

  it("reports duplicate frames, negative sizes and unknown modes", () => {
    const seq = sequence(
      [
        [0, 0, true],
        [2, 0, true],
        [2, 0, false],
      ],
      "cubic",
    );
    const first = seq.boxes[0];
    if (first) first.width = -1;
    expect(validateBoxSequence(seq)).toEqual([
      "Duplicate frame number 2",
      "Box at frame 0 has a negative width or height",
      'Unsupported interpolation mode "cubic" (only "linear")',
    ]);
    expect(
      validateBoxSequence(
        sequence([
          [3, 0, true],
          [1, 0, true],
          [3, 0, true],
        ]),
      ),
    ).toEqual([SequenceErrors.notAscending, SequenceErrors.duplicateFrame(3)]);
  });
});
