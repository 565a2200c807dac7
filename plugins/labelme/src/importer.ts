// LabelMe JSON importer (wkentaro/labelme 3-5): one JSON per image with `shapes`, `imagePath`
// (relative to the JSON, often with Windows backslashes), optional `imageData` (the image as
// base64) and `imageWidth`/`imageHeight`. One JSON is read at a time.
//
// Decisions (docs): labels become categories by name, ids 1, 2, ... in order of first appearance
// over the JSON files in path order (shapes in file order, then image flags), so the same upload
// always gets the same ids. Circles become polygons (counted as changed); image-level flags set to
// true become classifications (labelme's `--flags` classification mode) unless `flags: "meta"`.
// Images in the upload that no JSON names become items without annotations.
import { posix } from "node:path";
import { Readable } from "node:stream";
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
import {
  AnnotationSchema,
  AnnotationType,
  CategorySchema,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { type AnnotationInit, shapeGeometry } from "./shapes.ts";

const options = z.strictObject({
  flags: z
    .enum(["classifications", "meta"])
    .default("classifications")
    .describe("Image flags set to true: classification annotations named by the flag, or item meta.flags as they are."),
  circleVertices: z.number().int().min(8).max(360).default(32).describe("Vertices of the polygon a circle becomes."),
});

export type LabelmeOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
const IMAGE_EXTENSION = /\.(jpe?g|jpe|jfif|png|bmp|gif|tiff?|webp|avif|heic|heif|mpo)$/i;

interface LabelmeFile {
  shapes: unknown[];
  imagePath?: unknown;
  imageData?: unknown;
  imageWidth?: unknown;
  imageHeight?: unknown;
  flags?: unknown;
}

interface LabelmeShape {
  label?: unknown;
  points?: unknown;
  group_id?: unknown;
  description?: unknown;
  shape_type?: unknown;
  flags?: unknown;
  mask?: unknown;
}

export class LabelmeImporter extends BaseImporter<LabelmeOptions> {
  static override manifest = {
    name: "labelme-importer",
    version: "1.0.0",
    formats: ["labelme"],
    sdk: "^0.1.0",
    description: "LabelMe JSON per image: rectangles, polygons, lines, points, circles, masks, image flags.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<LabelmeOptions>): AsyncIterable<ImportBatch> {
    const jsonFiles = ctx.source.files.filter((f) => /\.json$/i.test(f.path));
    const images = new ImageIndex(ctx.source.files.filter((f) => IMAGE_EXTENSION.test(f.path)));
    const categories = new Map<string, number>();
    const itemId = createItemIds();
    const referenced = new Set<string>();
    const notLabelme: string[] = [];
    const counts = { missingImages: 0, embeddedImages: 0, unsized: 0 };
    let items: Item[] = [];
    let newCategories: Category[] = [];
    const categoryId = (name: string) => {
      let id = categories.get(name);
      if (id === undefined) {
        id = categories.size + 1;
        categories.set(name, id);
        newCategories.push(create(CategorySchema, { id, name }));
      }
      return id;
    };
    const flush = (): ImportBatch => {
      const batch = { categories: newCategories, items };
      newCategories = [];
      items = [];
      return batch;
    };

    for (const file of jsonFiles) {
      ctx.signal.throwIfAborted();
      const doc = await readLabelme(file);
      if (!doc) {
        notLabelme.push(file.path);
        continue;
      }
      const imagePath = resolveImagePath(file.path, doc.imagePath);
      const image = images.find(imagePath, file.path);
      if (image) referenced.add(image.path);
      let uri: string;
      let sizeSource: SourceFile | undefined = image;
      if (image) {
        uri = await ctx.storeMedia(image);
      } else if (typeof doc.imageData === "string" && doc.imageData) {
        sizeSource = embeddedImage(imagePath, Buffer.from(doc.imageData, "base64"));
        uri = await ctx.storeMedia(sizeSource);
        counts.embeddedImages += 1;
      } else {
        uri = imagePath;
        counts.missingImages += 1;
      }
      let width = positiveInteger(doc.imageWidth);
      let height = positiveInteger(doc.imageHeight);
      if ((!width || !height) && sizeSource) {
        const size = await ctx.imageSize(sizeSource);
        width = size?.width ?? 0;
        height = size?.height ?? 0;
      }
      if (!width || !height) counts.unsized += 1;
      const id = itemId(image?.path ?? imagePath);
      const annotations: AnnotationInit[] = [];
      doc.shapes.forEach((raw, index) => {
        const shape = checkShape(raw, file.path, index);
        const label = typeof shape.label === "string" ? shape.label : "";
        if (!label) {
          ctx.drop("shape without a label");
          return;
        }
        const result = shapeGeometry(
          { shape_type: shape.shape_type, points: shape.points, mask: shape.mask },
          { width, height },
          ctx.options.circleVertices,
        );
        if (!result.geometry) {
          ctx.drop(result.dropped ?? "unreadable shape");
          return;
        }
        if (result.changed) ctx.changed(result.changed);
        annotations.push({
          id: `${id}:${index + 1}`,
          itemId: id,
          categoryId: categoryId(label),
          attributes: shapeAttributes(shape),
          ...result.geometry,
        });
      });
      const flags = imageFlags(doc.flags);
      let meta: Record<string, boolean> | undefined;
      if (ctx.options.flags === "meta") {
        if (Object.keys(flags).length > 0) meta = flags;
      } else {
        for (const name of Object.keys(flags).filter((flag) => flags[flag])) {
          annotations.push({
            id: `${id}:${doc.shapes.length + annotations.length + 1}`,
            itemId: id,
            categoryId: categoryId(name),
            type: AnnotationType.CLASSIFICATION,
          });
        }
      }
      items.push(
        create(ItemSchema, {
          id,
          kind: ItemKind.IMAGE,
          status: ItemStatus.APPROVED,
          media: { uri, fileName: image?.path ?? imagePath, width, height },
          ...(meta ? { meta: { flags: meta } } : {}),
          annotations: annotations.map((a) => create(AnnotationSchema, a)),
        }),
      );
      if (items.length >= BATCH_ITEMS) yield flush();
    }
    if (jsonFiles.length === notLabelme.length) {
      throw new ImportSourceError(
        notLabelme.length > 0
          ? `no LabelMe file in the upload: ${describe(notLabelme)} have no "shapes" list`
          : 'no LabelMe *.json in the upload (one JSON per image, with "shapes" and "imagePath")',
      );
    }
    let unlabelled = 0;
    for (const image of images.files) {
      ctx.signal.throwIfAborted();
      if (referenced.has(image.path)) continue;
      unlabelled += 1;
      const id = itemId(image.path);
      const size = await ctx.imageSize(image);
      items.push(
        create(ItemSchema, {
          id,
          kind: ItemKind.IMAGE,
          status: ItemStatus.APPROVED,
          media: {
            uri: await ctx.storeMedia(image),
            fileName: image.path,
            width: size?.width ?? 0,
            height: size?.height ?? 0,
          },
        }),
      );
      if (items.length >= BATCH_ITEMS) yield flush();
    }
    yield flush();
    if (notLabelme.length > 0) ctx.note(`${describe(notLabelme)}: not LabelMe files (no "shapes" list), skipped`);
    if (unlabelled > 0) ctx.note(`${unlabelled} images without a LabelMe JSON imported without annotations`);
    if (counts.embeddedImages > 0) {
      ctx.note(
        `${counts.embeddedImages} images stored from the JSON's imageData (the image file is not in the upload)`,
      );
    }
    if (counts.missingImages > 0) {
      ctx.note(`${counts.missingImages} images are neither in the upload nor in imageData: media.uri is the imagePath`);
    }
    if (counts.unsized > 0) ctx.note(`${counts.unsized} images have no width/height`);
  }
}

/** The parsed file, or undefined when it is JSON but not LabelMe (no `shapes` list). */
async function readLabelme(file: SourceFile): Promise<LabelmeFile | undefined> {
  let doc: unknown;
  try {
    doc = JSON.parse(await file.text());
  } catch (err) {
    throw new ImportSourceError(`${file.path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof doc !== "object" || doc === null || !Array.isArray((doc as LabelmeFile).shapes)) return undefined;
  return doc as LabelmeFile;
}

function checkShape(raw: unknown, path: string, index: number): LabelmeShape & { points: number[][] } {
  const where = `${path}: shapes[${index}]`;
  if (typeof raw !== "object" || raw === null) throw new ImportSourceError(`${where} is not an object`);
  const shape = raw as LabelmeShape;
  const points = shape.points ?? [];
  const valid =
    Array.isArray(points) &&
    points.every((p) => Array.isArray(p) && p.length >= 2 && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  if (!valid) throw new ImportSourceError(`${where}.points must be a list of [x, y] numbers`);
  return { ...shape, points: (points as number[][]).map((p) => [p[0] as number, p[1] as number]) };
}

/** group_id, description and the shape's flags, as LabelMe names them. */
function shapeAttributes(shape: LabelmeShape): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const [name, value] of Object.entries(imageFlags(shape.flags))) attributes[name] = value;
  if (typeof shape.group_id === "number" && Number.isFinite(shape.group_id)) attributes.group_id = shape.group_id;
  if (typeof shape.description === "string" && shape.description) attributes.description = shape.description;
  if (shape.shape_type === "circle") attributes.shape_type = "circle";
  return attributes;
}

function imageFlags(flags: unknown): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (typeof flags !== "object" || flags === null || Array.isArray(flags)) return out;
  for (const [name, value] of Object.entries(flags)) if (typeof value === "boolean") out[name] = value;
  return out;
}

/**
 * The image's path in the upload: `imagePath` with '/' separators, relative to the JSON's folder.
 * An absolute path or one leaving the upload (labelme on another machine) keeps its file name
 * only, next to the JSON; a missing imagePath is the JSON's own name.
 */
export function resolveImagePath(jsonPath: string, imagePath: unknown): string {
  const folder = posix.dirname(jsonPath);
  const named = typeof imagePath === "string" ? imagePath.replaceAll("\\", "/").trim() : "";
  if (!named) return posix.join(folder, posix.basename(jsonPath).replace(/\.json$/i, ""));
  const absolute = named.startsWith("/") || /^[a-z]:\//i.test(named);
  const resolved = absolute ? "" : posix.normalize(posix.join(folder, named));
  if (!resolved || resolved.startsWith("../") || resolved === "..") {
    return posix.join(folder, posix.basename(named));
  }
  return resolved.replace(/^\.\//, "");
}

/**
 * Images of the upload, found by exact path, then case-insensitively, then by name next to the
 * JSON, then by the JSON's own name next to it, then by file name anywhere when only one image
 * has it (labelme run from another folder writes paths that do not resolve in the upload).
 */
class ImageIndex {
  private readonly byPath = new Map<string, SourceFile>();
  private readonly byLowerPath = new Map<string, SourceFile>();
  private readonly byLowerStem = new Map<string, SourceFile>();
  /** null when two images share the name. */
  private readonly byLowerName = new Map<string, SourceFile | null>();
  constructor(readonly files: readonly SourceFile[]) {
    for (const file of files) {
      this.byPath.set(file.path, file);
      const lower = file.path.toLowerCase();
      if (!this.byLowerPath.has(lower)) this.byLowerPath.set(lower, file);
      const stem = lower.replace(/\.[^./]+$/, "");
      if (!this.byLowerStem.has(stem)) this.byLowerStem.set(stem, file);
      const name = posix.basename(lower);
      this.byLowerName.set(name, this.byLowerName.has(name) ? null : file);
    }
  }
  find(imagePath: string, jsonPath: string): SourceFile | undefined {
    const besideJson = posix.join(posix.dirname(jsonPath), posix.basename(imagePath)).toLowerCase();
    return (
      this.byPath.get(imagePath) ??
      this.byLowerPath.get(imagePath.toLowerCase()) ??
      this.byLowerPath.get(besideJson) ??
      this.byLowerStem.get(jsonPath.toLowerCase().replace(/\.json$/, "")) ??
      this.byLowerName.get(posix.basename(imagePath).toLowerCase()) ??
      undefined
    );
  }
}

/** The image of a JSON's imageData as an upload file, so it is stored as media like any other. */
function embeddedImage(path: string, bytes: Buffer): SourceFile {
  return {
    path,
    size: bytes.length,
    bytes: async () => bytes,
    text: async () => bytes.toString("utf8"),
    stream: async () => Readable.from([bytes]),
  };
}

function positiveInteger(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : 0;
}

function describe(paths: readonly string[]): string {
  const shown = paths.slice(0, 3).join(", ");
  return paths.length > 3 ? `${shown} and ${paths.length - 3} more` : shown;
}
