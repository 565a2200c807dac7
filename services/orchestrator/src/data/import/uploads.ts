// The import entry point of REST and ImportService. Record formats (video annotation lines, item
// JSONL) go straight to the pipeline; any other format is an importer plugin's: the upload is
// converted into records first (plugin-conversion.ts), its categories are merged into the dataset
// (category-merge.ts), and the records are imported with the caller's options, the conversion's
// drops joining the import's accounting. History records the upload as the user sent it.
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { isFormatName } from "@labelport/sdk";
import { invalidArgument } from "../../errors.ts";
import { appendCategories } from "../datasets.ts";
import {
  addPlannedCategories,
  type CategoryPlan,
  planCategories,
  remapRecords,
  removePlannedCategories,
} from "./category-merge.ts";
import { type ImportContext, type ImportRequest, type ImportResult, previewImport, runImport } from "./pipeline.ts";
import { IMPORT_FORMATS, type ImportFormat } from "./run.ts";

export interface UploadRequest extends Omit<ImportRequest, "format" | "conversion"> {
  /** A record format, or the format of an importer plugin (coco, yolo, voc, ...). */
  format: string;
  /** The importer's own options (validated by the plugin against its schema). */
  importerOptions?: JsonObject;
}

export function isRecordFormat(format: string): format is ImportFormat {
  return (IMPORT_FORMATS as readonly string[]).includes(format);
}

/** The format named by a request: "" means jsonl; anything else must be a format name (checked again when used). */
export function parseUploadFormat(value: string | undefined): string {
  if (value === undefined || value === "") return "jsonl";
  if (isRecordFormat(value) || isFormatName(value)) return value;
  throw invalidArgument(
    `Invalid format "${value.slice(0, 64)}": expected one of ${IMPORT_FORMATS.join(", ")} or an importer's format ` +
      "(coco, yolo, voc, labelme, cvat, dm-json, csv, labelport)",
  );
}

export async function importUpload(ctx: ImportContext, req: UploadRequest, preview: boolean): Promise<ImportResult> {
  const run = preview ? previewImport : runImport;
  const { importerOptions, ...rest } = req;
  if (isRecordFormat(req.format)) {
    if (importerOptions && Object.keys(importerOptions).length > 0) {
      throw invalidArgument(`importerOptions: the ${req.format} format has none (they are for importer plugins)`);
    }
    return run(ctx, { ...rest, format: req.format });
  }
  if (!ctx.converter) throw invalidArgument(`format: "${req.format}" needs importer plugins, which this server lacks`);
  // A format no importer ever registered is a typo or a tool we do not read: say which formats exist.
  const registered = (await ctx.importFormats?.()) ?? [];
  if (!registered.includes(req.format)) {
    throw invalidArgument(
      `Invalid format "${req.format.slice(0, 64)}": expected one of ${[...IMPORT_FORMATS, ...registered].join(", ")}`,
    );
  }
  const converted = await ctx.converter.convert({
    importId: crypto.randomUUID(),
    format: req.format,
    fileName: req.fileName,
    file: req.file,
    datasetId: req.dataset._id,
    options: importerOptions ?? {},
    dryRun: preview,
  });
  let records = converted.items;
  let plan: CategoryPlan | undefined;
  try {
    if (converted.counts.items === 0) {
      throw invalidArgument(`${req.fileName}: the ${req.format} importer found no items in it`);
    }
    const planned = planCategories(req.dataset, converted.categories);
    plan = planned;
    // A preview sees the categories the import would add; only a real import adds them.
    const dataset = await inUpload(req.fileName, async () =>
      preview
        ? { ...req.dataset, ...appendCategories(req.dataset.categories, req.dataset.nextCategoryId, planned.created) }
        : await addPlannedCategories(ctx.db, req.dataset._id, planned),
    );
    records = await remapRecords(records, plan);
    const result = await run(ctx, {
      ...rest,
      dataset,
      file: records,
      format: "labelport-items",
      source: { format: req.format, size: req.file.size, sha256: req.file.sha256 },
      conversion: {
        ...converted.conversion,
        notes: [...plan.notes, ...converted.conversion.notes],
      },
    });
    if (!preview && !result.success) await removePlannedCategories(ctx.db, req.dataset._id, plan);
    return { ...result, format: req.format };
  } catch (err) {
    if (!preview && plan) await removePlannedCategories(ctx.db, req.dataset._id, plan).catch(() => undefined);
    throw err;
  } finally {
    await records.dispose();
    await converted.items.dispose();
  }
}

/** Runs `step`, naming the upload in the errors its content causes (categories the dataset refuses). */
async function inUpload<T>(fileName: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    const cause = ConnectError.from(err);
    if (cause.code !== Code.InvalidArgument && cause.code !== Code.AlreadyExists) throw err;
    throw new ConnectError(`${fileName}: the categories in it: ${cause.rawMessage}`, cause.code);
  }
}
