// YOLO exporter (Ultralytics layout): labels/<split>/<stem>.txt with normalised boxes (or
// polygons in segmentation mode), data.yaml and classes.txt.
//
// Class ids: the index of the category in the dataset's categories sorted by category id. Category
// ids are assigned once and never renumbered or reused, so a category keeps its class id across
// exports as long as no category with a lower id is added (new categories get higher ids and are
// appended at the end).
import {
  type Annotation,
  annotationTypeName,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  finishExportLayout,
  isVideoItem,
  type JoinContext,
  SplittableExporter,
  UNSPLIT,
  z,
} from "@labelport/sdk";
import { Document } from "yaml";

const options = z.strictObject({
  ...commonOptionsShape,
  segmentation: z
    .boolean()
    .default(false)
    .describe("YOLO-seg: polygons as `class x1 y1 x2 y2 ...` lines (boxes become 4-corner polygons)."),
});

export type YoloOptions = z.output<typeof options>;

export const DATA_YAML_KEY = "data.yaml";
export const CLASSES_TXT_KEY = "classes.txt";

/** Categories in class order: sorted by their stable id. */
export function classOrder(categories: readonly Category[]): Category[] {
  return [...categories].sort((a, b) => a.id - b.id);
}

const fixed = (n: number) => n.toFixed(6);
const clamp = (n: number, max: number) => Math.min(Math.max(n, 0), max);
// Below this, a clip is floating-point noise rather than a box crossing the border.
const EPSILON = 1e-9;

export interface YoloLine {
  line: string;
  clipped: boolean;
}

/** `class x_center y_center width height` of a box clipped to the image; null if nothing is left. */
export function yoloBoxLine(
  classId: number,
  box: { x: number; y: number; width: number; height: number },
  imageWidth: number,
  imageHeight: number,
  asPolygon = false,
): YoloLine | null {
  const x1 = clamp(box.x, imageWidth);
  const y1 = clamp(box.y, imageHeight);
  const x2 = clamp(box.x + box.width, imageWidth);
  const y2 = clamp(box.y + box.height, imageHeight);
  if (x2 - x1 <= EPSILON || y2 - y1 <= EPSILON) return null;
  const clipped =
    Math.abs(x1 - box.x) > EPSILON ||
    Math.abs(y1 - box.y) > EPSILON ||
    Math.abs(x2 - (box.x + box.width)) > EPSILON ||
    Math.abs(y2 - (box.y + box.height)) > EPSILON;
  if (asPolygon) {
    const corners = [x1, y1, x2, y1, x2, y2, x1, y2];
    return { line: `${classId} ${normalisedPoints(corners, imageWidth, imageHeight).join(" ")}`, clipped };
  }
  const [cx, w] = centreAndSize(x1 / imageWidth, x2 / imageWidth);
  const [cy, h] = centreAndSize(y1 / imageHeight, y2 / imageHeight);
  return { line: `${classId} ${cx} ${cy} ${w} ${h}`, clipped };
}

/**
 * The centre and size of [low, high] (normalised) with 6 decimals. Rounded separately, they could
 * put an edge up to 1e-6 outside [0, 1] (a box at the border: centre 0.083333, size 0.166667), which
 * readers clip, so a re-import would not export the same line: the size is then shrunk by the
 * rounding instead. Computed in whole millionths, so no floating-point noise decides it.
 */
function centreAndSize(low: number, high: number): [string, string] {
  const centre = Math.round(((low + high) / 2) * 1e6);
  const size = Math.min(Math.round((high - low) * 1e6), 2 * centre, 2e6 - 2 * centre);
  return [fixed(centre / 1e6), fixed(size / 1e6)];
}

/** `class x1 y1 x2 y2 ...` of a polygon with its points clipped to the image. */
export function yoloPolygonLine(
  classId: number,
  points: readonly number[],
  imageWidth: number,
  imageHeight: number,
): YoloLine | null {
  if (points.length < 6) return null;
  let clipped = false;
  const inside: number[] = [];
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i] as number;
    const y = points[i + 1] as number;
    const cx = clamp(x, imageWidth);
    const cy = clamp(y, imageHeight);
    if (Math.abs(cx - x) > EPSILON || Math.abs(cy - y) > EPSILON) clipped = true;
    inside.push(cx, cy);
  }
  return { line: `${classId} ${normalisedPoints(inside, imageWidth, imageHeight).join(" ")}`, clipped };
}

function normalisedPoints(points: readonly number[], width: number, height: number): string[] {
  return points.map((value, i) => fixed(value / (i % 2 === 0 ? width : height)));
}

/** What a shard tells the join: the splits it wrote and the counts behind the notes. */
interface YoloShardState {
  splits: string[];
  unsized: number;
  videos: number;
  withAttributes: number;
}

export default class YoloExporter extends SplittableExporter<YoloOptions> {
  static override manifest = {
    name: "yolo",
    version: "1.0.0",
    formats: ["yolo"],
    sdk: "^0.1.0",
    description: "YOLO (Ultralytics) labels, data.yaml and classes.txt; optional YOLO-seg polygons.",
  };

  readonly options = options;

  async exportShard(ctx: ExportContext<YoloOptions>): Promise<YoloShardState> {
    const { segmentation } = ctx.options;
    const layout = createExportLayout(ctx, ctx.options);
    const classes = classOrder(ctx.dataset.categories);
    const classIds = new Map(classes.map((category, index) => [category.id, index]));
    const splits = new Set<string>();
    let unsized = 0;
    let videos = 0;
    let withAttributes = 0;
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      const { width, height } = await layout.imageSize(item);
      if (isVideoItem(item)) {
        videos += 1;
        ctx.drop("video: YOLO has no video", item.annotations.length);
        layout.skip(item);
        continue;
      }
      if (!width || !height) {
        unsized += 1;
        ctx.drop("image without width/height: YOLO normalises by the image size", item.annotations.length);
        layout.skip(item);
        continue;
      }
      const placement = layout.place(item);
      splits.add(placement.split);
      const lines: string[] = [];
      for (const annotation of item.annotations) {
        const classId = annotation.categoryId === undefined ? undefined : classIds.get(annotation.categoryId);
        if (classId === undefined) {
          ctx.drop("no category: the annotation has none, or one the dataset does not have");
          continue;
        }
        const result = this.line(annotation, classId, width, height, segmentation);
        if (typeof result === "string") {
          ctx.drop(result);
        } else if (result === null) {
          ctx.drop(`${annotationTypeName(annotation)}: outside the image`);
        } else {
          if (result.clipped) ctx.changed(`${annotationTypeName(annotation)} clipped to the image`);
          if (Object.keys(annotation.attributes ?? {}).length > 0) withAttributes += 1;
          lines.push(result.line);
        }
      }
      // An image without objects still gets its (empty) label file: a background image. Queued:
      // several label files are written at once while the next items are formatted.
      await ctx.storage.queueFile(`labels/${placement.split}/${placement.path}.txt`, labelText(lines), {
        contentType: "text/plain; charset=utf-8",
      });
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    await layout.finish();
    return { splits: [...splits], unsized, videos, withAttributes };
  }

  async join(ctx: JoinContext<YoloOptions>): Promise<void> {
    const states = ctx.shards.map((shard) => shard.state as YoloShardState);
    const total = (key: "unsized" | "videos" | "withAttributes") => states.reduce((sum, s) => sum + s[key], 0);
    const classes = classOrder(ctx.dataset.categories);
    const splits = new Set(states.flatMap((state) => state.splits));
    await ctx.storage.writeFile(DATA_YAML_KEY, dataYaml(splits, classes), { contentType: "application/yaml" });
    await ctx.storage.writeFile(CLASSES_TXT_KEY, classes.map((c) => `${c.name}\n`).join(""), {
      contentType: "text/plain; charset=utf-8",
    });
    const unsized = total("unsized");
    const videos = total("videos");
    const withAttributes = total("withAttributes");
    if (unsized > 0) ctx.note(`${unsized} images have no width/height and were skipped (YOLO normalises by size)`);
    if (videos > 0) ctx.note(`video: ${videos} items not exported (YOLO has no video)`);
    if (withAttributes > 0) {
      ctx.note(`attributes: dropped from ${withAttributes} annotations (YOLO has no attributes)`);
    }
    await finishExportLayout(ctx, ctx.options);
  }

  /** The label line, null when the shape is outside the image, or why it cannot be written. */
  private line(
    annotation: Annotation,
    classId: number,
    width: number,
    height: number,
    segmentation: boolean,
  ): YoloLine | null | string {
    const { geometry } = annotation;
    if (geometry.case === "bbox") return yoloBoxLine(classId, geometry.value, width, height, segmentation);
    if (geometry.case === "polygon" && segmentation) {
      return yoloPolygonLine(classId, geometry.value.points, width, height) ?? "polygon: fewer than 3 points";
    }
    return unsupported(annotationTypeName(annotation), segmentation);
  }
}

function labelText(lines: readonly string[]): string {
  let text = "";
  for (const line of lines) text += `${line}\n`;
  return text;
}

function unsupported(type: string, segmentation: boolean): string {
  switch (type) {
    case "polygon":
      return "polygon: set segmentation: true to export polygons";
    case "mask":
      return segmentation ? "mask: YOLO-seg takes polygons, not masks" : "mask: YOLO detection has boxes only";
    case "keypoints":
      return "keypoints: YOLO pose is not supported";
    case "polyline":
      return "polyline: YOLO has no polylines";
    case "classification":
      return "classification: YOLO detection has no image-level labels";
    default:
      return `${type}: not a YOLO shape`;
  }
}

/** data.yaml keys Ultralytics reads as something other than a split. */
const RESERVED_KEYS = new Set(["path", "nc", "names", "download", "yaml_file", "channels", "kpt_shape", "flip_idx"]);

/**
 * Ultralytics data.yaml: every split's image folder, `names` as an id -> name map in class order.
 * No `path`: Ultralytics' check_det_dataset (ultralytics/data/utils.py, checked at commit 00bfe34)
 * takes the dataset root as `Path(data.get("path") or Path(data["yaml_file"]).parent)` and only
 * falls back to its settings' datasets_dir when that root does not exist; a relative `path: .`
 * therefore resolves against the working directory, while no `path` resolves against the YAML's
 * own folder wherever the export is unpacked (its HUB tooling strips `path` for the same reason).
 * train and val are required: without those splits they fall back to the unsplit items
 * (images/default) or another split. Any other split (default, validation, ...) is listed under
 * its own name, so no exported image is unreachable from the file.
 */
export function dataYaml(splits: ReadonlySet<string>, classes: readonly Category[]): string {
  const dir = (split: string) => `images/${split}`;
  const others = [...splits].filter((split) => split !== "train" && split !== "val" && split !== "test").sort();
  const train = ["train", UNSPLIT, ...others, "val", "test"].find((split) => splits.has(split)) ?? "train";
  const val = splits.has("val") ? "val" : splits.has("validation") ? "validation" : train;
  const doc: Record<string, unknown> = { train: dir(train), val: dir(val) };
  if (splits.has("test")) doc.test = dir("test");
  for (const split of others) {
    if (split !== train && split !== val) doc[RESERVED_KEYS.has(split) ? `split_${split}` : split] = dir(split);
  }
  doc.nc = classes.length;
  doc.names = new Map(classes.map((category, index) => [index, category.name]));
  const document = new Document(doc);
  document.commentBefore = [
    " Paths are relative to this file (no `path`: Ultralytics then uses the file's folder).",
    ...(splits.has(UNSPLIT) ? [` ${dir(UNSPLIT)} holds the items without a split.`] : []),
  ].join("\n");
  return document.toString();
}

export { importers } from "./importer.ts";
