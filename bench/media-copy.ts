// The media-copy case (issue 16): images of about 100 KB in the S3 test server (versitygw), which
// items reference as s3:// URIs (with a space in the key, as real buckets have), copied into a
// COCO export with save_original_file by a plugin process whose LABELPORT_MEDIA_SOURCES serves the
// bucket. Measured: MB/s of media copied (job creation to completion) and the plugin's peak RSS.
import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { type RunningS3, startS3 } from "../scripts/stack/servers.ts";
import { createS3Storage } from "../sdk/src/storage/s3.ts";
import type { GeneratedFile } from "./datasets.ts";

export const MEDIA_BUCKET = "bench-media";
export const MEDIA_IMAGE_BYTES = 100 * 1024;
const WIDTH = 1280;
const HEIGHT = 720;
/** Uploads in flight while the bucket is filled (setup, not measured). */
const UPLOAD_CONCURRENCY = 16;
/** Environment variables the plugin reads the S3 credentials from (by reference in the config). */
const ACCESS_KEY_ENV = "BENCH_MEDIA_S3_ACCESS_KEY_ID";
const SECRET_KEY_ENV = "BENCH_MEDIA_S3_SECRET_ACCESS_KEY";

export interface MediaSet {
  s3: RunningS3;
  images: number;
  /** Sum of the images' sizes. */
  bytes: number;
  /** labelport-items JSONL of one item (and one box) per image. */
  itemsFile: GeneratedFile;
}

/** The key of image `n` in the bucket. */
function imageKey(n: number): string {
  return `raw/img ${String(n).padStart(6, "0")}.png`;
}

/**
 * A PNG whose header says 1280 x 720 followed by `MEDIA_IMAGE_BYTES` in all: the exporter only reads
 * headers (when an item has no size) and copies bytes, so the rest is filler, different per image.
 */
function imageBytes(n: number, filler: Buffer): Buffer {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write("IHDR", 12);
  header.writeUInt32BE(WIDTH, 16);
  header.writeUInt32BE(HEIGHT, 20);
  header.set([8, 2, 0, 0, 0], 24);
  const image = Buffer.alloc(MEDIA_IMAGE_BYTES);
  header.copy(image, 0);
  filler.copy(image, header.length, 0, MEDIA_IMAGE_BYTES - header.length);
  image.writeUInt32BE(n, header.length);
  return image;
}

/** Starts versitygw under `stateDir`, fills a bucket with `images` images and writes their items. */
export async function prepareMediaSet(options: {
  stateDir: string;
  dataDir: string;
  images: number;
  say: (line: string) => void;
}): Promise<MediaSet> {
  const s3 = await startS3({ dir: join(options.stateDir, "s3"), dataDir: options.dataDir });
  try {
    const admin = new S3Client({
      endpoint: s3.url,
      region: s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    await admin.send(new CreateBucketCommand({ Bucket: MEDIA_BUCKET }));
    admin.destroy();
    const bucket = createS3Storage({
      bucket: MEDIA_BUCKET,
      region: s3.region,
      endpoint: s3.url,
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const filler = randomBytes(MEDIA_IMAGE_BYTES);
    let next = 1;
    const uploader = async () => {
      for (let n = next++; n <= options.images; n = next++) await bucket.put(imageKey(n), imageBytes(n, filler));
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: UPLOAD_CONCURRENCY }, uploader));
    await bucket.dispose();
    options.say(
      `  ${options.images} images of ${MEDIA_IMAGE_BYTES / 1024} KB put in s3://${MEDIA_BUCKET} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const path = join(options.stateDir, "media-items.jsonl");
    const itemsFile = {
      path,
      bytes: await writeMediaItems(path, options.images),
      lines: options.images,
      annotations: options.images,
    };
    return { s3, images: options.images, bytes: options.images * MEDIA_IMAGE_BYTES, itemsFile };
  } catch (err) {
    await s3.stop();
    throw err;
  }
}

/** One item per image, with its size (the case measures copying, not header reads) and one box; its bytes. */
async function writeMediaItems(path: string, images: number): Promise<number> {
  const file = await open(path, "w");
  let bytes = 0;
  try {
    let chunk = "";
    for (let n = 1; n <= images; n++) {
      const id = `media-${String(n).padStart(6, "0")}`;
      chunk += `${JSON.stringify({
        id,
        kind: "ITEM_KIND_IMAGE",
        status: "ITEM_STATUS_APPROVED",
        split: n % 5 === 0 ? "val" : "train",
        media: { uri: `s3://${MEDIA_BUCKET}/${imageKey(n)}`, fileName: `img ${n}.png`, width: WIDTH, height: HEIGHT },
        annotations: [
          {
            id: `${id}-00`,
            type: "ANNOTATION_TYPE_BBOX",
            categoryId: 1,
            bbox: { x: 10, y: 20, width: 300, height: 200 },
          },
        ],
      })}\n`;
      if (chunk.length >= 1 << 20) {
        bytes += (await file.write(chunk)).bytesWritten;
        chunk = "";
      }
    }
    bytes += (await file.write(chunk)).bytesWritten;
  } finally {
    await file.close();
  }
  return bytes;
}

/** What the plugin process needs to read the bucket: LABELPORT_MEDIA_SOURCES and the credentials it names. */
export function mediaSourcesEnv(s3: RunningS3): Record<string, string> {
  return {
    LABELPORT_MEDIA_SOURCES: JSON.stringify({
      sources: [
        {
          name: "bench-s3",
          kind: "s3",
          buckets: [MEDIA_BUCKET],
          region: s3.region,
          endpoint: s3.url,
          forcePathStyle: true,
          accessKeyIdEnv: ACCESS_KEY_ENV,
          secretAccessKeyEnv: SECRET_KEY_ENV,
        },
      ],
    }),
    [ACCESS_KEY_ENV]: s3.accessKeyId,
    [SECRET_KEY_ENV]: s3.secretAccessKey,
  };
}
