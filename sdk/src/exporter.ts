// The exporter extension point: a manifest, an options schema and one export(ctx) method.
import type { Readable } from "node:stream";
import type { z } from "zod";
import type { Category, Item } from "./gen/labelport/v1/dataset_pb.ts";
import type { Export } from "./gen/labelport/v1/export_pb.ts";
import { wholeExportParts } from "./shard-parts.ts";
import type { StorageBody } from "./storage/driver.ts";

export interface ExporterManifest {
  name: string;
  version: string;
  formats: readonly string[];
  /** semver range of @labelport/sdk this plugin was built for; checked at load. */
  sdk: string;
  description?: string;
}

export interface ExportLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** An open artifact being written; write() resolves when the chunk is accepted (backpressure). */
export interface ArtifactWriter {
  readonly key: string;
  write(chunk: string | Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/**
 * Why copyMedia() copied nothing or readMedia() read nothing. missing: the source has no such file
 * (404, NoSuchKey, ENOENT); refused: no media source serves the URI, or it resolves to an address
 * the source may not reach (never fetched); failed: the source kept failing after the retries.
 */
export type MediaProblemKind = "missing" | "refused" | "failed";

export interface MediaProblem {
  readonly uri: string;
  readonly kind: MediaProblemKind;
  /** Why, for notes and logs; never a credential. */
  readonly reason: string;
}

export interface MediaReadOptions {
  /** Told why, once, before copyMedia() resolves false or readMedia() resolves null. */
  onProblem?: (problem: MediaProblem) => void;
}

/** The export's storage, rooted at the job's prefix. Every file written becomes an artifact. */
export interface ExportStorage {
  writeFile(key: string, body: StorageBody, options?: { contentType?: string }): Promise<void>;
  writeJson(key: string, value: unknown, options?: { pretty?: boolean }): Promise<void>;
  /**
   * Starts writing a small file whose body is in memory and resolves once the write is under way
   * (it waits while WRITES_IN_FLIGHT writes are running): for formats of one file per item. The
   * key is claimed at once (a duplicate is refused by this call); a failed write is thrown by a
   * later queueFile(), by flush() or when the export commits.
   */
  queueFile(key: string, body: string | Uint8Array, options?: { contentType?: string }): Promise<void>;
  /** Waits for every queueFile() write; throws the first that failed. */
  flush(): Promise<void>;
  open(key: string, options?: { contentType?: string }): Promise<ArtifactWriter>;
  /**
   * Copies an item's original media (its `media.uri` in the source storage) to `key`; false when
   * there is nothing to copy (see MediaProblemKind), so a missing original never fails the export.
   */
  copyMedia(uri: string, key: string, options?: MediaReadOptions): Promise<boolean>;
  /**
   * Bytes `start` to `end` (inclusive, cut at the end of the file) of an item's media, resolved as
   * copyMedia() resolves it; null when there is nothing to read. For image headers: read what is
   * needed, then destroy the stream (a source that ignores the range sends the whole file).
   */
  readMedia(uri: string, range: { start: number; end: number }, options?: MediaReadOptions): Promise<Readable | null>;
}

/** Runs on every item before formatting; returns the item to export or null to drop it. */
export type ItemProcessor = (item: Item) => Item | null | Promise<Item | null>;

export interface ExportDataset {
  id: string;
  name: string;
  /** Ordered by id; ids are stable across exports. */
  categories: readonly Category[];
}

export interface ExportContext<Options> {
  readonly export: Export;
  readonly exportId: string;
  readonly options: Options;
  readonly dataset: ExportDataset;
  /** Items with annotations in id order after processors ran; may be iterated more than once (same snapshot). */
  items(): AsyncIterable<Item>;
  /** Items matching the filter, known before the first item; 0 if unknown. */
  readonly totalItems: number;
  readonly storage: ExportStorage;
  /** Reports items (and annotations) done since the last call. */
  progress(items: number, annotations?: number): void;
  /** Records something the format could not carry (listed in the manifest). */
  note(message: string): void;
  /**
   * Annotations received but not written because the format cannot carry them, by reason
   * (e.g. "polyline: yolo has no polylines"). Written = received - dropped: the export's counts
   * and manifest report what the delivered files hold, never what was read.
   */
  drop(reason: string, count?: number): void;
  /** Annotations written but changed on the way (rounded to whole pixels, clipped), by reason. */
  changed(reason: string, count?: number): void;
  /** Totals of drop() and changed() so far (for summaries the export writes itself). */
  readonly accounted: { readonly dropped: number; readonly changed: number };
  readonly signal: AbortSignal;
  readonly log: ExportLogger;
  /** A private local directory for spill files, removed after the job. */
  readonly scratchDir: string;
  /** Which part of a split export this run is; `{index: 0, count: 1}` for a whole export. */
  readonly shard: ExportShard;
}

/**
 * A shard of a split export: the items of one id range, worked by exportShard() on any worker of
 * the format. Per-item files go to their final keys; what needs every shard (a single file, a
 * summary) goes to the shard's parts and is written by join().
 */
export interface ExportShard {
  /** 0-based, in item id order. */
  readonly index: number;
  readonly count: number;
  /** The shard's private files for join() (never artifacts; removed after the join). */
  readonly parts: ShardParts;
}

export interface ShardParts {
  /** Opens a part by name (letters, digits, `.`, `-`, `_`); opening one name twice is refused. */
  open(name: string): Promise<ArtifactWriter>;
}

/** One shard as join() sees it: what its exportShard() returned and its parts, read back. */
export interface JoinedShard {
  readonly index: number;
  /** The JSON value exportShard() returned. */
  readonly state: unknown;
  /** The part's bytes; nothing when the shard wrote no such part. */
  read(name: string): AsyncIterable<Uint8Array>;
}

/** join()'s context: the export's storage and accounting, and every shard in index order. */
export interface JoinContext<Options>
  extends Omit<ExportContext<Options>, "items" | "totalItems" | "progress" | "shard"> {
  readonly shards: readonly JoinedShard[];
}

export abstract class BaseExporter<Options = Record<string, never>> {
  static manifest: ExporterManifest;
  /** zod schema of the options; published as JSON Schema and validated before a job is queued. */
  abstract readonly options: z.ZodType<Options>;
  /** Run on every item, in order, before export() sees it (the snapshot API's export processors). */
  processors(_options: Options): readonly ItemProcessor[] {
    return [];
  }
  abstract export(ctx: ExportContext<Options>): Promise<void>;
}

/**
 * An exporter that can be split in shards worked in parallel: it implements exportShard() and
 * join() instead of export(), which runs them as one shard (so a whole export and a joined split
 * one run the same code and write the same bytes).
 */
export abstract class SplittableExporter<Options = Record<string, never>> extends BaseExporter<Options> {
  /**
   * Exports one shard's items (ctx.items() is the shard's range) and returns a JSON value that
   * join() receives: the shard's counts, the splits it saw, whatever the join needs. Files of one
   * item are written to their final keys (the layout names them the same in any shard); files
   * that gather every item (a JSON array, a CSV, a COCO split) are written as parts, and join()
   * streams them in shard order (see openGatheredFile). ctx.drop() and ctx.changed() are summed
   * over the shards for the manifest; notes that carry counts belong in join(), where the counts
   * are totals.
   */
  abstract exportShard(ctx: ExportContext<Options>): Promise<unknown>;
  /** Writes what needs every shard, from their states and parts; runs once, after the last shard. */
  abstract join(ctx: JoinContext<Options>): Promise<void>;

  override async export(ctx: ExportContext<Options>): Promise<void> {
    const state = await this.exportShard(ctx);
    const parts = wholeExportParts(ctx.scratchDir);
    const { items: _items, totalItems: _total, progress: _progress, shard: _shard, ...shared } = ctx;
    await this.join({ ...shared, shards: [{ index: 0, state, read: (name) => parts.read(name) }] });
  }
}

/**
 * Whether the exporter can be split (it implements exportShard() and join()). By shape, not class:
 * a plugin bundled with its own copy of the SDK extends another SplittableExporter.
 */
export function supportsShards<Options>(exporter: BaseExporter<Options>): exporter is SplittableExporter<Options> {
  const candidate = exporter as Partial<SplittableExporter<Options>>;
  return typeof candidate.exportShard === "function" && typeof candidate.join === "function";
}

/** A concrete exporter class, as a plugin package default-exports it. */
export interface ExporterClass<Options = unknown> {
  new (): BaseExporter<Options>;
  manifest: ExporterManifest;
}
