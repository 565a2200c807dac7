// Where an item's files go in every format (the plugin export layout): split folders,
// meta.category sub-folders, de-duplicated file stems, original media (save_original_file, copied
// by a bounded pool; missing ones are noted, not fatal), image sizes from headers, and
// metadata/export_summary.json.

import { LabelportError } from "./errors.ts";
import type { ExportContext, JoinContext, MediaProblem, MediaProblemKind } from "./exporter.ts";
import type { Item } from "./gen/labelport/v1/dataset_pb.ts";
import { type ImageSize, readMediaImageSize } from "./image-header.ts";
import { annotationTypeName, isVideoItem } from "./item-json.ts";
import { type GatheredFileFormat, joinGatheredFile, openGatheredFile, readText } from "./shard-parts.ts";
import { createSpillSet } from "./storage/spill-set.ts";

/** Split folder of items without a split (COCO `instances_default.json`, YOLO `images/default`). */
export const UNSPLIT = "default";

/**
 * A single path segment from a free-form name, kept verbatim (spaces, non-ASCII, case) except
 * what would change the path or what storage keys refuse: NUL and other control characters are
 * removed, `/` and `\\` become `_`, a `%XX` escape loses its `%` (a proxy could decode it into a
 * separator), a segment that is `.` or `..` becomes `_`, and the segment is cut to 200 UTF-8
 * bytes (file systems allow 255, leaving room for de-duplication suffixes and extensions).
 */
export function sanitizePathSegment(name: string): string {
  let cleaned = name
    .replace(/\p{Surrogate}/gu, "\uFFFD")
    .replace(/[\u0000-\u001f\u007f-\u009f]/g, "")
    .replace(/[/\\]/g, "_")
    .replace(/%(?=[0-9a-fA-F]{2})/g, "_");
  while (Buffer.byteLength(cleaned, "utf8") > 200) cleaned = [...cleaned].slice(0, -1).join("");
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "_" : cleaned;
}

/** The item's split folder: its split, or `default` when unsplit. */
export function splitFolder(item: Item): string {
  return item.split ? sanitizePathSegment(item.split) : UNSPLIT;
}

/** The item's `meta.category` as a folder name, or "" when it has none. */
export function categoryFolder(item: Item): string {
  const value = item.meta?.category;
  if (typeof value === "string" && value !== "") return sanitizePathSegment(value);
  if (typeof value === "number") return String(value);
  return "";
}

/** Stem and extension of the item's original file name (`media.fileName`, else the item id). */
export function originalFileParts(item: Item): { stem: string; ext: string } {
  const base = (item.media?.fileName ?? "").split(/[/\\]/).pop()?.replaceAll("\0", "") ?? "";
  const dot = base.lastIndexOf(".");
  const stem = dot > 0 ? base.slice(0, dot) : base;
  const ext = dot > 0 ? base.slice(dot) : "";
  if (stem === "" || stem === "." || stem === "..") return { stem: sanitizePathSegment(item.id), ext };
  return { stem: sanitizePathSegment(stem), ext };
}

export interface ItemPlacement {
  /** `train`, `val`, `test` or `default`. */
  split: string;
  /** meta.category folder ("" when category folders are off or the item has none). */
  folder: string;
  /** Unique (case-insensitively, per folder) file stem. */
  stem: string;
  /** stem + original extension. */
  fileName: string;
  /** `<folder>/<stem>`, or `<stem>`: the path of the item's files below a split folder. */
  path: string;
  /** `<path><ext>`: the image's path below `images/<split>/` (COCO `file_name`). */
  file: string;
  /** `images/<split>/<path><ext>`: where save_original_file puts the media. */
  imageKey: string;
}

export interface ExportLayoutOptions {
  categoryFolders: boolean;
  /** "fail": finish() fails the export when an original could not be copied (default "note"). */
  onMissingMedia?: "note" | "fail";
  /** Original files copied at once by saveOriginalFile (default MEDIA_COPY_CONCURRENCY). */
  mediaConcurrency?: number;
}

/** Copies in flight at once: enough to hide an object store's latency, few enough to stay small. */
export const MEDIA_COPY_CONCURRENCY = 8;

/** How many URIs the note (and a failure's message) lists; metadata/missing_media.json has all. */
export const LISTED_MISSING_MEDIA = 100;
const LISTED_IN_ERROR = 10;

/** Thrown by finish() when originals could not be copied and the export asked `onMissingMedia: "fail"`. */
export class MissingMediaError extends LabelportError {
  override name = "MissingMediaError";
}

export interface ExportLayout {
  /** Names the item's files; call once per item, in item order (de-duplication depends on it). */
  place(item: Item): ItemPlacement;
  /**
   * Copies the original media when the export asks for it (`save_original_file`). Resolves once
   * the copy is started (it waits while the pool is full); finish() waits for the rest. One that
   * is missing or refused is counted and listed, never an error; a storage failure is thrown by a
   * later call or by finish().
   */
  saveOriginalFile(item: Item, placement: ItemPlacement): Promise<void>;
  /**
   * The image's width and height: the item's media.width/height, else read from its image header
   * through the media sources (the first bytes only); 0 × 0 when neither gives them, or for videos.
   */
  imageSize(item: Item): Promise<ImageSize>;
  /** Counts the item for the summary and reports progress. */
  done(item: Item, placement: ItemPlacement): void;
  /** Reports progress for an item the format could not carry (counted as skipped). */
  skip(item: Item): void;
  /**
   * Waits for the copies, writes metadata/export_summary.json (and metadata/missing_media.json
   * when originals were not copied) and the notes about them; a MissingMediaError instead when
   * the export asked `onMissingMedia: "fail"`. A shard of a split export writes its counts and
   * names as parts instead, and the join's finishExportLayout() writes those files for all shards.
   */
  finish(): Promise<void>;
}

/** A layout's counts: what export_summary.json and the media notes are made of (summed over shards). */
interface LayoutTally {
  items: number;
  annotations: number;
  skipped: number;
  skippedAnnotations: number;
  splits: Record<string, Count>;
  folders: Record<string, Count>;
  categories: Record<string, number>;
  types: Record<string, number>;
  sizedFromHeaders: number;
  media: MediaTally;
}

interface MediaTally extends MediaCopyCounts {
  /** Copies started (items with media while save_original_file is on). */
  started: number;
  noMedia: number;
  /** The first LISTED_MISSING_MEDIA not copied, in item order. */
  listed: MissingMedia[];
}

/** A shard's LayoutTally, as JSON. */
const LAYOUT_PART = "layout.json";
/** A shard's claimed names, lowercase `folder/stem`, one per line: the join checks no two shards share one. */
export const LAYOUT_NAMES_PART = "layout-names";
const MISSING_MEDIA_PART = "missing-media";
const MISSING_MEDIA_FILE: GatheredFileFormat = {
  contentType: "application/json",
  first: "[\n",
  between: ",\n",
  tail: "\n]\n",
  skipEmpty: true,
};

export const EXPORT_SUMMARY_KEY = "metadata/export_summary.json";
/** Every original not copied, in item order: `[{itemId, uri, key, kind, reason}, ...]`. */
export const MISSING_MEDIA_KEY = "metadata/missing_media.json";

interface Count {
  items: number;
  annotations: number;
}

/**
 * Stems are made unique per folder across splits (VOC keeps all splits in one Annotations/
 * folder) and case-insensitively (macOS and Windows file systems): the second `a.jpg` becomes
 * `a_1.jpg`. Items come in id order, so the same export names the same files. The set of used
 * stems is the one thing that grows with the item count: past 64k names it goes to disk in sorted
 * runs (spill-set.ts), so memory stays flat.
 */
export function createExportLayout(ctx: ExportContext<unknown>, options: ExportLayoutOptions): ExportLayout {
  const used = createSpillSet();
  const splits = new Map<string, Count>();
  const folders = new Map<string, Count>();
  const categories = new Map<number, number>();
  const types = new Map<string, number>();
  let items = 0;
  let annotations = 0;
  const media = createMediaCopies(ctx, options);
  let sizedFromHeaders = 0;
  let skipped = 0;
  let skippedAnnotations = 0;

  function unique(folder: string, stem: string): string {
    let candidate = stem;
    for (let n = 1; used.has(`${folder}/${candidate}`.toLowerCase()); n++) candidate = `${stem}_${n}`;
    used.add(`${folder}/${candidate}`.toLowerCase());
    return candidate;
  }

  function bump(map: Map<string, Count>, key: string, item: Item): void {
    const count = map.get(key) ?? { items: 0, annotations: 0 };
    count.items += 1;
    count.annotations += item.annotations.length;
    map.set(key, count);
  }

  /** The names this shard claimed, for the join's check that no two shards named a file alike. */
  async function writeNames(): Promise<void> {
    const out = await ctx.shard.parts.open(LAYOUT_NAMES_PART);
    let chunk = "";
    for (const { key } of used.sorted()) {
      chunk += `${key}\n`;
      if (chunk.length >= 64 * 1024) {
        await out.write(chunk);
        chunk = "";
      }
    }
    if (chunk) await out.write(chunk);
    await out.close();
  }

  return {
    place(item) {
      const split = splitFolder(item);
      const folder = options.categoryFolders ? categoryFolder(item) : "";
      const parts = originalFileParts(item);
      const stem = unique(folder, parts.stem);
      const fileName = `${stem}${parts.ext}`;
      const path = folder ? `${folder}/${stem}` : stem;
      const file = `${path}${parts.ext}`;
      return { split, folder, stem, fileName, path, file, imageKey: `images/${split}/${file}` };
    },
    async saveOriginalFile(item, placement) {
      if (ctx.export.saveOriginalFile) await media.copy(item, placement.imageKey);
    },
    async imageSize(item) {
      const width = item.media?.width ?? 0;
      const height = item.media?.height ?? 0;
      const uri = item.media?.uri;
      if ((width && height) || !uri || isVideoItem(item)) return { width, height };
      ctx.signal.throwIfAborted();
      const size = await readMediaImageSize(ctx.storage, uri);
      if (!size) return { width, height };
      sizedFromHeaders += 1;
      return size;
    },
    done(item, placement) {
      items += 1;
      annotations += item.annotations.length;
      bump(splits, placement.split, item);
      if (options.categoryFolders) bump(folders, placement.folder, item);
      for (const annotation of item.annotations) {
        if (annotation.categoryId !== undefined) {
          categories.set(annotation.categoryId, (categories.get(annotation.categoryId) ?? 0) + 1);
        }
        const type = annotationTypeName(annotation);
        types.set(type, (types.get(type) ?? 0) + 1);
      }
      ctx.progress(1, item.annotations.length);
    },
    skip(item) {
      skipped += 1;
      skippedAnnotations += item.annotations.length;
      ctx.progress(1, item.annotations.length);
    },
    async finish() {
      const tally: LayoutTally = {
        items,
        annotations,
        skipped,
        skippedAnnotations,
        splits: sortedObject(splits),
        folders: sortedObject(folders),
        categories: Object.fromEntries(categories),
        types: sortedObject(types),
        sizedFromHeaders,
        media: await media.finish(),
      };
      if (ctx.shard.count === 1) {
        used.close();
        await writeLayoutFiles(ctx, options, tally);
        return;
      }
      const part = await ctx.shard.parts.open(LAYOUT_PART);
      await part.write(JSON.stringify(tally));
      await part.close();
      await writeNames();
      used.close();
    },
  };
}

/**
 * The join's half of createExportLayout().finish(): export_summary.json, missing_media.json and
 * the notes about media, over every shard. Nothing to do for an export run as one shard.
 */
export async function finishExportLayout(ctx: JoinContext<unknown>, options: ExportLayoutOptions): Promise<void> {
  if (ctx.shards.length === 1) return;
  let total: LayoutTally | undefined;
  for (const shard of ctx.shards) {
    const text = await readText(shard.read(LAYOUT_PART));
    if (!text)
      throw new LabelportError(`shard ${shard.index} left no ${LAYOUT_PART}: did its exportShard() call finish()?`);
    const tally = JSON.parse(text) as LayoutTally;
    total = total ? addTallies(total, tally) : tally;
  }
  await joinGatheredFile(ctx, MISSING_MEDIA_KEY, MISSING_MEDIA_PART, MISSING_MEDIA_FILE);
  await writeLayoutFiles(ctx, options, total as LayoutTally);
}

function addTallies(a: LayoutTally, b: LayoutTally): LayoutTally {
  const counts = (x: Record<string, Count>, y: Record<string, Count>) => {
    const out: Record<string, Count> = { ...x };
    for (const [key, count] of Object.entries(y)) {
      const before = out[key] ?? { items: 0, annotations: 0 };
      out[key] = { items: before.items + count.items, annotations: before.annotations + count.annotations };
    }
    return sortedRecord(out);
  };
  const numbers = (x: Record<string, number>, y: Record<string, number>) => {
    const out: Record<string, number> = { ...x };
    for (const [key, n] of Object.entries(y)) out[key] = (out[key] ?? 0) + n;
    return sortedRecord(out);
  };
  return {
    items: a.items + b.items,
    annotations: a.annotations + b.annotations,
    skipped: a.skipped + b.skipped,
    skippedAnnotations: a.skippedAnnotations + b.skippedAnnotations,
    splits: counts(a.splits, b.splits),
    folders: counts(a.folders, b.folders),
    categories: numbers(a.categories, b.categories),
    types: numbers(a.types, b.types),
    sizedFromHeaders: a.sizedFromHeaders + b.sizedFromHeaders,
    media: {
      copied: a.media.copied + b.media.copied,
      missing: a.media.missing + b.media.missing,
      refused: a.media.refused + b.media.refused,
      failed: a.media.failed + b.media.failed,
      started: a.media.started + b.media.started,
      noMedia: a.media.noMedia + b.media.noMedia,
      listed: [...a.media.listed, ...b.media.listed].slice(0, LISTED_MISSING_MEDIA),
    },
  };
}

/** The media notes (or MissingMediaError) and export_summary.json, from the whole export's counts. */
async function writeLayoutFiles(
  ctx: Omit<JoinContext<unknown>, "shards">,
  options: ExportLayoutOptions,
  tally: LayoutTally,
) {
  const { media } = tally;
  const notCopied = media.missing + media.refused + media.failed;
  if (notCopied > 0 && options.onMissingMedia === "fail") {
    const shown = media.listed.slice(0, LISTED_IN_ERROR).map(describe);
    const more = notCopied > shown.length ? `, and ${notCopied - shown.length} more` : "";
    throw new MissingMediaError(
      `save_original_file: ${notCopied} of ${media.started} original files could not be copied ` +
        `(onMissingMedia: "fail"): ${shown.join(", ")}${more}`,
    );
  }
  if (notCopied > 0) {
    const kinds = (["missing", "refused", "failed"] as const).filter((kind) => media[kind] > 0);
    const first = media.listed.length < notCopied ? `the first ${media.listed.length}` : "they are";
    ctx.note(
      `save_original_file: ${notCopied} of ${media.started} original files not copied ` +
        `(${kinds.map((kind) => `${media[kind]} ${kind}`).join(", ")}; all in ${MISSING_MEDIA_KEY}); ` +
        `${first}: ${media.listed.map(describe).join(", ")}`,
    );
  }
  if (media.noMedia > 0) ctx.note(`save_original_file: ${media.noMedia} items have no media to copy`);
  if (tally.sizedFromHeaders > 0) {
    ctx.note(`image size: read from the image header for ${tally.sizedFromHeaders} items without width/height`);
  }
  const summary = {
    format: ctx.export.format,
    datasetId: ctx.dataset.id,
    datasetName: ctx.dataset.name,
    itemCount: tally.items,
    // What the files hold, as manifest.json counts it: received less what the format dropped.
    annotationCount: Math.max(0, tally.annotations + tally.skippedAnnotations - ctx.accounted.dropped),
    annotationsReceived: tally.annotations + tally.skippedAnnotations,
    skippedItemCount: tally.skipped,
    originalFilesSaved: media.copied,
    originalFilesMissing: media.missing,
    originalFilesRefused: media.refused,
    originalFilesFailed: media.failed,
    splits: tally.splits,
    ...(options.categoryFolders ? { itemCategories: tally.folders } : {}),
    categories: ctx.dataset.categories.map((category) => ({
      id: category.id,
      name: category.name,
      annotations: tally.categories[String(category.id)] ?? 0,
    })),
    annotationTypes: tally.types,
  };
  await ctx.storage.writeJson(EXPORT_SUMMARY_KEY, summary, { pretty: true });
}

function sortedObject<V>(map: Map<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of [...map.keys()].sort()) out[key] = map.get(key) as V;
  return out;
}

function sortedRecord<V>(record: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] as V;
  return out;
}

interface MediaCopyCounts {
  copied: number;
  missing: number;
  refused: number;
  failed: number;
}

/**
 * save_original_file's copies, at most `mediaConcurrency` at once. copy() waits while the pool is
 * full, so the exporter's loop slows down to the copies' pace and memory stays flat. Copies end
 * in any order; what they report does not: problems are released in item order (a copy's result
 * waits until every earlier one has finished), so missing_media.json, the note and the error list
 * the same URIs in the same order whatever the timing. Which keys are written is fixed by place().
 */
function createMediaCopies(ctx: ExportContext<unknown>, options: ExportLayoutOptions) {
  const limit = Math.max(1, Math.floor(options.mediaConcurrency ?? MEDIA_COPY_CONCURRENCY));
  const running = new Set<Promise<void>>();
  /** Copies finished after an earlier one still running, by sequence number; null: copied. */
  const finished = new Map<number, MissingMedia | null>();
  const listed: MissingMedia[] = [];
  const counts: MediaCopyCounts = { copied: 0, missing: 0, refused: 0, failed: 0 };
  let started = 0;
  let released = 0;
  let noMedia = 0;
  let failure: { error: unknown } | undefined;
  const list = openGatheredFile(ctx, MISSING_MEDIA_KEY, MISSING_MEDIA_PART, MISSING_MEDIA_FILE);
  let pending: string[] = [];

  function release(sequence: number, problem: MissingMedia | null): void {
    finished.set(sequence, problem);
    while (finished.has(released)) {
      const next = finished.get(released) as MissingMedia | null;
      finished.delete(released);
      released += 1;
      if (!next) continue;
      counts[next.kind] += 1;
      if (listed.length < LISTED_MISSING_MEDIA) listed.push(next);
      pending.push(`  ${JSON.stringify(next)}`);
    }
  }

  /** Writes the problems released so far to missing_media.json (opened with the first one). */
  async function flush(): Promise<void> {
    const entries = pending;
    pending = [];
    for (const entry of entries) await list.add(entry);
  }

  function rethrow(): void {
    if (failure) throw failure.error;
  }

  async function run(sequence: number, item: Item, uri: string, key: string): Promise<void> {
    let problem: MediaProblem | undefined;
    try {
      const copied = await ctx.storage.copyMedia(uri, key, {
        onProblem: (reported) => {
          problem = reported;
        },
      });
      if (copied) counts.copied += 1;
      release(
        sequence,
        copied ? null : missingMedia(item, key, problem ?? { uri, kind: "missing", reason: "not found" }),
      );
    } catch (error) {
      failure ??= { error };
      release(sequence, null);
    }
  }

  return {
    async copy(item: Item, key: string): Promise<void> {
      rethrow();
      const uri = item.media?.uri;
      if (!uri) {
        noMedia += 1;
        return;
      }
      while (running.size >= limit) await Promise.race(running);
      rethrow();
      ctx.signal.throwIfAborted();
      const task = run(started++, item, uri, key);
      running.add(task);
      void task.finally(() => running.delete(task));
      if (pending.length >= 256) await flush();
    },

    /** Waits for the copies and closes missing_media.json (or this shard's part of it). */
    async finish(): Promise<MediaTally> {
      await Promise.all(running);
      rethrow();
      await flush();
      await list.close();
      return { ...counts, started, noMedia, listed };
    },
  };
}

interface MissingMedia {
  itemId: string;
  uri: string;
  key: string;
  kind: MediaProblemKind;
  reason: string;
}

function missingMedia(item: Item, key: string, problem: MediaProblem): MissingMedia {
  return { itemId: item.id, uri: problem.uri, key, kind: problem.kind, reason: problem.reason };
}

/** A missing file's URI says it all; a refusal or failure says why (missing_media.json has every reason). */
function describe(problem: MissingMedia): string {
  return problem.kind === "missing"
    ? `${problem.uri} (missing)`
    : `${problem.uri} (${problem.kind}: ${problem.reason})`;
}
