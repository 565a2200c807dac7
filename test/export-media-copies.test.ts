// save_original_file through the export layout (issue 16): originals that are missing are counted,
// listed and noted, never fatal unless the export asks `onMissingMedia: "fail"`; the bounded copy
// pool writes the same bytes whatever order the copies finish in; and YOLO, COCO and VOC read an
// image's size from its header when the item does not carry it.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  BaseExporter,
  commonOptionsShape,
  createExportLayout,
  EXPORT_SUMMARY_KEY,
  type ExportContext,
  type ExportStorage,
  MISSING_MEDIA_KEY,
  z,
} from "@labelport/sdk";
import { AnnotationSchema, AnnotationType, type Item, ItemSchema } from "@labelport/sdk/contracts";
import { listFiles, runSampleExport, type SampleDataset, sampleDataset } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import CocoExporter from "../plugins/coco/src/index.ts";
import VocExporter from "../plugins/voc/src/index.ts";
import YoloExporter from "../plugins/yolo/src/index.ts";
import { png } from "./support/png.ts";
import { runPythonJson } from "./support/python.ts";

const DATASET = sampleDataset().dataset;

function imageItem(id: string, uri: string | undefined, size?: { width: number; height: number }): Item {
  return create(ItemSchema, {
    id,
    datasetId: DATASET.id,
    split: "train",
    media: { ...(uri ? { uri } : {}), fileName: `${id}.png`, ...(size ?? {}) },
    annotations: [
      create(AnnotationSchema, {
        id: `${id}-a1`,
        itemId: id,
        type: AnnotationType.BBOX,
        categoryId: 2,
        geometry: { case: "bbox", value: { x: 8, y: 6, width: 16, height: 12 } },
      }),
    ],
  });
}

/**
 * `count` items; every odd one's media is missing from the media storage, and the last `withoutMedia`
 * have no media at all.
 */
function halfMissing(count: number, withoutMedia = 0): SampleDataset {
  const items: Item[] = [];
  const media = new Map<string, Uint8Array>();
  for (let n = 0; n < count + withoutMedia; n++) {
    const id = `img-${String(n).padStart(3, "0")}`;
    if (n >= count) {
      items.push(imageItem(id, undefined, { width: 64, height: 48 }));
      continue;
    }
    const uri = `media/${id}.png`;
    if (n % 2 === 0) media.set(uri, png(64 + n, 48));
    items.push(imageItem(id, uri, { width: 64 + n, height: 48 }));
  }
  return { dataset: DATASET, items, media };
}

interface ListedMedia {
  itemId: string;
  uri: string;
  key: string;
  kind: string;
  reason: string;
}

describe("missing original media", () => {
  it("completes with half the originals missing: counts in the summary, a note, every URI listed in item order", async () => {
    const run = await runSampleExport(CocoExporter, { fixture: halfMissing(10, 2), saveOriginalFile: true });
    try {
      const summary = await run.json<Record<string, unknown>>(EXPORT_SUMMARY_KEY);
      expect(summary).toMatchObject({
        itemCount: 12,
        originalFilesSaved: 5,
        originalFilesMissing: 5,
        originalFilesRefused: 0,
        originalFilesFailed: 0,
      });
      const missing = ["001", "003", "005", "007", "009"];
      expect(await run.json<ListedMedia[]>(MISSING_MEDIA_KEY)).toEqual(
        missing.map((n) => ({
          itemId: `img-${n}`,
          uri: `media/img-${n}.png`,
          key: `images/train/img-${n}.png`,
          kind: "missing",
          reason: expect.stringContaining(`media/img-${n}.png`),
        })),
      );
      const listed = missing.map((n) => `media/img-${n}.png (missing)`).join(", ");
      expect(run.result.formatNotes).toEqual(
        expect.arrayContaining([
          `save_original_file: 5 of 10 original files not copied (5 missing; all in ${MISSING_MEDIA_KEY}); they are: ${listed}`,
          "save_original_file: 2 items have no media to copy",
        ]),
      );
      const files = await run.files();
      expect(files.filter((key) => key.startsWith("images/"))).toEqual(
        ["000", "002", "004", "006", "008"].map((n) => `images/train/img-${n}.png`),
      );
      for (const n of [0, 2, 4, 6, 8]) {
        expect((await run.read(`images/train/img-00${n}.png`)).equals(png(64 + n, 48))).toBe(true);
      }
      const manifest = await run.json<{ notes: string[]; artifacts: Array<{ key: string }> }>("manifest.json");
      expect(manifest.notes).toEqual(run.result.formatNotes);
      expect(manifest.artifacts.map((a) => a.key)).toContain(MISSING_MEDIA_KEY);
    } finally {
      await run.cleanup();
    }
  });

  it("lists the first 100 URIs in the note and all of them in missing_media.json", async () => {
    const run = await runSampleExport(YoloExporter, { fixture: halfMissing(240), saveOriginalFile: true });
    try {
      const listed = await run.json<ListedMedia[]>(MISSING_MEDIA_KEY);
      expect(listed).toHaveLength(120);
      expect(listed.map((entry) => entry.itemId)).toEqual([...listed.map((entry) => entry.itemId)].sort());
      const note = run.result.formatNotes.find((text) => text.includes("original files not copied")) ?? "";
      expect(note).toContain("120 of 240 original files not copied (120 missing;");
      expect(note).toContain("the first 100: media/img-001.png (missing), media/img-003.png");
      expect(note).toContain("media/img-199.png (missing)");
      expect(note).not.toContain("media/img-201.png");
    } finally {
      await run.cleanup();
    }
  });

  it('fails the export with onMissingMedia: "fail", naming the first URIs, and leaves no file', async () => {
    const root = await mkdtemp(join(tmpdir(), "labelport-missing-"));
    try {
      const failed = runSampleExport(CocoExporter, {
        root,
        fixture: halfMissing(30),
        saveOriginalFile: true,
        options: { onMissingMedia: "fail" },
      });
      await expect(failed).rejects.toMatchObject({ name: "MissingMediaError" });
      const message = await failed.catch((err: Error) => err.message);
      expect(message).toContain(
        'save_original_file: 15 of 30 original files could not be copied (onMissingMedia: "fail")',
      );
      expect(message).toContain("media/img-001.png (missing), media/img-003.png (missing)");
      expect(message).toContain("media/img-019.png (missing), and 5 more");
      expect(await listFiles(join(root, "store"))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it("refuses an unknown onMissingMedia value, naming the option", async () => {
    await expect(runSampleExport(CocoExporter, { options: { onMissingMedia: "ignore" } })).rejects.toThrow(
      /onMissingMedia/,
    );
  });
});

/**
 * Copies held until `batch` of them wait (or the export releases them), then let go last-first,
 * each one finishing before the next is let go: with a batch of the pool's size the completion
 * order is the reverse of the start order, by construction rather than by timing; with a batch of
 * one, copies run one at a time. Reports `media/refused-*` as refused, as a media source would.
 */
function reversingStorage(storage: ExportStorage, batch: number) {
  const held: Array<{ go: () => void; done: Promise<unknown> }> = [];
  const finished: string[] = [];
  async function releaseAll(): Promise<void> {
    const group = held.splice(0).reverse();
    for (const copy of group) {
      copy.go();
      await copy.done;
    }
  }
  const wrapped: ExportStorage = {
    writeFile: (key, body, options) => storage.writeFile(key, body, options),
    writeJson: (key, value, options) => storage.writeJson(key, value, options),
    queueFile: (key, body, options) => storage.queueFile(key, body, options),
    flush: () => storage.flush(),
    open: (key, options) => storage.open(key, options),
    readMedia: (uri, range, options) => storage.readMedia(uri, range, options),
    copyMedia(uri, key, options) {
      let go: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        go = resolve;
      });
      const done = gate.then(async () => {
        if (uri.startsWith("media/refused-")) {
          options?.onProblem?.({ uri, kind: "refused", reason: "no media source serves it" });
          finished.push(uri);
          return false;
        }
        const copied = await storage.copyMedia(uri, key, options);
        finished.push(uri);
        return copied;
      });
      held.push({ go, done: done.catch(() => undefined) });
      if (held.length >= batch) void releaseAll();
      return done;
    },
  };
  return { storage: wrapped, releaseAll, finished };
}

const poolOptions = z.strictObject({
  ...commonOptionsShape,
  mediaConcurrency: z.number().int().default(1),
});
type PoolOptions = z.output<typeof poolOptions>;
let lastFinished: string[] = [];

/** One label file per item and its original through the layout's pool. */
class PoolExporter extends BaseExporter<PoolOptions> {
  static override manifest = { name: "pool-check", version: "1.0.0", formats: ["pool-check"], sdk: "^0.1.0" };
  readonly options = poolOptions;

  async export(ctx: ExportContext<PoolOptions>): Promise<void> {
    const reversing = reversingStorage(ctx.storage, ctx.options.mediaConcurrency);
    const layout = createExportLayout({ ...ctx, storage: reversing.storage }, ctx.options);
    for await (const item of ctx.items()) {
      const placement = layout.place(item);
      await ctx.storage.writeFile(`labels/${placement.path}.txt`, `${item.id}\n`);
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    await reversing.releaseAll();
    await layout.finish();
    lastFinished = reversing.finished;
  }
}

describe("the copy pool", () => {
  it("writes byte-identical files and manifest whether copies run one at a time or 8 at once, finishing in reverse", async () => {
    const fixture = halfMissing(40);
    // Refused and missing ones mixed in, so the problem list depends on the order being restored.
    for (const n of [5, 12, 13, 30]) {
      const item = fixture.items[n] as Item;
      item.media = { ...item.media, uri: `media/refused-${n}.png` } as Item["media"];
    }
    const sequential = await runSampleExport(PoolExporter, { fixture, saveOriginalFile: true });
    const pooled = await runSampleExport(PoolExporter, {
      fixture,
      saveOriginalFile: true,
      options: { mediaConcurrency: 8 },
    });
    try {
      // The copies did finish out of order: the first batch last-first.
      expect(lastFinished.slice(0, 8)).toEqual(
        fixture.items
          .slice(0, 8)
          .map((item) => item.media?.uri)
          .reverse(),
      );
      const files = await sequential.files();
      expect(await pooled.files()).toEqual(files);
      for (const key of files) expect((await pooled.read(key)).equals(await sequential.read(key)), key).toBe(true);
      expect(await sequential.json(EXPORT_SUMMARY_KEY)).toMatchObject({
        originalFilesSaved: 18,
        originalFilesMissing: 18,
        originalFilesRefused: 4,
      });
      const listed = await pooled.json<ListedMedia[]>(MISSING_MEDIA_KEY);
      expect(listed.filter((entry) => entry.kind === "refused").map((entry) => entry.uri)).toEqual([
        "media/refused-5.png",
        "media/refused-12.png",
        "media/refused-13.png",
        "media/refused-30.png",
      ]);
      expect(pooled.result.formatNotes.join("\n")).toContain(
        "22 of 40 original files not copied (18 missing, 4 refused;",
      );
    } finally {
      await sequential.cleanup();
      await pooled.cleanup();
    }
  });
});

describe("image sizes from headers", () => {
  const images = new Map<string, Buffer>();
  let dir = "";
  /** Sizes as Pillow reads them, EXIF orientation applied (what labelling tools show). */
  let expected: Record<string, { width: number; height: number }> = {};

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "labelport-headers-"));
    // A PNG; a JPEG rotated by EXIF orientation 6 whose size comes after a 100 KB ICC profile (more
    // than the first chunk a reader gets); a file that is no image.
    expected = await runPythonJson(
      `
import io, json, os, sys
from PIL import Image, ImageOps
out = sys.argv[1]
Image.new("RGB", (64, 48), (10, 20, 30)).save(os.path.join(out, "plain.png"))
exif = Image.Exif()
exif[0x0112] = 6
Image.new("RGB", (80, 60), (200, 100, 50)).save(
    os.path.join(out, "rotated.jpg"), exif=exif.tobytes(), icc_profile=os.urandom(100 * 1024))
sizes = {}
for name in ("plain.png", "rotated.jpg"):
    with Image.open(os.path.join(out, name)) as image:
        shown = ImageOps.exif_transpose(image)
        sizes[name] = {"width": shown.width, "height": shown.height}
print(json.dumps(sizes))
`,
      [dir],
    );
    images.set("media/plain.png", await readFile(join(dir, "plain.png")));
    images.set("media/rotated.jpg", await readFile(join(dir, "rotated.jpg")));
    images.set("media/not-an-image.png", Buffer.from("no image here\n"));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function unsized(): SampleDataset {
    const items = ["not-an-image.png", "plain.png", "rotated.jpg"].map((name) => {
      const item = imageItem(name.replace(/\..*/, ""), `media/${name}`);
      if (item.media) item.media.fileName = name;
      return item;
    });
    return { dataset: DATASET, items, media: new Map(images) };
  }

  it("independent reader agrees on the fixtures", () => {
    expect(expected).toEqual({ "plain.png": { width: 64, height: 48 }, "rotated.jpg": { width: 60, height: 80 } });
  });

  it("YOLO normalises by the header's size and skips the item whose size nobody knows", async () => {
    const run = await runSampleExport(YoloExporter, { fixture: unsized() });
    try {
      // Box 8,6 16x12: centre (16, 12).
      expect(await run.text("labels/train/plain.txt")).toBe("1 0.250000 0.250000 0.250000 0.250000\n");
      expect(await run.text("labels/train/rotated.txt")).toBe("1 0.266667 0.150000 0.266667 0.150000\n");
      expect((await run.files()).some((key) => key.includes("not-an-image"))).toBe(false);
      expect(run.result.formatNotes).toEqual(
        expect.arrayContaining([
          "image size: read from the image header for 2 items without width/height",
          "1 images have no width/height and were skipped (YOLO normalises by size)",
        ]),
      );
      expect(await run.json("manifest.json")).toMatchObject({
        dropped: { "image without width/height: YOLO normalises by the image size": 1 },
      });
    } finally {
      await run.cleanup();
    }
  });

  it("COCO writes the header's width and height", async () => {
    const run = await runSampleExport(CocoExporter, { fixture: unsized() });
    try {
      const coco = await run.json<{ images: Array<{ file_name: string; width: number; height: number }> }>(
        "annotations/instances_train.json",
      );
      expect(coco.images.map(({ file_name, width, height }) => ({ file_name, width, height }))).toEqual([
        { file_name: "not-an-image.png", width: 0, height: 0 },
        { file_name: "plain.png", ...expected["plain.png"] },
        { file_name: "rotated.jpg", ...expected["rotated.jpg"] },
      ]);
    } finally {
      await run.cleanup();
    }
  });

  it("VOC writes the header's size and skips the item whose size nobody knows", async () => {
    const run = await runSampleExport(VocExporter, { fixture: unsized() });
    try {
      expect(await run.text("Annotations/plain.xml")).toMatch(/<size>\s*<width>64<\/width>\s*<height>48<\/height>/);
      expect(await run.text("Annotations/rotated.xml")).toMatch(/<size>\s*<width>60<\/width>\s*<height>80<\/height>/);
      expect((await run.files()).some((key) => key.includes("not-an-image"))).toBe(false);
      expect(await run.json("manifest.json")).toMatchObject({
        dropped: { "image without width/height: VOC needs the image size": 1 },
      });
    } finally {
      await run.cleanup();
    }
  });
});
