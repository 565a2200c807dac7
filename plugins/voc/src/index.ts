// Pascal VOC exporter. The default `devkit` layout is the VOC devkit's, as datumaro, torchvision
// and the devkit scripts read it: JPEGImages/<stem><ext> (save_original_file),
// Annotations/<stem>.xml, ImageSets/Main/<split>.txt (one stem a line; items without a split are
// listed in default.txt, the subset name datumaro gives unsplit items) and a datumaro/CVAT-style
// labelmap.txt (datumaro reads the label names from it). The `splits` layout keeps images under
// images/<split>/ as Labelport 1.0 wrote them. Box coordinates: geometry.ts. Split exports: the
// XML files are per item (written by each shard), the split lists are gathered files, and the
// labelmap and the notes with counts are written by the join.
import { createHash } from "node:crypto";
import {
  type Annotation,
  annotationTypeName,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  finishExportLayout,
  type GatheredFile,
  type GatheredFileFormat,
  type Item,
  type ItemPlacement,
  isVideoItem,
  type JoinContext,
  joinGatheredFile,
  openGatheredFile,
  SplittableExporter,
  z,
} from "@labelport/sdk";
import { type Box, maskBox, polygonBox, vocBox } from "./geometry.ts";
import { renderXml, type XmlNode } from "./xml.ts";

export { vocBox } from "./geometry.ts";

const options = z.strictObject({
  ...commonOptionsShape,
  layout: z
    .enum(["devkit", "splits"])
    .default("devkit")
    .describe(
      "devkit: JPEGImages/, Annotations/ and ImageSets/Main/<split>.txt as VOC readers expect; splits: images/<split>/ instead of JPEGImages/.",
    ),
  shapesAsBoxes: z
    .boolean()
    .default(true)
    .describe("Write polygons and masks as their bounding boxes (reported as changed) instead of dropping them."),
});

export type VocOptions = z.output<typeof options>;

export const LABELMAP_KEY = "labelmap.txt";

/** Object attributes VOC has elements for, when their values fit (0/1 flags, a pose name). */
const VOC_FLAGS = ["difficult", "truncated", "occluded"] as const;

/** A 0/1 flag from an attribute (true, 1, "1", "true" / false, 0, "0", "false"); undefined otherwise. */
export function flagOf(attributes: Record<string, unknown> | undefined, name: string): 0 | 1 | undefined {
  const value = attributes?.[name];
  if (value === true || value === 1 || value === "1" || value === "true") return 1;
  if (value === false || value === 0 || value === "0" || value === "false") return 0;
  return undefined;
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

/** ImageSets/Main/<split>.txt: one `<path>\n` entry per item, nothing around them. */
const IMAGE_SET_FILE: GatheredFileFormat = { contentType: "text/plain; charset=utf-8", skipEmpty: true };

function imageSetKey(split: string): string {
  return `ImageSets/Main/${split}.txt`;
}

/**
 * The shard part of a split's list. Split names are free text (part names are not), and every
 * shard must name a split's part alike for joinGatheredFile(): a digest of the name does both.
 */
function imageSetPart(split: string): string {
  return `imagesets-${createHash("sha256").update(split).digest("hex")}`;
}

/** What a shard tells the join: the splits it listed and the counts behind the notes. */
interface VocShardState {
  splits: string[];
  unsized: number;
  videos: number;
  /** Objects written with a <truncated> or <difficult> their annotation had no attribute for. */
  defaultedFlags: number;
}

export default class VocExporter extends SplittableExporter<VocOptions> {
  static override manifest = {
    name: "voc",
    version: "1.0.0",
    formats: ["voc"],
    sdk: "^0.1.0",
    description: "Pascal VOC devkit layout: XML per image, ImageSets/Main split lists and a labelmap.",
  };

  readonly options = options;

  async exportShard(ctx: ExportContext<VocOptions>): Promise<VocShardState> {
    const devkit = ctx.options.layout === "devkit";
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const imageSets = new Map<string, GatheredFile>();
    let unsized = 0;
    let videos = 0;
    /** Objects written with a <truncated> or <difficult> their annotation had no attribute for. */
    const defaultedFlags = { count: 0 };
    try {
      for await (const item of ctx.items()) {
        ctx.signal.throwIfAborted();
        const { width, height } = await layout.imageSize(item);
        if (isVideoItem(item)) {
          videos += 1;
          ctx.drop("video: VOC has no video", item.annotations.length);
          layout.skip(item);
          continue;
        }
        if (!width || !height) {
          unsized += 1;
          ctx.drop("image without width/height: VOC needs the image size", item.annotations.length);
          layout.skip(item);
          continue;
        }
        const placement = layout.place(item);
        const objects: XmlNode[] = [];
        for (const annotation of item.annotations) {
          const category = annotation.categoryId === undefined ? undefined : categories.get(annotation.categoryId);
          if (!category) {
            ctx.drop("no category: the annotation has none, or one the dataset does not have");
            continue;
          }
          const object = vocObject(ctx, annotation, category, width, height, defaultedFlags);
          if (object) objects.push(object);
        }
        // Queued: several XML files are written at once while the next items are formatted.
        await ctx.storage.queueFile(
          `Annotations/${placement.path}.xml`,
          annotationXml(item, placement, objects, devkit, { width, height }),
          { contentType: "application/xml" },
        );
        let list = imageSets.get(placement.split);
        if (!list) {
          list = openGatheredFile(ctx, imageSetKey(placement.split), imageSetPart(placement.split), IMAGE_SET_FILE);
          imageSets.set(placement.split, list);
        }
        await list.add(`${placement.path}\n`);
        const imageKey = devkit ? `JPEGImages/${placement.file}` : placement.imageKey;
        await layout.saveOriginalFile(item, { ...placement, imageKey });
        layout.done(item, placement);
      }
    } finally {
      // Closed when the export fails too: a list left open would keep its upload waiting.
      for (const list of imageSets.values()) await list.close();
    }
    await layout.finish();
    return { splits: [...imageSets.keys()], unsized, videos, defaultedFlags: defaultedFlags.count };
  }

  async join(ctx: JoinContext<VocOptions>): Promise<void> {
    const states = ctx.shards.map((shard) => shard.state as VocShardState);
    const total = (key: "unsized" | "videos" | "defaultedFlags") => states.reduce((sum, s) => sum + s[key], 0);
    const splits = new Set(states.flatMap((state) => state.splits));
    for (const split of [...splits].sort()) {
      await joinGatheredFile(ctx, imageSetKey(split), imageSetPart(split), IMAGE_SET_FILE);
    }
    await ctx.storage.writeFile(LABELMAP_KEY, labelmap(ctx.dataset.categories), {
      contentType: "text/plain; charset=utf-8",
    });
    const unsized = total("unsized");
    const videos = total("videos");
    const defaultedFlags = total("defaultedFlags");
    if (unsized > 0) ctx.note(`${unsized} images have no width/height and were skipped (VOC needs the size)`);
    if (videos > 0) ctx.note(`video: ${videos} items not exported (VOC has no video)`);
    if (defaultedFlags > 0) {
      // VOC requires both elements: an import reads them back as attributes the source did not have.
      ctx.note(
        `truncated, difficult: written for ${defaultedFlags} objects without those attributes (truncated when the box touches the border, difficult 0)`,
      );
    }
    await finishExportLayout(ctx, ctx.options);
  }
}

/** The box VOC can hold for an annotation, or why there is none. */
function boxOf(annotation: Annotation, shapesAsBoxes: boolean): Box | string {
  const { geometry } = annotation;
  const type = annotationTypeName(annotation);
  switch (geometry.case) {
    case "bbox":
      return geometry.value;
    case "polygon":
    case "mask":
      if (!shapesAsBoxes) return `${type}: VOC detection holds boxes only (shapesAsBoxes is off)`;
      return (
        (geometry.case === "polygon" ? polygonBox(geometry.value.points) : maskBox(geometry.value)) ??
        `${type}: empty, no box to write`
      );
    default:
      return `${type}: VOC detection holds boxes only`;
  }
}

/** One <object>, with what was dropped or changed on the way reported to ctx; null when dropped. */
function vocObject(
  ctx: ExportContext<VocOptions>,
  annotation: Annotation,
  category: Category,
  width: number,
  height: number,
  defaultedFlags: { count: number },
): XmlNode | null {
  const source = boxOf(annotation, ctx.options.shapesAsBoxes);
  if (typeof source === "string") {
    ctx.drop(source);
    return null;
  }
  const type = annotationTypeName(annotation);
  const box = vocBox(source, width, height);
  if (!box) {
    ctx.drop(`${type}: outside the image`);
    return null;
  }
  if (type !== "bbox") ctx.changed(`${type} written as its bounding box`);
  if (box.clipped) ctx.changed("box clipped to the image");
  if (box.rounded) ctx.changed("box rounded to whole pixels");
  if (box.widened) ctx.changed("box smaller than a pixel widened to one pixel");
  const attributes = (annotation.attributes ?? {}) as Record<string, unknown>;
  const truncated = flagOf(attributes, "truncated");
  const difficult = flagOf(attributes, "difficult");
  if (truncated === undefined || difficult === undefined) defaultedFlags.count += 1;
  const pose = attributes.pose;
  // VOC 2007 has no <occluded> (later years and datumaro add it): written only when the data has it.
  const occluded = flagOf(attributes, "occluded");
  // Whatever has no VOC element, or a value the element cannot hold, goes under <attributes>.
  const written = (key: string) =>
    key === "pose"
      ? typeof pose === "string" && pose !== ""
      : (VOC_FLAGS as readonly string[]).includes(key) && flagOf(attributes, key) !== undefined;
  const others = Object.keys(attributes)
    .filter((key) => !written(key))
    .sort();
  return [
    "object",
    [
      ["name", category.name],
      ["pose", typeof pose === "string" && pose !== "" ? pose : "Unspecified"],
      ["truncated", truncated ?? box.truncated],
      ...(occluded === undefined ? [] : [["occluded", occluded] as XmlNode]),
      ["difficult", difficult ?? 0],
      [
        "bndbox",
        [
          ["xmin", box.xmin],
          ["ymin", box.ymin],
          ["xmax", box.xmax],
          ["ymax", box.ymax],
        ],
      ],
      // datumaro's and CVAT's VOC extension for attributes VOC has no element for.
      ...(others.length > 0
        ? [
            [
              "attributes",
              others.map((key): XmlNode => {
                const value = attributes[key];
                return [
                  "attribute",
                  [
                    ["name", key],
                    ["value", typeof value === "string" ? value : JSON.stringify(value)],
                  ],
                ];
              }),
            ] as XmlNode,
          ]
        : []),
    ],
  ];
}

function annotationXml(
  item: Item,
  placement: ItemPlacement,
  objects: XmlNode[],
  devkit: boolean,
  size: { width: number; height: number },
): string {
  const media = item.media;
  // Readers join <filename> to the image folder: in the devkit layout it is the path below
  // JPEGImages/ (with its meta.category folder, if any).
  const folder = devkit
    ? "JPEGImages"
    : placement.folder
      ? `images/${placement.split}/${placement.folder}`
      : `images/${placement.split}`;
  return renderXml([
    "annotation",
    [
      ["folder", folder],
      ["filename", devkit ? placement.file : placement.fileName],
      [
        "size",
        [
          ["width", size.width],
          ["height", size.height],
          ["depth", media?.depth || 3],
        ],
      ],
      ["segmented", 0],
      ...objects,
    ],
  ]);
}

export { importers } from "./importer.ts";
