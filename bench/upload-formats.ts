// The uploads of the import-formats case. Formats Labelport also writes come from our own exporter
// (the export folder, images copied, zipped as a user would send it back); LabelMe, CVAT for images
// 1.1 and DM Schema v1, which Labelport only reads, are written here from the same synthetic items,
// in the layouts those tools export: so every format carries the same images and annotations.
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import yazl from "yazl";
import { png as encodeTestPng } from "../test/support/png.ts";
import { CATEGORIES } from "./datasets.ts";

/** The synthetic item lines of bench/datasets.ts, as far as the generators read them. */
interface SyntheticItem {
  id: string;
  split: string;
  media: { uri: string; fileName: string; width: number; height: number };
  annotations: Array<{
    id: string;
    categoryId: number;
    bbox?: { x: number; y: number; width: number; height: number };
    polygon?: { points: number[] };
  }>;
}

export interface Upload {
  path: string;
  bytes: number;
  /** Annotations the upload holds. */
  annotations: number;
}

const pngs = new Map<string, Buffer>();

/** A valid grey PNG of the given size (about 1 KB at 1280x720): every importer reads its header. */
export function png(width: number, height: number): Buffer {
  const key = `${width}x${height}`;
  let bytes = pngs.get(key);
  if (!bytes) {
    bytes = encodeTestPng(width, height);
    pngs.set(key, bytes);
  }
  return bytes;
}

/** The items of bench/datasets.ts's JSONL files, one at a time. */
export async function* readItems(files: readonly string[]): AsyncGenerator<SyntheticItem> {
  for (const file of files) {
    for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
      if (line !== "") yield JSON.parse(line) as SyntheticItem;
    }
  }
}

const categoryName = (id: number) => CATEGORIES[id - 1] ?? `class ${id}`;
const pairs = (points: number[]) =>
  Array.from({ length: points.length / 2 }, (_, i) => [points[2 * i] as number, points[2 * i + 1] as number]);

/** Writes a ZIP to `path`; `fill` adds the entries (yazl reads each when it gets to it) and says how many annotations they hold. */
async function writeZip(path: string, fill: (zip: yazl.ZipFile) => Promise<number>): Promise<Upload> {
  const zip = new yazl.ZipFile();
  const out = createWriteStream(path);
  zip.outputStream.pipe(out);
  const annotations = await fill(zip);
  zip.end();
  await once(out, "finish");
  return { path, bytes: (await stat(path)).size, annotations };
}

/** An export folder as its download ZIP (every file, paths relative to the folder); it holds `annotations`. */
export function zipFolder(dir: string, path: string, annotations: number): Promise<Upload> {
  return writeZip(path, async (zip) => {
    for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const full = join(entry.parentPath, entry.name);
      zip.addFile(full, relative(dir, full), { mtime: new Date(0) });
    }
    return annotations;
  });
}

/** labelme 5: one JSON beside each image, rectangles as two corners, polygons as point lists. */
export function writeLabelmeUpload(itemFiles: readonly string[], path: string): Promise<Upload> {
  return writeZip(path, async (zip) => {
    let held = 0;
    for await (const item of readItems(itemFiles)) {
      held += item.annotations.length;
      const { fileName, width, height } = item.media;
      const stem = fileName.replace(/\.[^.]+$/, "");
      const shapes = item.annotations.map((a) => ({
        label: categoryName(a.categoryId),
        points: a.bbox
          ? [
              [a.bbox.x, a.bbox.y],
              [a.bbox.x + a.bbox.width, a.bbox.y + a.bbox.height],
            ]
          : pairs(a.polygon?.points ?? []),
        group_id: null,
        description: "",
        shape_type: a.bbox ? "rectangle" : "polygon",
        flags: {},
        mask: null,
      }));
      const json = {
        version: "5.5.0",
        flags: {},
        shapes,
        imagePath: fileName,
        imageData: null,
        imageHeight: height,
        imageWidth: width,
      };
      zip.addBuffer(Buffer.from(JSON.stringify(json, null, 2)), `${stem}.json`, { mtime: new Date(0) });
      zip.addBuffer(png(width, height), fileName, { mtime: new Date(0) });
    }
    return held;
  });
}

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");

/** CVAT for images 1.1, a project export: labels in <meta>, `subset` per image, images/<subset>/<name>. */
export function writeCvatUpload(itemFiles: readonly string[], path: string): Promise<Upload> {
  return writeZip(path, async (zip) => {
    const labels = CATEGORIES.map(
      (name) =>
        `        <label><name>${xmlText(name)}</name><color>#33ddff</color><type>any</type><attributes></attributes></label>`,
    );
    const xml: string[] = [
      '<?xml version="1.0" encoding="utf-8"?>',
      "<annotations>",
      "  <version>1.1</version>",
      "  <meta>",
      "    <project>",
      "      <id>1</id>",
      "      <name>bench</name>",
      "      <labels>",
      ...labels,
      "      </labels>",
      "      <subsets>Train\nValidation</subsets>",
      "    </project>",
      "  </meta>",
    ];
    let index = 0;
    let held = 0;
    for await (const item of readItems(itemFiles)) {
      held += item.annotations.length;
      const { fileName, width, height } = item.media;
      const subset = item.split === "val" ? "Validation" : "Train";
      xml.push(
        `  <image id="${index++}" name="${xmlText(fileName)}" subset="${subset}" width="${width}" height="${height}">`,
      );
      for (const a of item.annotations) {
        const label = xmlText(categoryName(a.categoryId));
        if (a.bbox) {
          const { x, y, width: w, height: h } = a.bbox;
          xml.push(
            `    <box label="${label}" source="manual" occluded="0" xtl="${x.toFixed(2)}" ytl="${y.toFixed(2)}" xbr="${(x + w).toFixed(2)}" ybr="${(y + h).toFixed(2)}" z_order="0">\n    </box>`,
          );
        } else {
          const points = pairs(a.polygon?.points ?? [])
            .map(([px, py]) => `${px?.toFixed(2)},${py?.toFixed(2)}`)
            .join(";");
          xml.push(
            `    <polygon label="${label}" source="manual" occluded="0" points="${points}" z_order="0">\n    </polygon>`,
          );
        }
      }
      xml.push("  </image>");
      zip.addBuffer(png(width, height), `images/${subset}/${fileName}`, { mtime: new Date(0) });
    }
    xml.push("</annotations>", "");
    zip.addBuffer(Buffer.from(xml.join("\n")), "annotations.xml", { mtime: new Date(0) });
    return held;
  });
}

/** DM Schema v1 in Synapse's dataset layout: <split>/json/<stem>.json beside <split>/original_files/<stem>.png. */
export function writeDmJsonUpload(itemFiles: readonly string[], path: string): Promise<Upload> {
  return writeZip(path, async (zip) => {
    let held = 0;
    for await (const item of readItems(itemFiles)) {
      held += item.annotations.length;
      const { fileName, width, height } = item.media;
      const stem = fileName.replace(/\.[^.]+$/, "");
      const split = item.split === "val" ? "valid" : "train";
      const annotations = item.annotations.map((a) => ({
        id: a.id,
        tool: a.bbox ? "bounding_box" : "polygon",
        isLocked: false,
        isVisible: true,
        isValid: true,
        isDrawCompleted: true,
        classification: { class: categoryName(a.categoryId) },
        label: [categoryName(a.categoryId)],
      }));
      const data = item.annotations.map((a) => ({
        id: a.id,
        coordinate: a.bbox
          ? { x: a.bbox.x, y: a.bbox.y, width: a.bbox.width, height: a.bbox.height }
          : pairs(a.polygon?.points ?? []).map(([x, y], i) => ({ x, y, id: `${a.id}-p${i}` })),
      }));
      const json = {
        extra: { image_1: { width, height } },
        annotations: { image_1: annotations },
        annotationsData: { image_1: data },
        relations: {},
        annotationGroups: {},
      };
      zip.addBuffer(Buffer.from(JSON.stringify(json)), `${split}/json/${stem}.json`, { mtime: new Date(0) });
      zip.addBuffer(png(width, height), `${split}/original_files/${fileName}`, { mtime: new Date(0) });
    }
    return held;
  });
}
