// The importer extension point, the mirror of BaseExporter: a manifest, an options schema and one
// import(ctx) that reads an upload (a ZIP or a single file) and yields categories and items in
// bounded batches. The runtime writes them as Labelport records; the orchestrator then imports the
// records under the caller's conflict options, atomically, with history, as any other import.
import type { z } from "zod";
import type { ExporterManifest, ExportLogger } from "./exporter.ts";
import type { Category, Item } from "./gen/labelport/v1/dataset_pb.ts";
import type { ImportSource, SourceFile } from "./import-source.ts";

/** The same manifest as an exporter's: `formats` are the import formats the plugin reads. */
export type ImporterManifest = ExporterManifest;

/**
 * A bounded batch of what the upload holds. Categories may come in any batch, before or after the
 * items naming them; each item comes exactly once, with all of its annotations.
 */
export interface ImportBatch {
  categories?: readonly Category[];
  items?: readonly Item[];
}

export interface ImportContext<Options> {
  readonly options: Options;
  /** The upload: the files of a ZIP, or the one file uploaded. */
  readonly source: ImportSource;
  /** The dataset the records go to (for ids and media keys; the plugin never reads it). */
  readonly datasetId: string;
  /**
   * Annotations in the upload the records will not carry, by reason ("polyline: unsupported",
   * "unknown label 'dog'"). The import reports them and ends completed_with_losses.
   */
  drop(reason: string, count?: number): void;
  /** Annotations carried but changed on the way (clipped to the image, rounded), by reason. */
  changed(reason: string, count?: number): void;
  /** Something the user should know that is not an annotation's fate (an image without labels...). */
  note(message: string): void;
  /**
   * Stores an image of the upload as media of the dataset and returns the URI for `item.media.uri`.
   * In a preview nothing is stored and the same URI is returned.
   */
  storeMedia(file: SourceFile): Promise<string>;
  /** Width and height from the image's header (only its first bytes are read); undefined if unreadable. */
  imageSize(file: SourceFile): Promise<{ width: number; height: number } | undefined>;
  readonly signal: AbortSignal;
  readonly log: ExportLogger;
  /** A private local directory for spill files, removed after the job. */
  readonly scratchDir: string;
}

export abstract class BaseImporter<Options = Record<string, never>> {
  static manifest: ImporterManifest;
  /** zod schema of the options; published as JSON Schema and validated before the import runs. */
  abstract readonly options: z.ZodType<Options>;
  abstract import(ctx: ImportContext<Options>): AsyncIterable<ImportBatch>;
}

/** A concrete importer class, as a plugin package exports it (`export const importers = [...]`). */
export interface ImporterClass<Options = unknown> {
  new (): BaseImporter<Options>;
  manifest: ImporterManifest;
}

/** Whether a plugin module's export is an importer class (it has an `import` method). */
export function isImporterClass(value: unknown): value is ImporterClass {
  return (
    typeof value === "function" &&
    typeof (value as { prototype?: { import?: unknown } }).prototype?.import === "function"
  );
}
