// Runs one exporter over one job: processors, progress, artifacts, manifest last.
// Shared by the NATS plugin runtime, the in-process default and the conformance kit.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { BaseExporter, ExportDataset, ExportLogger } from "./exporter.ts";
import { DropCountSchema, type Item } from "./gen/labelport/v1/dataset_pb.ts";
import { type Artifact, type Export, type ExportCounts, ExportCountsSchema } from "./gen/labelport/v1/export_pb.ts";
import type { StorageDriver } from "./storage/driver.ts";
import { createExportStorage } from "./storage/export-storage.ts";
import type { MediaSources } from "./storage/media-sources.ts";

export interface RunExportInput<Options> {
  exporter: BaseExporter<Options>;
  manifest: { name: string; version: string };
  export: Export;
  /** Parsed options (already validated by the exporter's schema). */
  options: Options;
  dataset: ExportDataset;
  /** Source of items in id order; called once per pass. */
  items: () => AsyncIterable<Item>;
  totalItems: number;
  storage: StorageDriver;
  /** Where original media with relative keys are read from for save_original_file (defaults to `storage`). */
  mediaStorage?: StorageDriver;
  /** The worker's media sources for s3://, http(s):// and file:/// URIs (LABELPORT_MEDIA_SOURCES). */
  mediaSources?: MediaSources;
  /** First retry delay of a transient media failure (tests shorten it). */
  mediaRetryDelayMs?: number;
  /** Key prefix of the export, e.g. exports/<id>. */
  prefix: string;
  /** The export's snapshot instant, written as exportedAt so a retry writes the same bytes. */
  exportedAt: Date;
  signal: AbortSignal;
  log: ExportLogger;
  onProgress?: (delta: { items: number; annotations: number }) => void;
}

export interface RunExportResult {
  /** The first 1000 artifacts by key (COMMIT_ARTIFACT_LIMIT), all of them when there are no more. */
  artifacts: Artifact[];
  /** Sum of all artifacts' sizes in bytes (manifest.json not counted). */
  totalSize: bigint;
  manifestKey: string;
  counts: ExportCounts;
  formatNotes: string[];
}

export async function runExport<Options>(input: RunExportInput<Options>): Promise<RunExportResult> {
  const { exporter, signal } = input;
  // A crashed or canceled earlier attempt may have left files: start from an empty prefix.
  await input.storage.deletePrefix(`${input.prefix}/`);
  // Canceled while it was being claimed: an exporter that only listens for "abort" would wait forever.
  signal.throwIfAborted();
  let loggedProblems = 0;
  const storage = createExportStorage(input.storage, input.prefix, {
    mediaDriver: input.mediaStorage ?? input.storage,
    mediaSources: input.mediaSources,
    mediaRetryDelayMs: input.mediaRetryDelayMs,
    // The exporter notes and counts them (export-layout); the job's log shows the first few.
    onMediaProblem: (problem) => {
      if (loggedProblems++ < LOGGED_MEDIA_PROBLEMS) {
        input.log.warn("media not copied", { uri: problem.uri, kind: problem.kind, reason: problem.reason });
      }
    },
    signal,
  });
  const processors = exporter.processors(input.options);
  const notes = new Set<string>();
  const dropped = new Map<string, number>();
  const changed = new Map<string, number>();
  const tally =
    (counts: Map<string, number>) =>
    (reason: string, count = 1) => {
      if (count > 0) counts.set(reason, (counts.get(reason) ?? 0) + count);
    };
  const counted = { items: 0, annotations: 0 };
  let firstPass = true;
  const scratchDir = await mkdtemp(join(tmpdir(), "labelport-export-"));
  async function* items(): AsyncIterable<Item> {
    const counting = firstPass;
    firstPass = false;
    for await (const raw of input.items()) {
      signal.throwIfAborted();
      let item: Item | null = raw;
      for (const process of processors) {
        item = await process(item);
        if (!item) break;
      }
      if (!item) continue;
      if (counting) {
        counted.items += 1;
        counted.annotations += item.annotations.length;
      }
      yield item;
    }
  }
  try {
    await exporter.export({
      export: input.export,
      exportId: input.export.id,
      options: input.options,
      dataset: input.dataset,
      items,
      totalItems: input.totalItems,
      storage,
      progress: (items, annotations = 0) => input.onProgress?.({ items, annotations }),
      note: (message) => notes.add(message),
      drop: tally(dropped),
      changed: tally(changed),
      accounted: {
        get dropped() {
          return [...dropped.values()].reduce((sum, n) => sum + n, 0);
        },
        get changed() {
          return [...changed.values()].reduce((sum, n) => sum + n, 0);
        },
      },
      signal,
      log: input.log,
      scratchDir,
    });
    signal.throwIfAborted();
    const formatNotes = [...notes].sort();
    const droppedTotal = [...dropped.values()].reduce((sum, n) => sum + n, 0);
    // An exporter that drops more than it received has miscounted: never report negative writes.
    const written = Math.max(0, counted.annotations - droppedTotal);
    const committed = await storage.commit({
      exportId: input.export.id,
      format: input.export.format,
      plugin: input.manifest,
      dataset: { id: input.dataset.id, name: input.dataset.name },
      exportedAt: input.exportedAt.toISOString(),
      itemCount: counted.items,
      annotationCount: written,
      annotationsReceived: counted.annotations,
      dropped: Object.fromEntries(dropped),
      changed: Object.fromEntries(changed),
      notes: formatNotes,
    });
    return {
      artifacts: committed.artifacts,
      totalSize: BigInt(committed.totalSize),
      manifestKey: committed.manifestKey,
      counts: create(ExportCountsSchema, {
        itemCount: BigInt(counted.items),
        annotationCount: BigInt(written),
        fileCount: BigInt(committed.fileCount),
        receivedAnnotations: BigInt(counted.annotations),
        dropped: dropCounts(dropped),
        changed: dropCounts(changed),
      }),
      formatNotes,
    };
  } catch (err) {
    // Copies the exporter started may still be writing: a file landing after the delete would stay.
    await storage.settled();
    await input.storage.deletePrefix(`${input.prefix}/`).catch(() => undefined);
    throw err;
  } finally {
    await storage.dispose();
    await rm(scratchDir, { recursive: true, force: true });
  }
}

/** Media problems logged one by one per export; the exporter's notes count them all. */
const LOGGED_MEDIA_PROBLEMS = 20;

/** Counts by reason as messages, reasons sorted (the same export reports them in the same order). */
function dropCounts(counts: Map<string, number>) {
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([reason, count]) => create(DropCountSchema, { reason, count: BigInt(count) }));
}
