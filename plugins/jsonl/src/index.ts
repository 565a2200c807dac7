// JSON Lines exporter (the video track export's lines): one video annotation (a bounding-box track)
// per line, keyframes only or fully interpolated; "json" writes the same objects as one array.
// `items: true` adds the lossless item JSONL used for round trips.
import {
  BaseExporter,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  isVideoAnnotation,
  itemToJson,
  validateBoxSequence,
  videoAnnotationLine,
  z,
} from "@labelport/sdk";

const options = z.strictObject({
  ...commonOptionsShape,
  includeInterpolated: z
    .boolean()
    .default(false)
    .describe("Write every frame between keyframes (fully interpolated), not keyframes only."),
  items: z.boolean().default(false).describe("Also write items.jsonl: one lossless item JSON per line."),
});

export type JsonlOptions = z.output<typeof options>;

export const ANNOTATIONS_JSONL = "annotations.jsonl";
export const ANNOTATIONS_JSON = "annotations.json";
export const ITEMS_JSONL = "items.jsonl";

export default class JsonlExporter extends BaseExporter<JsonlOptions> {
  static override manifest = {
    name: "jsonl",
    version: "1.0.0",
    formats: ["jsonl", "json"],
    sdk: "^0.1.0",
    description: "Video annotations (bounding-box tracks) as JSON Lines or a JSON array, and lossless item JSONL.",
  };

  readonly options = options;

  async export(ctx: ExportContext<JsonlOptions>): Promise<void> {
    const asArray = ctx.export.format === "json";
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const lineOptions = {
      includeInterpolated: ctx.options.includeInterpolated,
      category: (id: number) => categories.get(id),
    };
    const annotations = asArray
      ? await ctx.storage.open(ANNOTATIONS_JSON, { contentType: "application/json" })
      : await ctx.storage.open(ANNOTATIONS_JSONL, { contentType: "application/x-ndjson" });
    const items = ctx.options.items
      ? await ctx.storage.open(ITEMS_JSONL, { contentType: "application/x-ndjson" })
      : undefined;
    let written = 0;
    let notTracks = 0;
    let invalid = 0;
    if (asArray) await annotations.write("[");
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      const placement = layout.place(item);
      for (const annotation of item.annotations) {
        if (!isVideoAnnotation(annotation)) {
          notTracks += 1;
          continue;
        }
        if (annotation.geometry.case === "boxSequence" && validateBoxSequence(annotation.geometry.value).length > 0) {
          invalid += 1;
        }
        const line = videoAnnotationLine(annotation, lineOptions);
        await annotations.write(asArray ? `${written === 0 ? "\n" : ",\n"}${line}` : `${line}\n`);
        written += 1;
      }
      if (items) await items.write(`${JSON.stringify(itemToJson(item))}\n`);
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    if (asArray) await annotations.write(written === 0 ? "]\n" : "\n]\n");
    await annotations.close();
    await items?.close();
    if (notTracks > 0) {
      ctx.note(
        `${notTracks} annotations are not video tracks and are not in ${asArray ? ANNOTATIONS_JSON : ANNOTATIONS_JSONL}` +
          (ctx.options.items ? "" : " (items: true writes them losslessly)"),
      );
    }
    if (invalid > 0) ctx.note(`${invalid} tracks have invalid sequences (exported as stored)`);
    await layout.finish();
  }
}
