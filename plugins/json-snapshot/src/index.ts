// JSON snapshot exporter (the snapshot API's format): approved items as one JSON array (attachment
// mode) or one file per item (artifact mode), optionally only their `data` field, unwrapped.
import {
  annotationTypeName,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  finishExportLayout,
  type GatheredFileFormat,
  type Item,
  type ItemProcessor,
  itemToJson,
  type JoinContext,
  joinGatheredFile,
  openGatheredFile,
  SplittableExporter,
  sanitizePathSegment,
  z,
} from "@labelport/sdk";

const options = z.strictObject({
  ...commonOptionsShape,
  mode: z
    .enum(["attachment", "artifact"])
    .default("attachment")
    .describe("attachment: one snapshot.json array; artifact: items/<id>.json per item."),
  mergeTags: z
    .boolean()
    .default(true)
    .describe("Merge `tags` and meta `tags`/`*_tags`/`*Tags` string arrays into one sorted `tags` array."),
  dataOnly: z.boolean().default(false).describe("Write only each item's `data` field, verbatim, unwrapped."),
});

export type JsonSnapshotOptions = z.output<typeof options>;

export const SNAPSHOT_KEY = "snapshot.json";
/** A shard's elements of snapshot.json, joined in shard order. */
const SNAPSHOT_PART = "snapshot";

/** snapshot.json: `[`, each element on its own line after `\n` or `,\n`, then `\n]\n` (`[]\n` when empty). */
const SNAPSHOT_FILE: GatheredFileFormat = {
  contentType: "application/json",
  head: "[",
  first: "\n",
  between: ",\n",
  tail: "\n]\n",
  emptyTail: "]\n",
};

/** Meta keys holding tags: `tags`, `*_tags`, `*Tags`. */
export function isTagField(key: string): boolean {
  return key === "tags" || key.endsWith("_tags") || key.endsWith("Tags");
}

/**
 * The snapshot API's tag merging (FR-005): one sorted, de-duplicated `tags` array from the item's tags
 * and every meta tag field that is an array of strings; the merged meta fields are removed. The input
 * is not changed.
 */
export const mergeTagFields: ItemProcessor = (item) => {
  const meta = item.meta;
  const tags = new Set(item.tags);
  let rest = meta;
  if (meta) {
    rest = {};
    for (const [key, value] of Object.entries(meta)) {
      if (isTagField(key) && Array.isArray(value) && value.every((v) => typeof v === "string")) {
        for (const tag of value) tags.add(tag as string);
      } else {
        rest[key] = value;
      }
    }
  }
  const merged: Item = { ...item, tags: [...tags].sort() };
  if (rest) merged.meta = rest;
  return merged;
};

export default class JsonSnapshotExporter extends SplittableExporter<JsonSnapshotOptions> {
  static override manifest = {
    name: "json-snapshot",
    version: "1.0.0",
    formats: ["json-snapshot"],
    sdk: "^0.1.0",
    description: "Approved items as a JSON snapshot: one array, or one file per item.",
  };

  readonly options = options;

  override processors(opts: JsonSnapshotOptions): readonly ItemProcessor[] {
    return opts.mergeTags ? [mergeTagFields] : [];
  }

  async exportShard(ctx: ExportContext<JsonSnapshotOptions>): Promise<null> {
    const { mode, dataOnly } = ctx.options;
    const layout = createExportLayout(ctx, ctx.options);
    const body = (item: Item) => {
      if (!dataOnly) return itemToJson(item);
      for (const annotation of item.annotations) {
        ctx.drop(`${annotationTypeName(annotation)}: dataOnly writes only each item's data field`);
      }
      return item.data ?? {};
    };
    if (mode === "attachment") {
      // Streamed element by element: the array is never held in memory.
      const snapshot = openGatheredFile(ctx, SNAPSHOT_KEY, SNAPSHOT_PART, SNAPSHOT_FILE);
      for await (const item of ctx.items()) {
        ctx.signal.throwIfAborted();
        const placement = layout.place(item);
        await snapshot.add(JSON.stringify(body(item)));
        await layout.saveOriginalFile(item, placement);
        layout.done(item, placement);
      }
      await snapshot.close();
    } else {
      for await (const item of ctx.items()) {
        ctx.signal.throwIfAborted();
        const placement = layout.place(item);
        const dir = placement.folder ? `items/${placement.folder}` : "items";
        // writeJson's pretty bytes, queued: several files are written at once.
        await ctx.storage.queueFile(
          `${dir}/${sanitizePathSegment(item.id)}.json`,
          `${JSON.stringify(body(item), null, 2)}\n`,
          { contentType: "application/json" },
        );
        await layout.saveOriginalFile(item, placement);
        layout.done(item, placement);
      }
    }
    await layout.finish();
    return null;
  }

  async join(ctx: JoinContext<JsonSnapshotOptions>): Promise<void> {
    if (ctx.options.mode === "attachment") await joinGatheredFile(ctx, SNAPSHOT_KEY, SNAPSHOT_PART, SNAPSHOT_FILE);
    await finishExportLayout(ctx, ctx.options);
  }
}
