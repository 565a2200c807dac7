// A third-party exporter, written as a plugin author would (docs/plugins.md): one LabelMe JSON
// file per image under annotations/, boxes as rectangles, polygons, polylines as linestrips and
// keypoints as points. LabelMe has no tracks or classifications: those become notes.
import {
  type Annotation,
  BaseExporter,
  type ExportContext,
  type Item,
  originalFileParts,
  sanitizePathSegment,
  z,
} from "@labelport/sdk";

const options = z.strictObject({
  /** LabelMe's file format version written to each file. */
  labelmeVersion: z.string().default("5.2.1"),
});

type Options = z.output<typeof options>;

type Point = [number, number];

interface LabelmeShape {
  label: string;
  points: Point[];
  group_id: null;
  shape_type: "rectangle" | "polygon" | "linestrip" | "point";
  flags: Record<string, never>;
}

function pairs(points: readonly number[]): Point[] {
  const out: Point[] = [];
  for (let i = 0; i + 1 < points.length; i += 2) out.push([points[i] ?? 0, points[i + 1] ?? 0]);
  return out;
}

function shapes(annotation: Annotation, label: string): LabelmeShape[] {
  const shape = (shape_type: LabelmeShape["shape_type"], points: Point[]): LabelmeShape => ({
    label,
    points,
    group_id: null,
    shape_type,
    flags: {},
  });
  const { geometry } = annotation;
  switch (geometry.case) {
    case "bbox": {
      const { x, y, width, height } = geometry.value;
      return [
        shape("rectangle", [
          [x, y],
          [x + width, y + height],
        ]),
      ];
    }
    case "polygon":
      return [shape("polygon", pairs(geometry.value.points))];
    case "polyline":
      return [shape("linestrip", pairs(geometry.value.points))];
    case "keypoints":
      return geometry.value.keypoints.filter((k) => k.visibility > 0).map((k) => shape("point", [[k.x, k.y]]));
    default:
      return [];
  }
}

export default class LabelmeExporter extends BaseExporter<Options> {
  static override manifest = {
    name: "labelme",
    version: "1.0.0",
    formats: ["labelme"],
    sdk: "^0.1.0",
    description: "One LabelMe JSON file per image",
  };
  readonly options = options;

  async export(ctx: ExportContext<Options>): Promise<void> {
    const labels = new Map(ctx.dataset.categories.map((c) => [c.id, c.name]));
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      await ctx.storage.writeJson(`annotations/${sanitizePathSegment(item.id)}.json`, this.file(ctx, item, labels), {
        pretty: true,
      });
      if (ctx.export.saveOriginalFile && item.media?.uri) {
        const { stem, ext } = originalFileParts(item);
        await ctx.storage.copyMedia(item.media.uri, `images/${sanitizePathSegment(item.id)}-${stem}${ext}`);
      }
      ctx.progress(1, item.annotations.length);
    }
  }

  private file(ctx: ExportContext<Options>, item: Item, labels: Map<number, string>) {
    const out: LabelmeShape[] = [];
    for (const annotation of item.annotations) {
      const label = annotation.categoryId === undefined ? "" : (labels.get(annotation.categoryId) ?? "");
      const made = shapes(annotation, label);
      if (made.length === 0 && annotation.geometry.case !== "keypoints") {
        ctx.note(
          `LabelMe has no ${annotation.geometry.case ?? "classification"} shape: those annotations are left out`,
        );
      }
      out.push(...made);
    }
    return {
      version: ctx.options.labelmeVersion,
      flags: {},
      shapes: out,
      imagePath: item.media?.fileName ?? "",
      imageData: null,
      imageHeight: item.media?.height ?? 0,
      imageWidth: item.media?.width ?? 0,
    };
  }
}
