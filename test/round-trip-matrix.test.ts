// The round-trip matrix (issue 14): one dataset with every feature goes out through each format
// that has both directions, comes back into a fresh dataset through POST /api/import, and goes out
// again. The second export's data files are byte-identical to the first's; what differs between
// the source dataset and the re-imported one is exactly what the first export declared (dropped
// and changed counts by reason). The table of what each format carries is built from these
// results and must match docs/formats.md and README.md (UPDATE_FORMATS_TABLE=1 rewrites them).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { type JsonObject, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { maskBoundingBox, pointsBounds } from "@labelport/sdk";
import {
  type Annotation,
  AnnotationType,
  type Category,
  type Export,
  ExportStatus,
  type Item,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { writeSampleUpload } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upload } from "../services/orchestrator/src/data/testing.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";
import { png } from "./support/png.ts";
import { ROOT } from "./support/process.ts";
import { runPython, runPythonJson } from "./support/python.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-matrix-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-matrix-uploads-"));
let stack: JobStack;
let workers: PluginWorkers;
let sourceId = "";

// ---------------------------------------------------------------------------------------------
// The source dataset: every feature row of the table, ~20 small images.

const SOURCE_NAME = "matrix-source";
const CATEGORIES = [
  { id: 1, name: "car", supercategory: "vehicle" },
  {
    id: 2,
    name: "人",
    supercategory: "person",
    keypoints: ["nose", "left_eye", "right_eye"],
    skeleton: [
      { fromKeypoint: 1, toKeypoint: 2 },
      { fromKeypoint: 1, toKeypoint: 3 },
    ],
  },
  { id: 3, name: "猫", supercategory: "animal" },
  { id: 4, name: "road", supercategory: "" },
  { id: 5, name: "sunny ☀", supercategory: "weather" },
];
const W = 32;
const H = 24;

type AnnotationInit = MessageInitShape<typeof ItemSchema>["annotations"] extends (infer A)[] | undefined ? A : never;

const box = (categoryId: number, x: number, y: number, width: number, height: number, attributes?: JsonObject) =>
  ({
    type: AnnotationType.BBOX,
    categoryId,
    geometry: { case: "bbox", value: { x, y, width, height } },
    ...(attributes ? { attributes } : {}),
  }) satisfies AnnotationInit;
const polygon = (categoryId: number, points: number[]) =>
  ({
    type: AnnotationType.POLYGON,
    categoryId,
    geometry: { case: "polygon", value: { points } },
  }) satisfies AnnotationInit;
const keypoints = (points: Array<[number, number, number]>) =>
  ({
    type: AnnotationType.KEYPOINTS,
    categoryId: 2,
    geometry: { case: "keypoints", value: { keypoints: points.map(([x, y, visibility]) => ({ x, y, visibility })) } },
  }) satisfies AnnotationInit;
const classification = (categoryId: number) =>
  ({ type: AnnotationType.CLASSIFICATION, categoryId }) satisfies AnnotationInit;

/** A rectangle [x0, x1) x [y0, y1) as COCO uncompressed RLE over the whole image (column-major). */
function rectMask(x0: number, y0: number, x1: number, y1: number) {
  const counts: number[] = [];
  let value = 0;
  let run = 0;
  for (let x = 0; x < W; x++) {
    for (let y = 0; y < H; y++) {
      const bit = x >= x0 && x < x1 && y >= y0 && y < y1 ? 1 : 0;
      if (bit === value) run += 1;
      else {
        counts.push(run);
        value = bit;
        run = 1;
      }
    }
  }
  counts.push(run);
  return {
    type: AnnotationType.MASK,
    categoryId: 4,
    geometry: { case: "mask", value: { width: W, height: H, counts } },
  } satisfies AnnotationInit;
}

const track = {
  type: AnnotationType.TRACK,
  categoryId: 1,
  geometry: {
    case: "boxSequence",
    value: {
      interpolationMode: "linear",
      boxes: [
        { frameNumber: 0, x: 1, y: 2, width: 10, height: 8, isKeyframe: true, visible: true },
        { frameNumber: 5, x: 4, y: 3, width: 10, height: 8, isKeyframe: true, visible: true },
      ],
    },
  },
} satisfies AnnotationInit;

/** [item id (also the image's stem), split, annotations]; the id starting with "clip" is a video. */
const SOURCE_ITEMS: Array<[string, string, AnnotationInit[]]> = [
  ["box-01", "train", [box(1, 2.25, 3.5, 10.5, 8.25, { occluded: true, color: "red" }), box(1, 0, 0, W, H)]],
  ["box-02", "train", [box(3, 4, 4, 8, 6, { color: "緑" })]],
  ["box-03", "val", [box(1, 1.75, 2, 5.5, 4.25)]],
  ["box-04", "", [box(1, 6, 7, 9, 5, { occluded: false })]],
  ["many-01", "train", Array.from({ length: 11 }, (_, n) => box(n % 2 ? 1 : 3, n * 2, n, 3 + (n % 3), 4))],
  ["poly-01", "train", [polygon(4, [2, 2, 20, 3.5, 18, 20, 3, 15])]],
  ["poly-02", "val", [polygon(4, [5, 5, 25, 5, 15, 18])]],
  ["mask-01", "train", [rectMask(3, 4, 12, 10)]],
  ["mask-02", "", [rectMask(10, 2, 30, 20)]],
  [
    "pose-01",
    "train",
    [
      keypoints([
        [10, 5, 2],
        [12, 4, 1],
        [0, 0, 0],
      ]),
    ],
  ],
  [
    "pose-02",
    "val",
    [
      keypoints([
        [20, 10, 2],
        [22, 9, 2],
        [18, 9, 2],
      ]),
    ],
  ],
  ["empty-01", "train", []],
  ["empty-02", "", []],
  ["empty-03", "val", []],
  ["猫-01", "train", [box(3, 3, 3, 12, 9)]],
  [
    "人-02",
    "",
    [
      keypoints([
        [5, 6, 2],
        [7, 5, 2],
        [3, 5, 1],
      ]),
    ],
  ],
  ["cls-01", "train", [classification(5)]],
  ["cls-02", "val", [classification(5), box(1, 2, 2, 6, 6)]],
  ["mixed-01", "", [box(3, 1, 1, 4, 4), polygon(4, [0, 10, 8, 10, 8, 20]), rectMask(20, 0, 32, 6), classification(5)]],
  ["clip-01", "train", [track]],
];

function sourceItem([id, split, annotations]: (typeof SOURCE_ITEMS)[number]): MessageInitShape<typeof ItemSchema> {
  const video = id.startsWith("clip");
  const fileName = `${id}.${video ? "mp4" : "png"}`;
  return {
    id,
    kind: video ? ItemKind.VIDEO : ItemKind.IMAGE,
    status: ItemStatus.APPROVED,
    split,
    media: {
      uri: `media/source/${fileName}`,
      fileName,
      width: W,
      height: H,
      ...(video ? { frames: 10, fps: 5 } : {}),
    },
    annotations: annotations.map((a, n) => ({ ...a, id: `${id}-a${String(n + 1).padStart(2, "0")}` })),
  };
}

// ---------------------------------------------------------------------------------------------
// The formats with both directions.

interface Format {
  /** The table's column. */
  column: string;
  exportFormat: string;
  options: JsonObject;
  importFormat: string;
}

const FORMATS: Format[] = [
  { column: "labelport", exportFormat: "jsonl", options: { items: true }, importFormat: "labelport" },
  { column: "coco", exportFormat: "coco", options: {}, importFormat: "coco" },
  { column: "yolo", exportFormat: "yolo", options: {}, importFormat: "yolo" },
  { column: "voc", exportFormat: "voc", options: {}, importFormat: "voc" },
  { column: "csv", exportFormat: "csv", options: {}, importFormat: "csv" },
  // One file per item: seed 002's file per class would re-import as one item per class.
  { column: "dm-json", exportFormat: "dm-json", options: { filePerClassification: false }, importFormat: "dm-json" },
];

/** Files of an export whose content names the export (ids, times): compared as JSON without those fields. */
const MANIFEST = "manifest.json";
const SUMMARY = "metadata/export_summary.json";

async function runExport(datasetId: string, format: Format): Promise<{ done: Export; files: Map<string, Buffer> }> {
  const { export: created } = await stack.exports.createExport({
    datasetId,
    format: format.exportFormat,
    options: format.options,
    saveOriginalFile: true,
  });
  const exportId = created?.id ?? "";
  let done = created;
  for (let i = 0; i < 1200; i++) {
    done = (await stack.exports.getExport({ exportId })).export;
    if (done?.status === ExportStatus.COMPLETED || done?.status === ExportStatus.FAILED) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(done?.status, done?.errorMessage).toBe(ExportStatus.COMPLETED);
  const root = join(storageRoot, done?.path ?? "missing");
  const files = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(root, path).split("\\").join("/"), readFileSync(path));
    }
  };
  walk(root);
  return { done: done as Export, files };
}

/** The export's files in one folder of a ZIP, as a user zips the folder they downloaded. */
async function zipFolder(name: string, files: Map<string, Buffer>): Promise<Buffer> {
  const dir = mkdtempSync(join(scratch, `${name}-`));
  const written = await writeSampleUpload(dir, {
    files: Object.fromEntries([...files].map(([path, body]) => [`${name}-export/${path}`, body])),
  });
  return readFileSync(written.path);
}

async function streamAll(datasetId: string): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of stack.items.streamItems({ datasetId, filter: { allStatuses: true } })) {
    items.push(...page.items);
  }
  return items;
}

/** A data file's bytes with what names the dataset or the export (its id, name and time) replaced. */
function withoutExportIdentity(bytes: Buffer, dataset: { id: string; name: string }): string {
  return (
    bytes
      .toString("utf8")
      .replaceAll(dataset.id, "<dataset id>")
      .replaceAll(dataset.name, "<dataset name>")
      .replace(/"date_created":"[^"]*"/g, '"date_created":"<time>"')
      // items.jsonl: where the dataset stores its copy of the image (media/<dataset id>/...).
      .replace(/"uri":"[^"]*"/g, '"uri":"<stored media>"')
      .replace(/"year":\d+/g, '"year":0')
  );
}

/**
 * export_summary.json without the dataset's id and name. After a lossy export the second export
 * received only what the first wrote, so then the received counts are left out here and the
 * written count is checked against the first export's instead.
 */
function summaryWithoutIdentity(bytes: Buffer, lossy: boolean): JsonObject {
  const summary = JSON.parse(bytes.toString("utf8")) as JsonObject;
  const { datasetId: _id, datasetName: _name, ...rest } = summary;
  if (!lossy) return rest;
  const {
    annotationCount: _count,
    annotationsReceived: _received,
    skippedItemCount: _skipped,
    annotationTypes: _types,
    splits,
    itemCategories,
    ...others
  } = rest;
  return {
    ...others,
    splits: Object.keys(splits as JsonObject),
    ...(itemCategories ? { itemCategories: Object.keys(itemCategories as JsonObject) } : {}),
    categories: (rest.categories as JsonObject[]).map(({ annotations: _n, ...category }) => category),
  };
}

/** The manifest's format and artifact keys; each artifact's size checked against its file. */
function manifestWithoutIdentity(bytes: Buffer, files: Map<string, Buffer>): unknown {
  const manifest = JSON.parse(bytes.toString("utf8")) as JsonObject;
  const artifacts = (manifest.artifacts as JsonObject[] | undefined) ?? [];
  for (const a of artifacts) expect(a.size, `manifest size of ${a.key}`).toBe(files.get(String(a.key))?.length);
  return { format: manifest.format, artifacts: artifacts.map((a) => a.key) };
}

// ---------------------------------------------------------------------------------------------
// Comparing the source dataset with a re-imported one.

type TypeName = "bbox" | "polygon" | "mask" | "keypoints" | "classification" | "track";
const TYPE_NAMES: Record<number, TypeName> = {
  [AnnotationType.BBOX]: "bbox",
  [AnnotationType.POLYGON]: "polygon",
  [AnnotationType.MASK]: "mask",
  [AnnotationType.KEYPOINTS]: "keypoints",
  [AnnotationType.CLASSIFICATION]: "classification",
  [AnnotationType.TRACK]: "track",
};
const typeOf = (a: Annotation): TypeName => TYPE_NAMES[a.type] ?? "classification";

/** The annotation type a drop reason is about ("track: ...", "video: ..." for the video item's tracks). */
function droppedType(reason: string): TypeName {
  const head = reason.slice(0, reason.indexOf(":"));
  if (head === "video") return "track";
  if (Object.values(TYPE_NAMES).includes(head as TypeName)) return head as TypeName;
  throw new Error(`drop reason not about one annotation type: ${reason}`);
}

/** [x1, y1, x2, y2] of a shape that has an extent. */
function bounds(a: Annotation): number[] | undefined {
  const g = a.geometry;
  if (g.case === "bbox") return [g.value.x, g.value.y, g.value.x + g.value.width, g.value.y + g.value.height];
  if (g.case === "polygon") {
    const [x, y, w, h] = pointsBounds([...g.value.points]) ?? [0, 0, 0, 0];
    return [x, y, x + w, y + h];
  }
  if (g.case === "mask") {
    const [x, y, w, h] = maskBoundingBox(g.value);
    return [x, y, x + w, y + h];
  }
  return undefined;
}

const maxDiff = (a: readonly number[], b: readonly number[]) =>
  a.length !== b.length ? Number.POSITIVE_INFINITY : Math.max(0, ...a.map((v, i) => Math.abs(v - (b[i] as number))));

/** How far `got` is from `source` (as `got`'s type holds it), in pixels; Infinity when it is another thing. */
function deviation(source: Annotation, got: Annotation): number {
  const s = source.geometry;
  const g = got.geometry;
  if (g.case === "bbox" && s.case !== "bbox") return maxDiff(bounds(source) ?? [], bounds(got) ?? []);
  if (s.case !== g.case) return Number.POSITIVE_INFINITY;
  switch (s.case) {
    case "bbox":
      return maxDiff(bounds(source) ?? [], bounds(got) ?? []);
    case "polygon":
      return maxDiff([...s.value.points], g.case === "polygon" ? [...g.value.points] : []);
    case "mask": {
      const m = g.value as typeof s.value;
      return m.width === s.value.width && m.height === s.value.height && maxDiff(m.counts, s.value.counts) === 0
        ? 0
        : Number.POSITIVE_INFINITY;
    }
    case "keypoints": {
      const k = (g.value as typeof s.value).keypoints;
      if (k.some((p, i) => p.visibility !== s.value.keypoints[i]?.visibility)) return Number.POSITIVE_INFINITY;
      return maxDiff(
        s.value.keypoints.flatMap((p) => [p.x, p.y]),
        k.flatMap((p) => [p.x, p.y]),
      );
    }
    case "boxSequence": {
      const b = (g.value as typeof s.value).boxes;
      const flat = (boxes: typeof b) =>
        boxes.flatMap((x) => [x.frameNumber, x.x, x.y, x.width, x.height, Number(x.isKeyframe), Number(x.visible)]);
      return maxDiff(flat(s.value.boxes), flat(b));
    }
    default:
      return 0;
  }
}

/** What one round trip found, per table row. */
interface Findings {
  format: Format;
  firstExport: Export;
  dropped: Map<TypeName, { count: number; reasons: string[] }>;
  /** Declared changes (reason -> count) and the types whose re-imported geometry differs by them. */
  changed: Map<string, number>;
  /** Per source type: re-imported as which type, how many differ from the source geometry, the largest difference. */
  kept: Map<TypeName, { as: Set<TypeName>; differing: number; largest: number; total: number }>;
  attributes: {
    annotations: number;
    /** Annotations that lost all their attributes. */
    losing: number;
    lost: Set<string>;
    added: Set<string>;
    retyped: Set<string>;
    allLost: boolean;
  };
  skeleton: boolean;
  splits: Map<string, string>;
  emptyImages: { source: number; kept: number };
  unicode: { categories: boolean; items: boolean };
  itemIds: { same: number; total: number; example: string };
}

const EXACT = 1e-9;

function compareDatasets(
  format: Format,
  firstExport: Export,
  source: { items: Item[]; categories: Category[] },
  copy: { items: Item[]; categories: Category[] },
): Findings {
  const dropped = new Map<TypeName, { count: number; reasons: string[] }>();
  for (const d of firstExport.counts?.dropped ?? []) {
    const type = droppedType(d.reason);
    const entry = dropped.get(type) ?? { count: 0, reasons: [] };
    entry.count += Number(d.count);
    entry.reasons.push(d.reason);
    dropped.set(type, entry);
  }
  const changed = new Map((firstExport.counts?.changed ?? []).map((c) => [c.reason, Number(c.count)]));
  const conversions = new Map<TypeName, number>();
  for (const [reason, count] of changed) {
    const match = /^(\w+) written as its bounding box$/.exec(reason);
    if (match) conversions.set(match[1] as TypeName, count);
  }

  // Items: by id for the lossless format, else by the image's stem (our source ids are the stems).
  const stem = (item: Item) => (item.media?.fileName ?? "").replace(/\.[^.]+$/, "");
  const sourceById = new Map(source.items.map((i) => [i.id, i]));
  const pairs: Array<[Item, Item]> = copy.items.map((got) => {
    const original = sourceById.get(got.id) ?? sourceById.get(stem(got));
    expect(original, `${format.column}: re-imported item ${got.id} has no source item`).toBeDefined();
    return [original as Item, got];
  });
  const categoryName = (categories: Category[], id: number | undefined) => categories.find((c) => c.id === id)?.name;

  // Counts by type: source - dropped - converted away + converted in == re-imported.
  const count = (items: Item[]) => {
    const out = new Map<TypeName, number>();
    for (const a of items.flatMap((i) => i.annotations)) out.set(typeOf(a), (out.get(typeOf(a)) ?? 0) + 1);
    return out;
  };
  const before = count(source.items);
  const after = count(copy.items);
  for (const type of new Set([...before.keys(), ...after.keys()])) {
    const converted = conversions.get(type) ?? 0;
    const convertedIn = type === "bbox" ? [...conversions.values()].reduce((n, c) => n + c, 0) : 0;
    const expected = (before.get(type) ?? 0) - (dropped.get(type)?.count ?? 0) - converted + convertedIn;
    expect(after.get(type) ?? 0, `${format.column}: ${type} annotations after the round trip`).toBe(expected);
  }

  // Each kept annotation: matched to the nearest of its item's annotations of the type it became.
  const kept = new Map<TypeName, { as: Set<TypeName>; differing: number; largest: number; total: number }>();
  const attributes = {
    annotations: 0,
    losing: 0,
    lost: new Set<string>(),
    added: new Set<string>(),
    retyped: new Set<string>(),
    allLost: true,
  };
  for (const [original, got] of pairs) {
    const unused = [...got.annotations];
    for (const a of original.annotations) {
      const type = typeOf(a);
      if (dropped.has(type)) continue;
      const name = categoryName(source.categories, a.categoryId);
      let best = -1;
      let bestDeviation = Number.POSITIVE_INFINITY;
      unused.forEach((candidate, i) => {
        if (categoryName(copy.categories, candidate.categoryId) !== name) return;
        const d = deviation(a, candidate);
        if (d < bestDeviation || (best < 0 && d === bestDeviation && typeOf(candidate) === type)) {
          best = i;
          bestDeviation = d;
        }
      });
      expect(best, `${format.column}: ${original.id}'s ${type} ${a.id} has no counterpart`).toBeGreaterThanOrEqual(0);
      const match = unused.splice(best, 1)[0] as Annotation;
      const entry = kept.get(type) ?? { as: new Set(), differing: 0, largest: 0, total: 0 };
      entry.as.add(typeOf(match));
      entry.total += 1;
      if (bestDeviation > EXACT) entry.differing += 1;
      entry.largest = Math.max(entry.largest, bestDeviation);
      kept.set(type, entry);
      const sourceAttributes = (a.attributes ?? {}) as JsonObject;
      const gotAttributes = (match.attributes ?? {}) as JsonObject;
      if (Object.keys(sourceAttributes).length > 0) {
        attributes.annotations += 1;
        if (Object.keys(sourceAttributes).every((key) => !(key in gotAttributes))) attributes.losing += 1;
        for (const [key, value] of Object.entries(sourceAttributes)) {
          if (!(key in gotAttributes)) attributes.lost.add(key);
          else {
            attributes.allLost = false;
            if (JSON.stringify(gotAttributes[key]) !== JSON.stringify(value)) attributes.retyped.add(key);
          }
        }
      }
      for (const key of Object.keys(gotAttributes)) if (!(key in sourceAttributes)) attributes.added.add(key);
    }
    expect(unused, `${format.column}: ${got.id} has annotations no source annotation became`).toEqual([]);
  }

  // Geometry differs only as declared: by the declared rounding (VOC: at most half a pixel, as many
  // annotations as it counted), else by the precision of the format's numbers (YOLO: 6 decimals).
  const rounded = [...changed].filter(([reason]) => /rounded/.test(reason)).reduce((n, [, c]) => n + c, 0);
  const differing = [...kept.values()].reduce((n, k) => n + k.differing, 0);
  const largest = Math.max(0, ...[...kept.values()].map((k) => k.largest));
  if (rounded > 0) {
    expect(differing, `${format.column}: annotations whose geometry changed`).toBe(rounded);
    expect(largest).toBeLessThanOrEqual(0.5 + EXACT);
  } else {
    expect(largest, `${format.column}: geometry kept to the format's precision`).toBeLessThanOrEqual(1e-6 * W + EXACT);
  }

  // Attributes lost or added are declared in the export's notes.
  const notes = firstExport.formatNotes;
  if (attributes.losing > 0) {
    expect(notes, `${format.column}: the notes declare the lost attributes`).toContainEqual(
      expect.stringMatching(new RegExp(`^attributes: dropped from ${attributes.losing} annotations`)),
    );
  }
  for (const key of attributes.added) {
    expect(notes, `${format.column}: the notes declare the ${key} attribute`).toContainEqual(
      expect.stringContaining(key),
    );
  }

  const source2 = source.categories.find((c) => c.keypoints.length > 0);
  const copy2 = copy.categories.find((c) => c.name === source2?.name);
  const skeletonOf = (c: Category | undefined) =>
    JSON.stringify([c?.keypoints, c?.skeleton.map((e) => [e.fromKeypoint, e.toKeypoint])]);

  const splits = new Map<string, string>();
  for (const [original, got] of pairs) {
    if (original.split !== got.split) splits.set(original.split || "(none)", got.split || "(none)");
  }
  const empty = source.items.filter((i) => i.annotations.length === 0);
  const keptEmpty = pairs.filter(([o, g]) => o.annotations.length === 0 && g.annotations.length === 0).length;
  const unicodeItems = pairs.filter(([o]) => /[^\x00-\x7f]/.test(o.id));
  const unicodeCategories = source.categories.filter((c) => /[^\x00-\x7f]/.test(c.name));
  return {
    format,
    firstExport,
    dropped,
    changed,
    kept,
    attributes,
    skeleton: skeletonOf(source2) === skeletonOf(copy2),
    splits,
    emptyImages: { source: empty.length, kept: keptEmpty },
    unicode: {
      categories: unicodeCategories.every((c) => copy.categories.some((k) => k.name === c.name)),
      items: unicodeItems.length > 0 && unicodeItems.every(([o, g]) => stem(g) === o.id || g.id === o.id),
    },
    itemIds: {
      same: pairs.filter(([o, g]) => o.id === g.id).length,
      total: pairs.length,
      example: pairs.find(([o, g]) => o.id !== g.id)?.[1].id ?? "",
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The table.

const ROWS = [
  "boxes",
  "polygons",
  "RLE masks",
  "keypoints",
  "skeleton",
  "tracks",
  "attributes",
  "splits",
  "empty images",
  "unicode names",
  "classification",
  "item ids",
] as const;
type Row = (typeof ROWS)[number];
const ROW_TYPES: Partial<Record<Row, TypeName>> = {
  boxes: "bbox",
  polygons: "polygon",
  "RLE masks": "mask",
  keypoints: "keypoints",
  tracks: "track",
  classification: "classification",
};

/** The text after "<type>: " of a drop reason. */
const why = (reason: string) => reason.slice(reason.indexOf(":") + 1).trim();

function cell(f: Findings, row: Row): string {
  const type = ROW_TYPES[row];
  if (type) {
    const drop = f.dropped.get(type);
    if (drop) return `no (dropped: ${[...new Set(drop.reasons.map(why))].join("; ")})`;
    const kept = f.kept.get(type);
    if (!kept) return "—";
    const how: string[] = [];
    for (const as of kept.as) if (as !== type) how.push(`written as its bounding box`);
    if (kept.differing > 0) {
      const rounding = [...f.changed.keys()].filter((r) => /rounded|clipped/.test(r));
      how.push(
        rounding.length > 0
          ? `${rounding.join("; ")}, at most ${round(kept.largest)} px`
          : `coordinates to 6 decimals of the image size, at most ${round(kept.largest)} px`,
      );
    }
    return how.length > 0 ? `changed (${how.join("; ")})` : "yes";
  }
  switch (row) {
    case "skeleton":
      return f.skeleton ? "yes" : "no (keypoint names and skeleton are not in the files)";
    case "attributes": {
      const a = f.attributes;
      if (a.allLost) return "no (dropped, counted in the export's notes)";
      const how: string[] = [];
      if (a.lost.size > 0) how.push(`loses ${[...a.lost].sort().join(", ")}`);
      if (a.retyped.size > 0) how.push(`values as text: ${[...a.retyped].sort().join(", ")}`);
      if (a.added.size > 0) how.push(`adds ${[...a.added].sort().join(", ")}, as the export's notes say`);
      return how.length > 0 ? `changed (${how.join("; ")})` : "yes";
    }
    case "splits":
      return f.splits.size === 0
        ? "yes"
        : `changed (${[...f.splits].map(([from, to]) => `${from} -> ${to}`).join(", ")})`;
    case "empty images":
      return f.emptyImages.kept === f.emptyImages.source
        ? "yes"
        : `no (${f.emptyImages.kept} of ${f.emptyImages.source} kept)`;
    case "unicode names":
      return f.unicode.categories && f.unicode.items ? "yes" : "no";
    case "item ids":
      return f.itemIds.same === f.itemIds.total
        ? "yes"
        : `changed (from the image's path, e.g. \`${f.itemIds.example}\`)`;
    default:
      return "—";
  }
}

const round = (n: number) => String(Math.round(n * 1e6) / 1e6);

function table(findings: Findings[]): string {
  const header = `| | ${findings.map((f) => f.format.column).join(" | ")} |`;
  const rule = `|---|${findings.map(() => "---").join("|")}|`;
  const rows = ROWS.map((row) => `| ${row} | ${findings.map((f) => cell(f, row)).join(" | ")} |`);
  return [header, rule, ...rows].join("\n");
}

const TABLE_START = "<!-- formats-table:start -->";
const TABLE_END = "<!-- formats-table:end -->";

function formatsDoc(tableText: string): string {
  return [
    "# What each format carries",
    "",
    "Written by `test/round-trip-matrix.test.ts` from its own results (rerun it with",
    "`UPDATE_FORMATS_TABLE=1` after changing an exporter or importer). Each column is one round trip of",
    "the same dataset: export (images included) -> ZIP -> `POST /api/import` into a fresh dataset ->",
    "export again, which is byte-identical to the first export. A cell is `yes` when the re-imported",
    "dataset has the feature exactly as the source had it, `changed (how)` when it differs only as the",
    "first export declared in its counts and notes (or, for YOLO's normalised coordinates, within their",
    "6 decimals), and `no (dropped: why)` when the first export dropped it and counted it.",
    "`labelport` is the jsonl export with `items: true` (items.jsonl and dataset.json).",
    "",
    TABLE_START,
    tableText,
    TABLE_END,
    "",
  ].join("\n");
}

function withTable(text: string, tableText: string): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) return text;
  return `${text.slice(0, start + TABLE_START.length)}\n${tableText}\n${text.slice(end)}`;
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  workers = await startPluginWorkers(stack);
  await mkdir(join(storageRoot, "media", "source"), { recursive: true });
  for (const [id] of SOURCE_ITEMS) {
    const video = id.startsWith("clip");
    await writeFile(
      join(storageRoot, "media", "source", `${id}.${video ? "mp4" : "png"}`),
      video ? Buffer.from("not really a video, but bytes to copy") : png(W, H),
    );
  }
  const { dataset } = await stack.datasets.createDataset({ name: SOURCE_NAME, categories: CATEGORIES });
  sourceId = dataset?.id ?? "";
  await stack.items.upsertItems({ datasetId: sourceId, items: SOURCE_ITEMS.map(sourceItem) });
});

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

const findings = new Map<string, Findings>();

describe("round-trip matrix", () => {
  for (const format of FORMATS) {
    it(`${format.column}: export -> import into a fresh dataset -> export is byte-identical; losses are as declared`, async () => {
      const source = await stack.datasets.getDataset({ datasetId: sourceId });
      const first = await runExport(sourceId, format);
      const { dataset: fresh } = await stack.datasets.createDataset({ name: `matrix-${format.column}-copy` });
      const copyId = fresh?.id ?? "";
      const res = await upload(
        `${stack.orchestrator.url}/api/import`,
        await zipFolder(format.column, first.files),
        { datasetId: copyId, format: format.importFormat },
        `${format.column}-export.zip`,
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      // Our own export imports without losses: whatever the format lost, the export said so.
      expect(res.body, JSON.stringify(res.body)).toMatchObject({ status: "completed", annotations: { dropped: 0 } });
      const second = await runExport(copyId, format);

      expect([...second.files.keys()].sort()).toEqual([...first.files.keys()].sort());
      const copy = await stack.datasets.getDataset({ datasetId: copyId });
      for (const [key, bytes] of first.files) {
        const again = second.files.get(key) as Buffer;
        if (key === MANIFEST) {
          expect(manifestWithoutIdentity(again, second.files), key).toEqual(
            manifestWithoutIdentity(bytes, first.files),
          );
        } else if (key === SUMMARY) {
          const lossy = (first.done.counts?.dropped.length ?? 0) > 0;
          expect(summaryWithoutIdentity(again, lossy), key).toEqual(summaryWithoutIdentity(bytes, lossy));
          expect(JSON.parse(again.toString("utf8")).annotationCount).toBe(Number(first.done.counts?.annotationCount));
        } else if (again.equals(bytes)) continue;
        else {
          // Only what names the dataset or the export may differ (items.jsonl's datasetId, COCO's info).
          expect(
            withoutExportIdentity(again, { id: copyId, name: copy.dataset?.name ?? "" }).split("\n"),
            `${format.column}: ${key} differs`,
          ).toEqual(withoutExportIdentity(bytes, { id: sourceId, name: SOURCE_NAME }).split("\n"));
        }
      }
      expect(second.done.counts?.annotationCount).toBe(first.done.counts?.annotationCount);

      const sourceItems = await streamAll(sourceId);
      const copyItems = await streamAll(copyId);
      // Items the format could not carry (the video) were counted as skipped.
      const skipped = JSON.parse(first.files.get(SUMMARY)?.toString("utf8") ?? "{}").skippedItemCount as number;
      expect(copyItems.length).toBe(sourceItems.length - skipped);
      if (format.importFormat === "labelport") {
        // Lossless: every item and annotation as it was, ids, attributes, times and versions included;
        // only the dataset id and where the dataset keeps its copy of the image differ.
        const plain = (items: Item[], datasetId: string) =>
          JSON.parse(
            JSON.stringify(
              items.map((item) => toJson(ItemSchema, { ...item, media: item.media && { ...item.media, uri: "" } })),
            ).replaceAll(datasetId, "<dataset id>"),
          ) as unknown;
        expect(plain(copyItems, copyId)).toEqual(plain(sourceItems, sourceId));
        expect(copy.dataset?.categories).toEqual(source.dataset?.categories);
      }
      const result = compareDatasets(
        format,
        first.done,
        { items: sourceItems, categories: source.dataset?.categories ?? [] },
        { items: copyItems, categories: copy.dataset?.categories ?? [] },
      );
      findings.set(format.column, result);
    });
  }

  it("the table of what each format carries is the one in docs/formats.md and README.md", () => {
    expect([...findings.keys()], "every round trip ran").toEqual(FORMATS.map((f) => f.column));
    const tableText = table(FORMATS.map((f) => findings.get(f.column) as Findings));
    const docPath = join(ROOT, "docs", "formats.md");
    const readmePath = join(ROOT, "README.md");
    const readme = readFileSync(readmePath, "utf8");
    if (process.env.UPDATE_FORMATS_TABLE) {
      writeFileSync(docPath, formatsDoc(tableText));
      writeFileSync(readmePath, withTable(readme, tableText));
    }
    const hint = "the round trips found another table: rerun with UPDATE_FORMATS_TABLE=1 and commit the result";
    expect(readFileSync(docPath, "utf8"), hint).toBe(formatsDoc(tableText));
    expect(readFileSync(readmePath, "utf8").includes(`${TABLE_START}\n${tableText}\n${TABLE_END}`), hint).toBe(true);
  });
});

// A dataset written by another tool: datumaro writes COCO and VOC with its images; each imports
// through the server into a fresh dataset and exports back to COCO, which pycocotools loads with
// the images, objects and categories datumaro wrote.
const DATUMARO_WRITE = `
import sys, logging
logging.disable(logging.WARNING)
import numpy as np
import datumaro as dm
image = lambda h, w: dm.Image.from_numpy(np.zeros((h, w, 3), dtype=np.uint8))
ds = dm.Dataset.from_iterable([
    dm.DatasetItem(id="a", subset="train", media=image(40, 60), annotations=[
        dm.Bbox(10, 5, 20, 10, label=0, attributes={"difficult": True}),
        dm.Bbox(0, 0, 60, 40, label=1),
    ]),
    dm.DatasetItem(id="b", subset="val", media=image(30, 30), annotations=[dm.Bbox(3, 4, 5, 6, label=1)]),
    dm.DatasetItem(id="c", subset="train", media=image(20, 20)),
], categories=["cat", "dog"])
ds.export(sys.argv[1], sys.argv[2], save_media=True)
`;

const PYCOCOTOOLS_COUNT = `
import sys, json, glob, io, contextlib
from pycocotools.coco import COCO
out = {"images": 0, "annotations": 0, "categories": set()}
for path in sorted(glob.glob(sys.argv[1] + "/annotations/instances_*.json")):
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    out["images"] += len(coco.getImgIds())
    out["annotations"] += len(coco.getAnnIds())
    out["categories"].update(c["name"] for c in coco.loadCats(coco.getCatIds()))
out["categories"] = sorted(out["categories"])
print(json.dumps(out))
`;

describe("a dataset exported by another tool", () => {
  for (const [datumaroFormat, importFormat] of [
    ["coco_instances", "coco"],
    ["voc_detection", "voc"],
  ] as const) {
    it(`imports datumaro's ${datumaroFormat} and exports it back to COCO that pycocotools loads`, async () => {
      const written = mkdtempSync(join(scratch, `datumaro-${importFormat}-`));
      await runPython(DATUMARO_WRITE, [written, datumaroFormat]);
      const files = new Map<string, Buffer>();
      const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) walk(path);
          else files.set(relative(written, path).split("\\").join("/"), readFileSync(path));
        }
      };
      walk(written);
      const { dataset } = await stack.datasets.createDataset({ name: `from-datumaro-${importFormat}` });
      const datasetId = dataset?.id ?? "";
      const res = await upload(
        `${stack.orchestrator.url}/api/import`,
        await zipFolder(`datumaro-${importFormat}`, files),
        { datasetId, format: importFormat },
        "datumaro.zip",
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body, JSON.stringify(res.body)).toMatchObject({
        status: "completed",
        annotations: { written: 3, dropped: 0 },
      });
      const coco = await runExport(datasetId, FORMATS[1] as Format);
      const exported = mkdtempSync(join(scratch, `datumaro-${importFormat}-coco-`));
      for (const [key, bytes] of coco.files) {
        await mkdir(dirname(join(exported, key)), { recursive: true });
        await writeFile(join(exported, key), bytes);
      }
      expect(await runPythonJson(PYCOCOTOOLS_COUNT, [exported])).toEqual({
        images: 3,
        annotations: 3,
        categories: ["cat", "dog"],
      });
    }, 600_000);
  }
});
