// Pascal VOC exporter: Annotations/<stem>.xml per image, ImageSets/Main/<split>.txt and a
// datumaro/CVAT-style labelmap.txt.
//
// Coordinates: VOC boxes are 1-based, inclusive pixel indices. A Labelport box is continuous
// with its origin at the top-left corner of the image, so pixel k (1-based) spans [k-1, k):
// xmin = floor(x) + 1, xmax = ceil(x + width), clamped to [1, width] (a box covering the whole
// image is 1..width). `truncated` is 1 when the box touches or crosses the image border.
import {
  type ArtifactWriter,
  annotationTypeName,
  BaseExporter,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  type Item,
  type ItemPlacement,
  isVideoItem,
  z,
} from "@labelport/sdk";
import { renderXml, type XmlNode } from "./xml.ts";

const options = z.strictObject({
  ...commonOptionsShape,
});

export type VocOptions = z.output<typeof options>;

export const LABELMAP_KEY = "labelmap.txt";

// Floating-point noise must not move a box edge by a whole pixel.
const EPSILON = 1e-6;

export interface VocBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  truncated: 0 | 1;
}

/** The VOC box of a continuous box; null when nothing of it is inside the image. */
export function vocBox(
  box: { x: number; y: number; width: number; height: number },
  imageWidth: number,
  imageHeight: number,
): VocBox | null {
  const x2 = box.x + box.width;
  const y2 = box.y + box.height;
  if (x2 <= 0 || y2 <= 0 || box.x >= imageWidth || box.y >= imageHeight || box.width <= 0 || box.height <= 0) {
    return null;
  }
  const clampTo = (n: number, max: number) => Math.min(Math.max(n, 1), max);
  const truncated = box.x <= 0 || box.y <= 0 || x2 >= imageWidth || y2 >= imageHeight ? 1 : 0;
  return {
    xmin: clampTo(Math.floor(box.x + EPSILON) + 1, imageWidth),
    ymin: clampTo(Math.floor(box.y + EPSILON) + 1, imageHeight),
    xmax: clampTo(Math.ceil(x2 - EPSILON), imageWidth),
    ymax: clampTo(Math.ceil(y2 - EPSILON), imageHeight),
    truncated,
  };
}

/** `difficult` from the annotation's attribute of that name (true, 1, "1", "true"), else 0. */
export function difficultOf(attributes: Record<string, unknown> | undefined): 0 | 1 {
  const value = attributes?.difficult;
  return value === true || value === 1 || value === "1" || value === "true" ? 1 : 0;
}

/** The PASCAL VOC colour map: label index bits spread over the high bits of r, g and b. */
export function vocColor(index: number): [number, number, number] {
  let r = 0;
  let g = 0;
  let b = 0;
  let id = index;
  for (let shift = 7; shift >= 0 && id > 0; shift--) {
    r |= (id & 1) << shift;
    g |= ((id >> 1) & 1) << shift;
    b |= ((id >> 2) & 1) << shift;
    id >>= 3;
  }
  return [r, g, b];
}

/** `# label:color_rgb:parts:actions`, background, then the categories in id order. */
export function labelmap(categories: readonly Category[]): string {
  const ordered = [...categories].sort((a, b) => a.id - b.id);
  const lines = ["# label:color_rgb:parts:actions", "background:0,0,0::"];
  ordered.forEach((category, i) => {
    // ':' separates the columns; the XML keeps the real name.
    lines.push(`${category.name.replaceAll(":", "_")}:${vocColor(i + 1).join(",")}::`);
  });
  return `${lines.join("\n")}\n`;
}

export default class VocExporter extends BaseExporter<VocOptions> {
  static override manifest = {
    name: "voc",
    version: "1.0.0",
    formats: ["voc"],
    sdk: "^0.1.0",
    description: "Pascal VOC XML per image with ImageSets/Main split lists and a labelmap.",
  };

  readonly options = options;

  async export(ctx: ExportContext<VocOptions>): Promise<void> {
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const imageSets = new Map<string, ArtifactWriter>();
    const dropped = new Map<string, number>();
    const drop = (reason: string) => dropped.set(reason, (dropped.get(reason) ?? 0) + 1);
    let withAttributes = 0;
    let unsized = 0;
    let videos = 0;
    let outside = 0;
    try {
      for await (const item of ctx.items()) {
        ctx.signal.throwIfAborted();
        const width = item.media?.width ?? 0;
        const height = item.media?.height ?? 0;
        if (isVideoItem(item) || !width || !height) {
          if (isVideoItem(item)) videos += 1;
          else unsized += 1;
          layout.skip(item);
          continue;
        }
        const placement = layout.place(item);
        const objects: XmlNode[] = [];
        for (const annotation of item.annotations) {
          const category = annotation.categoryId === undefined ? undefined : categories.get(annotation.categoryId);
          if (!category) {
            drop("no category");
            continue;
          }
          if (annotation.geometry.case !== "bbox") {
            drop(annotationTypeName(annotation));
            continue;
          }
          const box = vocBox(annotation.geometry.value, width, height);
          if (!box) {
            outside += 1;
            continue;
          }
          const attributes = annotation.attributes ?? {};
          if (Object.keys(attributes).some((key) => key !== "difficult")) withAttributes += 1;
          objects.push([
            "object",
            [
              ["name", category.name],
              ["pose", "Unspecified"],
              ["truncated", box.truncated],
              ["difficult", difficultOf(attributes)],
              [
                "bndbox",
                [
                  ["xmin", box.xmin],
                  ["ymin", box.ymin],
                  ["xmax", box.xmax],
                  ["ymax", box.ymax],
                ],
              ],
            ],
          ]);
        }
        await ctx.storage.writeFile(`Annotations/${placement.path}.xml`, annotationXml(item, placement, objects), {
          contentType: "application/xml",
        });
        let list = imageSets.get(placement.split);
        if (!list) {
          list = await ctx.storage.open(`ImageSets/Main/${placement.split}.txt`, {
            contentType: "text/plain; charset=utf-8",
          });
          imageSets.set(placement.split, list);
        }
        await list.write(`${placement.path}\n`);
        await layout.saveOriginalFile(item, placement);
        layout.done(item, placement);
      }
    } finally {
      // Closed in split order so the artifacts are listed the same way every time.
      for (const split of [...imageSets.keys()].sort()) await imageSets.get(split)?.close();
    }
    await ctx.storage.writeFile(LABELMAP_KEY, labelmap(ctx.dataset.categories), {
      contentType: "text/plain; charset=utf-8",
    });
    for (const [reason, count] of [...dropped].sort(([a], [b]) => a.localeCompare(b))) {
      ctx.note(`${reason}: ${count} annotations not exported (${unsupported(reason)})`);
    }
    if (withAttributes > 0) ctx.note(`attributes other than difficult: dropped from ${withAttributes} annotations`);
    if (outside > 0) ctx.note(`${outside} boxes lie outside their image and were not exported`);
    if (unsized > 0) ctx.note(`${unsized} images have no width/height and were skipped (VOC needs the size)`);
    if (videos > 0) ctx.note(`video: ${videos} items not exported (VOC has no video)`);
    await layout.finish();
  }
}

function unsupported(reason: string): string {
  return reason === "no category" ? "no category, or one the dataset does not have" : "VOC detection has boxes only";
}

function annotationXml(item: Item, placement: ItemPlacement, objects: XmlNode[]): string {
  const media = item.media;
  const folder = placement.folder ? `images/${placement.split}/${placement.folder}` : `images/${placement.split}`;
  return renderXml([
    "annotation",
    [
      ["folder", folder],
      ["filename", placement.fileName],
      [
        "size",
        [
          ["width", media?.width ?? 0],
          ["height", media?.height ?? 0],
          ["depth", media?.depth || 3],
        ],
      ],
      ["segmented", 0],
      ...objects,
    ],
  ]);
}
