// Labelport CSV importer: reads back what the csv exporter writes (annotations.csv, one row per
// annotation, one row with empty annotation columns for an item without any), also after a
// spreadsheet saved it: `;` or tab delimiters and a byte order mark are detected, columns are found
// by their header names (extra or missing optional columns are fine). The ' the exporter puts before
// cells a spreadsheet would run as formulas is removed where the exporter put it.
//
// Rows of one item are together (the exporter writes them so): items are built one at a time and
// memory is bounded by the batch. Categories (id and name, the CSV has nothing else) come last,
// once every row is read.
import { create, fromJson, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Annotation,
  BaseImporter,
  type Category,
  type ImportBatch,
  type ImportContext,
  type ImportSource,
  ImportSourceError,
  type Item,
  MAX_LINE_BYTES,
  type SourceFile,
  z,
} from "@labelport/sdk";
import {
  AnnotationSchema,
  AnnotationType,
  BoundingBoxSchema,
  BoundingBoxSequenceSchema,
  CategorySchema,
  ItemKind,
  ItemSchema,
  ItemStatus,
  KeypointListSchema,
  MaskSchema,
  PointListSchema,
} from "@labelport/sdk/contracts";
import { parse } from "csv-parse";
import { restoreFormula } from "./formula-cells.ts";

const options = z.strictObject({
  formulasNeutralized: z
    .boolean()
    .default(true)
    .describe(
      "The CSV was written with neutralizeFormulas (the exporter's default): remove the ' it put before = + - @.",
    ),
});

export type CsvImportOptions = z.output<typeof options>;

const BATCH_ITEMS = 500;
const CSV_KEY = "annotations.csv";
const DELIMITERS = [",", ";", "\t"] as const;

type Row = Record<string, string>;

interface ItemRows {
  id: string;
  first: Row;
  line: number;
  annotations: Annotation[];
}

export class CsvImporter extends BaseImporter<CsvImportOptions> {
  static override manifest = {
    name: "csv-importer",
    version: "1.0.0",
    formats: ["csv"],
    sdk: "^0.1.0",
    description:
      "Labelport CSV (annotations.csv, one row per annotation), as exported or saved again by a spreadsheet " +
      "(`,` `;` or tab delimiters, byte order mark); images beside it under images/<split>/ are stored as media.",
  };

  readonly options = options;

  async *import(ctx: ImportContext<CsvImportOptions>): AsyncGenerator<ImportBatch> {
    const { file, prefix } = findCsv(ctx.source);
    const categories = new Map<number, Category>();
    const finished = new Set<string>();
    let current: ItemRows | undefined;
    let batch: Item[] = [];
    const cell = (row: Row, column: string) => {
      const value = row[column] ?? "";
      return ctx.options.formulasNeutralized ? restoreFormula(value) : value;
    };
    for await (const { row, line } of readRows(file)) {
      if (line % 1024 === 0) ctx.signal.throwIfAborted();
      const itemId = cell(row, "item_id");
      if (itemId === "") throw rowError(file, line, "item_id is empty");
      if (current?.id !== itemId) {
        if (current) {
          finished.add(current.id);
          batch.push(await buildItem(ctx, current, cell, prefix));
          if (batch.length >= BATCH_ITEMS) {
            yield { items: batch };
            batch = [];
          }
        }
        if (finished.has(itemId)) {
          throw rowError(file, line, `rows of item "${itemId}" are not together; sort the rows by item_id`);
        }
        current = { id: itemId, first: row, line, annotations: [] };
      }
      const annotation = readAnnotation(ctx, current, row, line, file, cell, categories);
      if (annotation) current.annotations.push(annotation);
    }
    if (current) batch.push(await buildItem(ctx, current, cell, prefix));
    if (batch.length > 0) yield { items: batch };
    yield { categories: [...categories.values()].sort((a, b) => a.id - b.id) };
  }
}

export default CsvImporter;

export const importers = [CsvImporter];

function findCsv(source: ImportSource): { file: SourceFile; prefix: string } {
  const csvFiles = source.files.filter((f) => /\.csv$/i.test(f.path));
  const ours = csvFiles.find((f) => f.path === CSV_KEY || /^[^/]+\/annotations\.csv$/.test(f.path));
  const file = ours ?? (csvFiles.length === 1 ? csvFiles[0] : undefined);
  if (!file) {
    throw new ImportSourceError(
      csvFiles.length > 1
        ? `${source.fileName}: ${csvFiles.length} CSV files and none is ${CSV_KEY}; upload one`
        : `${source.fileName}: no CSV file; expected ${CSV_KEY} (a Labelport CSV export)`,
    );
  }
  return { file, prefix: file.path.slice(0, file.path.lastIndexOf("/") + 1) };
}

function rowError(file: SourceFile, line: number, message: string): ImportSourceError {
  return new ImportSourceError(`${file.path}: line ${line}: ${message}`);
}

/** The delimiter of the header line: the most frequent of `,` `;` tab (our header has no quotes). */
async function detectDelimiter(file: SourceFile): Promise<string> {
  const stream = await file.stream();
  let head = "";
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      head += chunk.toString("utf8");
      if (head.includes("\n") || head.length > 65536) break;
    }
  } finally {
    stream.destroy();
  }
  const header = head.split(/\r?\n/)[0] ?? "";
  const counts = DELIMITERS.map((d) => header.split(d).length - 1);
  const best = counts.indexOf(Math.max(...counts));
  return DELIMITERS[best] ?? ",";
}

async function* readRows(file: SourceFile): AsyncGenerator<{ row: Row; line: number }> {
  const delimiter = await detectDelimiter(file);
  const stream = await file.stream();
  const parser = stream.pipe(
    parse({
      delimiter,
      bom: true,
      columns: (header: string[]) => header.map((h) => h.trim().toLowerCase()),
      info: true,
      skip_empty_lines: true,
      max_record_size: MAX_LINE_BYTES,
    }),
  );
  // pipe() does not pass on the source's errors: the parser must fail with them, or they go unheard.
  stream.once("error", (err) => parser.destroy(err));
  let headerChecked = false;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Row; info: { lines: number } }>) {
      if (!headerChecked) {
        if (!("item_id" in record)) {
          throw new ImportSourceError(`${file.path}: line 1: no item_id column; not a Labelport CSV export`);
        }
        headerChecked = true;
      }
      yield { row: record, line: info.lines };
    }
  } catch (err) {
    if (err instanceof ImportSourceError) throw err;
    throw new ImportSourceError(`${file.path}: not a readable CSV (${(err as Error).message})`);
  } finally {
    stream.destroy();
  }
  if (!headerChecked) throw new ImportSourceError(`${file.path}: no rows below the header`);
}

type Cell = (row: Row, column: string) => string;

const TYPES: Record<string, AnnotationType> = {
  bbox: AnnotationType.BBOX,
  polygon: AnnotationType.POLYGON,
  polyline: AnnotationType.POLYLINE,
  keypoints: AnnotationType.KEYPOINTS,
  classification: AnnotationType.CLASSIFICATION,
  track: AnnotationType.TRACK,
  mask: AnnotationType.MASK,
};

function readAnnotation(
  ctx: ImportContext<unknown>,
  item: ItemRows,
  row: Row,
  line: number,
  file: SourceFile,
  cell: Cell,
  categories: Map<number, Category>,
): Annotation | undefined {
  const typeName = cell(row, "type");
  const annotationId = cell(row, "annotation_id");
  if (typeName === "" && annotationId === "") return undefined;
  const type = TYPES[typeName];
  if (type === undefined) {
    ctx.drop(`unknown annotation type '${typeName}'`);
    return undefined;
  }
  const categoryText = cell(row, "category_id");
  const categoryName = cell(row, "category_name");
  let categoryId: number | undefined;
  if (categoryText !== "") {
    categoryId = Number(categoryText);
    if (!Number.isInteger(categoryId) || categoryId < 0 || categoryId > 0xffffffff) {
      throw rowError(file, line, `category_id "${categoryText}" is not a whole number`);
    }
    const known = categories.get(categoryId);
    if (known && known.name !== categoryName) {
      throw rowError(file, line, `category ${categoryId} is named both "${known.name}" and "${categoryName}"`);
    }
    if (!known) categories.set(categoryId, create(CategorySchema, { id: categoryId, name: categoryName }));
  } else if (categoryName !== "") {
    ctx.drop(`category '${categoryName}' without a category_id`);
    return undefined;
  }
  const attributesText = cell(row, "attributes");
  const attributes = attributesText === "" ? undefined : jsonObject(attributesText, file, line, "attributes");
  const geometryText = cell(row, "geometry");
  const geometry = geometryText === "" ? undefined : jsonObject(geometryText, file, line, "geometry");
  const created = time(cell(row, "created_at"), file, line, "created_at");
  const updated = time(cell(row, "updated_at"), file, line, "updated_at");
  try {
    return create(AnnotationSchema, {
      id: annotationId || `${item.id}:${item.annotations.length + 1}`,
      itemId: item.id,
      personaId: cell(row, "persona_id"),
      type,
      ...(categoryId === undefined ? {} : { categoryId }),
      ...(attributes ? { attributes } : {}),
      geometry: geometryOf(typeName, geometry),
      ...(created ? { createTime: created } : {}),
      ...(updated ? { updateTime: updated } : {}),
    });
  } catch (err) {
    throw rowError(file, line, `geometry does not fit type ${typeName} (${(err as Error).message})`);
  }
}

/** The geometry column (geometryJson's shape: the protobuf JSON of the geometry) for the type. */
function geometryOf(typeName: string, geometry: JsonObject | undefined): Annotation["geometry"] {
  if (!geometry) return { case: undefined };
  switch (typeName) {
    case "bbox":
      return { case: "bbox", value: fromJson(BoundingBoxSchema, geometry) };
    case "polygon":
      return { case: "polygon", value: fromJson(PointListSchema, geometry) };
    case "polyline":
      return { case: "polyline", value: fromJson(PointListSchema, geometry) };
    case "keypoints":
      return { case: "keypoints", value: fromJson(KeypointListSchema, geometry) };
    case "track":
      return { case: "boxSequence", value: fromJson(BoundingBoxSequenceSchema, geometry) };
    case "mask":
      return { case: "mask", value: fromJson(MaskSchema, geometry) };
    default:
      return { case: undefined };
  }
}

function jsonObject(text: string, file: SourceFile, line: number, column: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw rowError(file, line, `${column} is not valid JSON (${(err as Error).message})`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw rowError(file, line, `${column} must be a JSON object`);
  }
  return value as JsonObject;
}

function time(text: string, file: SourceFile, line: number, column: string) {
  if (text === "") return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw rowError(file, line, `${column} "${text}" is not an ISO 8601 time`);
  return timestampFromMs(ms);
}

async function buildItem(ctx: ImportContext<unknown>, rows: ItemRows, cell: Cell, prefix: string): Promise<Item> {
  const fileName = cell(rows.first, "file_name");
  const split = cell(rows.first, "split");
  const image = fileName ? ctx.source.file(`${prefix}images/${split || "default"}/${fileName}`) : undefined;
  let width = dimension(cell(rows.first, "image_width"));
  let height = dimension(cell(rows.first, "image_height"));
  if (image && (!width || !height)) {
    const size = await ctx.imageSize(image);
    width = size?.width ?? 0;
    height = size?.height ?? 0;
  }
  const video = rows.annotations.some((a) => a.geometry.case === "boxSequence");
  // A folder in file_name is the item's meta.category (an export with categoryFolders wrote it).
  const slash = fileName.lastIndexOf("/");
  return create(ItemSchema, {
    id: rows.id,
    kind: video ? ItemKind.VIDEO : ItemKind.IMAGE,
    status: ItemStatus.APPROVED,
    split,
    media: {
      uri: image ? await ctx.storeMedia(image) : fileName,
      fileName: fileName.slice(slash + 1),
      width,
      height,
    },
    ...(slash > 0 ? { meta: { category: fileName.slice(0, slash) } } : {}),
    annotations: rows.annotations,
  });
}

function dimension(text: string): number {
  const value = Number(text);
  return text !== "" && Number.isInteger(value) && value > 0 ? value : 0;
}
