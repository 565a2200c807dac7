// Where an item's files go in every format (the plugin export layout): split folders,
// meta.category sub-folders, de-duplicated file stems, original media (save_original_file) and
// metadata/export_summary.json.

import type { ExportContext } from "./exporter.ts";
import type { Item } from "./gen/labelport/v1/dataset_pb.ts";
import { annotationTypeName } from "./item-json.ts";
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
}

export interface ExportLayout {
  /** Names the item's files; call once per item, in item order (de-duplication depends on it). */
  place(item: Item): ItemPlacement;
  /** Copies the original media when the export asks for it (`save_original_file`). */
  saveOriginalFile(item: Item, placement: ItemPlacement): Promise<void>;
  /** Counts the item for the summary and reports progress. */
  done(item: Item, placement: ItemPlacement): void;
  /** Reports progress for an item the format could not carry (counted as skipped). */
  skip(item: Item): void;
  /** Writes metadata/export_summary.json and the notes about missing media. */
  finish(): Promise<void>;
}

export const EXPORT_SUMMARY_KEY = "metadata/export_summary.json";

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
  let copied = 0;
  let missing = 0;
  let noMedia = 0;
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
      if (!ctx.export.saveOriginalFile) return;
      const uri = item.media?.uri;
      if (!uri) {
        noMedia += 1;
        return;
      }
      if (await ctx.storage.copyMedia(uri, placement.imageKey)) copied += 1;
      else missing += 1;
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
      if (missing > 0) ctx.note(`save_original_file: ${missing} original files not found, not copied`);
      if (noMedia > 0) ctx.note(`save_original_file: ${noMedia} items have no media to copy`);
      const summary = {
        format: ctx.export.format,
        datasetId: ctx.dataset.id,
        datasetName: ctx.dataset.name,
        itemCount: items,
        // What the files hold, as manifest.json counts it: received less what the format dropped.
        annotationCount: Math.max(0, annotations + skippedAnnotations - ctx.accounted.dropped),
        annotationsReceived: annotations + skippedAnnotations,
        skippedItemCount: skipped,
        originalFilesSaved: copied,
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
