// CVAT for images 1.1 importer (and the box tracks of CVAT for video 1.1). The XML is streamed
// (cvat-xml.ts): memory holds one batch of items, not the file. Layouts read: CVAT's task export
// (annotations.xml + images/<name>), its project export (images/<subset>/<name>, `subset` on each
// <image>) and datumaro's (one <subset>.xml per subset, images/<name>).
//
// Decisions (docs): labels become categories by name, ids 1, 2, ... in the order <meta> declares
// them over the XML files in path order; labels used but not declared get the next ids in order of
// use (noted). Skeleton sub-labels are the keypoint names of their skeleton's category. Subsets
// train/val/test (any case; also training, validation, valid, testing) are splits; others are
// kept as item meta.subset, unsplit. The tracks of a video export become one video item per XML
// with one track annotation (box sequence) per <track> of boxes.
import { posix } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { create, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
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
  SkeletonEdgeSchema,
} from "@labelport/sdk/contracts";
import {
  type CvatElement,
  type CvatEvent,
  type CvatLabel,
  type CvatMeta,
  type CvatShape,
  CvatXmlReader,
} from "./cvat-xml.ts";
import { type AnnotationInit, numberAttr, shapeGeometry } from "./shapes.ts";
import { skeletonEdges } from "./skeleton-svg.ts";

const options = z.strictObject({});

export type CvatOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
const IMAGE_EXTENSION = /\.(jpe?g|jpe|jfif|png|bmp|gif|tiff?|webp|avif|heic|heif|mpo)$/i;
const SPLITS: Record<string, string> = {
  train: "train",
  training: "train",
  val: "val",
  valid: "val",
  validation: "val",
  test: "test",
  testing: "test",
};

export class CvatImporter extends BaseImporter<CvatOptions> {
  static override manifest = {
    name: "cvat-importer",
    version: "1.0.0",
    formats: ["cvat"],
    sdk: "^0.1.0",
    description:
      "CVAT for images 1.1 XML: boxes, polygons, polylines, points, masks, tags, skeletons; video box tracks.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<CvatOptions>): AsyncIterable<ImportBatch> {
    const xmlFiles = ctx.source.files.filter((f) => /\.xml$/i.test(f.path));
    const state = new ImportState(
      ctx,
      ctx.source.files.filter((f) => IMAGE_EXTENSION.test(f.path)),
    );
    const notCvat: string[] = [];
    for (const file of xmlFiles) {
      const read = readCvatXml(file, ctx.signal);
      const subset = posix.basename(file.path).replace(/\.xml$/i, "");
      const tracks: CvatElement[] = [];
      let result = await read.next();
      for (; !result.done; result = await read.next()) {
        for (const event of result.value) {
          if (event.kind === "label") state.declare(event.label);
          else if (event.kind === "track") tracks.push(event.track);
          else await state.addImage(event.image, file.path, subset);
          if (state.items.length >= BATCH_ITEMS) yield state.flush();
        }
      }
      if (!result.value.cvat) notCvat.push(file.path);
      else if (tracks.length > 0) state.addVideo(tracks, result.value.meta, file.path);
    }
    if (xmlFiles.length === notCvat.length) {
      throw new ImportSourceError(
        notCvat.length > 0
          ? `no CVAT XML in the upload: the root element of ${describe(notCvat)} is not <annotations>`
          : "no CVAT *.xml in the upload (annotations.xml, as CVAT for images 1.1 exports it)",
      );
    }
    yield state.flush();
    state.notes(notCvat);
  }
}

/**
 * The file's events chunk by chunk; returns the <meta> read and whether the root is CVAT's
 * <annotations> (when it is not, reading stops there and nothing is yielded).
 */
async function* readCvatXml(
  file: SourceFile,
  signal: AbortSignal,
): AsyncGenerator<CvatEvent[], { cvat: boolean; meta: CvatMeta }> {
  const reader = new CvatXmlReader(file.path);
  const decoder = new StringDecoder("utf8");
  const stream = await file.stream();
  const otherRoot = () => reader.root !== undefined && reader.root !== "annotations";
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      signal.throwIfAborted();
      const events = parse(() => reader.write(decoder.write(chunk)));
      if (otherRoot()) return { cvat: false, meta: reader.meta };
      yield events;
    }
    const events = parse(() => [...reader.write(decoder.end()), ...reader.end()]);
    if (otherRoot()) return { cvat: false, meta: reader.meta };
    yield events;
    return { cvat: true, meta: reader.meta };
  } finally {
    stream.destroy();
  }
}

/** Runs the XML reader, turning its errors (file:line:column: message) into ImportSourceErrors. */
function parse<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    throw new ImportSourceError((err as Error).message);
  }
}

/** Categories, items being batched and the counts behind the notes, over all XML files of the upload. */
class ImportState {
  items: Item[] = [];
  private newCategories: Category[] = [];
  private readonly categories = new Map<string, number>();
  private readonly labels = new Map<string, CvatLabel>();
  private readonly keypointNames = new Map<string, string[]>();
  private readonly undeclared = new Set<string>();
  private readonly otherSubsets = new Map<string, number>();
  private readonly itemId = createItemIds();
  private readonly images: ImageIndex;
  private readonly referenced = new Set<string>();
  private missingImages = 0;
  private videos = 0;
  /** Track boxes whose per-frame attributes (occluded, z_order, <attribute>s) a box sequence cannot hold. */
  private boxesWithFrameAttributes = 0;

  constructor(
    private readonly ctx: ImportContext<CvatOptions>,
    imageFiles: readonly SourceFile[],
  ) {
    this.images = new ImageIndex(imageFiles);
  }

  declare(label: CvatLabel): void {
    if (label.parent) {
      const names = this.keypointNames.get(label.parent) ?? [];
      names.push(label.name);
      this.keypointNames.set(label.parent, names);
      return;
    }
    if (!this.labels.has(label.name)) this.labels.set(label.name, label);
    this.categoryId(label.name);
  }

  flush(): ImportBatch {
    // Sub-labels arrive after their skeleton label: keypoints and edges are attached on the way out.
    for (const category of this.newCategories) {
      const names = this.keypointNames.get(category.name) ?? [];
      category.keypoints = names;
      const svg = this.labels.get(category.name)?.svg ?? "";
      category.skeleton = skeletonEdges(svg, names).map((edge) => create(SkeletonEdgeSchema, edge));
    }
    const batch = { categories: this.newCategories, items: this.items };
    this.newCategories = [];
    this.items = [];
    return batch;
  }

  async addImage(image: CvatElement, xmlPath: string, fileSubset: string): Promise<void> {
    const name = (image.attrs.name ?? "").replaceAll("\\", "/");
    if (!name) throw new ImportSourceError(`${xmlPath}: <image> at line ${image.line} has no name`);
    const subset = image.attrs.subset ?? (/^(annotations|default)$/i.test(fileSubset) ? "" : fileSubset);
    const file = this.images.find(posix.dirname(xmlPath), name, subset);
    if (file) this.referenced.add(file.path);
    else this.missingImages += 1;
    let width = positiveInteger(image.attrs.width);
    let height = positiveInteger(image.attrs.height);
    if ((!width || !height) && file) {
      const size = await this.ctx.imageSize(file);
      width = size?.width ?? 0;
      height = size?.height ?? 0;
    }
    const id = this.itemId(name);
    const annotations: AnnotationInit[] = [];
    image.shapes.forEach((shape, index) => {
      const annotation = this.annotation(shape, { width, height }, xmlPath);
      if (annotation) annotations.push({ id: `${id}:${index + 1}`, itemId: id, ...annotation });
    });
    const split = SPLITS[subset.toLowerCase()] ?? "";
    if (subset && !split) this.otherSubsets.set(subset, (this.otherSubsets.get(subset) ?? 0) + 1);
    this.items.push(
      create(ItemSchema, {
        id,
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split,
        media: { uri: file ? await this.ctx.storeMedia(file) : name, fileName: name, width, height },
        ...(subset && !split ? { meta: { subset } } : {}),
        annotations: annotations.map((a) => create(AnnotationSchema, a)),
      }),
    );
  }

  /** The tracks of a CVAT for video file as one video item with a box-sequence annotation per track. */
  addVideo(tracks: readonly CvatElement[], meta: CvatMeta, xmlPath: string): void {
    this.videos += 1;
    const source = meta.source || meta.taskName || posix.basename(xmlPath).replace(/\.xml$/i, "");
    const id = this.itemId(source);
    const annotations: AnnotationInit[] = [];
    for (const track of tracks) {
      const label = track.attrs.label ?? "";
      const kinds = new Set(track.shapes.map((s) => s.element));
      if (!label) {
        this.ctx.drop("track without a label");
        continue;
      }
      if (kinds.size !== 1 || !kinds.has("box")) {
        this.ctx.drop(`track of ${[...kinds].sort().join("/") || "nothing"}: not supported`);
        continue;
      }
      this.boxesWithFrameAttributes += track.shapes.filter(
        (box) => box.attributes.length > 0 || box.attrs.occluded === "1" || Number(box.attrs.z_order ?? 0) !== 0,
      ).length;
      const boxes = track.shapes
        .map((box) => {
          const [x, y] = [this.number(box, "xtl", xmlPath), this.number(box, "ytl", xmlPath)];
          return {
            frameNumber: this.number(box, "frame", xmlPath),
            x,
            y,
            width: this.number(box, "xbr", xmlPath) - x,
            height: this.number(box, "ybr", xmlPath) - y,
            isKeyframe: box.attrs.keyframe === "1",
            visible: box.attrs.outside !== "1",
          };
        })
        .sort((a, b) => a.frameNumber - b.frameNumber);
      annotations.push({
        id: `${id}:track-${track.attrs.id ?? annotations.length + 1}`,
        itemId: id,
        categoryId: this.categoryId(label),
        type: AnnotationType.TRACK,
        attributes: { ...shapeAttributes(track.attrs, [], undefined), track_id: Number(track.attrs.id ?? 0) },
        geometry: { case: "boxSequence", value: { interpolationMode: "linear", boxes } },
      });
    }
    this.items.push(
      create(ItemSchema, {
        id,
        kind: ItemKind.VIDEO,
        status: ItemStatus.APPROVED,
        media: { uri: source, fileName: source, width: meta.width, height: meta.height, frames: meta.size },
        annotations: annotations.map((a) => create(AnnotationSchema, a)),
      }),
    );
  }

  notes(notCvat: readonly string[]): void {
    const { ctx } = this;
    if (notCvat.length > 0) ctx.note(`${describe(notCvat)}: not CVAT XML (root is not <annotations>), skipped`);
    if (this.undeclared.size > 0) {
      ctx.note(`labels used but not declared in <meta>, added as categories: ${describe([...this.undeclared])}`);
    }
    for (const [subset, count] of [...this.otherSubsets].sort()) {
      ctx.note(`subset '${subset}' is not train/val/test: ${count} images unsplit, subset kept in item meta`);
    }
    if (this.missingImages > 0) ctx.note(`${this.missingImages} images are not in the upload: media.uri is their name`);
    const extra = this.images.files.filter((f) => !this.referenced.has(f.path)).length;
    if (extra > 0 && this.videos === 0)
      ctx.note(`${extra} images in the upload are not named in the XML: not imported`);
    if (this.videos > 0) ctx.note(`${this.videos} videos imported from tracks; frame images are not stored`);
    if (this.boxesWithFrameAttributes > 0) {
      ctx.note(
        `${this.boxesWithFrameAttributes} track boxes have per-frame attributes (occluded, z_order, <attribute>): not imported`,
      );
    }
  }

  private annotation(
    shape: CvatShape,
    image: { width: number; height: number },
    xmlPath: string,
  ): AnnotationInit | undefined {
    const label = shape.attrs.label ?? "";
    if (!label) {
      this.ctx.drop(`${shape.element} without a label`);
      return undefined;
    }
    let result: ReturnType<typeof shapeGeometry>;
    try {
      result = shapeGeometry(shape, image, this.keypointNames.get(label));
    } catch (err) {
      throw new ImportSourceError(`${xmlPath}: ${(err as Error).message}`);
    }
    if (!result.geometry) {
      this.ctx.drop(result.dropped ?? `${shape.element}: unreadable`);
      return undefined;
    }
    if (result.changed) this.ctx.changed(result.changed);
    return {
      categoryId: this.categoryId(label),
      attributes: shapeAttributes(shape.attrs, shape.attributes, this.labels.get(label)?.attributeTypes),
      ...result.geometry,
    };
  }

  private number(shape: CvatShape, name: string, xmlPath: string): number {
    try {
      return numberAttr(shape, name);
    } catch (err) {
      throw new ImportSourceError(`${xmlPath}: ${(err as Error).message}`);
    }
  }

  private categoryId(name: string): number {
    let id = this.categories.get(name);
    if (id === undefined) {
      id = this.categories.size + 1;
      this.categories.set(name, id);
      if (!this.labels.has(name)) this.undeclared.add(name);
      this.newCategories.push(create(CategorySchema, { id, name }));
    }
    return id;
  }
}

/**
 * CVAT's per-shape fields (occluded, z_order, source, group_id) and its <attribute>
 * children, typed by the label's declared input_type (checkbox: boolean, number: number).
 */
function shapeAttributes(
  attrs: Record<string, string>,
  attributes: readonly [string, string][],
  types: Map<string, string> | undefined,
): JsonObject {
  const out: JsonObject = {};
  if (attrs.occluded !== undefined) out.occluded = attrs.occluded === "1";
  if (attrs.z_order !== undefined) out.z_order = Number(attrs.z_order) || 0;
  if (attrs.source) out.source = attrs.source;
  const group = Number(attrs.group_id ?? 0);
  if (group) out.group_id = group;
  for (const [name, value] of attributes) out[name] = typedValue(value, types?.get(name));
  return out;
}

function typedValue(value: string, inputType: string | undefined): JsonValue {
  if (inputType === "checkbox") return value.trim().toLowerCase() === "true";
  if (inputType === "number" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return value;
}

/**
 * Images of the upload: images/<subset>/<name>, images/<name>, then <name>, beside the XML, exact
 * then in any case; last, by file name anywhere when only one image has it.
 */
class ImageIndex {
  private readonly byPath = new Map<string, SourceFile>();
  private readonly byLowerPath = new Map<string, SourceFile>();
  /** null when two images share the name. */
  private readonly byLowerName = new Map<string, SourceFile | null>();
  constructor(readonly files: readonly SourceFile[]) {
    for (const file of files) {
      this.byPath.set(file.path, file);
      const lower = file.path.toLowerCase();
      if (!this.byLowerPath.has(lower)) this.byLowerPath.set(lower, file);
      const name = posix.basename(lower);
      this.byLowerName.set(name, this.byLowerName.has(name) ? null : file);
    }
  }
  find(folder: string, name: string, subset: string): SourceFile | undefined {
    const base = folder === "." ? "" : `${folder}/`;
    const candidates = [`${base}images/${subset}/${name}`, `${base}images/${name}`, `${base}${name}`, name];
    for (const candidate of subset ? candidates : candidates.slice(1)) {
      const found = this.byPath.get(candidate) ?? this.byLowerPath.get(candidate.toLowerCase());
      if (found) return found;
    }
    return this.byLowerName.get(posix.basename(name).toLowerCase()) ?? undefined;
  }
}

function positiveInteger(value: string | undefined): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

function describe(values: readonly string[]): string {
  const shown = values.slice(0, 3).join(", ");
  return values.length > 3 ? `${shown} and ${values.length - 3} more` : shown;
}
