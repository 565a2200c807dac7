// Sequence checks and the merge/trim operations of the import's conflict resolution.
import { describe, expect, it } from "vitest";
import { storedId } from "./ids.ts";
import type { BoxDoc, TrackStatsDoc } from "./model.ts";
import {
  checkSequence,
  deriveTrackFields,
  LineLengths,
  mergeBoxes,
  TRACK_STATS_VERSION,
  trackKeyOf,
  trimBoxes,
} from "./tracks.ts";

const box = (frameNumber: number, isKeyframe = true, x = 0): BoxDoc => ({
  frameNumber,
  x,
  y: 0,
  width: 10,
  height: 10,
  isKeyframe,
  visible: true,
});

describe("checkSequence", () => {
  it("uses the video annotation API's messages and names the box", () => {
    expect(checkSequence({ interpolationMode: "linear", boxes: [box(0), box(5)] }, true)).toEqual([]);
    expect(checkSequence({ interpolationMode: "linear", boxes: [box(0, false)] }, true)).toEqual([
      { message: "Sequence must have at least one keyframe", field: "boxes" },
    ]);
    expect(checkSequence({ interpolationMode: "linear", boxes: [box(0, false)] }, false)).toEqual([]);
    expect(
      checkSequence({ interpolationMode: "cubic", boxes: [box(5), box(3), box(5), { ...box(7), height: -1 }] }, true),
    ).toEqual([
      { message: "Frame numbers must be in ascending order", field: "boxes[1].frameNumber" },
      { message: "Duplicate frame number 5", field: "boxes[2].frameNumber" },
      { message: "Box at frame 7 has a negative width or height", field: "boxes[3].height" },
      { message: 'Unsupported interpolation mode "cubic" (only "linear")', field: "interpolationMode" },
    ]);
    expect(checkSequence({ interpolationMode: "linear", boxes: [] }, false)).toEqual([
      { message: "Sequence must have at least one box", field: "boxes" },
    ]);
  });
});

describe("merge and trim", () => {
  it("merges by frame, the incoming box winning, sorted", () => {
    const merged = mergeBoxes([box(0), box(10, true, 1), box(20)], [box(5), box(10, true, 99)]);
    expect(merged.map((b) => [b.frameNumber, b.x])).toEqual([
      [0, 0],
      [5, 0],
      [10, 99],
      [20, 0],
    ]);
  });

  it("trims the frames of a range", () => {
    expect(trimBoxes([box(0), box(10), box(20), box(30)], [10, 20]).map((b) => b.frameNumber)).toEqual([0, 30]);
  });

  it("derives frame range and key", () => {
    const doc = deriveTrackFields({
      _id: storedId("d", "a"),
      datasetId: "d",
      itemId: "v",
      personaId: "p",
      type: "track",
      boxSequence: { interpolationMode: "linear", boxes: [box(3), box(9)] },
      link: { objectLink: { objectId: "o", objectType: "entity" } },
      removed: false,
      createdAt: new Date(0),
      updatedAt: new Date(0),
    });
    expect(doc.frameRange).toEqual([3, 9]);
    expect(doc.trackKey).toBe(
      trackKeyOf({ itemId: "v", personaId: "p", link: { objectLink: { objectId: "o", objectType: "x" } } }),
    );
    expect(doc.trackKey).not.toBe(trackKeyOf({ itemId: "v", personaId: "p" }));
    // BASE + "a" "v" "p" "linear" + objectLink "o" "entity" (exports/stats-stored.test.ts checks these
    // against MongoDB's own computation).
    expect(doc.trackStats).toEqual({
      v: TRACK_STATS_VERSION,
      keyframes: 2,
      interpolated: 5,
      valid: true,
      fixed: LineLengths.base + 3 + 6 + LineLengths.objectLink + 7,
    });
  });

  it("stores the SDK's errors of an invalid track, and no statistics on other annotations", () => {
    const base = {
      _id: "a",
      datasetId: "d",
      itemId: "v",
      removed: false,
      createdAt: new Date(0),
      updatedAt: new Date(0),
    };
    const invalid = deriveTrackFields({
      ...base,
      type: "track",
      categoryId: 3,
      boxSequence: { interpolationMode: "linear", boxes: [box(9), box(3), box(9, false)] },
    });
    expect(invalid.trackStats).toMatchObject({
      keyframes: 2,
      interpolated: 5,
      valid: false,
      errors: ["Frame numbers must be in ascending order", "Duplicate frame number 9"],
      category: 3,
    });
    const bbox = deriveTrackFields({ ...base, type: "bbox", trackStats: invalid.trackStats as TrackStatsDoc });
    expect(bbox.trackStats).toBeUndefined();
  });
});
