// YOLO importer: Ultralytics (data.yaml; images/<split>/ with labels/<split>/<stem>.txt beside
// them) and darknet (obj.data, obj.names or classes.txt, train.txt; labels next to the images).
// Coordinates are normalised, so every label needs its image: the size is read from the image's
// header. Class index i becomes category id i + 1; our exporter numbers classes by category id
// order, so an import of its output exports back to the same class indices.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Annotation,
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
import { type LabelShape, parseLabelLine } from "./label-lines.ts";
import { baseName, dirOf, extensionOf, isImagePath, UploadPaths } from "./upload-paths.ts";
import { readYoloConfig, type YoloConfig } from "./yolo-config.ts";

const options = z.strictObject({});

export type YoloImportOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
/** Clipping by less than this (normalised) is the rounding of 6-decimal coordinates, not a change. */
const EPSILON = 1e-6;
/** Our exporter's folder for items without a split (the SDK's UNSPLIT). */
const UNSPLIT_FOLDER = "default";
const NO_IMAGE = "no image to read its size";

/** Annotation ids sort as the lines came: StreamItems orders an item's annotations by id. */
/**
 * The part of an image's path that names the item: without the layout's `images/<split>/` (our
 * exporter's and Ultralytics') or `<split>/images/` (Roboflow's), so an exported item comes back
 * under its own id. Names that repeat across splits keep their folders (createItemIds).
 */
export function idPath(relative: string): string {
  return relative.replace(/^images\/[^/]+\/(?=.)/, "").replace(/^[^/]+\/images\/(?=.)/, "");
}

export function annotationId(itemId: string, n: number): string {
  return `${itemId}:${String(n).padStart(6, "0")}`;
}

/** The split an images/<split>/ folder names ("" for our exporter's `default`), if the path has one. */
function splitOfFolder(path: string): string | undefined {
  const match = /(?:^|\/)images\/([^/]+)\/./.exec(path);
  if (!match) return undefined;
  return match[1] === UNSPLIT_FOLDER ? "" : match[1];
}

/** Ultralytics img2label_paths: the last /images/ becomes /labels/, the extension .txt; darknet: beside the image. */
export function labelPaths(imagePath: string): string[] {
  const stem = imagePath.slice(0, imagePath.length - extensionOf(imagePath).length);
  const rooted = `/${stem}`;
  const at = rooted.lastIndexOf("/images/");
  const ultralytics =
    at >= 0 ? `${rooted.slice(0, at)}/labels/${rooted.slice(at + "/images/".length)}.txt`.slice(1) : undefined;
  return ultralytics ? [ultralytics, `${stem}.txt`] : [`${stem}.txt`];
}

interface Splits {
  byImage: Map<SourceFile, string>;
  /** List files (train.txt...) the config names: not label files. */
  lists: Set<string>;
}

/** The split of each image the config's train/val/test entries reach (the first entry wins). */
async function assignSplits(
  ctx: ImportContext<YoloImportOptions>,
  config: YoloConfig,
  paths: UploadPaths,
  images: readonly SourceFile[],
): Promise<Splits> {
  const byImage = new Map<SourceFile, string>();
  const lists = new Set<string>();
  let unresolved = 0;
  for (const { split, refs, bases, optional } of config.splits) {
    for (const ref of refs) {
      if (extensionOf(ref) === ".txt") {
        const list = paths.file(ref, bases);
        if (!list) {
          if (!optional) ctx.note(`${config.file}: ${split} list ${ref} is not in the upload`);
          continue;
        }
        lists.add(list.path);
        for (const line of (await list.text()).split(/\r?\n/)) {
          const entry = line.trim();
          if (entry === "") continue;
          const image = paths.file(entry, [dirOf(list.path), ...bases]);
          if (!image) unresolved += 1;
          else if (!byImage.has(image)) byImage.set(image, split);
        }
        continue;
      }
      const folder = paths.folder(ref, bases);
      if (folder === undefined) {
        if (!optional) ctx.note(`${config.file}: ${split} folder ${ref} is not in the upload`);
        continue;
      }
      for (const image of images) {
        if (image.path.startsWith(folder) && !byImage.has(image))
          byImage.set(image, splitOfFolder(image.path) ?? split);
      }
    }
  }
  if (unresolved > 0) ctx.note(`${unresolved} images named in split lists are not in the upload`);
  return { byImage, lists };
}

export class YoloImporter extends BaseImporter<YoloImportOptions> {
  static override manifest = {
    name: "yolo-importer",
    version: "1.0.0",
    formats: ["yolo"],
    sdk: "^0.1.0",
    description:
      "YOLO detection and segmentation labels: Ultralytics data.yaml layouts and darknet obj.data/obj.names/classes.txt.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<YoloImportOptions>): AsyncIterable<ImportBatch> {
    const paths = new UploadPaths(ctx.source);
    const config = await readYoloConfig(ctx.source, paths);
    const categories: Category[] = [...config.names]
      .sort(([a], [b]) => a - b)
      .map(([index, name]) => create(CategorySchema, { id: index + 1, name }));
    const images = ctx.source.files.filter((f) => isImagePath(f.path));
    const splits = await assignSplits(ctx, config, paths, images);
    const labelsUsed = new Set<string>();
    const itemId = createItemIds();
    let batch: Item[] = [];
    let withoutLabels = 0;
    let unreadable = 0;
    yield { categories };
    for (const image of images) {
      ctx.signal.throwIfAborted();
      const label = labelPaths(image.path)
        .map((p) => ctx.source.file(p))
        .find((f) => f !== undefined);
      if (label) labelsUsed.add(label.path);
      else withoutLabels += 1;
      const size = await ctx.imageSize(image);
      const relative = image.path.startsWith(config.root) ? image.path.slice(config.root.length) : image.path;
      const id = itemId(idPath(relative));
      let annotations: Annotation[] = [];
      if (label && size) annotations = await this.annotations(ctx, config, label, id, size.width, size.height);
      else if (label) {
        unreadable += 1;
        ctx.drop("image size unreadable", await countLines(label));
      }
      batch.push(
        create(ItemSchema, {
          id,
          kind: ItemKind.IMAGE,
          status: ItemStatus.APPROVED,
          split: splits.byImage.get(image) ?? splitOfFolder(image.path) ?? "",
          media: {
            uri: await ctx.storeMedia(image),
            fileName: baseName(image.path),
            width: size?.width ?? 0,
            height: size?.height ?? 0,
          },
          annotations,
        }),
      );
      if (batch.length >= BATCH_ITEMS) {
        yield { items: batch };
        batch = [];
      }
    }
    if (batch.length > 0) yield { items: batch };
    if (withoutLabels > 0) ctx.note(`${withoutLabels} images have no label file: imported without annotations`);
    if (unreadable > 0) ctx.note(`${unreadable} images could not be read for their size: their labels were dropped`);
    const orphans = await this.dropOrphanLabels(ctx, config, splits.lists, labelsUsed, images);
    if (images.length === 0 && orphans === 0) {
      throw new ImportSourceError(
        `${config.file}: no images and no label files beside it (expected images/<split>/ and labels/<split>/)`,
      );
    }
  }

  private async annotations(
    ctx: ImportContext<YoloImportOptions>,
    config: YoloConfig,
    label: SourceFile,
    itemId: string,
    width: number,
    height: number,
  ): Promise<Annotation[]> {
    const annotations: Annotation[] = [];
    const lines = (await label.text()).split(/\r?\n/);
    lines.forEach((line, index) => {
      const shape = parseLabelLine(line, `${label.path} line ${index + 1}`, config.kptShape);
      if (!shape) return;
      if (!config.names.has(shape.classIndex)) {
        ctx.drop(`class ${shape.classIndex} is not in the class names`);
        return;
      }
      const annotation = toAnnotation(ctx, shape, width, height);
      if (!annotation) return;
      annotations.push(
        create(AnnotationSchema, {
          ...annotation,
          id: annotationId(itemId, index + 1),
          itemId,
          categoryId: shape.classIndex + 1,
        }),
      );
    });
    return annotations;
  }

  /** Label files with no image: their lines cannot be placed (coordinates are relative to the image size). */
  private async dropOrphanLabels(
    ctx: ImportContext<YoloImportOptions>,
    config: YoloConfig,
    lists: ReadonlySet<string>,
    used: ReadonlySet<string>,
    images: readonly SourceFile[],
  ): Promise<number> {
    const imageFolders = new Set(images.map((image) => dirOf(image.path)));
    let orphans = 0;
    for (const file of ctx.source.files) {
      const { path } = file;
      if (extensionOf(path) !== ".txt" || used.has(path) || lists.has(path) || path === config.file) continue;
      if (!/(^|\/)labels\//.test(path) && !imageFolders.has(dirOf(path))) continue;
      if (baseName(path) === "classes.txt") continue;
      orphans += 1;
      ctx.drop(NO_IMAGE, await countLines(file));
    }
    if (orphans > 0) ctx.note(`${orphans} label files have no image in the upload: their labels were dropped`);
    return orphans;
  }
}

async function countLines(file: SourceFile): Promise<number> {
  return (await file.text()).split(/\r?\n/).filter((line) => line.trim() !== "").length;
}

const clamp = (value: number, max: number) => Math.min(Math.max(value, 0), max);
/** Removes the floating-point noise of denormalising (64.00000000000001), far below the labels' precision. */
const tidy = (pixels: number) => Math.round(pixels * 1e9) / 1e9;

type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;

/** The shape in pixels, clipped to the image (reported as changed); undefined when dropped. */
function toAnnotation(
  ctx: ImportContext<YoloImportOptions>,
  shape: LabelShape,
  width: number,
  height: number,
): AnnotationInit | undefined {
  const attributes =
    "confidence" in shape && shape.confidence !== undefined ? { confidence: shape.confidence } : undefined;
  if (shape.kind === "polygon") {
    if (shape.points.length < 6) {
      ctx.drop("polygon with fewer than 3 points");
      return undefined;
    }
    let clipped = false;
    const points = shape.points.map((value, i) => {
      if (Math.abs(clamp(value, 1) - value) > EPSILON) clipped = true;
      const size = i % 2 === 0 ? width : height;
      return tidy(clamp(value, 1) * size);
    });
    if (clipped) ctx.changed("polygon clipped to the image");
    return {
      type: AnnotationType.POLYGON,
      geometry: { case: "polygon", value: { points } },
      ...(attributes ? { attributes } : {}),
    };
  }
  // Edges in normalised units, where EPSILON tells rounding from clipping.
  const edges = [shape.cx - shape.w / 2, shape.cy - shape.h / 2, shape.cx + shape.w / 2, shape.cy + shape.h / 2];
  const [x1, y1, x2, y2] = edges.map((edge) => clamp(edge, 1)) as [number, number, number, number];
  if (x2 - x1 <= EPSILON || y2 - y1 <= EPSILON) {
    ctx.drop("box outside the image");
    return undefined;
  }
  if (edges.some((edge) => Math.abs(clamp(edge, 1) - edge) > EPSILON)) ctx.changed("box clipped to the image");
  if (shape.kind === "pose") ctx.changed("pose: keypoints not imported, box kept");
  const x = tidy(x1 * width);
  const y = tidy(y1 * height);
  return {
    type: AnnotationType.BBOX,
    geometry: { case: "bbox", value: { x, y, width: tidy(x2 * width - x), height: tidy(y2 * height - y) } },
    ...(attributes ? { attributes } : {}),
  };
}

/** The importers this plugin package provides (the plugin loader reads `importers`). */
export const importers = [YoloImporter];
