// DM Schema v1 exporter (seed 002's "Synapse JSON"): the raw DM v1 payload of each image item,
// without a wrapper (`{annotations, annotationsData, ...the item's data}`), as the seed's export
// rule asks. The SDK's dm-schema.ts writes it: what the importer kept (the item's data,
// attributes.dm) goes back where it came from, so dm-json -> import -> export
// (filePerClassification: false) gives the same JSON.
//
// Files: `[<split>/][<meta.category>/]<original file stem>_<class>.json`, one per class present in
// the item (seed 002's plugin output convention; an item without annotations gets `<stem>.json`),
// or `<stem>.json` with every annotation when filePerClassification is false. Split and category
// folder names are kept verbatim except what the export layout's sanitizePathSegment refuses
// (control characters, `/` and `\`, `%XX`, `.` and `..`, more than 200 UTF-8 bytes). Originals
// go to images/<split|default>/[<category>/] (save_original_file), the summary to
// metadata/export_summary.json, the dataset's categories to metadata/categories.json.
//
// Split exports: each shard writes its items' files; the join writes categories.json and the
// notes. `<stem>_<class>` can meet another item's stem in another shard (`a` + class `cat`, and an
// item `a_cat`): the runtime's join finds the two files and exports in one pass instead.
import { toJson } from "@bufbuild/protobuf";
import {
  commonOptionsShape,
  createExportLayout,
  type DmHalves,
  dmHalves,
  dmMediaKey,
  dmPayload,
  type ExportContext,
  finishExportLayout,
  isVideoItem,
  type JoinContext,
  SplittableExporter,
  sanitizePathSegment,
  z,
} from "@labelport/sdk";
import { CategorySchema } from "@labelport/sdk/contracts";
import { isRecord } from "./dm-annotation.ts";

/** The dataset's categories as protobuf JSON; the dm-json importer reads them back. */
export const CATEGORIES_KEY = "metadata/categories.json";

const options = z.strictObject({
  ...commonOptionsShape,
  categoryFolders: z
    .boolean()
    .default(true)
    .describe("Put each item's files in a sub-folder named after its meta.category, verbatim, as Synapse exports do."),
  filePerClassification: z
    .boolean()
    .default(true)
    .describe(
      "One file per class present, <stem>_<class>.json, as Synapse names them; false: one <stem>.json per item with all its annotations.",
    ),
});

export type DmExportOptions = z.output<typeof options>;

/** What a shard tells the join: the count behind its note. */
interface DmShardState {
  withoutDm: number;
}

export class DmJsonExporter extends SplittableExporter<DmExportOptions> {
  static override manifest = {
    name: "dm-json",
    version: "1.0.0",
    formats: ["dm-json"],
    sdk: "^0.1.0",
    description:
      "DM Schema v1 JSON (Synapse / DataMaker), lossless: one file per class present (or per item) in meta.category folders.",
  };

  readonly options = options;

  async exportShard(ctx: ExportContext<DmExportOptions>): Promise<DmShardState> {
    const layout = createExportLayout(ctx, ctx.options);
    const names = new Map(ctx.dataset.categories.map((c) => [c.id, c.name]));
    const written = new Set<string>();
    let withoutDm = 0;
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      if (isVideoItem(item)) {
        ctx.drop("video: dm-json writes image data units only", item.annotations.length);
        layout.skip(item);
        continue;
      }
      const placement = layout.place(item);
      const media = dmMediaKey(item);
      const byClass = new Map<string, DmHalves[]>();
      const all: DmHalves[] = [];
      for (const annotation of item.annotations) {
        const halves = dmHalves(item, annotation, names.get(annotation.categoryId ?? 0));
        if ("drop" in halves) {
          ctx.drop(halves.drop);
          continue;
        }
        if (!isRecord(annotation.attributes?.dm)) withoutDm += 1;
        all.push(halves);
        byClass.set(halves.className, [...(byClass.get(halves.className) ?? []), halves]);
      }
      const folder = [item.split ? sanitizePathSegment(item.split) : "", placement.folder].filter(Boolean).join("/");
      const base = folder ? `${folder}/${placement.stem}` : placement.stem;
      const files: Array<[string, DmHalves[]]> =
        ctx.options.filePerClassification && byClass.size > 0
          ? [...byClass].map(([className, halves]) => [`${base}_${sanitizePathSegment(className)}`, halves])
          : [[base, all]];
      for (const [stem, halves] of files) {
        let key = stem;
        for (let n = 1; written.has(key.toLowerCase()); n++) key = `${stem}_${n}`;
        written.add(key.toLowerCase());
        await ctx.storage.writeJson(`${key}.json`, dmPayload(item, media, halves), { pretty: true });
      }
      await layout.saveOriginalFile(item, placement);
      layout.done(item, placement);
    }
    await layout.finish();
    return { withoutDm };
  }

  async join(ctx: JoinContext<DmExportOptions>): Promise<void> {
    const withoutDm = ctx.shards.reduce((sum, shard) => sum + (shard.state as DmShardState).withoutDm, 0);
    if (withoutDm > 0) {
      ctx.note(
        `attributes: ${withoutDm} annotations had no DM fields; imported back, they get attributes.dm ({tool}) as every DM annotation does`,
      );
    }
    // DM v1 files name classes only: the list keeps the dataset's ids, supercategories and skeletons for an import.
    await ctx.storage.writeJson(
      CATEGORIES_KEY,
      ctx.dataset.categories.map((c) => toJson(CategorySchema, c)),
      { pretty: true },
    );
    await finishExportLayout(ctx, ctx.options);
  }
}

export default DmJsonExporter;
