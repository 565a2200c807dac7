// JSON Lines exporter (the video track export's lines): one video annotation (a bounding-box track)
// per line, keyframes only or fully interpolated; "json" writes the same objects as one array.
// `items: true` adds the lossless pair used for round trips: items.jsonl and dataset.json.
import {
  annotationTypeName,
  type Category,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  finishExportLayout,
  type GatheredFileFormat,
  isVideoAnnotation,
  itemToJson,
  type JoinContext,
  joinGatheredFile,
  openGatheredFile,
  SplittableExporter,
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

/** JSON Lines: every line ends in `\n`; an empty file when there is none. */
const LINES_FILE: GatheredFileFormat = {
  contentType: "application/x-ndjson",
  between: "\n",
  tail: "\n",
  emptyTail: "",
};
/** annotations.json: `[`, each element on its own line after `\n` or `,\n`, then `\n]\n` (`[]\n` when empty). */
const ARRAY_FILE: GatheredFileFormat = {
  contentType: "application/json",
  head: "[",
  first: "\n",
  between: ",\n",
  tail: "\n]\n",
  emptyTail: "]\n",
};
/** Shard parts: the annotation lines or elements, and the item lines. */
const ANNOTATIONS_PART = "annotations";
const ITEMS_PART = "items";

/** What a shard tells the join: the count behind the invalid-track note. */
interface JsonlShardState {
  invalid: number;
}

/** The annotations file of the format: its key and framing. */
function annotationsFile(format: string): { key: string; format: GatheredFileFormat } {
  return format === "json"
    ? { key: ANNOTATIONS_JSON, format: ARRAY_FILE }
    : { key: ANNOTATIONS_JSONL, format: LINES_FILE };
}

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

export default class JsonlExporter extends SplittableExporter<JsonlOptions> {
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

  async exportShard(ctx: ExportContext<JsonlOptions>): Promise<JsonlShardState> {
    const layout = createExportLayout(ctx, ctx.options);
    const categories = new Map<number, Category>(ctx.dataset.categories.map((c) => [c.id, c]));
    const lineOptions = {
      includeInterpolated: ctx.options.includeInterpolated,
      category: (id: number) => categories.get(id),
    };
    const { key: annotationsKey, format } = annotationsFile(ctx.export.format);
    const annotations = openGatheredFile(ctx, annotationsKey, ANNOTATIONS_PART, format);
    const items = ctx.options.items ? openGatheredFile(ctx, ITEMS_JSONL, ITEMS_PART, LINES_FILE) : undefined;
    let invalid = 0;
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
        await annotations.add(videoAnnotationLine(annotation, lineOptions));
      }
      if (items) await items.add(JSON.stringify(itemToJson(item)));
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    await annotations.close();
    await items?.close();
    await layout.finish();
    return { invalid };
  }

  async join(ctx: JoinContext<JsonlOptions>): Promise<void> {
    const annotations = annotationsFile(ctx.export.format);
    await joinGatheredFile(ctx, annotations.key, ANNOTATIONS_PART, annotations.format);
    if (ctx.options.items) {
      await joinGatheredFile(ctx, ITEMS_JSONL, ITEMS_PART, LINES_FILE);
      await ctx.storage.writeJson(DATASET_JSON, datasetJson(ctx.dataset), { pretty: true });
    }
    const invalid = ctx.shards.reduce((sum, shard) => sum + (shard.state as JsonlShardState).invalid, 0);
    if (invalid > 0) ctx.note(`${invalid} tracks have invalid sequences (exported as stored)`);
    await finishExportLayout(ctx, ctx.options);
  }
}

export { importers } from "./importer.ts";
