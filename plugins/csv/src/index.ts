// CSV exporter: annotations.csv, one row per annotation (one row with empty annotation columns
// for an item without annotations). RFC 4180: CRLF line ends, fields quoted when they hold a
// quote, comma, CR or LF, quotes doubled. Cells that a spreadsheet would run as a formula
// (starting with = + - @ tab or CR) get a leading ' unless neutralizeFormulas is false.
//
// Columns: item_id, file_name (the image's path below images/<split>/, as save_original_file
// writes it), split (empty when unsplit), category_id, category_name, annotation_id, type (bbox,
// polygon, polyline, keypoints, classification, track), geometry (JSON: bbox {x,y,width,height};
// polygon/polyline {points:[x1,y1,...]}; keypoints {keypoints:[{x,y,visibility}]}; track
// {interpolationMode,boxes}; empty for classification), attributes (JSON object, empty when
// none), persona_id, created_at, updated_at (ISO 8601 UTC).
import {
  annotationTypeName,
  BaseExporter,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  geometryJson,
  isoTime,
  z,
} from "@labelport/sdk";

const options = z.strictObject({
  ...commonOptionsShape,
  bom: z.boolean().default(false).describe("Start the file with a UTF-8 byte order mark (for Excel)."),
  neutralizeFormulas: z
    .boolean()
    .default(true)
    .describe("Prefix cells starting with = + - @ tab or CR with ' so spreadsheets do not run them."),
});

export type CsvOptions = z.output<typeof options>;

export const CSV_KEY = "annotations.csv";

export const CSV_COLUMNS = [
  "item_id",
  "file_name",
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

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/** One RFC 4180 field. */
export function csvField(value: string, neutralizeFormulas: boolean): string {
  const text = neutralizeFormulas && FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One record with its CRLF. */
export function csvRecord(values: readonly string[], neutralizeFormulas: boolean): string {
  return `${values.map((v) => csvField(v, neutralizeFormulas)).join(",")}\r\n`;
}

export default class CsvExporter extends BaseExporter<CsvOptions> {
  static override manifest = {
    name: "csv",
    version: "1.0.0",
    formats: ["csv"],
    sdk: "^0.1.0",
    description: "One CSV row per annotation (RFC 4180, formula injection neutralised).",
  };

  readonly options = options;

  async export(ctx: ExportContext<CsvOptions>): Promise<void> {
    const { bom, neutralizeFormulas } = ctx.options;
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const out = await ctx.storage.open(CSV_KEY, { contentType: "text/csv; charset=utf-8" });
    // The header is ours and never neutralised.
    await out.write(`${bom ? "\uFEFF" : ""}${csvRecord(CSV_COLUMNS, false)}`);
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      const placement = layout.place(item);
      const itemColumns = [item.id, placement.file, item.split];
      if (item.annotations.length === 0) {
        await out.write(csvRecord([...itemColumns, "", "", "", "", "", "", "", "", ""], neutralizeFormulas));
      }
      let rows = "";
      for (const annotation of item.annotations) {
        const categoryId = annotation.categoryId;
        const geometry = geometryJson(annotation);
        const attributes = annotation.attributes;
        rows += csvRecord(
          [
            ...itemColumns,
            categoryId === undefined ? "" : String(categoryId),
            categoryId === undefined ? "" : (categories.get(categoryId)?.name ?? ""),
            annotation.id,
            annotationTypeName(annotation),
            geometry === null ? "" : JSON.stringify(geometry),
            attributes && Object.keys(attributes).length > 0 ? JSON.stringify(attributes) : "",
            annotation.personaId,
            isoTime(annotation.createTime) ?? "",
            isoTime(annotation.updateTime) ?? "",
          ],
          neutralizeFormulas,
        );
      }
      if (rows) await out.write(rows);
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    await out.close();
    await layout.finish();
  }
}
