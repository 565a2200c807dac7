// JSON Lines exporter (the video track export's lines): one video annotation (a bounding-box track)
// per line, keyframes only or fully interpolated; "json" writes the same objects as one array.
// `items: true` adds the lossless pair used for round trips: items.jsonl and dataset.json.
import {
  annotationTypeName,
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
  items: z
    .boolean()
    .default(false)
    .describe(
      "Also write items.jsonl (one lossless item JSON per line) and dataset.json (the dataset and its categories).",
    ),
});

export type JsonlOptions = z.output<typeof options>;

export const ANNOTATIONS_JSONL = "annotations.jsonl";
export const ANNOTATIONS_JSON = "annotations.json";
export const ITEMS_JSONL = "items.jsonl";
export const DATASET_JSON = "dataset.json";

/**
 * dataset.json: what items.jsonl refers to, so the pair imports into a dataset that has none of it.
 * Categories in protobuf JSON (`Category`) with every field present, ordered by id.
 */
export interface DatasetJson {
  schemaVersion: 1;
  id: string;
  name: string;
  categories: Array<{
    id: number;
    name: string;
    supercategory: string;
    keypoints: string[];
    skeleton: Array<{ fromKeypoint: number; toKeypoint: number }>;
  }>;
}

export function datasetJson(dataset: ExportContext<unknown>["dataset"]): DatasetJson {
  return {
    schemaVersion: 1,
    id: dataset.id,
    name: dataset.name,
    categories: [...dataset.categories]
      .sort((a, b) => a.id - b.id)
      .map((c) => ({
        id: c.id,
        name: c.name,
        supercategory: c.supercategory,
        keypoints: [...c.keypoints],
        skeleton: c.skeleton.map((e) => ({ fromKeypoint: e.fromKeypoint, toKeypoint: e.toKeypoint })),
      })),
  };
}

export default class JsonlExporter extends BaseExporter<JsonlOptions> {
  static override manifest = {
    name: "jsonl",
    version: "1.0.0",
    formats: ["jsonl", "json"],
    sdk: "^0.1.0",
    description:
      "Video annotations (bounding-box tracks) as JSON Lines or a JSON array; with items: true also the lossless " +
      "items.jsonl (every item and annotation, protobuf JSON) and dataset.json (the dataset and its categories).",
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
    const annotationsKey = asArray ? ANNOTATIONS_JSON : ANNOTATIONS_JSONL;
    let written = 0;
    let invalid = 0;
    if (asArray) await annotations.write("[");
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      const placement = layout.place(item);
      for (const annotation of item.annotations) {
        if (!isVideoAnnotation(annotation)) {
          // items.jsonl carries it; without it, nothing does.
          if (!items) {
            ctx.drop(
              `${annotationTypeName(annotation)}: ${annotationsKey} carries video tracks only (items: true writes every annotation)`,
            );
          }
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
    if (items) await ctx.storage.writeJson(DATASET_JSON, datasetJson(ctx.dataset), { pretty: true });
    if (invalid > 0) ctx.note(`${invalid} tracks have invalid sequences (exported as stored)`);
    await layout.finish();
  }
}

export { importers } from "./importer.ts";
