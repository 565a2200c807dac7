// Pascal VOC importer: the devkit layout (Annotations/*.xml, JPEGImages/, ImageSets/Main/<split>.txt,
// labelmap.txt as datumaro and CVAT write it, and our exporter's `splits` layout with images/<split>/)
// and loose folders of VOC XML files. Boxes are 1-based inclusive pixel indices, read back as
// geometry.ts writes them: x = xmin - 1, width = xmax - xmin + 1, so our exports re-import exactly.
import { create } from "@bufbuild/protobuf";
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
import {
  type AnnotationFile,
  annotationFiles,
  dirOf,
  ImageIndex,
  readLabelmap,
  readSplitLists,
  withoutExtension,
} from "./voc-files.ts";
import { child, childText, readXmlTree, type XmlElement } from "./xml-tree.ts";

const options = z.strictObject({
  coordinates: z
    .enum(["one-based", "zero-based"])
    .default("one-based")
    .describe(
      "one-based: VOC's own pixel indices (xmin 1 is the first column), as the devkit, CVAT and Labelport write them; zero-based: xmin is the left edge, as datumaro writes by default (coordinate_mode dm-zero-based).",
    ),
});

export type VocImportOptions = z.output<typeof options>;

/** Items a batch holds at most. */
const BATCH_ITEMS = 500;
/** <object> flags VOC writes as 0/1, kept as boolean attributes. */
const FLAGS = ["truncated", "occluded", "difficult"] as const;
/** VOC's "no pose"; the exporter writes it when an annotation has none. */
const NO_POSE = "Unspecified";

/** Annotation ids sort as the objects came: StreamItems orders an item's annotations by id. */
export function annotationId(itemId: string, n: number): string {
  return `${itemId}:${String(n).padStart(6, "0")}`;
}

/**
 * Category ids: the labelmap's order when there is one (background left out, the first label is
 * 1), else the order in which names first appear. Our exporter writes the labelmap in category-id
 * order, so an export re-imports with the same order and names.
 */
class CategoryTable {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly declared: boolean;

  constructor(labelmap: readonly string[] | undefined) {
    this.declared = labelmap !== undefined;
    for (const name of labelmap ?? []) this.add(name);
  }

  private add(name: string): number {
    const id = this.names.length + 1;
    this.names.push(name);
    this.ids.set(name, id);
    return id;
  }

  /** The id of an object's name; undefined when a labelmap exists and does not list it. */
  idOf(name: string): number | undefined {
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    // The labelmap's columns are ':'-separated, so writers put '_' for ':' there (the XML keeps the name).
    const listed = this.ids.get(name.replaceAll(":", "_"));
    if (listed !== undefined) {
      this.names[listed - 1] = name;
      this.ids.set(name, listed);
      return listed;
    }
    return this.declared ? undefined : this.add(name);
  }

  categories(): Category[] {
    return this.names.map((name, i) => create(CategorySchema, { id: i + 1, name }));
  }
}

function flagValue(text: string): boolean {
  const number = Number(text);
  return Number.isFinite(number) ? number !== 0 : text.toLowerCase() === "true";
}

/** The common top folder of all paths ("" when there is none): ZIPs often wrap the dataset in one. */
function commonTopFolder(paths: readonly string[]): string {
  const first = paths[0];
  const slash = first?.indexOf("/") ?? -1;
  if (!first || slash < 0) return "";
  const top = first.slice(0, slash + 1);
  return paths.every((p) => p.startsWith(top)) ? top : "";
}

interface ImageRef {
  file?: SourceFile | undefined;
  /** The path the annotation names, for media.uri when the image is not in the upload. */
  named: string;
}

/** The image an annotation file names: by <filename> (below JPEGImages/ or its <folder>), else by the file's stem. */
function findImage(doc: AnnotationFile, filename: string, folder: string, images: ImageIndex): ImageRef {
  const stem = withoutExtension(doc.name);
  const base = doc.devkit ? `${doc.root}JPEGImages/` : doc.root;
  const candidates = filename ? [`${base}${filename}`] : [];
  if (filename && folder) candidates.push(`${doc.root}${folder}/${filename}`);
  for (const path of candidates) {
    const file = images.path(path);
    if (file) return { file, named: path };
  }
  const named = candidates[0] ?? `${base}${stem}.jpg`;
  const file =
    (filename && images.stem(`${base}${withoutExtension(filename)}`)) ||
    images.stem(`${base}${stem}`) ||
    (filename ? images.baseName(filename.slice(filename.lastIndexOf("/") + 1)) : undefined);
  return { file, named };
}

function coordinate(doc: AnnotationFile, box: XmlElement, field: string, n: number): number {
  const text = childText(box, field);
  const value = text === undefined || text === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw new ImportSourceError(
      `${doc.file.path}: object ${n} bndbox/${field} is ${text === undefined ? "missing" : `"${text}"`}, not a number`,
    );
  }
  return value;
}

function sizeValue(doc: AnnotationFile, size: XmlElement | undefined, field: string): number {
  const text = childText(size, field);
  if (text === undefined || text === "") return 0;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new ImportSourceError(`${doc.file.path}: size/${field} is "${text}", not a whole number of pixels`);
  }
  return Math.round(value);
}

/** The attributes of an <object>: its VOC flags and pose, datumaro's <attributes> and VOC action flags. */
function objectAttributes(object: XmlElement): Record<string, string | boolean> {
  const attributes: Record<string, string | boolean> = {};
  for (const entry of child(object, "attributes")?.children ?? []) {
    const name = childText(entry, "name");
    if (entry.name === "attribute" && name) attributes[name] = childText(entry, "value") ?? "";
  }
  for (const action of child(object, "actions")?.children ?? []) attributes[action.name] = flagValue(action.text);
  for (const flag of FLAGS) {
    const text = childText(object, flag);
    if (text !== undefined && text !== "") attributes[flag] = flagValue(text);
  }
  const pose = childText(object, "pose");
  if (pose && pose !== NO_POSE) attributes.pose = pose;
  return attributes;
}

interface ItemContext {
  ctx: ImportContext<VocImportOptions>;
  categories: CategoryTable;
  images: ImageIndex;
  splits: Map<string, string>;
}

export class VocImporter extends BaseImporter<VocImportOptions> {
  static override manifest = {
    name: "voc-importer",
    version: "1.0.0",
    formats: ["voc"],
    sdk: "^0.1.0",
    description:
      "Pascal VOC: the devkit layout (Annotations/, JPEGImages/, ImageSets/Main splits, labelmap.txt) or loose VOC XML files.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<VocImportOptions>): AsyncIterable<ImportBatch> {
    const docs = annotationFiles(ctx.source);
    const roots = [...new Set(docs.filter((d) => d.devkit).map((d) => d.root))];
    let labelmap: string[] | undefined;
    for (const root of roots.length > 0 ? roots : [""]) labelmap ??= await readLabelmap(ctx.source, root);
    const { splits, conflicts } = await readSplitLists(ctx.source, roots);
    if (conflicts > 0)
      ctx.note(
        `${conflicts} images are in more than one ImageSets/Main list; the first of train, val, test, others was kept`,
      );
    const images = new ImageIndex(ctx.source);
    const context: ItemContext = { ctx, categories: new CategoryTable(labelmap), images, splits };
    const itemId = createItemIds();
    // One dataset root: ids are the names below Annotations/; several (VOC2007 and VOC2012): with their root.
    const looseTop = commonTopFolder(docs.map((d) => d.file.path));
    const idPath = (doc: AnnotationFile) =>
      doc.devkit ? `${roots.length > 1 ? doc.root : ""}${doc.name}` : doc.file.path.slice(looseTop.length);
    const claimed = new Set<SourceFile>();
    let batch: Item[] = [];
    let read = 0;
    for (const doc of docs) {
      ctx.signal.throwIfAborted();
      const tree = await readXmlTree(doc.file, "annotation");
      if (!tree) {
        if (doc.devkit) {
          throw new ImportSourceError(`${doc.file.path}: not a VOC annotation (no <annotation> root element)`);
        }
        ctx.note(`${doc.file.path}: not a VOC annotation file, skipped`);
        continue;
      }
      read += 1;
      const item = await this.item(context, doc, tree, itemId(idPath(doc)), claimed);
      batch.push(item);
      if (batch.length >= BATCH_ITEMS) {
        yield { items: batch };
        batch = [];
      }
    }
    if (read === 0) {
      throw new ImportSourceError(
        "no Pascal VOC annotations: expected Annotations/*.xml (the VOC devkit layout) or XML files with an <annotation> root",
      );
    }
    for await (const item of this.unannotatedImages(context, roots, claimed, itemId)) {
      batch.push(item);
      if (batch.length >= BATCH_ITEMS) {
        yield { items: batch };
        batch = [];
      }
    }
    const masks = ctx.source.files.filter((f) => /(^|\/)Segmentation(Class|Object)\//.test(f.path)).length;
    if (masks > 0) ctx.note(`${masks} segmentation masks (SegmentationClass/, SegmentationObject/) were not imported`);
    yield { categories: context.categories.categories(), items: batch };
  }

  private async item(
    { ctx, categories, images, splits }: ItemContext,
    doc: AnnotationFile,
    tree: XmlElement,
    id: string,
    claimed: Set<SourceFile>,
  ): Promise<Item> {
    const filename = (childText(tree, "filename") ?? "").replaceAll("\\", "/");
    const folder = (childText(tree, "folder") ?? "").replaceAll("\\", "/").replace(/\/+$/, "");
    const image = findImage(doc, filename, folder, images);
    if (image.file) claimed.add(image.file);
    const size = child(tree, "size");
    let width = sizeValue(doc, size, "width");
    let height = sizeValue(doc, size, "height");
    if ((!width || !height) && image.file) {
      const read = await ctx.imageSize(image.file);
      width = read?.width ?? 0;
      height = read?.height ?? 0;
    }
    const annotations: Annotation[] = [];
    const objects = tree.children.filter((c) => c.name === "object");
    for (const [index, object] of objects.entries()) {
      const n = index + 1;
      const parts = object.children.filter((c) => c.name === "part").length;
      if (parts > 0) ctx.drop("part: VOC layout parts are not imported", parts);
      if (object.children.some((c) => c.name === "point")) ctx.note("VOC action points were not imported");
      const name = childText(object, "name") ?? "";
      if (name === "") {
        ctx.drop("object without a name");
        continue;
      }
      const categoryId = categories.idOf(name);
      if (categoryId === undefined) {
        ctx.drop(`unknown label '${name}'`);
        continue;
      }
      const box = child(object, "bndbox");
      if (!box) {
        ctx.drop("object without a bndbox");
        continue;
      }
      const xmin = coordinate(doc, box, "xmin", n);
      const ymin = coordinate(doc, box, "ymin", n);
      const xmax = coordinate(doc, box, "xmax", n);
      const ymax = coordinate(doc, box, "ymax", n);
      // Pixel k (1-based) spans [k-1, k): the inverse of geometry.ts's vocBox.
      const shift = ctx.options.coordinates === "one-based" ? 1 : 0;
      let x1 = xmin - shift;
      let y1 = ymin - shift;
      let x2 = xmax;
      let y2 = ymax;
      if (x2 <= x1 || y2 <= y1) {
        ctx.drop("bndbox with xmax < xmin or ymax < ymin");
        continue;
      }
      if (width && height) {
        const clipped = [Math.max(x1, 0), Math.max(y1, 0), Math.min(x2, width), Math.min(y2, height)] as const;
        if (clipped[2] <= clipped[0] || clipped[3] <= clipped[1]) {
          ctx.drop("bndbox outside the image");
          continue;
        }
        if (clipped[0] !== x1 || clipped[1] !== y1 || clipped[2] !== x2 || clipped[3] !== y2) {
          ctx.changed("bndbox clipped to the image");
        }
        [x1, y1, x2, y2] = clipped;
      }
      annotations.push(
        create(AnnotationSchema, {
          id: annotationId(id, n),
          itemId: id,
          type: AnnotationType.BBOX,
          categoryId,
          attributes: objectAttributes(object),
          geometry: { case: "bbox", value: { x: x1, y: y1, width: x2 - x1, height: y2 - y1 } },
        }),
      );
    }
    const depth = sizeValue(doc, size, "depth");
    return create(ItemSchema, {
      id,
      kind: ItemKind.IMAGE,
      status: ItemStatus.APPROVED,
      split: splits.get(`${doc.root}${withoutExtension(doc.name)}`) ?? "",
      media: {
        uri: image.file ? await ctx.storeMedia(image.file) : image.named,
        fileName:
          filename ||
          (image.file ? image.file.path.slice(dirOf(image.file.path).length) : `${withoutExtension(doc.name)}.jpg`),
        width,
        height,
        depth,
      },
      annotations,
    });
  }

  /** Images of the dataset no annotation file names: items without annotations (VOC test images). */
  private async *unannotatedImages(
    { ctx, images, splits }: ItemContext,
    roots: readonly string[],
    claimed: ReadonlySet<SourceFile>,
    itemId: (path: string) => string,
  ): AsyncIterable<Item> {
    let count = 0;
    for (const file of images.images) {
      if (claimed.has(file)) continue;
      const root = roots.find((r) => file.path.startsWith(`${r}JPEGImages/`));
      const inDevkit = root !== undefined;
      if (roots.length > 0 && !inDevkit) continue;
      if (/(^|\/)Segmentation(Class|Object)\//.test(file.path)) continue;
      ctx.signal.throwIfAborted();
      const name = inDevkit ? file.path.slice(`${root}JPEGImages/`.length) : file.path;
      const size = await ctx.imageSize(file);
      count += 1;
      yield create(ItemSchema, {
        id: itemId(`${roots.length > 1 ? root : ""}${name}`),
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split: inDevkit ? (splits.get(`${root}${withoutExtension(name)}`) ?? "") : "",
        media: {
          uri: await ctx.storeMedia(file),
          fileName: name,
          width: size?.width ?? 0,
          height: size?.height ?? 0,
        },
      });
    }
    if (count > 0) ctx.note(`${count} images have no annotation file: imported without annotations`);
  }
}

/** The importers this plugin package provides (the plugin loader reads `importers`). */
export const importers = [VocImporter];
