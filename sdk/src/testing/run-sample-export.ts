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
import { type RunExportResult, runExport } from "../run-export.ts";
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
}

export interface SampleExport {
  root: string;
  /** Directory of the export's prefix: where its files are. */
  dir: string;
  result: RunExportResult;
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
  const result = await runExport({
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
  }).finally(async () => {
    await storage.dispose();
    await mediaStorage.dispose();
  });
  const dir = join(root, "store", ...prefix.split("/"));
  const read = (key: string) => readFile(join(dir, ...key.split("/")));
  return {
    root,
    dir,
    result,
    read,
    text: async (key) => (await read(key)).toString("utf8"),
    json: async <T>(key: string) => JSON.parse((await read(key)).toString("utf8")) as T,
    files: () => listFiles(dir),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

async function* iterate(items: readonly Item[]): AsyncGenerator<Item> {
  yield* items;
}
