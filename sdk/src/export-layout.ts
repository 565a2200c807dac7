// Where an item's files go in every format (the plugin export layout): split folders,
// meta.category sub-folders, de-duplicated file stems, original media (save_original_file, copied
// by a bounded pool; missing ones are noted, not fatal), image sizes from headers, and
// metadata/export_summary.json.

import { LabelportError } from "./errors.ts";
import type { ArtifactWriter, ExportContext, MediaProblem, MediaProblemKind } from "./exporter.ts";
import type { Item } from "./gen/labelport/v1/dataset_pb.ts";
import { type ImageSize, readMediaImageSize } from "./image-header.ts";
import { annotationTypeName, isVideoItem } from "./item-json.ts";
import { createKeyTable } from "./storage/key-table.ts";

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
   * the export asked `onMissingMedia: "fail"`.
   */
  finish(): Promise<void>;
}

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
 * stems is the one thing that grows with the item count: kept as packed UTF-8 bytes, about the
 * stem's length plus 20 bytes an item.
 */
export function createExportLayout(ctx: ExportContext<unknown>, options: ExportLayoutOptions): ExportLayout {
  const used = createKeyTable();
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
    for (let n = 1; used.indexOf(`${folder}/${candidate}`.toLowerCase()) >= 0; n++) candidate = `${stem}_${n}`;
    used.add(`${folder}/${candidate}`.toLowerCase());
    return candidate;
  }

  function bump(map: Map<string, Count>, key: string, item: Item): void {
    const count = map.get(key) ?? { items: 0, annotations: 0 };
    count.items += 1;
    count.annotations += item.annotations.length;
    map.set(key, count);
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
      const copies = await media.finish();
      if (sizedFromHeaders > 0) {
        ctx.note(`image size: read from the image header for ${sizedFromHeaders} items without width/height`);
      }
      const summary = {
        format: ctx.export.format,
        datasetId: ctx.dataset.id,
        datasetName: ctx.dataset.name,
        itemCount: items,
        // What the files hold, as manifest.json counts it: received less what the format dropped.
        annotationCount: Math.max(0, annotations + skippedAnnotations - ctx.accounted.dropped),
        annotationsReceived: annotations + skippedAnnotations,
        skippedItemCount: skipped,
        originalFilesSaved: copies.copied,
        originalFilesMissing: copies.missing,
        originalFilesRefused: copies.refused,
        originalFilesFailed: copies.failed,
        splits: sortedObject(splits),
        ...(options.categoryFolders ? { itemCategories: sortedObject(folders) } : {}),
        categories: ctx.dataset.categories.map((category) => ({
          id: category.id,
          name: category.name,
          annotations: categories.get(category.id) ?? 0,
        })),
        annotationTypes: sortedObject(types),
      };
      await ctx.storage.writeJson(EXPORT_SUMMARY_KEY, summary, { pretty: true });
    },
  };
}

function sortedObject<V>(map: Map<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const key of [...map.keys()].sort()) out[key] = map.get(key) as V;
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
  let list: ArtifactWriter | undefined;
  let pending = "";

  function release(sequence: number, problem: MissingMedia | null): void {
    finished.set(sequence, problem);
    while (finished.has(released)) {
      const next = finished.get(released) as MissingMedia | null;
      finished.delete(released);
      released += 1;
      if (!next) continue;
      counts[next.kind] += 1;
      if (listed.length < LISTED_MISSING_MEDIA) listed.push(next);
      pending += `${counts.missing + counts.refused + counts.failed > 1 ? ",\n" : "[\n"}  ${JSON.stringify(next)}`;
    }
  }

  /** Writes the problems released so far to missing_media.json (opened with the first one). */
  async function flush(): Promise<void> {
    if (pending === "") return;
    list ??= await ctx.storage.open(MISSING_MEDIA_KEY, { contentType: "application/json" });
    const text = pending;
    pending = "";
    await list.write(text);
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
      if (pending.length >= 64 * 1024) await flush();
    },

    async finish(): Promise<MediaCopyCounts> {
      await Promise.all(running);
      rethrow();
      await flush();
      if (list) {
        await list.write("\n]\n");
        await list.close();
      }
      const notCopied = counts.missing + counts.refused + counts.failed;
      if (notCopied > 0 && options.onMissingMedia === "fail") {
        const shown = listed.slice(0, LISTED_IN_ERROR).map(describe);
        const more = notCopied > shown.length ? `, and ${notCopied - shown.length} more` : "";
        throw new MissingMediaError(
          `save_original_file: ${notCopied} of ${started} original files could not be copied ` +
            `(onMissingMedia: "fail"): ${shown.join(", ")}${more}`,
        );
      }
      if (notCopied > 0) {
        const kinds = (["missing", "refused", "failed"] as const).filter((kind) => counts[kind] > 0);
        const first = listed.length < notCopied ? `the first ${listed.length}` : "they are";
        ctx.note(
          `save_original_file: ${notCopied} of ${started} original files not copied ` +
            `(${kinds.map((kind) => `${counts[kind]} ${kind}`).join(", ")}; all in ${MISSING_MEDIA_KEY}); ` +
            `${first}: ${listed.map(describe).join(", ")}`,
        );
      }
      if (noMedia > 0) ctx.note(`save_original_file: ${noMedia} items have no media to copy`);
      return counts;
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
