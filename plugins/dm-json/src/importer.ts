// DM Schema v1 importer (Synapse / DataMaker): one DM v1 JSON per data unit, as an assignment's
// `data` (or the `{data, files, id}` wrapper a script export writes), in a ZIP with the images
// optional beside them, or one JSON uploaded alone. Read one file at a time.
//
// Layouts: `<stem>.json` beside `<stem>.jpg`, Synapse's dataset layout `json/<stem>.json` +
// `original_files/<stem>.jpg`, split folders (train, valid, test) and category sub-folders such as
// `1. 자연/` (the data unit's meta.category, kept as the item's meta.category so an export with
// category folders writes them back). A single folder around everything is ignored. The dm-json
// exporter's own layout ([<split>/][<category>/]<stem>.json, images under images/<split|default>/)
// reads back with its images.
//
// Each image media of a file (image_1, image_2...) is one item: id from the file's path (with the
// media key when the file has several). Other media (video_1, pcd_1, text_1...) are not carried:
// their annotations are dropped by reason. What is not an annotation (assignmentId, extra,
// relations, annotationGroups, other top-level fields) is kept in the item's data. Categories are
// the class names, numbered 1, 2, ... in the order they first appear, after those the dm-json
// exporter's metadata/categories.json lists with their ids.
import { create, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import {
  type Annotation,
  BaseImporter,
  type Category,
  createItemIds,
  type ImportBatch,
  type ImportContext,
  type ImportSource,
  ImportSourceError,
  type Item,
  type SourceFile,
  z,
} from "@labelport/sdk";
import { AnnotationSchema, CategorySchema, ItemKind, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import { convertDmAnnotation, type DmRecord, isRecord } from "./dm-annotation.ts";

const options = z.strictObject({});

export type DmImportOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
const IMAGE_EXTENSIONS = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"];
/** Synapse's split folder names, as Labelport names the splits. */
const SPLITS: Record<string, string> = {
  train: "train",
  valid: "val",
  validation: "val",
  val: "val",
  test: "test",
};
/** Folders of Synapse's dataset layout: not category folders. */
const LAYOUT_FOLDERS = new Set(["json", "original_files"]);
/** DM v1 top-level fields that hold annotations; the rest is kept in the item's data. */
const ANNOTATION_FIELDS = new Set(["annotations", "annotationsData"]);

/** A DM JSON file and what its path says. */
interface DmFile {
  file: SourceFile;
  /** Path without the wrapper folder and the extension. */
  stem: string;
  folder: string;
  split: string;
  category: string;
  /** Where the dm-json exporter's save_original_file put the image: images/<split>/<category>/. */
  exportImageFolder: string;
}

export class DmJsonImporter extends BaseImporter<DmImportOptions> {
  static override manifest = {
    name: "dm-json-importer",
    version: "1.0.0",
    formats: ["dm-json"],
    sdk: "^0.1.0",
    description:
      "DM Schema v1 JSON (Synapse / DataMaker): one file per data unit, annotations/annotationsData per media; " +
      "bounding boxes, polygons, polylines, keypoints and classifications with their attributes.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<DmImportOptions>): AsyncGenerator<ImportBatch> {
    const files = dmFiles(ctx.source);
    const itemIds = createItemIds();
    const categories = new Map<string, Category>();
    let newCategories: Category[] = [];
    let nextId = 1;
    const add = (category: Category) => {
      categories.set(category.name, category);
      newCategories.push(category);
      nextId = Math.max(nextId, category.id + 1);
    };
    for (const category of await exportedCategories(ctx.source)) add(category);
    const categoryId = (name: string) => {
      let category = categories.get(name);
      if (!category) {
        category = create(CategorySchema, { id: nextId, name });
        add(category);
      }
      return category.id;
    };
    let found = 0;
    let batch: Item[] = [];
    for (const dm of files) {
      ctx.signal.throwIfAborted();
      const payload = await readPayload(dm.file);
      if (!payload) {
        ctx.note(`${dm.file.path}: not a DM v1 file (no "annotations" object), skipped`);
        continue;
      }
      found += 1;
      batch.push(...(await itemsOf(ctx, dm, payload, itemIds, categoryId)));
      if (batch.length >= BATCH_ITEMS) {
        yield { categories: newCategories, items: batch };
        newCategories = [];
        batch = [];
      }
    }
    if (found === 0) {
      throw new ImportSourceError(
        `${ctx.source.fileName}: no DM v1 file; expected .json files with an "annotations" object keyed by media (image_1, ...)`,
      );
    }
    if (batch.length > 0 || newCategories.length > 0) yield { categories: newCategories, items: batch };
  }
}

export default DmJsonImporter;

export const importers = [DmJsonImporter];

/**
 * The categories the dm-json exporter listed in metadata/categories.json (ids, supercategories,
 * keypoint names and skeletons), so classes keep their ids; none when the upload has no list.
 */
async function exportedCategories(source: ImportSource): Promise<Category[]> {
  const file = source.files.find((f) => /(^|\/)metadata\/categories\.json$/i.test(f.path));
  if (!file) return [];
  let list: unknown;
  try {
    list = JSON.parse(await file.text());
  } catch (err) {
    throw new ImportSourceError(`${file.path}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(list)) throw new ImportSourceError(`${file.path}: expected an array of categories`);
  return list.map((entry, i) => {
    try {
      const category = fromJson(CategorySchema, entry as JsonValue, { ignoreUnknownFields: true });
      if (category.id > 0 && category.name !== "") return category;
    } catch {
      // Named below.
    }
    throw new ImportSourceError(`${file.path}[${i}]: expected a category with an id above 0 and a name`);
  });
}

function dmFiles(source: ImportSource): DmFile[] {
  // metadata/export_summary.json is what an export adds, not a data unit.
  const json = source.files.filter((f) => /\.json$/i.test(f.path) && !/(^|\/)metadata\//.test(f.path));
  if (json.length === 0) {
    throw new ImportSourceError(`${source.fileName}: no .json file; expected DM v1 JSON files, one per data unit`);
  }
  // A single folder around every file is the ZIP's wrapper, not a category.
  const tops = new Set(json.map((f) => (f.path.includes("/") ? f.path.split("/")[0] : "")));
  const [top] = tops;
  const wrapper = tops.size === 1 && top ? `${top}/` : "";
  return json.map((file) => {
    const path = file.path.slice(wrapper.length).replace(/\.json$/i, "");
    const segments = path.split("/");
    segments.pop();
    const split = segments.map((s) => SPLITS[s.toLowerCase()]).find((s) => s !== undefined) ?? "";
    const named = segments.filter((s) => !SPLITS[s.toLowerCase()] && !LAYOUT_FOLDERS.has(s));
    const [first = "", ...rest] = segments;
    const exported = SPLITS[first.toLowerCase()] ? [first, ...rest] : ["default", ...segments];
    return {
      file,
      stem: path,
      folder: file.path.slice(0, file.path.lastIndexOf("/") + 1),
      split,
      category: named.at(-1) ?? "",
      exportImageFolder: `${wrapper}images/${exported.join("/")}/`,
    };
  });
}

/** The DM v1 payload of a file, unwrapped from `{data, files, id}`; undefined when it is not DM v1. */
async function readPayload(file: SourceFile): Promise<DmRecord | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await file.text());
  } catch (err) {
    throw new ImportSourceError(`${file.path}: not valid JSON (${(err as Error).message})`);
  }
  if (!isRecord(json)) return undefined;
  const payload = isRecord(json.data) && !isRecord(json.annotations) ? json.data : json;
  return isRecord(payload.annotations) ? payload : undefined;
}

async function itemsOf(
  ctx: ImportContext<unknown>,
  dm: DmFile,
  payload: DmRecord,
  itemIds: (path: string) => string,
  categoryId: (name: string) => number,
): Promise<Item[]> {
  const annotations = payload.annotations as DmRecord;
  const annotationsData = isRecord(payload.annotationsData) ? payload.annotationsData : {};
  const mediaKeys = [...new Set([...Object.keys(annotations), ...Object.keys(annotationsData)])].sort();
  const imageKeys = mediaKeys.filter((key) => mediaType(key) === "image");
  for (const key of mediaKeys) {
    if (mediaType(key) === "image") continue;
    const count = list(annotations[key]).length;
    if (count > 0) ctx.drop(`${mediaType(key)} media (${key}): not supported`, count);
  }
  // A file with no image annotations is still an image of the dataset.
  if (imageKeys.length === 0) imageKeys.push("image_1");
  const items: Item[] = [];
  for (const key of imageKeys) {
    const id = itemIds(imageKeys.length > 1 ? `${dm.stem}/${key}` : `${dm.stem}.json`);
    const byId = new Map<string, DmRecord>();
    for (const entry of list(annotationsData[key])) if (typeof entry.id === "string") byId.set(entry.id, entry);
    const used = new Set<string>();
    const converted: Annotation[] = [];
    for (const meta of list(annotations[key])) {
      const dmId = typeof meta.id === "string" ? meta.id : "";
      const data = byId.get(dmId);
      byId.delete(dmId);
      const result = convertDmAnnotation(meta, data);
      if ("drop" in result) {
        ctx.drop(result.drop);
        continue;
      }
      let annotationId = dmId ? `${id}:${dmId}` : `${id}:${converted.length + 1}`;
      for (let n = 2; used.has(annotationId); n++) annotationId = `${id}:${dmId}~${n}`;
      used.add(annotationId);
      converted.push(
        create(AnnotationSchema, {
          ...result.annotation,
          id: annotationId,
          itemId: id,
          categoryId: categoryId(result.className),
        }),
      );
    }
    if (byId.size > 0) ctx.drop("annotationsData entry without its annotation", byId.size);
    const media = await mediaOf(ctx, dm, payload, key);
    items.push(
      create(ItemSchema, {
        id,
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split: dm.split,
        media,
        ...(dm.category ? { meta: { category: dm.category } } : {}),
        data: dataOf(payload, key, imageKeys.length > 1),
        annotations: converted,
      }),
    );
  }
  return items;
}

/** `image_1` -> image, `video_2` -> video (Synapse's media keys are `<file type>_<n>`). */
function mediaType(key: string): string {
  return key.includes("_") ? key.slice(0, key.lastIndexOf("_")) : key;
}

function list(value: JsonValue | undefined): DmRecord[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** The payload without its annotations; with several images, the media-keyed parts of this one. */
function dataOf(payload: DmRecord, key: string, several: boolean): JsonObject {
  const data: JsonObject = {};
  for (const [field, value] of Object.entries(payload)) {
    if (ANNOTATION_FIELDS.has(field)) continue;
    data[field] = several && isRecord(value) && key in value ? { [key]: value[key] as JsonValue } : value;
  }
  return data;
}

/** The image: beside the JSON, or in original_files/ beside json/; its size from `extra` or its header. */
async function mediaOf(ctx: ImportContext<unknown>, dm: DmFile, payload: DmRecord, key: string) {
  const extra = isRecord(payload.extra) && isRecord(payload.extra[key]) ? payload.extra[key] : {};
  const stem = dm.stem.split("/").pop() ?? dm.stem;
  const folders = [dm.folder];
  if (dm.folder.endsWith("json/")) folders.push(`${dm.folder.slice(0, -"json/".length)}original_files/`);
  folders.push(dm.exportImageFolder);
  const named = [extra.fileName, extra.file_name, extra.filename].find((n): n is string => typeof n === "string");
  const image = findImage(ctx.source, folders, stem, named);
  const fileName = image ? (image.path.split("/").pop() ?? stem) : (named ?? stem);
  let width = positive(extra.width);
  let height = positive(extra.height);
  if (image && (!width || !height)) {
    const size = await ctx.imageSize(image);
    width = size?.width ?? 0;
    height = size?.height ?? 0;
  }
  return { uri: image ? await ctx.storeMedia(image) : fileName, fileName, width, height };
}

function findImage(source: ImportSource, folders: string[], stem: string, named: string | undefined) {
  for (const folder of folders) {
    if (named) {
      const file = source.file(`${folder}${named}`);
      if (file) return file;
    }
    for (const ext of IMAGE_EXTENSIONS) {
      const file = source.file(`${folder}${stem}${ext}`) ?? source.file(`${folder}${stem}${ext.toUpperCase()}`);
      if (file) return file;
    }
  }
  return undefined;
}

function positive(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : 0;
}
