// The size of the video track export's body (GET /api/export) before it is written (the body
// streams, so nothing else knows it), and the large-export warning. One line of
// videoAnnotationLine is the sum of data/tracks.ts `LineLengths` parts. MongoDB sums the per-line
// part exactly (stored `trackStats.fixed`, or data/tracks-expr.ts for older tracks); box lengths
// depend on how JavaScript prints numbers (an interpolated 956.627125 or 133.33333333333334),
// which MongoDB cannot reproduce, so they are measured: up to 64 random tracks of the selection
// are serialized box by box (keyframes whole, 16 random interpolated frames each, computed as the
// SDK interpolates), and the mean keyframe and interpolated box lengths are applied to the exact
// counts. jsonl adds "\n" per line; json adds "[", "\n" or ",\n" per line and "\n]\n" (2 per line
// + 3; "[]\n" when empty).
import type { Db, Filter } from "mongodb";
import { type AnnotationDoc, type BoxDoc, Collections } from "../data/model.ts";
import type { TotalsRow, TrackFormat } from "../data/tracks-expr.ts";

/**
 * The video track export: "Exports larger than 100 MB trigger a warning". Its own stats example
 * shows the warning at exactly 104857600 bytes, so the threshold is inclusive.
 */
export const LARGE_EXPORT_BYTES = 100 * 1024 * 1024;
export const LARGE_EXPORT_WARNING = "Large export. Consider filtering by persona or video.";
/** Tracks serialized to measure box lengths (see `estimateSize`). */
const SAMPLE_TRACKS = 64;
/** Random annotations of the collection read per wanted sample track before the selection's own draw. */
const SAMPLE_DRAWS = 4;
/** Interpolated boxes measured per sampled track. */
const SAMPLE_FRAMES = 16;

/** `12.34`: bytes in MiB with two decimals (X-Export-Size; totalSizeMB adds "MB"). */
export function megabytes(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(2);
}

export function sizeWarning(bytes: number): string | undefined {
  return bytes >= LARGE_EXPORT_BYTES ? LARGE_EXPORT_WARNING : undefined;
}

export interface BoxLengths {
  keyframe: number;
  interpolated: number;
}

/**
 * Mean serialized box lengths of a random sample of the selected tracks (see the note at the
 * top). First from random tracks of the whole collection (MongoDB's random cursor reads only
 * those), which serves when the selection is a good part of it; else drawn from the selection's
 * ids, which `TRACK_TOTALS_INDEX` holds for the usual selections, and only those tracks are read.
 */
export async function sampleBoxLengths(
  db: Db,
  match: Filter<AnnotationDoc>,
  includeInterpolated: boolean,
): Promise<BoxLengths> {
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  const selected = { ...match, type: "track" } as Filter<AnnotationDoc>;
  let sample = await annotations
    .aggregate<Pick<AnnotationDoc, "boxSequence">>([
      { $sample: { size: SAMPLE_TRACKS * SAMPLE_DRAWS } },
      { $match: selected },
      { $limit: SAMPLE_TRACKS },
      { $project: { _id: 0, boxSequence: 1 } },
    ])
    .toArray();
  if (sample.length < SAMPLE_TRACKS / 4) {
    const ids = await annotations
      .aggregate<{ _id: string }>([
        { $match: selected },
        { $project: { _id: 1 } },
        { $sample: { size: SAMPLE_TRACKS } },
      ])
      .toArray();
    sample =
      ids.length === 0
        ? []
        : await annotations
            .find({ _id: { $in: ids.map((row) => row._id) } }, { projection: { _id: 0, boxSequence: 1 } })
            .toArray();
  }
  return measureBoxes(
    sample.map((doc) => doc.boxSequence?.boxes ?? []),
    includeInterpolated,
  );
}

/** A plain box in the SDK's key order, for JSON.stringify. */
function boxJson(box: BoxDoc, isKeyframe: boolean): string {
  return JSON.stringify({
    frameNumber: box.frameNumber,
    x: box.x,
    y: box.y,
    width: box.width,
    height: box.height,
    isKeyframe,
    visible: box.visible,
  });
}

/** Mean keyframe and interpolated box lengths over the given sequences (exported for the tests). */
export function measureBoxes(
  sequences: ReadonlyArray<readonly BoxDoc[]>,
  includeInterpolated: boolean,
  random: () => number = Math.random,
): BoxLengths {
  let keyframes = 0;
  let keyframeBytes = 0;
  let interpolated = 0;
  let interpolatedBytes = 0;
  for (const boxes of sequences) {
    const keys = boxes.filter((b) => b.isKeyframe).sort((a, b) => a.frameNumber - b.frameNumber);
    for (const key of keys) keyframeBytes += boxJson(key, true).length;
    keyframes += keys.length;
    if (!includeInterpolated || keys.length < 2) continue;
    let count = 0;
    for (let i = 1; i < keys.length; i++) {
      count += Math.max(0, (keys[i] as BoxDoc).frameNumber - (keys[i - 1] as BoxDoc).frameNumber - 1);
    }
    if (count === 0) continue;
    const stored = new Map<number, BoxDoc>();
    for (const box of boxes) if (!box.isKeyframe) stored.set(box.frameNumber, box);
    let bytes = 0;
    const picks = Math.min(SAMPLE_FRAMES, count);
    for (let p = 0; p < picks; p++) {
      // The r-th interpolated frame of the track, then the box interpolateBoxSequence makes for it.
      let r = Math.floor(random() * count);
      for (let i = 1; i < keys.length; i++) {
        const start = keys[i - 1] as BoxDoc;
        const end = keys[i] as BoxDoc;
        const gap = Math.max(0, end.frameNumber - start.frameNumber - 1);
        if (r >= gap) {
          r -= gap;
          continue;
        }
        const frame = start.frameNumber + 1 + r;
        const kept = stored.get(frame);
        const t = (frame - start.frameNumber) / (end.frameNumber - start.frameNumber);
        const lerp = (a: number, b: number) => a + (b - a) * t;
        bytes += boxJson(
          kept ?? {
            frameNumber: frame,
            x: lerp(start.x, end.x),
            y: lerp(start.y, end.y),
            width: lerp(start.width, end.width),
            height: lerp(start.height, end.height),
            isKeyframe: false,
            visible: start.visible,
          },
          false,
        ).length;
        break;
      }
    }
    // Weighted by the track's interpolated frames: long tracks dominate the body.
    interpolated += count;
    interpolatedBytes += (bytes / picks) * count;
  }
  return {
    keyframe: keyframes > 0 ? keyframeBytes / keyframes : 0,
    interpolated: interpolated > 0 ? interpolatedBytes / interpolated : 0,
  };
}

/** Bytes of the body: the exact per-line sums plus the measured box lengths times the box counts. */
export function estimateSize(totals: TotalsRow | undefined, lengths: BoxLengths, format: TrackFormat): number {
  if (!totals || totals.annotations === 0) return format === "json" ? 3 : 0;
  const bytes =
    totals.fixed +
    totals.commas +
    totals.keyframes * lengths.keyframe +
    totals.interpolated * lengths.interpolated +
    (format === "json" ? 3 : 0);
  return Math.round(bytes);
}
