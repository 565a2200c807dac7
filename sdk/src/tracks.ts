// Video tracks: linear interpolation of a bounding-box sequence between its keyframes,
// and the sequence checks whose messages the export and import APIs report verbatim.
import { create } from "@bufbuild/protobuf";
import { type BoundingBoxSequence, type SequenceBox, SequenceBoxSchema } from "./gen/labelport/v1/dataset_pb.ts";

/** Messages of the `validationErrors[].errors` of the video annotation API; the first two are its own words. */
export const SequenceErrors = {
  noKeyframe: "Sequence must have at least one keyframe",
  notAscending: "Frame numbers must be in ascending order",
  duplicateFrame: (frame: number) => `Duplicate frame number ${frame}`,
  negativeSize: (frame: number) => `Box at frame ${frame} has a negative width or height`,
  interpolationMode: (mode: string) => `Unsupported interpolation mode "${mode}" (only "linear")`,
} as const;

export interface ValidateSequenceOptions {
  /** The import option `validation.requireKeyframes` (default true). */
  requireKeyframes?: boolean;
}

/** Returns the problems of a sequence, empty when it is valid. Each message appears once. */
export function validateBoxSequence(
  sequence: Pick<BoundingBoxSequence, "interpolationMode" | "boxes">,
  options: ValidateSequenceOptions = {},
): string[] {
  const errors: string[] = [];
  const { boxes } = sequence;
  if ((options.requireKeyframes ?? true) && !boxes.some((box) => box.isKeyframe)) {
    errors.push(SequenceErrors.noKeyframe);
  }
  let ascending = true;
  const duplicates = new Set<number>();
  for (let i = 1; i < boxes.length; i++) {
    const previous = boxes[i - 1] as SequenceBox;
    const current = boxes[i] as SequenceBox;
    if (current.frameNumber < previous.frameNumber) ascending = false;
    if (current.frameNumber === previous.frameNumber) duplicates.add(current.frameNumber);
  }
  if (!ascending) {
    errors.push(SequenceErrors.notAscending);
    // Out of order, equal frames need not be neighbours: look again with a set.
    const seen = new Set<number>();
    for (const box of boxes) {
      if (seen.has(box.frameNumber)) duplicates.add(box.frameNumber);
      seen.add(box.frameNumber);
    }
  }
  for (const frame of [...duplicates].sort((a, b) => a - b)) errors.push(SequenceErrors.duplicateFrame(frame));
  for (const box of boxes) {
    if (box.width < 0 || box.height < 0) errors.push(SequenceErrors.negativeSize(box.frameNumber));
  }
  const mode = sequence.interpolationMode;
  if (mode !== "" && mode !== "linear") errors.push(SequenceErrors.interpolationMode(mode));
  return errors;
}

/** Keyframes of a sequence, in frame order. */
export function keyframes(sequence: Pick<BoundingBoxSequence, "boxes">): SequenceBox[] {
  return sequence.boxes.filter((box) => box.isKeyframe).sort((a, b) => a.frameNumber - b.frameNumber);
}

/** Number of frames strictly between consecutive keyframes, i.e. what interpolation adds. */
export function interpolatedFrameCount(sequence: Pick<BoundingBoxSequence, "boxes">): number {
  const keys = keyframes(sequence);
  let count = 0;
  for (let i = 1; i < keys.length; i++) {
    const gap = (keys[i] as SequenceBox).frameNumber - (keys[i - 1] as SequenceBox).frameNumber - 1;
    if (gap > 0) count += gap;
  }
  return count;
}

/**
 * Every frame from the first keyframe to the last: keyframes as they are and, for each frame
 * strictly between two consecutive keyframes, a box with `isKeyframe: false`. A non-keyframe box
 * stored for that frame (e.g. imported fully interpolated) is kept; otherwise x, y, width and
 * height are interpolated linearly and `visible` follows the earlier keyframe. Stored non-keyframe
 * boxes outside the keyframe range are dropped, as they cannot be derived from the keyframes.
 */
export function interpolateBoxSequence(sequence: Pick<BoundingBoxSequence, "boxes">): SequenceBox[] {
  const keys = keyframes(sequence);
  const stored = new Map<number, SequenceBox>();
  for (const box of sequence.boxes) if (!box.isKeyframe) stored.set(box.frameNumber, box);
  const out: SequenceBox[] = [];
  for (let i = 0; i < keys.length; i++) {
    const start = keys[i] as SequenceBox;
    out.push(start);
    const end = keys[i + 1];
    if (!end) break;
    const span = end.frameNumber - start.frameNumber;
    for (let frame = start.frameNumber + 1; frame < end.frameNumber; frame++) {
      const kept = stored.get(frame);
      if (kept) {
        out.push(kept);
        continue;
      }
      const t = (frame - start.frameNumber) / span;
      out.push(
        create(SequenceBoxSchema, {
          frameNumber: frame,
          x: lerp(start.x, end.x, t),
          y: lerp(start.y, end.y, t),
          width: lerp(start.width, end.width, t),
          height: lerp(start.height, end.height, t),
          isKeyframe: false,
          visible: start.visible,
        }),
      );
    }
  }
  return out;
}

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}
