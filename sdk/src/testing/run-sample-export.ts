// Runs an exporter through runExport into a real local storage in a temp dir, the way a job
// runs, and reads the result back: shared by the conformance suite and the format tests.
import type { Dirent } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { parseOptions } from "../export-options.ts";
import type { ExporterClass, ExportLogger } from "../exporter.ts";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
import { ExportSchema } from "../gen/labelport/v1/export_pb.ts";
import {
  type RunExportInput,
  type RunExportResult,
  runExport,
  runExportJoin,
  runExportShard,
  ShardNamesCollideError,
} from "../run-export.ts";
import { createLocalStorage } from "../storage/local.ts";
import { type SampleDataset, sampleDataset } from "./fixture.ts";

export type { ExporterClass } from "../exporter.ts";

export interface SampleExportOptions {
  /** Raw options, parsed by the exporter's schema as a job's are (defaults applied, OptionsError). */
  options?: Record<string, unknown>;
  /** Default: the manifest's first format. */
  format?: string;
  saveOriginalFile?: boolean;
  /** Default: sampleDataset(). */
  fixture?: SampleDataset;
  /** Overrides the fixture's items (called once per pass). */
  items?: () => AsyncIterable<Item>;
  totalItems?: number;
  signal?: AbortSignal;
  exportId?: string;
  /** Storage root; a fresh temp dir when absent. */
  root?: string;
  /** Receives every ctx.progress() call, as the plugin runtime does. */
  onProgress?: (delta: { items: number; annotations: number }) => void;
  /**
   * Split the export into this many shards of consecutive items (a SplittableExporter), run in
   * `shardOrder` (default: last to first, as unluckily as workers may finish), then joined.
   */
  shards?: number;
  shardOrder?: readonly number[];
}

export interface SampleExport {
  root: string;
  /** Directory of the export's prefix: where its files are. */
  dir: string;
  result: RunExportResult;
  /** With `shards`: whether the shards were joined (false: their names collided, so one pass ran). */
  joined?: boolean;
  read(key: string): Promise<Buffer>;
  text(key: string): Promise<string>;
  json<T = unknown>(key: string): Promise<T>;
  /** Keys of every file under the export's prefix (manifest included), sorted. */
  files(): Promise<string[]>;
  cleanup(): Promise<void>;
}

export const SAMPLE_EXPORTED_AT = new Date(Date.UTC(2025, 9, 7, 8, 0, 0));

const silentLog: ExportLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Every file below `dir` (relative, "/"-separated, sorted), temp files included. */
export async function listFiles(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
}

export async function runSampleExport<Options>(
  Exporter: ExporterClass<Options>,
  input: SampleExportOptions = {},
): Promise<SampleExport> {
  const exporter = new Exporter();
  const fixture = input.fixture ?? sampleDataset();
  const root = input.root ?? (await mkdtemp(join(tmpdir(), "labelport-sample-")));
  const storage = createLocalStorage({ root: join(root, "store") });
  const mediaStorage = createLocalStorage({ root: join(root, "media") });
  for (const [uri, bytes] of fixture.media) await mediaStorage.put(uri, bytes);
  const exportId = input.exportId ?? "exp-sample";
  const format = input.format ?? Exporter.manifest.formats[0] ?? "";
  const prefix = `exports/${exportId}`;
  const options = parseOptions(exporter.options, input.options ?? {});
  const items = input.items ?? (() => iterate(fixture.items));
  const run: RunExportInput<Options> = {
    exporter,
    manifest: { name: Exporter.manifest.name, version: Exporter.manifest.version },
    export: create(ExportSchema, {
      id: exportId,
      name: "sample export",
      datasetId: fixture.dataset.id,
      datasetName: fixture.dataset.name,
      format,
      saveOriginalFile: input.saveOriginalFile ?? false,
      createTime: timestampFromMs(SAMPLE_EXPORTED_AT.getTime()),
    }),
    options,
    dataset: fixture.dataset,
    items,
    totalItems: input.totalItems ?? fixture.items.length,
    storage,
    mediaStorage,
    prefix,
    exportedAt: SAMPLE_EXPORTED_AT,
    signal: input.signal ?? new AbortController().signal,
    log: silentLog,
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
  };
  const { result, joined } = await (input.shards && input.shards > 1
    ? runSplit(run, input.shards, input.shardOrder)
    : runExport(run).then((whole) => ({ result: whole, joined: undefined }))
  ).finally(async () => {
    await storage.dispose();
    await mediaStorage.dispose();
  });
  const dir = join(root, "store", ...prefix.split("/"));
  const read = (key: string) => readFile(join(dir, ...key.split("/")));
  return {
    root,
    dir,
    result,
    ...(joined === undefined ? {} : { joined }),
    read,
    text: async (key) => (await read(key)).toString("utf8"),
    json: async <T>(key: string) => JSON.parse((await read(key)).toString("utf8")) as T,
    files: () => listFiles(dir),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** The export as `count` shards of consecutive items, run one after another in `order`, then joined. */
async function runSplit<Options>(
  run: RunExportInput<Options>,
  count: number,
  order: readonly number[] = Array.from({ length: count }, (_, i) => count - 1 - i),
): Promise<{ result: RunExportResult; joined: boolean }> {
  const all: Item[] = [];
  for await (const item of run.items()) all.push(item);
  const size = Math.ceil(all.length / count);
  await run.storage.deletePrefix(`${run.prefix}/`);
  for (const index of order) {
    const range = all.slice(index * size, (index + 1) * size);
    await runExportShard({ ...run, items: () => iterate(range), totalItems: range.length, shard: { index, count } });
  }
  const { items: _items, totalItems: _total, ...joined } = run;
  try {
    return { result: await runExportJoin({ ...joined, shards: count }), joined: true };
  } catch (err) {
    // As the plugin runtime does: shards that named files alike leave the export to one pass.
    if (!(err instanceof ShardNamesCollideError)) throw err;
    return { result: await runExport(run), joined: false };
  }
}

async function* iterate(items: readonly Item[]): AsyncGenerator<Item> {
  yield* items;
}
