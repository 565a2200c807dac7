// COCO importer: instances / person_keypoints / image_info files, one per split (or one bare
// .json), images found in the upload by file_name. Big files are streamed (json-arrays.ts); images
// and categories are kept (small), annotations go to a spill file in ctx.scratchDir and come back
// grouped per image, one range of images at a time, so memory is bounded by the range, not by
// the upload.
//
// Decisions: one item per (split file, file_name): instances_train and person_keypoints_train name
// the same images, so they share items, while the same file_name in two splits makes two items.
// Item ids come from file_name (with the split in front when two splits name the same file);
// annotation ids are `<item id>:<COCO id>`. Split names map to Labelport's (train2017 -> train,
// valid -> val); `default` (our exporter's name for "no split") and unknown names become no split.
// Category ids are COCO's, as our exporter writes them.
import { once } from "node:events";
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { create } from "@bufbuild/protobuf";
import {
  BaseImporter,
  type Category,
  createItemIds,
  type ImportBatch,
  type ImportContext,
  ImportSourceError,
  type Item,
  type SourceFile,
  z,
} from "@labelport/sdk";
import { AnnotationSchema, CategorySchema, ItemKind, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import { type AnnotationInit, cocoAnnotationId, convertCocoAnnotation } from "./coco-annotation.ts";
import { JsonScanError, scanJsonArrays } from "./json-arrays.ts";
import { type CocoFile, createImageFinder, findCocoFiles, labelportSplit } from "./upload-layout.ts";

const options = z.strictObject({});

export type CocoImportOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
const WANTED_ARRAYS = new Set(["images", "annotations", "categories"]);
/** Spilled annotation bytes grouped in memory at once; more are split into ranges of images. */
export const SPILL_RANGE_BYTES = { value: 32 * 1024 * 1024 };

/** An image of the upload: one item. */
interface ImageSlot {
  coco: CocoFile;
  fileName: string;
  width: number;
  height: number;
  /** Where the image is when the upload does not hold it. */
  url: string;
  id: string;
}

/** A spilled annotation: [file index, image id as text, annotation object]. */
type SpillLine = [number, string, Record<string, unknown>];

export class CocoImporter extends BaseImporter<CocoImportOptions> {
  static override manifest = {
    name: "coco-importer",
    version: "1.0.0",
    formats: ["coco"],
    sdk: "^0.1.0",
    description:
      "MS COCO instances and person_keypoints JSON (one per split, or one .json): boxes, polygons, RLE masks, keypoints with skeletons; images matched by file_name.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<CocoImportOptions>): AsyncGenerator<ImportBatch> {
    const cocoFiles = findCocoFiles(ctx.source);
    if (cocoFiles.length === 0) {
      throw new ImportSourceError(
        `${ctx.source.fileName}: no COCO file; expected annotations/instances_<split>.json, annotations/person_keypoints_<split>.json or one COCO .json`,
      );
    }
    const categories = new Map<number, Category>();
    const slots: ImageSlot[] = [];
    const slotByKey = new Map<string, number>();
    /** Per COCO file: image id -> slot. */
    const imageSlots: Map<string, number>[] = [];
    const spillPath = join(ctx.scratchDir, "coco-annotations.jsonl");
    const spill = new SpillWriter(spillPath);
    try {
      for (const [fileIndex, coco] of cocoFiles.entries()) {
        const images = new Map<string, number>();
        imageSlots.push(images);
        await readCocoFile(ctx, coco, {
          image: (image, index) => {
            const field = `images[${index}]`;
            const id = idText(image.id);
            if (id === "") throw sourceError(coco, `${field}.id is missing`);
            if (typeof image.file_name !== "string" || image.file_name === "") {
              throw sourceError(coco, `${field}.file_name is missing`);
            }
            if (images.has(id)) throw sourceError(coco, `${field}.id ${id} is used twice`);
            const key = `${coco.rawSplit}\u0000${image.file_name}`;
            let slot = slotByKey.get(key);
            if (slot === undefined) {
              slot = slots.length;
              slotByKey.set(key, slot);
              slots.push({
                coco,
                fileName: image.file_name,
                width: positive(image.width),
                height: positive(image.height),
                url:
                  [image.coco_url, image.flickr_url, image.url].find(
                    (u): u is string => typeof u === "string" && u !== "",
                  ) ?? "",
                id: "",
              });
            }
            images.set(id, slot);
          },
          category: (category, index) => {
            const field = `${coco.file.path}: categories[${index}]`;
            const parsed = cocoCategory(category, field);
            const known = categories.get(parsed.id);
            if (!known) categories.set(parsed.id, parsed);
            else if (known.name !== parsed.name) {
              throw new ImportSourceError(
                `${field}: id ${parsed.id} is "${parsed.name}" here and "${known.name}" in another file`,
              );
            } else if (known.keypoints.length === 0 && parsed.keypoints.length > 0) {
              // instances_<split> names `person` plainly, person_keypoints_<split> with its keypoints.
              categories.set(parsed.id, parsed);
            }
          },
          annotation: async (annotation) => {
            await spill.write([fileIndex, idText(annotation.image_id), annotation]);
          },
        });
      }
      await spill.end();
      assignItemIds(slots);
      noteSplits(ctx, cocoFiles);

      yield { categories: [...categories.values()].sort((a, b) => a.id - b.id) };

      const items = createItemBuilder(ctx, slots);
      const missingImages = new Set<string>();
      let batch: Item[] = [];
      for await (const range of groupedRanges(spillPath, spill.bytes, slots.length, imageSlots, missingImages, ctx)) {
        for (let slot = range.first; slot < range.end; slot++) {
          ctx.signal.throwIfAborted();
          batch.push(await items.build(slot, range.records.get(slot) ?? [], categories));
          if (batch.length >= BATCH_ITEMS) {
            yield { items: batch };
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield { items: batch };
      if (missingImages.size > 0) {
        const ids = [...missingImages].slice(0, 10).join(", ");
        ctx.note(`annotations name image ids no images entry has: ${ids}${missingImages.size > 10 ? ", ..." : ""}`);
      }
      items.finish();
    } finally {
      await spill.end();
    }
  }
}

export default CocoImporter;

interface CocoFileHandlers {
  image(image: Record<string, unknown>, index: number): void;
  category(category: Record<string, unknown>, index: number): void;
  annotation(annotation: Record<string, unknown>, index: number): Promise<void>;
}

async function readCocoFile(ctx: ImportContext<unknown>, coco: CocoFile, handlers: CocoFileHandlers): Promise<void> {
  const seen = new Set<string>();
  try {
    for await (const { key, index, value } of scanJsonArrays(await coco.file.stream(), WANTED_ARRAYS)) {
      seen.add(key);
      if (index % 1024 === 0) ctx.signal.throwIfAborted();
      if (!value || typeof value !== "object" || Array.isArray(value)) {
        throw sourceError(coco, `${key}[${index}] is not an object`);
      }
      const record = value as Record<string, unknown>;
      if (key === "images") handlers.image(record, index);
      else if (key === "categories") handlers.category(record, index);
      else await handlers.annotation(record, index);
    }
  } catch (err) {
    if (err instanceof JsonScanError) throw sourceError(coco, `not valid JSON: ${err.message}`);
    throw err;
  }
  if (!seen.has("images")) throw sourceError(coco, `not a COCO file: it has no "images" list`);
}

function sourceError(coco: CocoFile, message: string): ImportSourceError {
  return new ImportSourceError(`${coco.file.path}: ${message}`);
}

function idText(id: unknown): string {
  return typeof id === "number" || (typeof id === "string" && id !== "") ? String(id) : "";
}

function positive(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.round(value) : 0;
}

function cocoCategory(record: Record<string, unknown>, field: string): Category {
  const { id, name } = record;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new ImportSourceError(`${field}.id must be a whole number from 0, not ${JSON.stringify(id)}`);
  }
  if (typeof name !== "string" || name === "") throw new ImportSourceError(`${field}.name is missing`);
  const keypoints = Array.isArray(record.keypoints) ? record.keypoints.map(String) : [];
  const skeleton = Array.isArray(record.skeleton) ? record.skeleton : [];
  return create(CategorySchema, {
    id,
    name,
    supercategory: typeof record.supercategory === "string" ? record.supercategory : "",
    keypoints,
    skeleton: skeleton.map((edge, n) => {
      if (!Array.isArray(edge) || edge.length !== 2 || !edge.every((k) => Number.isInteger(k) && k >= 0)) {
        throw new ImportSourceError(`${field}.skeleton[${n}] must be a pair of keypoint numbers`);
      }
      return { fromKeypoint: edge[0] as number, toKeypoint: edge[1] as number };
    }),
  });
}

/** Ids from file_name; with the split in front when another split names the same file. */
function assignItemIds(slots: ImageSlot[]): void {
  const splitsByName = new Map<string, number>();
  for (const slot of slots) splitsByName.set(slot.fileName, (splitsByName.get(slot.fileName) ?? 0) + 1);
  const itemId = createItemIds();
  for (const slot of slots) {
    const path = slot.fileName.replaceAll("\\", "/").replace(/^(\.\/)+/, "");
    const shared = (splitsByName.get(slot.fileName) ?? 0) > 1;
    slot.id = itemId(shared && slot.coco.rawSplit ? `${slot.coco.rawSplit}/${path}` : path);
  }
}

function noteSplits(ctx: ImportContext<unknown>, cocoFiles: readonly CocoFile[]): void {
  for (const raw of new Set(cocoFiles.map((c) => c.rawSplit))) {
    const split = labelportSplit(raw);
    if (raw === "" || raw === "default" || raw === split) continue;
    ctx.note(
      split
        ? `split "${raw}" imported as "${split}"`
        : `split "${raw}" is not train, val or test: its images are imported without a split`,
    );
  }
}

/** Builds items from image slots and their COCO annotations, storing the images the upload has. */
function createItemBuilder(ctx: ImportContext<unknown>, slots: readonly ImageSlot[]) {
  const finder = createImageFinder(ctx.source);
  const stored = new Map<string, string>();
  const used = new Set<string>();
  let notInUpload = 0;
  let merged = 0;

  async function media(slot: ImageSlot) {
    const file = finder.find(slot.coco, slot.fileName);
    if (!file) notInUpload += 1;
    else used.add(file.path);
    let { width, height } = slot;
    if (file && (!width || !height)) {
      const size = await ctx.imageSize(file);
      width = size?.width ?? 0;
      height = size?.height ?? 0;
    }
    return { uri: file ? await store(file) : slot.url || slot.fileName, fileName: slot.fileName, width, height };
  }

  async function store(file: SourceFile): Promise<string> {
    let uri = stored.get(file.path);
    if (uri === undefined) {
      uri = await ctx.storeMedia(file);
      stored.set(file.path, uri);
    }
    return uri;
  }

  return {
    async build(slotIndex: number, records: readonly SpillLine[], categories: ReadonlyMap<number, Category>) {
      const slot = slots[slotIndex] as ImageSlot;
      const annotations: AnnotationInit[] = [];
      /** COCO id -> what its first object became, to merge person_keypoints into instances. */
      const byCocoId = new Map<string, { record: Record<string, unknown>; annotations: AnnotationInit[] }>();
      const taken = new Set<string>();
      const annotationIdOf = sortableIds(records);
      for (const [, , record] of records) {
        const reason = unsupported(record);
        if (reason) {
          ctx.drop(reason.reason, reason.count);
          continue;
        }
        const categoryId = record.category_id;
        if (typeof categoryId !== "number" || !categories.has(categoryId)) {
          ctx.drop(`unknown category ${JSON.stringify(categoryId ?? null)}`);
          continue;
        }
        const cocoId = annotationIdOf(record, annotations.length + 1);
        const earlier = byCocoId.get(cocoId);
        if (earlier && sameObject(earlier.record, record)) {
          // person_keypoints_<split> repeats objects of instances_<split> with keypoints added.
          const keypoints = mergedKeypoints(earlier, record, `${slot.id}:${cocoId}`, categoryId);
          if (keypoints) {
            annotations.push(keypoints);
            merged += 1;
          } else ctx.drop("duplicate of an object with the same id, category and shape");
          continue;
        }
        let idBase = `${slot.id}:${cocoId}`;
        for (let n = 2; taken.has(idBase); n++) idBase = `${slot.id}:${cocoId}~${n}`;
        taken.add(idBase);
        const converted = convertCocoAnnotation(record, idBase, categoryId);
        if ("drop" in converted) {
          ctx.drop(converted.drop);
          continue;
        }
        for (const reason of converted.changed) ctx.changed(reason);
        if (!earlier) byCocoId.set(cocoId, { record, annotations: converted.annotations });
        annotations.push(...converted.annotations);
      }
      const split = labelportSplit(slot.coco.rawSplit);
      return create(ItemSchema, {
        id: slot.id,
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split,
        media: await media(slot),
        annotations: annotations.map((a) => create(AnnotationSchema, a)),
      });
    },
    finish() {
      if (notInUpload > 0) {
        ctx.note(
          `${notInUpload} images are not in the upload: their media.uri is the coco_url or file_name the COCO file gives`,
        );
      }
      if (finder.count > used.size) {
        ctx.note(`${finder.count - used.size} image files in the upload are named by no COCO file (not imported)`);
      }
      if (merged > 0) {
        ctx.note(
          `${merged} objects appear in two COCO files of the same split (instances and person_keypoints): merged`,
        );
      }
    },
  };
}

/**
 * An item's annotation ids sort as the COCO ids do: StreamItems orders annotations by id, so 9 and
 * 10 become `09` and `10` (numbers padded to the widest of the image's), and an export of the
 * import writes them back in the same order. Objects without an id are numbered in file order.
 */
function sortableIds(records: readonly SpillLine[]): (record: Record<string, unknown>, position: number) => string {
  const isNumber = (id: unknown): id is number => typeof id === "number" && Number.isInteger(id) && id >= 0;
  let width = String(records.length).length;
  for (const [, , r] of records) if (isNumber(r.id)) width = Math.max(width, String(r.id).length);
  return (record, position) => {
    if (isNumber(record.id)) return String(record.id).padStart(width, "0");
    return cocoAnnotationId(record) || `_${String(position).padStart(width, "0")}`;
  };
}

/** COCO tasks Labelport has no geometry for: captions and panoptic segments. */
function unsupported(record: Record<string, unknown>): { reason: string; count: number } | undefined {
  if (typeof record.caption === "string") return { reason: "caption: not supported", count: 1 };
  if (Array.isArray(record.segments_info)) {
    return { reason: "panoptic segment: not supported", count: record.segments_info.length };
  }
  return undefined;
}

function sameObject(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return (
    a.category_id === b.category_id &&
    JSON.stringify(a.bbox) === JSON.stringify(b.bbox) &&
    JSON.stringify(a.segmentation) === JSON.stringify(b.segmentation)
  );
}

/**
 * The keypoints a repeated object adds to what its first appearance became (undefined when it adds
 * none); the shapes then share `group_id`, as those of one object do.
 */
function mergedKeypoints(
  earlier: { record: Record<string, unknown>; annotations: AnnotationInit[] },
  record: Record<string, unknown>,
  idBase: string,
  categoryId: number,
): AnnotationInit | undefined {
  if (earlier.annotations.some((a) => a.geometry?.case === "keypoints")) return undefined;
  const converted = convertCocoAnnotation(record, idBase, categoryId);
  if ("drop" in converted) return undefined;
  const keypoints = converted.annotations.find((a) => a.geometry?.case === "keypoints");
  if (!keypoints) return undefined;
  const group = typeof record.id === "number" ? record.id : cocoAnnotationId(record);
  keypoints.id = `${idBase}:keypoints`;
  earlier.annotations.push(keypoints);
  for (const annotation of earlier.annotations) annotation.attributes = { ...annotation.attributes, group_id: group };
  return keypoints;
}

/** Annotations grouped per image slot for the slots [first, end). */
interface SlotRange {
  first: number;
  end: number;
  records: Map<number, SpillLine[]>;
}

/**
 * The spilled annotations grouped by image slot, in slot order: all at once when they are small,
 * else split into range files of about SPILL_RANGE_BYTES, read one at a time.
 */
async function* groupedRanges(
  spillPath: string,
  spillBytes: number,
  slotCount: number,
  imageSlots: readonly Map<string, number>[],
  missingImages: Set<string>,
  ctx: ImportContext<unknown>,
): AsyncGenerator<SlotRange> {
  const ranges = Math.max(1, Math.ceil(spillBytes / SPILL_RANGE_BYTES.value));
  const slotsPerRange = Math.max(1, Math.ceil(slotCount / ranges));
  const rangeOf = (slot: number) => Math.floor(slot / slotsPerRange);
  const resolve = (line: SpillLine): number | undefined => {
    const slot = imageSlots[line[0]]?.get(line[1]);
    if (slot === undefined) {
      ctx.drop("annotation for a missing image");
      missingImages.add(line[1] || "(none)");
    }
    return slot;
  };
  if (ranges === 1) {
    const records = new Map<number, SpillLine[]>();
    for await (const line of readSpill(spillPath)) {
      const slot = resolve(line);
      if (slot !== undefined) pushTo(records, slot, line);
    }
    yield { first: 0, end: slotCount, records };
    return;
  }
  const writers = Array.from({ length: ranges }, (_, n) => new SpillWriter(`${spillPath}.${n}`));
  try {
    for await (const line of readSpill(spillPath)) {
      const slot = resolve(line);
      if (slot !== undefined) await (writers[rangeOf(slot)] as SpillWriter).write(line, slot);
    }
    for (const writer of writers) await writer.end();
    for (let n = 0; n < ranges; n++) {
      const records = new Map<number, SpillLine[]>();
      for await (const line of readSpill(`${spillPath}.${n}`)) {
        // Range files hold the slot in place of the file index (see SpillWriter.write).
        pushTo(records, line[0], line);
      }
      yield { first: n * slotsPerRange, end: Math.min(slotCount, (n + 1) * slotsPerRange), records };
    }
  } finally {
    for (const writer of writers) await writer.end();
  }
}

function pushTo(records: Map<number, SpillLine[]>, slot: number, line: SpillLine): void {
  const list = records.get(slot);
  if (list) list.push(line);
  else records.set(slot, [line]);
}

async function* readSpill(path: string): AsyncGenerator<SpillLine> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: "utf8" }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) if (line) yield JSON.parse(line) as SpillLine;
}

/** Characters gathered before a spill file is written to. */
const SPILL_CHUNK = 1024 * 1024;

/** A JSON-lines spill file written in chunks, with backpressure. */
class SpillWriter {
  private readonly stream: WriteStream;
  private pending = "";
  bytes = 0;
  constructor(path: string) {
    this.stream = createWriteStream(path);
  }
  /** Appends `line`; `slot` replaces its file index (range files are already resolved). */
  async write(line: SpillLine, slot?: number): Promise<void> {
    const text = `${JSON.stringify(slot === undefined ? line : [slot, line[1], line[2]])}\n`;
    this.pending += text;
    this.bytes += text.length;
    if (this.pending.length >= SPILL_CHUNK) await this.flush();
  }
  private async flush(): Promise<void> {
    const chunk = this.pending;
    this.pending = "";
    if (chunk && !this.stream.write(chunk)) await once(this.stream, "drain");
  }
  async end(): Promise<void> {
    if (this.stream.closed || this.stream.writableEnded) return;
    await this.flush();
    this.stream.end();
    await once(this.stream, "close");
  }
}

/** The plugin's importers, exported by the package next to its default exporter. */
export const importers = [CocoImporter];
