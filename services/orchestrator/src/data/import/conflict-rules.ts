// The import's conflict rules as pure functions: what a merge or an overwrite makes of two tracks,
// and the words the import reports conflicts in. No state and no I/O, so each rule is tested on
// its own (conflict-rules.test.ts); annotation-batches.ts decides when each one applies.
import type { AnnotationDoc, BoxDoc } from "../model.ts";
import { keyframeCount, mergeBoxes, trimBoxes, withBoxes } from "../tracks.ts";

export type FrameRange = [number, number];

/** A stored or imported track that may overlap another: its id and frame range. */
export interface TrackRange {
  id: string;
  range: FrameRange;
}

/** The frames from the first of either range to the last of either. */
export function unionRange(a: readonly [number, number], b: readonly [number, number]): FrameRange {
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
}

/** Overlapping tracks in the order conflicts are reported and merged: by first frame, then id. */
export function byFirstFrame(a: TrackRange, b: TrackRange): number {
  return a.range[0] - b.range[0] || (a.id < b.id ? -1 : 1);
}

/**
 * `merge`: the imported keyframes join `existing`'s sequence, imported boxes winning on equal
 * frames; the range, key and statistics follow the merged boxes.
 */
export function mergedTrack(existing: AnnotationDoc, incoming: readonly BoxDoc[], now: Date): AnnotationDoc {
  const boxes = mergeBoxes(existing.boxSequence?.boxes ?? [], incoming);
  return { ...existing, ...withBoxes(existing, boxes), updatedAt: now };
}

/**
 * `overwrite` of a duplicate id: the imported track replaces the stored one, which keeps its
 * creation time unless the line gave one.
 */
export function replacingTrack(incoming: AnnotationDoc, existing: AnnotationDoc): AnnotationDoc {
  return { ...incoming, createdAt: existing.createdAt };
}

/**
 * `overwrite` of overlapping frames: the other track loses its boxes inside `range`; null when no
 * keyframe is left, and the track goes.
 */
export function trimmedTrack(other: AnnotationDoc, range: readonly [number, number], now: Date): AnnotationDoc | null {
  const boxes = trimBoxes(other.boxSequence?.boxes ?? [], range);
  if (keyframeCount(boxes) === 0) return null;
  return { ...other, ...withBoxes(other, boxes), updatedAt: now };
}

/**
 * What `trimmedTrack` leaves of a range when only the range is known (a preview that did not
 * read the document): null when `range` covers it; a range cut in the middle keeps both ends.
 */
export function trimmedRange(other: readonly [number, number], range: readonly [number, number]): FrameRange | null {
  const [a, b] = other;
  if (a >= range[0] && b <= range[1]) return null;
  if (a < range[0] && b > range[1]) return [a, b];
  if (a < range[0]) return [a, range[0] - 1];
  return [range[1] + 1, b];
}

export function duplicateAnnotationMessage(earlierLine: number | undefined): string {
  return earlierLine === undefined
    ? "Annotation ID already exists in database"
    : `Annotation ID already imported from line ${earlierLine}`;
}

export function duplicateItemMessage(earlierLine: number | undefined): string {
  return earlierLine === undefined
    ? "Item ID already exists in database"
    : `Item ID already imported from line ${earlierLine}`;
}

export function overlapMessage(a: readonly [number, number], b: readonly [number, number]): string {
  return `Frame ranges overlap: ${a[0]}-${a[1]} and ${b[0]}-${b[1]}`;
}
