// Bounding-box sequences (video tracks) as stored: checks, frame ranges, and the merge and trim
// operations of the import's conflict resolution.
import { SequenceErrors as sdkSequenceErrors, validateBoxSequence } from "@labelport/sdk";
import { publicId } from "./ids.ts";
import type { AnnotationDoc, BoxDoc, BoxSequenceDoc, TrackStatsDoc } from "./model.ts";

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

/** Sets the derived fields of a track (frame range, key and export statistics) from its boxes and references. */
export function deriveTrackFields(doc: AnnotationDoc): AnnotationDoc {
  if (doc.type === "track") doc.trackStats = trackStatsOf(doc);
  else delete doc.trackStats;
  if (!doc.boxSequence) return doc;
  const range = frameRangeOf(doc.boxSequence.boxes);
  if (range) doc.frameRange = range;
  else delete doc.frameRange;
  doc.trackKey = trackKeyOf(doc);
  return doc;
}

/**
 * A track's new boxes with the fields derived from them, to spread over the track (its
 * interpolation mode and references kept). `boxes` are sorted and non-empty.
 */
export function withBoxes(
  doc: AnnotationDoc,
  boxes: BoxDoc[],
): Required<Pick<AnnotationDoc, "boxSequence" | "frameRange" | "trackStats">> {
  const boxSequence = { interpolationMode: doc.boxSequence?.interpolationMode ?? "", boxes };
  return {
    boxSequence,
    frameRange: frameRangeOf(boxes) as [number, number],
    trackStats: trackStatsOf({ ...doc, boxSequence }),
  };
}

// ---------------------------------------------------------------------------------------------
// Export statistics of a track, stored with it so GET /api/export counts, validates and sizes a
// selection by summing numbers instead of walking every box array before its first byte.

/**
 * Version of what `trackStatsOf` stores. Readers use stored statistics of this version only and
 * compute the others (and those of documents written before they existed), so bump it whenever
 * the definition below or the line layout of `LineLengths` changes.
 */
export const TRACK_STATS_VERSION = 1;

/**
 * The parts of a videoAnnotationLine's length (field order id, videoId, personaId,
 * annotationType, typeAssignment | objectLink, boundingBoxSequence, createdAt, updatedAt):
 *   BASE + |id| + |videoId| + |personaId| + |interpolationMode or "linear"| + LINK
 *        + sum |box| + (boxes - 1)                                   (commas between boxes)
 *   BASE = 197: the keys and punctuation, "type", two 24-character ISO times
 *   LINK = 45 + |typeId| + |typeName|         typeAssignment (or the category, typeId its id)
 *        | 47 + |objectId| + |objectType|     objectLink (includes "object" over "type")
 *        | 0                                  neither
 *   |box| = 70 + |frameNumber| + |x| + |y| + |width| + |height| + |isKeyframe| + |visible|
 * with |s| the UTF-8 bytes of a string (JSON escapes not counted), pinned by
 * exports/size-estimate.test.ts against the real formatter.
 */
export const LineLengths = {
  base: 197,
  typeLink: 45,
  objectLink: 47,
  box: 70,
} as const;

/**
 * What data/tracks-expr.ts computes in MongoDB for a track (`trackStatsProjection`), value for
 * value, so stored and computed statistics sum to the same headers. Field presence follows
 * MongoDB's (a key holding undefined is stored as null, and present).
 */
export function trackStatsOf(doc: AnnotationDoc): TrackStatsDoc {
  const boxes = doc.boxSequence?.boxes ?? [];
  const mode = doc.boxSequence?.interpolationMode ?? "";
  const keys: number[] = [];
  let ascending = true;
  let negative = false;
  for (let i = 0; i < boxes.length; i++) {
    const box = boxes[i] as BoxDoc;
    if (box.isKeyframe === true) keys.push(box.frameNumber);
    if (i > 0 && !(box.frameNumber > (boxes[i - 1] as BoxDoc).frameNumber)) ascending = false;
    if ((box.width ?? 0) < 0 || (box.height ?? 0) < 0) negative = true;
  }
  const n = keys.length;
  const valid = n > 0 && ascending && !negative && (mode === "" || mode === "linear");
  let interpolated = 0;
  if (n > 0) {
    // Frames strictly between consecutive keyframes; invalid: between sorted, distinct keyframes.
    interpolated = valid
      ? (keys[n - 1] as number) - (keys[0] as number) - (n - 1)
      : Math.max(0, Math.max(...keys) - Math.min(...keys) + 1 - new Set(keys).size);
  }
  const stats: TrackStatsDoc = {
    v: TRACK_STATS_VERSION,
    keyframes: n,
    interpolated,
    valid,
    fixed:
      LineLengths.base +
      textBytes(publicId(doc.datasetId, doc._id)) +
      textBytes(doc.itemId) +
      textBytes(doc.personaId) +
      (mode === "" ? "linear".length : textBytes(mode)),
  };
  const link = doc.link;
  if (link != null && Object.hasOwn(link, "objectLink")) {
    stats.fixed +=
      LineLengths.objectLink + textBytes(link.objectLink?.objectId) + textBytes(link.objectLink?.objectType);
  } else if (link != null && Object.hasOwn(link, "typeAssignment")) {
    stats.fixed +=
      LineLengths.typeLink + textBytes(link.typeAssignment?.typeId) + textBytes(link.typeAssignment?.typeName);
  } else if (Object.hasOwn(doc, "categoryId")) {
    // The category's name is the dataset's (and can be renamed): added when read.
    stats.fixed += LineLengths.typeLink + textBytes(doc.categoryId);
    stats.category = doc.categoryId ?? null;
  }
  if (!valid) stats.errors = validateBoxSequence({ interpolationMode: mode, boxes } as never);
  return stats;
}

/**
 * Keys of the index that sums stored statistics from index entries alone (a covered query, no
 * track read: exports/track-summary.ts `selectionTotals`) for a dataset's tracks, and serves
 * exports/size-estimate.ts `sampleBoxLengths`' draw of ids. Tracks only, so the annotations of
 * image datasets do not pay for it on write.
 */
export const TRACK_TOTALS_INDEX = {
  key: {
    datasetId: 1,
    type: 1,
    removed: 1,
    "trackStats.v": 1,
    "trackStats.category": 1,
    "trackStats.keyframes": 1,
    "trackStats.interpolated": 1,
    "trackStats.fixed": 1,
    "trackStats.valid": 1,
    _id: 1,
  },
  options: { name: "trackTotals", partialFilterExpression: { type: "track" } },
} as const;

/** UTF-8 bytes of a value as MongoDB's `$toString` prints it; null and missing are "". */
function textBytes(value: string | number | null | undefined): number {
  return value == null ? 0 : Buffer.byteLength(String(value));
}
