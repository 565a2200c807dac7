// CSV exporter: annotations.csv, one row per annotation (one row with empty annotation columns
// for an item without annotations). RFC 4180: CRLF line ends, quotes doubled. A field is quoted
// when it holds a quote, CR or LF, or the delimiter of any common locale (`,` `;` tab): a
// spreadsheet that guesses `;` must not split a cell. Cells that a spreadsheet would run as a
// formula (OWASP CSV injection: starting with = + - @ tab or CR, also after leading spaces) get a
// leading ' unless neutralizeFormulas is false; so does what follows a `;` or tab inside a cell,
// where a spreadsheet splitting at those would start a cell.
//
// Columns: item_id, file_name (the image's path below images/<split>/, as save_original_file
// writes it), image_width, image_height (pixels; empty when unknown), split (empty when unsplit), category_id, category_name, annotation_id, type (bbox,
// polygon, polyline, keypoints, classification, track), geometry (JSON: bbox {x,y,width,height};
// polygon/polyline {points:[x1,y1,...]}; keypoints {keypoints:[{x,y,visibility}]}; track
// {interpolationMode,boxes}; mask {width,height,counts} (COCO uncompressed RLE); empty for
// classification), attributes (JSON object, empty when
// none), persona_id, created_at, updated_at (ISO 8601 UTC). Every annotation kind has a JSON form,
// so nothing is dropped or changed: annotationCount is the number of annotation rows.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type Annotation,
  annotationTypeName,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  finishExportLayout,
  type GatheredFileFormat,
  geometryJson,
  isoTime,
  type JoinContext,
  joinGatheredFile,
  openGatheredFile,
  SplittableExporter,
  z,
} from "@labelport/sdk";

const options = z.strictObject({
  ...commonOptionsShape,
  bom: z.boolean().default(false).describe("Start the file with a UTF-8 byte order mark (for Excel)."),
  neutralizeFormulas: z
    .boolean()
    .default(true)
    .describe(
      "Prefix cells starting with = + - @ (after any spaces), tab or CR with ' so spreadsheets do not run them.",
    ),
});

export type CsvOptions = z.output<typeof options>;

export const CSV_KEY = "annotations.csv";
/** A shard's rows, joined in shard order below the header. */
const ROWS_PART = "rows";

export const CSV_COLUMNS = [
  "item_id",
  "file_name",
  "image_width",
  "image_height",
  "split",
  "category_id",
  "category_name",
  "annotation_id",
  "type",
  "geometry",
  "attributes",
  "persona_id",
  "created_at",
  "updated_at",
] as const;

/** A cell a spreadsheet would evaluate; spreadsheets skip leading spaces before `=`. */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@]/;
/** A `;` or tab before a formula (spaces and a quote may come between): a cell start in `;` or tab locales. */
const FORMULA_AFTER_SEPARATOR = /([;\t])(?=[\s"]*[=+\-@])/g;
const NEEDS_QUOTES = /[",;\t\r\n]/;

/** The value with a ' before every place a spreadsheet of any common locale would start a formula. */
export function neutralizeFormula(value: string): string {
  const inner = value.replace(FORMULA_AFTER_SEPARATOR, "$1'");
  return FORMULA_START.test(inner) ? `'${inner}` : inner;
}

/** What makes a field more than itself: a quote, a line break, or a separator of some locale. */
const NOT_PLAIN = /[\t\r\n",;]/;

/** One RFC 4180 field. */
export function csvField(value: string, neutralizeFormulas: boolean): string {
  // Most cells (ids, numbers, times) need no quotes and hold no separator a formula could follow:
  // one scan, no copy.
  if (!NOT_PLAIN.test(value)) return neutralizeFormulas && FORMULA_START.test(value) ? `'${value}` : value;
  const text = neutralizeFormulas ? neutralizeFormula(value) : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record with its CRLF. */
export function csvRecord(values: readonly string[], neutralizeFormulas: boolean): string {
  return `${values.map((v) => csvField(v, neutralizeFormulas)).join(",")}\r\n`;
}

/** The geometry column: JSON, empty for none. */
export function geometryCell(annotation: Annotation, field: (value: string) => string): string {
  const { geometry } = annotation;
  // Boxes and point lists, most of any export, are written straight from their numbers (the cell
  // as quoted JSON): building the object, its JSON and the quoted copy was a sixth of the
  // plugin's CPU, with as much again in collecting them. A finite number's JSON is its String().
  if (geometry.case === "bbox") {
    const { x, y, width, height } = geometry.value;
    if (Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(width) && Number.isFinite(height)) {
      return `"{""x"":${x},""y"":${y},""width"":${width},""height"":${height}}"`;
    }
  } else if (geometry.case === "polygon" || geometry.case === "polyline") {
    const { points } = geometry.value;
    if (points.every(Number.isFinite)) return `"{""points"":[${points.join(",")}]}"`;
  }
  const json = geometryJson(annotation);
  if (json === null) return "";
  const text = JSON.stringify(json);
  // Numbers under our own keys: always quoted (it holds `"` and `,`) and never a formula (it starts
  // with `{`), which is what csvField decides, without its scans. A track's interpolation mode is text.
  return geometry.case === "boxSequence" ? field(text) : `"${text.replaceAll('"', '""')}"`;
}

/** A time column's cell, remembering the last time: an item's annotations often share theirs. */
function timeCells(field: (value: string) => string): (timestamp: Timestamp | undefined) => string {
  let seconds: bigint | undefined;
  let nanos = -1;
  let cell = "";
  return (timestamp) => {
    if (!timestamp) return "";
    if (timestamp.seconds !== seconds || timestamp.nanos !== nanos) {
      ({ seconds, nanos } = timestamp);
      cell = field(isoTime(timestamp) ?? "");
    }
    return cell;
  };
}

/** annotations.csv: the header (after the BOM, when asked), then every item's rows; each row ends in CRLF. */
function csvFile(bom: boolean): GatheredFileFormat {
  // The header is ours and never neutralised.
  return { contentType: "text/csv; charset=utf-8", head: `${bom ? "\uFEFF" : ""}${csvRecord(CSV_COLUMNS, false)}` };
}

export default class CsvExporter extends SplittableExporter<CsvOptions> {
  static override manifest = {
    name: "csv",
    version: "1.0.0",
    formats: ["csv"],
    sdk: "^0.1.0",
    description: "One CSV row per annotation (RFC 4180, formula injection neutralised).",
  };

  readonly options = options;

  async exportShard(ctx: ExportContext<CsvOptions>): Promise<null> {
    const { bom, neutralizeFormulas } = ctx.options;
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const csv = openGatheredFile(ctx, CSV_KEY, ROWS_PART, csvFile(bom));
    const field = (value: string) => csvField(value, neutralizeFormulas);
    // Cells that repeat (a category's name, a time shared by an item's annotations) are written once.
    const categoryCells = new Map<number, string>();
    const categoryCell = (id: number | undefined) => {
      if (id === undefined) return ",";
      let cell = categoryCells.get(id);
      if (cell === undefined) {
        cell = `${id},${field(categories.get(id)?.name ?? "")}`;
        categoryCells.set(id, cell);
      }
      return cell;
    };
    const time = timeCells(field);
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      const placement = layout.place(item);
      const size = (n: number | undefined) => (n ? String(n) : "");
      const itemColumns = [item.id, placement.file, size(item.media?.width), size(item.media?.height), item.split];
      let rows = "";
      if (item.annotations.length === 0) {
        const empty = CSV_COLUMNS.length - itemColumns.length;
        rows = csvRecord([...itemColumns, ...Array<string>(empty).fill("")], neutralizeFormulas);
      }
      const itemCells = itemColumns.map(field).join(",");
      for (const annotation of item.annotations) {
        const { attributes } = annotation;
        // In CSV_COLUMNS order; the type is one of our own names, never quoted.
        rows += `${itemCells},${categoryCell(annotation.categoryId)},${field(annotation.id)},${annotationTypeName(annotation)},${geometryCell(annotation, field)},${
          attributes && Object.keys(attributes).length > 0 ? field(JSON.stringify(attributes)) : ""
        },${field(annotation.personaId)},${time(annotation.createTime)},${time(annotation.updateTime)}\r\n`;
      }
      await csv.add(rows);
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    await csv.close();
    await layout.finish();
    return null;
  }

  async join(ctx: JoinContext<CsvOptions>): Promise<void> {
    await joinGatheredFile(ctx, CSV_KEY, ROWS_PART, csvFile(ctx.options.bom));
    await finishExportLayout(ctx, ctx.options);
  }
}

export { importers } from "./importer.ts";
