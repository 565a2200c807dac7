// JSON snapshot exporter (the snapshot API's format): approved items as one JSON array (attachment
// mode) or one file per item (artifact mode), optionally only their `data` field, unwrapped.
import {
  annotationTypeName,
  BaseExporter,
  commonOptionsShape,
  createExportLayout,
  type ExportContext,
  type Item,
  type ItemProcessor,
  itemToJson,
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

export default class JsonSnapshotExporter extends BaseExporter<JsonSnapshotOptions> {
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

  async export(ctx: ExportContext<JsonSnapshotOptions>): Promise<void> {
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
      const out = await ctx.storage.open(SNAPSHOT_KEY, { contentType: "application/json" });
      let first = true;
      await out.write("[");
      for await (const item of ctx.items()) {
        ctx.signal.throwIfAborted();
        const placement = layout.place(item);
        await out.write(`${first ? "\n" : ",\n"}${JSON.stringify(body(item))}`);
        first = false;
        await layout.saveOriginalFile(item, placement);
        layout.done(item, placement);
      }
      await out.write(first ? "]\n" : "\n]\n");
      await out.close();
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
  }
}
