// Deterministic synthetic datasets for the benchmark (fixed seed, so every run and every peer
// sees the same bytes): images with ~10 bbox/polygon annotations each, as lossless item JSONL,
// and a video set (video items, then video annotation lines with a keyframe every 10 frames).

import { once } from "node:events";
import { createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "../sdk/src/testing/seeded-random.ts";

/** The video annotation import's file limit is 100 MiB; files are cut below it, at a line boundary. */
export const MAX_FILE_BYTES = 100_000_000;
export const SEED = 0x1abe1;
export const CATEGORIES = [
  "car",
  "truck",
  "bus",
  "bicycle",
  "motorcycle",
  "person",
  "rider",
  "traffic light",
  "traffic sign",
  "pole",
  "dog",
  "cat",
  "bench",
  "backpack",
  "umbrella",
  "handbag",
  "suitcase",
  "bottle",
  "chair",
  "potted plant",
] as const;
const FIXED_TIME = "2025-01-01T00:00:00Z";

const round2 = (v: number) => Math.round(v * 100) / 100;
const pad = (n: number, width: number) => String(n).padStart(width, "0");

export interface GeneratedFile {
  path: string;
  bytes: number;
  lines: number;
  annotations: number;
}

/** Writes lines to numbered files, starting a new file before one would pass MAX_FILE_BYTES. */
class SplitWriter {
  readonly files: GeneratedFile[] = [];
  private stream: WriteStream | undefined;
  private current: GeneratedFile | undefined;

  constructor(
    private readonly dir: string,
    private readonly stem: string,
  ) {}

  async write(line: string, annotations: number): Promise<void> {
    const bytes = Buffer.byteLength(line) + 1;
    if (!this.current || this.current.bytes + bytes > MAX_FILE_BYTES) await this.next();
    const file = this.current as GeneratedFile;
    file.bytes += bytes;
    file.lines += 1;
    file.annotations += annotations;
    const stream = this.stream as WriteStream;
    if (!stream.write(`${line}\n`)) await once(stream, "drain");
  }

  private async next(): Promise<void> {
    await this.close();
    const path = join(this.dir, `${this.stem}-${this.files.length + 1}.jsonl`);
    this.current = { path, bytes: 0, lines: 0, annotations: 0 };
    this.files.push(this.current);
    this.stream = createWriteStream(path);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    if (!stream) return;
    stream.end();
    await once(stream, "close");
  }
}

export interface ImageSetSpec {
  /** Exact total of annotations. */
  annotations: number;
  /** Item ids are global: each set gets its own prefix (`<prefix>-0000001`). */
  prefix: string;
  seed?: number;
  /** Extension of each item's media file name and URI (default ".jpg"). */
  mediaExtension?: string;
}

export interface ImageSet {
  files: GeneratedFile[];
  items: number;
  annotations: number;
  bboxes: number;
  polygons: number;
}

/**
 * Images of 1280x720 (4 in 5 `train`, 1 in 5 `val`), 6 to 14 annotations each (10 on average,
 * the last image takes what is left), 4 in 5 boxes and 1 in 5 polygons of 4 to 8 vertices,
 * categories 1..20; all approved, with fixed times, as `labelport-items` lines.
 */
export async function writeImageSet(dir: string, spec: ImageSetSpec): Promise<ImageSet> {
  const random = seededRandom(spec.seed ?? SEED);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const writer = new SplitWriter(dir, `images-${spec.annotations}`);
  const set: ImageSet = { files: writer.files, items: 0, annotations: 0, bboxes: 0, polygons: 0 };
  const width = 1280;
  const height = 720;
  const extension = spec.mediaExtension ?? ".jpg";
  try {
    for (let i = 1; set.annotations < spec.annotations; i++) {
      const id = `${spec.prefix}-${pad(i, 7)}`;
      const count = Math.min(int(6, 14), spec.annotations - set.annotations);
      const annotations: unknown[] = [];
      for (let a = 0; a < count; a++) {
        const categoryId = int(1, CATEGORIES.length);
        const annotationId = `${id}-${pad(a, 2)}`;
        if (random() < 0.8) {
          const w = round2(8 + random() * 300);
          const h = round2(8 + random() * 200);
          const x = round2(random() * (width - w));
          const y = round2(random() * (height - h));
          annotations.push({
            id: annotationId,
            type: "ANNOTATION_TYPE_BBOX",
            categoryId,
            bbox: { x, y, width: w, height: h },
          });
          set.bboxes += 1;
        } else {
          // A star-shaped polygon: sorted angles around a centre never cross.
          const cx = 100 + random() * (width - 200);
          const cy = 100 + random() * (height - 200);
          const vertices = int(4, 8);
          const angles = Array.from({ length: vertices }, () => random() * 2 * Math.PI).sort((p, q) => p - q);
          const points: number[] = [];
          for (const angle of angles) {
            const r = 20 + random() * 80;
            points.push(round2(cx + r * Math.cos(angle)), round2(cy + r * Math.sin(angle)));
          }
          annotations.push({ id: annotationId, type: "ANNOTATION_TYPE_POLYGON", categoryId, polygon: { points } });
          set.polygons += 1;
        }
      }
      const item = {
        id,
        kind: "ITEM_KIND_IMAGE",
        status: "ITEM_STATUS_APPROVED",
        split: i % 5 === 0 ? "val" : "train",
        media: { uri: `media/${id}${extension}`, fileName: `${id}${extension}`, width, height },
        createTime: FIXED_TIME,
        updateTime: FIXED_TIME,
        annotations,
      };
      await writer.write(JSON.stringify(item), count);
      set.items += 1;
      set.annotations += count;
    }
  } finally {
    await writer.close();
  }
  return set;
}

export interface VideoSetSpec {
  videos: number;
  tracksPerVideo: number;
  seed?: number;
}

export interface VideoSet {
  /** Video items (labelport-items), imported first so the tracks find their videos. */
  itemFiles: GeneratedFile[];
  /** Video annotation lines (jsonl), one track each. */
  trackFiles: GeneratedFile[];
  videos: number;
  tracks: number;
  keyframes: number;
  personas: string[];
}

/**
 * Videos of 3000 frames; per video `tracksPerVideo` tracks of 100 to 600 frames with a keyframe
 * every 10 frames and a small drift; 1 in 4 tracks is a type assignment, the rest object links,
 * each to its own target so no two tracks overlap; personas persona-1..4.
 */
export async function writeVideoSet(dir: string, spec: VideoSetSpec): Promise<VideoSet> {
  const random = seededRandom((spec.seed ?? SEED) ^ 0x5eed);
  const int = (min: number, max: number) => min + Math.floor(random() * (max - min + 1));
  const personas = ["persona-1", "persona-2", "persona-3", "persona-4"];
  const items = new SplitWriter(dir, "video-items");
  const tracks = new SplitWriter(dir, "video-tracks");
  const set: VideoSet = {
    itemFiles: items.files,
    trackFiles: tracks.files,
    videos: 0,
    tracks: 0,
    keyframes: 0,
    personas,
  };
  const frames = 3000;
  try {
    for (let v = 1; v <= spec.videos; v++) {
      const videoId = `vid-${pad(v, 5)}`;
      await items.write(
        JSON.stringify({
          id: videoId,
          kind: "ITEM_KIND_VIDEO",
          status: "ITEM_STATUS_APPROVED",
          split: "train",
          media: {
            uri: `media/${videoId}.mp4`,
            fileName: `${videoId}.mp4`,
            width: 1920,
            height: 1080,
            frames,
            fps: 30,
          },
          createTime: FIXED_TIME,
          updateTime: FIXED_TIME,
        }),
        0,
      );
      set.videos += 1;
      for (let t = 1; t <= spec.tracksPerVideo; t++) {
        const length = int(10, 60) * 10;
        const start = int(0, (frames - length) / 10) * 10;
        let x = random() * 1600;
        let y = random() * 800;
        const w = round2(40 + random() * 200);
        const h = round2(40 + random() * 200);
        const boxes: unknown[] = [];
        for (let f = start; f <= start + length; f += 10) {
          x = Math.min(1920 - w, Math.max(0, x + (random() - 0.5) * 20));
          y = Math.min(1080 - h, Math.max(0, y + (random() - 0.5) * 20));
          boxes.push({
            frameNumber: f,
            x: round2(x),
            y: round2(y),
            width: w,
            height: h,
            isKeyframe: true,
            visible: true,
          });
        }
        const key = `${pad(v, 5)}-${pad(t, 4)}`;
        const isType = t % 4 === 0;
        const line = {
          id: `trk-${key}`,
          videoId,
          personaId: personas[t % personas.length],
          annotationType: isType ? "type" : "object",
          ...(isType
            ? { typeAssignment: { typeId: `type-${key}`, typeName: "Pitcher" } }
            : { objectLink: { objectId: `obj-${key}`, objectType: "player" } }),
          boundingBoxSequence: { interpolationMode: "linear", boxes },
          createdAt: "2025-01-01T00:00:00.000Z",
          updatedAt: "2025-01-01T00:00:00.000Z",
        };
        await tracks.write(JSON.stringify(line), 1);
        set.tracks += 1;
        set.keyframes += boxes.length;
      }
    }
  } finally {
    await items.close();
    await tracks.close();
  }
  return set;
}
