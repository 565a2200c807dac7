// Runs one importer over one upload: the batches it yields become Labelport records (categories
// and item JSONL lines), every annotation's fate is counted, progress is reported. Shared by the
// NATS plugin runtime and the conformance kit.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImportSourceError } from "./errors.ts";
import type { ExportLogger } from "./exporter.ts";
import type { Category, Item } from "./gen/labelport/v1/dataset_pb.ts";
import { type ImageSize, imageSizeFromChunks } from "./image-header.ts";
import type { ImportSource, SourceFile } from "./import-source.ts";
import type { BaseImporter } from "./importer.ts";
import { itemToJson } from "./item-json.ts";

export interface RunImportInput<Options> {
  importer: BaseImporter<Options>;
  /** Parsed options (already validated by the importer's schema). */
  options: Options;
  source: ImportSource;
  datasetId: string;
  /** Stores one file of the upload as media and returns its URI (a preview returns it unstored). */
  storeMedia(file: SourceFile): Promise<{ uri: string; bytes: number }>;
  /** Where the item JSONL goes: a local file the host then hands on. */
  itemsPath: string;
  signal: AbortSignal;
  log: ExportLogger;
  onProgress?: (delta: { items: number; annotations: number }) => void;
}

export interface ImportConversion {
  items: number;
  /** Annotations written into the records. */
  annotations: number;
  /** The categories, ordered by id. */
  categories: Category[];
  /** Annotations of the upload the records do not carry, by reason (sorted). */
  dropped: Record<string, number>;
  changed: Record<string, number>;
  notes: string[];
  mediaFiles: number;
  mediaBytes: number;
}

export async function runImport<Options>(input: RunImportInput<Options>): Promise<ImportConversion> {
  const { importer, signal } = input;
  signal.throwIfAborted();
  const dropped = new Map<string, number>();
  const changed = new Map<string, number>();
  const tally =
    (counts: Map<string, number>) =>
    (reason: string, count = 1) => {
      if (count > 0) counts.set(reason, (counts.get(reason) ?? 0) + count);
    };
  const notes = new Set<string>();
  const categories = new Map<number, Category>();
  const annotationIds = new Set<string>();
  const counted = { items: 0, annotations: 0, mediaFiles: 0, mediaBytes: 0 };
  const scratchDir = await mkdtemp(join(tmpdir(), "labelport-import-"));
  const out = createWriteStream(input.itemsPath);
  // A failed write surfaces at the next write or at the end, never as an unhandled 'error'.
  let writeError: Error | undefined;
  out.on("error", (err) => {
    writeError = err;
  });
  const write = async (text: string) => {
    if (writeError) throw writeError;
    if (out.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        out.off("drain", done);
        out.off("error", done);
        resolve();
      };
      out.on("drain", done);
      out.on("error", done);
    });
    if (writeError) throw writeError;
  };
  try {
    const batches = importer.import({
      options: input.options,
      source: input.source,
      datasetId: input.datasetId,
      drop: tally(dropped),
      changed: tally(changed),
      note: (message) => notes.add(message),
      storeMedia: async (file) => {
        const stored = await input.storeMedia(file);
        counted.mediaFiles += 1;
        counted.mediaBytes += stored.bytes;
        return stored.uri;
      },
      imageSize: (file) => readImageSize(file),
      signal,
      log: input.log,
      scratchDir,
    });
    for await (const batch of batches) {
      signal.throwIfAborted();
      for (const category of batch.categories ?? []) {
        checkCategory(category);
        const known = categories.get(category.id);
        if (known && known.name !== category.name) {
          throw new ImportSourceError(
            `category id ${category.id} is named both "${known.name}" and "${category.name}" in the upload`,
          );
        }
        categories.set(category.id, category);
      }
      let text = "";
      let annotations = 0;
      for (const item of batch.items ?? []) {
        if (!item.id) throw new ImportSourceError("the importer yielded an item without an id");
        dropRepeatedAnnotationIds(item, annotationIds, tally(dropped));
        text += `${JSON.stringify(itemJson(item))}\n`;
        annotations += item.annotations.length;
      }
      if (text) await write(text);
      const items = batch.items?.length ?? 0;
      counted.items += items;
      counted.annotations += annotations;
      if (items > 0) input.onProgress?.({ items, annotations });
    }
    out.end();
    await once(out, "finish");
    if (writeError) throw writeError;
    return {
      items: counted.items,
      annotations: counted.annotations,
      categories: [...categories.values()].sort((a, b) => a.id - b.id),
      dropped: sortedRecord(dropped),
      changed: sortedRecord(changed),
      notes: [...notes].sort(),
      mediaFiles: counted.mediaFiles,
      mediaBytes: counted.mediaBytes,
    };
  } finally {
    out.destroy();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** A category the dataset would refuse, refused here with what is wrong with it. */
function checkCategory(category: Category): void {
  const name = `category ${category.id} "${category.name}"`;
  if (category.name.trim() === "") throw new ImportSourceError(`category ${category.id}: the name is empty`);
  const n = category.keypoints.length;
  for (const edge of category.skeleton) {
    for (const end of [edge.fromKeypoint, edge.toKeypoint]) {
      if (!Number.isInteger(end) || end < 1 || end > n) {
        throw new ImportSourceError(
          `${name}: skeleton edge [${edge.fromKeypoint}, ${edge.toKeypoint}] names keypoint ${end}; ` +
            `keypoints are numbered 1 to ${n}`,
        );
      }
    }
  }
}

/**
 * Keeps the first annotation of each id in the upload: a dataset stores one annotation per id, so
 * a second one would be counted as written and never stored.
 */
function dropRepeatedAnnotationIds(item: Item, seen: Set<string>, drop: (reason: string) => void): void {
  const kept = item.annotations.filter((annotation) => {
    if (!annotation.id) return true;
    if (!seen.has(annotation.id)) {
      seen.add(annotation.id);
      return true;
    }
    drop("annotation id used twice in the upload");
    return false;
  });
  if (kept.length !== item.annotations.length) item.annotations = kept;
}

/** The item as a record; a value no record can hold (a number such as 1e999 read as Infinity) is named. */
function itemJson(item: Item): ReturnType<typeof itemToJson> {
  try {
    return itemToJson(item);
  } catch (err) {
    const file = item.media?.fileName ? ` (${item.media.fileName})` : "";
    const field = nonFiniteField(item, "");
    const problem = field ? `${field.path} is ${field.value}, which JSON cannot hold` : (err as Error).message;
    throw new ImportSourceError(`item "${item.id}"${file}: ${problem}`);
  }
}

/** The first number that is not finite in `value`, by its path. */
function nonFiniteField(value: unknown, path: string, depth = 0): { path: string; value: number } | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path, value };
  if (value === null || typeof value !== "object" || depth > 64) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const found = nonFiniteField(
      child,
      Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key,
      depth + 1,
    );
    if (found) return found;
  }
  return undefined;
}

function sortedRecord(counts: Map<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of [...counts.keys()].sort()) out[key] = counts.get(key) as number;
  return out;
}

/** The size in an image's header (the same reader exporters use), reading at most IMAGE_HEADER_BYTES. */
export async function readImageSize(file: SourceFile): Promise<ImageSize | undefined> {
  const stream = await file.stream();
  // An error after the early stop must not become an unhandled event.
  stream.on("error", () => undefined);
  try {
    return await imageSizeFromChunks(stream);
  } finally {
    stream.destroy();
  }
}

/**
 * Item ids for files of an upload: the path without its extension, folders joined with `__` (ids
 * have no slashes). A second file with the same id (`a.jpg` and `a.png`) keeps its extension.
 */
export function createItemIds(): (path: string) => string {
  const taken = new Set<string>();
  return (path) => {
    const withoutExtension = path.replace(/\.[^./]+$/, "");
    let id = withoutExtension.split("/").filter(Boolean).join("__") || "item";
    if (taken.has(id)) id = path.split("/").filter(Boolean).join("__");
    for (let n = 2; taken.has(id); n++) id = `${withoutExtension.split("/").join("__")}~${n}`;
    taken.add(id);
    return id;
  };
}
