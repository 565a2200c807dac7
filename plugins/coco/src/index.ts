// COCO exporter: annotations/instances_<split>.json per split with images, annotations and
// categories under the dataset's stable category ids. Splittable: each shard writes its images
// and annotations per split as parts, numbered from 1 within the shard; the join writes each
// split's file by streaming the shards' parts in order, renumbered (numbered-lists.ts). A whole
// export is one shard and its join, so memory does not grow with the dataset either way.
//
// What COCO readers (pycocotools, datumaro, detectron2, mmdetection) expect, type by type:
// - bbox: `bbox`, `area` = w*h, `segmentation: []`; `iscrowd` from the attribute, default 0.
// - polygon: one ring in `segmentation`, shoelace `area`; `iscrowd` from the attribute, default 0.
// - mask: RLE `segmentation` `{size: [h, w], counts}` (the list COCO's own files use, or the
//   compressed string with `compressRle`), `bbox` and `area` from the mask; `iscrowd` from the
//   attribute, default 1 (COCO writes RLE for crowds; readers decode either way).
// - keypoints: `keypoints` [x, y, v]*, `num_keypoints`, bbox of the labelled points.
// - dropped, each counted by ctx.drop with its reason: polylines (no COCO geometry for an open
//   line; readers would close it into a polygon), classifications (instances have no image-level
//   labels; a whole-image box would be read as an object), video items and their tracks, polygons
//   under 3 points, masks whose size is not their image's (readers rasterise at the image's size),
//   and annotations without a dataset category.
// Attributes other than `iscrowd` have no place in COCO: noted, not counted as drops.
import {
  type Annotation,
  annotationTypeName,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  encodeRleString,
  finishExportLayout,
  isVideoItem,
  type JoinContext,
  maskArea,
  maskBoundingBox,
  pointsBounds,
  polygonArea,
  SplittableExporter,
  z,
} from "@labelport/sdk";
import { NumberedListPart, type NumberedListSource, writeNumberedList } from "./numbered-lists.ts";

const options = z.strictObject({
  ...commonOptionsShape,
  compressRle: z
    .boolean()
    .default(false)
    .describe(
      "Write masks' RLE counts as COCO's compressed string (smaller, as pycocotools encodes them) instead of the list of run lengths COCO's own annotation files use.",
    ),
});

export type CocoOptions = z.output<typeof options>;

export const CLASSES_KEY = "classes.json";

export function instancesKey(split: string): string {
  return `annotations/instances_${split}.json`;
}

/** COCO's run-length encoding of a mask: `size` is [height, width], runs column-major from 0s. */
export interface CocoRle {
  size: [number, number];
  counts: number[] | string;
}

/** One COCO annotation object, keys in the order the COCO files use. */
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  segmentation: number[][] | CocoRle;
  area: number;
  bbox: [number, number, number, number];
  iscrowd: 0 | 1;
  keypoints?: number[];
  num_keypoints?: number;
}

type CocoGeometry = Omit<CocoAnnotation, "id" | "image_id" | "category_id" | "iscrowd">;

const finite = (numbers: readonly number[]) => numbers.every(Number.isFinite);

/**
 * `JSON.stringify(coco)`, spelled out for the boxes and polygons that make up most exports (about
 * a third less CPU: the keys are known, only numbers vary, and a finite number prints the same
 * either way); anything else, or a number JSON would write as null, goes through JSON.stringify.
 */
export function cocoAnnotationJson(coco: CocoAnnotation): string {
  const { segmentation, bbox } = coco;
  const numbers = [coco.id, coco.image_id, coco.category_id, coco.area, coco.iscrowd];
  if (coco.keypoints || !Array.isArray(segmentation) || segmentation.length > 1) return JSON.stringify(coco);
  const ring = segmentation[0];
  if (!finite(numbers) || !finite(bbox) || (ring && !finite(ring))) return JSON.stringify(coco);
  return `{"id":${coco.id},"image_id":${coco.image_id},"category_id":${coco.category_id},"segmentation":[${ring ? `[${ring.join(",")}]` : ""}],"area":${coco.area},"bbox":[${bbox.join(",")}],"iscrowd":${coco.iscrowd}}`;
}

function areaAttribute(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** A `bbox` attribute as [x, y, width, height], when it is four finite numbers with no negative size. */
function boxAttribute(value: unknown): [number, number, number, number] | undefined {
  if (!Array.isArray(value) || value.length !== 4) return undefined;
  if (!value.every((n) => typeof n === "number" && Number.isFinite(n))) return undefined;
  const [x, y, width, height] = value as [number, number, number, number];
  return width >= 0 && height >= 0 ? [x, y, width, height] : undefined;
}

/** COCO geometry of one annotation without ids, or the reason (a key of `DROPPED`) it is not a COCO object. */
export function cocoGeometry(
  annotation: Annotation,
  category: Category | undefined,
  options: { compressRle?: boolean } = {},
): CocoGeometry | DropReason {
  const { geometry } = annotation;
  switch (geometry.case) {
    case "bbox": {
      const { x, y, width, height } = geometry.value;
      return { segmentation: [], area: width * height, bbox: [x, y, width, height] };
    }
    case "polygon": {
      const points = [...geometry.value.points];
      const bounds = pointsBounds(points);
      if (!bounds || points.length < 6) return "polygon with fewer than 3 points";
      return { segmentation: [points], area: polygonArea(points), bbox: bounds };
    }
    case "keypoints": {
      const size = Math.max(category?.keypoints.length ?? 0, geometry.value.keypoints.length);
      const keypoints: number[] = [];
      const labelled: number[] = [];
      for (let i = 0; i < size; i++) {
        const point = geometry.value.keypoints[i];
        const v = point?.visibility ?? 0;
        keypoints.push(point?.x ?? 0, point?.y ?? 0, v);
        if (point && v > 0) labelled.push(point.x, point.y);
      }
      // The object's own box when the annotation has one (COCO person boxes), else the points' bounds.
      const box = boxAttribute(annotation.attributes?.bbox) ?? pointsBounds(labelled) ?? [0, 0, 0, 0];
      return {
        segmentation: [],
        area: box[2] * box[3],
        bbox: box,
        keypoints,
        num_keypoints: labelled.length / 2,
      };
    }
    case "mask": {
      const mask = geometry.value;
      const counts = options.compressRle ? encodeRleString(mask.counts) : [...mask.counts];
      return {
        segmentation: { size: [mask.height, mask.width], counts },
        area: maskArea(mask),
        bbox: maskBoundingBox(mask),
      };
    }
    case "polyline":
      return "polyline";
    case "boxSequence":
      return "track";
    default:
      return "classification";
  }
}

/** Why annotations are not written: the reason's key and what ctx.drop and the notes say. */
const DROPPED = {
  polyline: "COCO has no polyline",
  track: "COCO has no video tracks",
  classification: "COCO has no image-level labels",
  "polygon with fewer than 3 points": "not a valid COCO polygon",
  "mask of another size than its image": "COCO masks cover their image",
  video: "COCO has no video",
  "no category": "no category, or one the dataset does not have",
} as const;

export type DropReason = keyof typeof DROPPED;

/** The reason as ctx.drop records it, e.g. "polyline: COCO has no polyline". */
function dropReason(reason: DropReason): string {
  return `${reason}: ${DROPPED[reason]}`;
}

/** Whether an attribute is not written as a COCO field (iscrowd, area, and a keypoints object's bbox). */
function hasUnwrittenAttributes(attributes: Annotation["attributes"], keypoints: boolean): boolean {
  for (const key in attributes) {
    if (key !== "iscrowd" && key !== "area" && !(keypoints && key === "bbox")) return true;
  }
  return false;
}

/** COCO's `iscrowd` from the annotation's attribute (0/1 or a boolean), else the geometry's default. */
function iscrowdOf(attributes: Annotation["attributes"], fallback: 0 | 1): 0 | 1 {
  const value = attributes?.iscrowd;
  if (value === 0 || value === false) return 0;
  if (value === 1 || value === true) return 1;
  return fallback;
}

/** A shard's images and annotations of one split. */
interface SplitParts {
  /** Numbers the split's parts: split names are free text, part names are not. */
  part: number;
  images: NumberedListPart;
  annotations: NumberedListPart;
}

/** One split as a shard wrote it: the counts are what the join adds to later shards' ids. */
interface SplitState {
  split: string;
  part: number;
  images: number;
  annotations: number;
}

/** What a shard tells the join: its splits and the counts behind the notes. */
interface CocoShardState {
  splits: SplitState[];
  dropped: Partial<Record<DropReason, number>>;
  withAttributes: number;
  videos: number;
  unsized: number;
}

const imagesPart = (part: number) => `images-${part}`;
const annotationsPart = (part: number) => `annotations-${part}`;

export default class CocoExporter extends SplittableExporter<CocoOptions> {
  static override manifest = {
    name: "coco",
    version: "1.0.0",
    formats: ["coco"],
    sdk: "^0.1.0",
    description:
      "MS COCO instances JSON per split: boxes, polygons, RLE masks (iscrowd), keypoints; stable category ids.",
  };

  readonly options = options;

  async exportShard(ctx: ExportContext<CocoOptions>): Promise<CocoShardState> {
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const splits = new Map<string, SplitParts>();
    const dropped: CocoShardState["dropped"] = {};
    const drop = (reason: DropReason) => {
      dropped[reason] = (dropped[reason] ?? 0) + 1;
      ctx.drop(dropReason(reason));
    };
    let withAttributes = 0;
    let videos = 0;
    let unsized = 0;
    try {
      for await (const item of ctx.items()) {
        ctx.signal.throwIfAborted();
        if (isVideoItem(item)) {
          videos += 1;
          for (const annotation of item.annotations) {
            drop(annotationTypeName(annotation) === "track" ? "track" : "video");
          }
          layout.skip(item);
          continue;
        }
        const placement = layout.place(item);
        let files = splits.get(placement.split);
        if (!files) {
          const part = splits.size;
          const images = await NumberedListPart.open(ctx.shard.parts, imagesPart(part));
          const annotations = await NumberedListPart.open(ctx.shard.parts, annotationsPart(part));
          files = { part, images, annotations };
          splits.set(placement.split, files);
        }
        const imageId = files.images.count + 1;
        const { width, height } = await layout.imageSize(item);
        if (!width || !height) unsized += 1;
        files.images.add(JSON.stringify({ id: imageId, file_name: placement.file, width, height }));
        for (const annotation of item.annotations) {
          const category = annotation.categoryId === undefined ? undefined : categories.get(annotation.categoryId);
          const geometry = cocoGeometry(annotation, category, ctx.options);
          if (typeof geometry === "string") {
            drop(geometry);
            continue;
          }
          if (!category) {
            drop("no category");
            continue;
          }
          const mask = annotation.geometry.case === "mask" ? annotation.geometry.value : undefined;
          if (mask && width && height && (mask.width !== width || mask.height !== height)) {
            drop("mask of another size than its image");
            continue;
          }
          if (hasUnwrittenAttributes(annotation.attributes, geometry.keypoints !== undefined)) withAttributes += 1;
          const coco: CocoAnnotation = {
            id: files.annotations.count + 1,
            image_id: imageId,
            category_id: category.id,
            segmentation: geometry.segmentation,
            // An imported object's area that its shape does not give (a person's segmented area) is kept.
            area: areaAttribute(annotation.attributes?.area) ?? geometry.area,
            bbox: geometry.bbox,
            iscrowd: iscrowdOf(annotation.attributes, mask ? 1 : 0),
          };
          if (geometry.keypoints) {
            coco.keypoints = geometry.keypoints;
            coco.num_keypoints = geometry.num_keypoints ?? 0;
          }
          files.annotations.add(cocoAnnotationJson(coco));
        }
        await files.images.flush();
        await files.annotations.flush();
        await layout.saveOriginalFile(item, placement);
        layout.done(item, placement);
      }
      for (const files of splits.values()) {
        await files.images.close();
        await files.annotations.close();
      }
    } catch (err) {
      // Leaves no part open (a local file's descriptor, a stored part's upload) behind a failed shard.
      await Promise.allSettled(
        [...splits.values()].flatMap((files) => [files.images.close(), files.annotations.close()]),
      );
      throw err;
    }
    await layout.finish();
    return {
      splits: [...splits].map(([split, files]) => ({
        split,
        part: files.part,
        images: files.images.count,
        annotations: files.annotations.count,
      })),
      dropped,
      withAttributes,
      videos,
      unsized,
    };
  }

  async join(ctx: JoinContext<CocoOptions>): Promise<void> {
    const shards = ctx.shards.map((shard) => ({ shard, state: shard.state as CocoShardState }));
    const header = JSON.stringify(this.info(ctx));
    const footer = JSON.stringify(ctx.dataset.categories.map(cocoCategory));
    const splitNames = new Set(shards.flatMap(({ state }) => state.splits.map((s) => s.split)));
    for (const split of [...splitNames].sort()) {
      const images: NumberedListSource[] = [];
      const annotations: NumberedListSource[] = [];
      let imagesBefore = 0;
      let annotationsBefore = 0;
      for (const { shard, state } of shards) {
        const written = state.splits.find((s) => s.split === split);
        if (!written) continue;
        const [imagesName, annotationsName] = [imagesPart(written.part), annotationsPart(written.part)];
        images.push({
          name: `shard ${shard.index} part ${imagesName}`,
          chunks: shard.read(imagesName),
          count: written.images,
          shift: { id: imagesBefore },
        });
        annotations.push({
          name: `shard ${shard.index} part ${annotationsName}`,
          chunks: shard.read(annotationsName),
          count: written.annotations,
          shift: { id: annotationsBefore, imageId: imagesBefore },
        });
        imagesBefore += written.images;
        annotationsBefore += written.annotations;
      }
      const out = await ctx.storage.open(instancesKey(split), { contentType: "application/json" });
      await out.write(`{"info":${header},"licenses":[],"images":[`);
      const imageCount = await writeNumberedList(out, images, ctx.signal);
      await out.write(`${imageCount ? "\n" : ""}],"annotations":[`);
      const annotationCount = await writeNumberedList(out, annotations, ctx.signal);
      await out.write(`${annotationCount ? "\n" : ""}],"categories":${footer}}\n`);
      await out.close();
    }
    await ctx.storage.writeJson(
      CLASSES_KEY,
      ctx.dataset.categories.map((c) => ({ id: c.id, name: c.name, supercategory: c.supercategory })),
      { pretty: true },
    );
    const total = (count: (state: CocoShardState) => number) => shards.reduce((sum, s) => sum + count(s.state), 0);
    for (const reason of Object.keys(DROPPED) as DropReason[]) {
      const count = total((state) => state.dropped[reason] ?? 0);
      if (count > 0) ctx.note(`${reason}: ${count} annotations not exported (${DROPPED[reason]})`);
    }
    const withAttributes = total((state) => state.withAttributes);
    const videos = total((state) => state.videos);
    const unsized = total((state) => state.unsized);
    if (withAttributes > 0) {
      ctx.note(`attributes: dropped from ${withAttributes} annotations (COCO has no attributes)`);
    }
    if (videos > 0) ctx.note(`video: ${videos} items not exported (COCO has no video)`);
    if (unsized > 0) ctx.note(`${unsized} images have no width/height (written as 0)`);
    await finishExportLayout(ctx, ctx.options);
  }

  private info(ctx: Pick<JoinContext<CocoOptions>, "export" | "dataset">) {
    const created = ctx.export.createTime;
    const date = created ? new Date(Number(created.seconds) * 1000).toISOString() : "";
    return {
      description: ctx.dataset.name,
      url: "",
      version: "1.0",
      year: date ? Number(date.slice(0, 4)) : 0,
      contributor: "Labelport",
      date_created: date,
    };
  }
}

function cocoCategory(category: Category) {
  const out: Record<string, unknown> = {
    id: category.id,
    name: category.name,
    supercategory: category.supercategory,
  };
  if (category.keypoints.length > 0) {
    out.keypoints = [...category.keypoints];
    out.skeleton = category.skeleton.map((edge) => [edge.fromKeypoint, edge.toKeypoint]);
  }
  return out;
}

export { importers } from "./importer.ts";
