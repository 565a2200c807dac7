// The conflict rules on their own: what merge and overwrite make of two tracks, and the order and
// words of conflicts. The import tests (test/data-import*.test.ts) check how the policies use them.
import { describe, expect, it } from "vitest";
import type { AnnotationDoc, BoxDoc } from "../model.ts";
import { deriveTrackFields, trackStatsOf } from "../tracks.ts";
import {
  byFirstFrame,
  duplicateAnnotationMessage,
  duplicateItemMessage,
  mergedTrack,
  overlapMessage,
  replacingTrack,
  trimmedRange,
  trimmedTrack,
  unionRange,
} from "./conflict-rules.ts";

const box = (frameNumber: number, x = 0, isKeyframe = true): BoxDoc => ({
  frameNumber,
  x,
  y: 0,
  width: 10,
  height: 10,
  isKeyframe,
  visible: true,
});

const created = new Date("2025-01-01T00:00:00Z");
const now = new Date("2025-06-01T00:00:00Z");

function track(id: string, boxes: BoxDoc[], createdAt = created): AnnotationDoc {
  return deriveTrackFields({
    _id: id,
    datasetId: "d",
    itemId: "v1",
    personaId: "p1",
    type: "track",
    boxSequence: { interpolationMode: "linear", boxes },
    removed: false,
    createdAt,
    updatedAt: createdAt,
  });
}

describe("unionRange", () => {
  it("spans both ranges in either order, overlapping or not", () => {
    expect(unionRange([10, 20], [15, 30])).toEqual([10, 30]);
    expect(unionRange([15, 30], [10, 20])).toEqual([10, 30]);
    expect(unionRange([0, 5], [50, 60])).toEqual([0, 60]);
    expect(unionRange([0, 100], [10, 20])).toEqual([0, 100]);
  });
});

describe("byFirstFrame", () => {
  it("orders by first frame, then by id", () => {
    const tracks = [
      { id: "b", range: [10, 20] as [number, number] },
      { id: "c", range: [5, 50] as [number, number] },
      { id: "a", range: [10, 12] as [number, number] },
    ];
    expect(tracks.sort(byFirstFrame).map((t) => t.id)).toEqual(["c", "a", "b"]);
  });
});

describe("mergedTrack", () => {
  it("joins the sequences, the imported box winning on an equal frame, and derives the rest from the boxes", () => {
    const existing = track("t1", [box(0, 1), box(10, 1), box(20, 1)]);
    const merged = mergedTrack(existing, [box(20, 2), box(30, 2)], now);
    expect(merged.boxSequence?.boxes).toEqual([box(0, 1), box(10, 1), box(20, 2), box(30, 2)]);
    expect(merged.frameRange).toEqual([0, 30]);
    expect(merged.trackStats).toEqual(trackStatsOf(merged));
    expect(merged.trackStats?.keyframes).toBe(4);
    // The stored track's identity and creation stay; only the update time moves.
    expect(merged._id).toBe("t1");
    expect(merged.createdAt).toBe(created);
    expect(merged.updatedAt).toBe(now);
    expect(merged.trackKey).toBe(existing.trackKey);
    // The stored document is left as it was.
    expect(existing.boxSequence?.boxes).toHaveLength(3);
    expect(existing.frameRange).toEqual([0, 20]);
  });

  it("sorts boxes imported out of order among the stored ones", () => {
    const merged = mergedTrack(track("t1", [box(10)]), [box(30), box(0)], now);
    expect(merged.boxSequence?.boxes.map((b) => b.frameNumber)).toEqual([0, 10, 30]);
    expect(merged.frameRange).toEqual([0, 30]);
  });
});

describe("replacingTrack", () => {
  it("is the imported track with the stored creation time", () => {
    const incoming = track("t1", [box(5)], now);
    const stored = track("t1", [box(0)], created);
    expect(replacingTrack(incoming, stored)).toEqual({ ...incoming, createdAt: created });
  });
});

describe("trimmedTrack", () => {
  it("drops the boxes inside the replaced frames and derives the rest from what is left", () => {
    const other = track("t2", [box(0), box(10), box(20), box(30)]);
    const trimmed = trimmedTrack(other, [15, 40], now);
    expect(trimmed?.boxSequence?.boxes).toEqual([box(0), box(10)]);
    expect(trimmed?.frameRange).toEqual([0, 10]);
    expect(trimmed?.trackStats).toEqual(trackStatsOf(trimmed as AnnotationDoc));
    expect(trimmed?.updatedAt).toBe(now);
    expect(other.frameRange).toEqual([0, 30]);
  });

  it("keeps both ends of a track replaced in the middle", () => {
    const trimmed = trimmedTrack(track("t2", [box(0), box(10), box(20)]), [5, 15], now);
    expect(trimmed?.boxSequence?.boxes.map((b) => b.frameNumber)).toEqual([0, 20]);
    expect(trimmed?.frameRange).toEqual([0, 20]);
  });

  it("is null when no keyframe is left, even with interpolated boxes outside", () => {
    expect(trimmedTrack(track("t2", [box(10), box(20)]), [0, 30], now)).toBeNull();
    expect(trimmedTrack(track("t2", [box(10), box(40, 0, false)]), [0, 30], now)).toBeNull();
  });
});

describe("trimmedRange", () => {
  it("is what trimmedTrack leaves, known by the range alone", () => {
    expect(trimmedRange([10, 20], [0, 30])).toBeNull();
    expect(trimmedRange([10, 20], [10, 20])).toBeNull();
    // Cut in the middle: both ends stay, so the range does not change.
    expect(trimmedRange([0, 30], [10, 20])).toEqual([0, 30]);
    expect(trimmedRange([0, 15], [10, 20])).toEqual([0, 9]);
    expect(trimmedRange([15, 30], [10, 20])).toEqual([21, 30]);
  });
});

describe("messages", () => {
  it("say where the earlier copy of a duplicate is", () => {
    expect(duplicateAnnotationMessage(undefined)).toBe("Annotation ID already exists in database");
    expect(duplicateAnnotationMessage(3)).toBe("Annotation ID already imported from line 3");
    expect(duplicateItemMessage(undefined)).toBe("Item ID already exists in database");
    expect(duplicateItemMessage(7)).toBe("Item ID already imported from line 7");
  });

  it("name both frame ranges of an overlap", () => {
    expect(overlapMessage([0, 10], [5, 20])).toBe("Frame ranges overlap: 0-10 and 5-20");
  });
});
