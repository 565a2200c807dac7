// Bounding-box sequences (seed 001 tracks) as stored: checks, frame ranges, and the merge and trim
// operations of the import's conflict resolution.
import { SequenceErrors as sdkSequenceErrors } from "@labelport/sdk";
import type { AnnotationDoc, BoxDoc, BoxSequenceDoc } from "./model.ts";

/** The SDK's messages (what exports report), plus the import's own. */
export const SequenceErrors = {
  ...sdkSequenceErrors,
  noBoxes: "Sequence must have at least one box",
} as const;

export interface SequenceProblem {
  message: string;
  /** Path below the sequence, e.g. `boxes[3].width`. */
  field: string;
}

/** Problems of a sequence, empty when valid. */
export function checkSequence(sequence: BoxSequenceDoc, requireKeyframes: boolean): SequenceProblem[] {
  const problems: SequenceProblem[] = [];
  const { boxes } = sequence;
  if (boxes.length === 0) {
    problems.push({ message: SequenceErrors.noBoxes, field: "boxes" });
    return problems;
  }
  let keyframes = 0;
  let ascendingAt = -1;
  const duplicates: number[] = [];
  const negative: number[] = [];
  for (let i = 0; i < boxes.length; i++) {
    const box = boxes[i] as BoxDoc;
    if (box.isKeyframe) keyframes++;
    if (box.width < 0 || box.height < 0) negative.push(i);
    if (i > 0) {
      const previous = (boxes[i - 1] as BoxDoc).frameNumber;
      if (box.frameNumber < previous && ascendingAt < 0) ascendingAt = i;
      if (box.frameNumber === previous) duplicates.push(i);
    }
  }
  if (requireKeyframes && keyframes === 0) problems.push({ message: SequenceErrors.noKeyframe, field: "boxes" });
  if (ascendingAt >= 0) {
    problems.push({ message: SequenceErrors.notAscending, field: `boxes[${ascendingAt}].frameNumber` });
    const seen = new Set<number>();
    for (let i = 0; i < boxes.length; i++) {
      const frame = (boxes[i] as BoxDoc).frameNumber;
      if (seen.has(frame) && !duplicates.includes(i)) duplicates.push(i);
      seen.add(frame);
    }
  }
  const reported = new Set<number>();
  for (const i of duplicates) {
    const frame = (boxes[i] as BoxDoc).frameNumber;
    if (reported.has(frame)) continue;
    reported.add(frame);
    problems.push({ message: SequenceErrors.duplicateFrame(frame), field: `boxes[${i}].frameNumber` });
  }
  for (const i of negative) {
    const box = boxes[i] as BoxDoc;
    problems.push({
      message: SequenceErrors.negativeSize(box.frameNumber),
      field: `boxes[${i}].${box.width < 0 ? "width" : "height"}`,
    });
  }
  const mode = sequence.interpolationMode;
  if (mode !== "" && mode !== "linear") {
    problems.push({ message: SequenceErrors.interpolationMode(mode), field: "interpolationMode" });
  }
  return problems;
}

/** First and last frame of a sorted, non-empty sequence. */
export function frameRangeOf(boxes: readonly BoxDoc[]): [number, number] | undefined {
  const first = boxes[0];
  const last = boxes[boxes.length - 1];
  return first && last ? [first.frameNumber, last.frameNumber] : undefined;
}

export function rangesOverlap(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1];
}

export function keyframeCount(boxes: readonly BoxDoc[]): number {
  let n = 0;
  for (const box of boxes) if (box.isKeyframe) n++;
  return n;
}

/** Boxes of both sequences by frame number, sorted; `incoming` wins on equal frames. */
export function mergeBoxes(existing: readonly BoxDoc[], incoming: readonly BoxDoc[]): BoxDoc[] {
  const byFrame = new Map<number, BoxDoc>();
  for (const box of existing) byFrame.set(box.frameNumber, box);
  for (const box of incoming) byFrame.set(box.frameNumber, box);
  return [...byFrame.values()].sort((a, b) => a.frameNumber - b.frameNumber);
}

/** The boxes outside `range` (inclusive): what is left of a sequence whose frames were replaced. */
export function trimBoxes(boxes: readonly BoxDoc[], range: readonly [number, number]): BoxDoc[] {
  return boxes.filter((box) => box.frameNumber < range[0] || box.frameNumber > range[1]);
}

/**
 * Tracks whose frame ranges must not overlap share this key: same video, same persona, same link
 * target. Stored on track annotations (indexed) so conflict checks find them without a scan.
 */
export function trackKeyOf(doc: Pick<AnnotationDoc, "itemId" | "personaId" | "link">): string {
  const link = doc.link?.typeAssignment
    ? `t:${doc.link.typeAssignment.typeId}`
    : doc.link?.objectLink
      ? `o:${doc.link.objectLink.objectId}`
      : "";
  return `${doc.itemId}\u0000${doc.personaId ?? ""}\u0000${link}`;
}

/** Sets the derived fields of a track (frame range and key) from its boxes and references. */
export function deriveTrackFields(doc: AnnotationDoc): AnnotationDoc {
  if (!doc.boxSequence) return doc;
  const range = frameRangeOf(doc.boxSequence.boxes);
  if (range) doc.frameRange = range;
  else delete doc.frameRange;
  doc.trackKey = trackKeyOf(doc);
  return doc;
}
