// Runs one exporter over one job: processors, progress, artifacts, manifest last. Shared by the
// NATS plugin runtime, the in-process default and the conformance kit. A split export runs
// runExportShard() once per shard (any worker, any order) and runExportJoin() after the last.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { LabelportError } from "./errors.ts";
import { LAYOUT_NAMES_PART } from "./export-layout.ts";
import {
  type BaseExporter,
  type ExportContext,
  type ExportDataset,
  type ExportLogger,
  type JoinContext,
  type JoinedShard,
  type ShardParts,
  supportsShards,
} from "./exporter.ts";
import { DropCountSchema, type Item } from "./gen/labelport/v1/dataset_pb.ts";
import { type Artifact, type Export, type ExportCounts, ExportCountsSchema } from "./gen/labelport/v1/export_pb.ts";
import {
  readStoredPart,
  readText,
  SHARDS_DIR,
  shardPartKey,
  storedParts,
  streamingPut,
  wholeExportParts,
} from "./shard-parts.ts";
import type { StorageDriver } from "./storage/driver.ts";
import type { CommittableExportStorage, ManifestArtifact } from "./storage/export-storage.ts";
import { createExportStorage } from "./storage/export-storage.ts";
import type { MediaSources } from "./storage/media-sources.ts";
import { createSpillSet } from "./storage/spill-set.ts";

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
  const run = await openRun(input);
  try {
    // A SplittableExporter's export() runs it as one shard with these local parts.
    await exporter.export(run.context({ index: 0, count: 1, parts: wholeExportParts(run.scratchDir) }));
    signal.throwIfAborted();
    return await run.commit(run.counted);
  } catch (err) {
    // Copies the exporter started may still be writing: a file landing after the delete would stay.
    await run.storage.settled();
    await input.storage.deletePrefix(`${input.prefix}/`).catch(() => undefined);
    throw err;
  } finally {
    await run.close();
  }
}

/** What one shard did, stored as its `_done.json`: the join sums these. */
export interface ShardResult {
  items: number;
  /** Annotations the shard's exporter received. */
  annotations: number;
  dropped: Record<string, number>;
  changed: Record<string, number>;
  notes: string[];
  /** What exportShard() returned. */
  state: unknown;
  /** The task's tag (RunExportShardInput.shard.tag), so a coordinator knows the result is its task's. */
  tag: string;
}

/** A shard that failed for good, stored as its `_failed.json`. */
export interface ShardFailure {
  tag: string;
  message: string;
}

/** The runtime's own parts (an exporter's part names start with a letter or digit). */
export const SHARD_DONE = "_done.json";
const SHARD_ARTIFACTS = "_artifacts.ndjson";
export const SHARD_FAILED = "_failed.json";

export interface RunExportShardInput<Options> extends RunExportInput<Options> {
  /** Which shard; `items` reads only its range. `tag` is echoed in its result. */
  shard: { index: number; count: number; tag?: string };
}

/**
 * Runs exportShard() over one shard's items: its files go to their final keys, its parts and its
 * result (`_done.json`, written last) under `<prefix>/.shards/<index>/`. Run again after a
 * failure, it writes the same files again; other shards' files are never touched.
 */
export async function runExportShard<Options>(input: RunExportShardInput<Options>): Promise<ShardResult> {
  const { exporter, signal, shard } = input;
  if (!supportsShards(exporter)) throw new LabelportError(`${input.manifest.name} cannot be split: it has no join()`);
  await input.storage.deletePrefix(shardPartKey(input.prefix, shard.index));
  signal.throwIfAborted();
  const run = await openRun(input);
  try {
    const ctx = run.context({
      index: shard.index,
      count: shard.count,
      parts: storedParts(input.storage, input.prefix, shard.index),
    });
    const state = await exporter.exportShard(ctx);
    signal.throwIfAborted();
    const list = streamingPut(input.storage, shardPartKey(input.prefix, shard.index, SHARD_ARTIFACTS));
    let chunk = "";
    for await (const artifact of run.storage.written()) {
      chunk += `${JSON.stringify(artifact)}\n`;
      if (chunk.length >= 64 * 1024) {
        await list.write(chunk);
        chunk = "";
      }
    }
    if (chunk) await list.write(chunk);
    await list.close();
    const result: ShardResult = {
      items: run.counted.items,
      annotations: run.counted.annotations,
      dropped: Object.fromEntries(run.dropped),
      changed: Object.fromEntries(run.changed),
      notes: [...run.notes].sort(),
      state: state ?? null,
      tag: shard.tag ?? "",
    };
    await input.storage.put(shardPartKey(input.prefix, shard.index, SHARD_DONE), JSON.stringify(result), {
      contentType: "application/json",
    });
    return result;
  } catch (err) {
    await run.storage.settled();
    throw err;
  } finally {
    await run.close();
  }
}

/** A shard's result when it finished (its `_done.json`), else null. */
export function readShardResult(storage: StorageDriver, prefix: string, index: number): Promise<ShardResult | null> {
  return readJsonPart<ShardResult>(storage, prefix, index, SHARD_DONE);
}

/** Records that a shard failed for good, for the coordinator to fail the export with its message. */
export async function writeShardFailure(
  storage: StorageDriver,
  prefix: string,
  index: number,
  failure: ShardFailure,
): Promise<void> {
  await storage.put(shardPartKey(prefix, index, SHARD_FAILED), JSON.stringify(failure), {
    contentType: "application/json",
  });
}

export function readShardFailure(storage: StorageDriver, prefix: string, index: number): Promise<ShardFailure | null> {
  return readJsonPart<ShardFailure>(storage, prefix, index, SHARD_FAILED);
}

async function readJsonPart<T>(storage: StorageDriver, prefix: string, index: number, name: string): Promise<T | null> {
  const text = await readText(readStoredPart(storage, prefix, index, name));
  return text ? (JSON.parse(text) as T) : null;
}

/**
 * Two shards named a file alike: each de-duplicated its own names, so together they would not
 * name the files as one pass does. The caller runs the export unsplit instead.
 */
export class ShardNamesCollideError extends LabelportError {
  override name = "ShardNamesCollideError";
}

export type RunExportJoinInput<Options> = Omit<RunExportInput<Options>, "items" | "totalItems"> & {
  /** How many shards there are; every one must have finished. */
  shards: number;
};

/**
 * The last step of a split export: checks that no two shards named a file alike, adopts every
 * shard's files, runs join(), removes the parts and writes manifest.json over all of it.
 */
export async function runExportJoin<Options>(input: RunExportJoinInput<Options>): Promise<RunExportResult> {
  const { exporter, signal } = input;
  if (!supportsShards(exporter)) throw new LabelportError(`${input.manifest.name} cannot be split: it has no join()`);
  const results: ShardResult[] = [];
  for (let index = 0; index < input.shards; index++) {
    const result = await readShardResult(input.storage, input.prefix, index);
    if (!result) throw new LabelportError(`shard ${index + 1} of ${input.shards} has not finished`);
    results.push(result);
  }
  await checkNamesDisjoint(input.storage, input.prefix, input.shards);
  const run = await openRun({ ...input, items: async function* () {}, totalItems: 0 });
  try {
    // A key two shards wrote (or two that differ in case only, one file on macOS and Windows): one
    // pass would have named the second apart, and the second shard's file may have replaced the first.
    const keys = createSpillSet();
    try {
      for (let index = 0; index < input.shards; index++) {
        for await (const line of readLines(readStoredPart(input.storage, input.prefix, index, SHARD_ARTIFACTS))) {
          const artifact = JSON.parse(line) as ManifestArtifact;
          const folded = artifact.key.toLowerCase();
          if (keys.has(folded)) {
            throw new ShardNamesCollideError(
              `${JSON.stringify(artifact.key)} is written by more than one shard: export it unsplit to name the files as one pass does`,
            );
          }
          keys.add(folded);
          run.storage.adopt(artifact);
        }
      }
    } finally {
      keys.close();
    }
    const counted = { items: 0, annotations: 0 };
    for (const result of results) {
      counted.items += result.items;
      counted.annotations += result.annotations;
      for (const [reason, n] of Object.entries(result.dropped)) run.drop(reason, n);
      for (const [reason, n] of Object.entries(result.changed)) run.change(reason, n);
      for (const note of result.notes) run.notes.add(note);
    }
    const shards: JoinedShard[] = results.map((result, index) => ({
      index,
      state: result.state,
      read: (name) => readStoredPart(input.storage, input.prefix, index, name),
    }));
    await exporter.join(run.joinContext(shards));
    signal.throwIfAborted();
    await input.storage.deletePrefix(`${input.prefix}/${SHARDS_DIR}/`);
    return await run.commit(counted);
  } catch (err) {
    await run.storage.settled();
    throw err;
  } finally {
    await run.close();
  }
}

/** Every shard's claimed names (the layout's part) into one table: a name seen twice is a collision. */
async function checkNamesDisjoint(storage: StorageDriver, prefix: string, shards: number): Promise<void> {
  const names = createSpillSet();
  try {
    for (let index = 0; index < shards; index++) {
      for await (const name of readLines(readStoredPart(storage, prefix, index, LAYOUT_NAMES_PART))) {
        if (names.has(name)) {
          throw new ShardNamesCollideError(
            `file name ${JSON.stringify(name)} is used in more than one shard: export it unsplit to name the files as one pass does`,
          );
        }
        names.add(name);
      }
    }
  } finally {
    names.close();
  }
}

async function* readLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  // Streaming: a chunk may end inside a character.
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of chunks) {
    rest += decoder.decode(chunk, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) if (line) yield line;
  }
  if (rest) yield rest;
}

/** What every run shares: the export's storage, processors, counting, notes, drops and scratch space. */
async function openRun<Options>(input: RunExportInput<Options>) {
  const { exporter, signal } = input;
  let loggedProblems = 0;
  const storage: CommittableExportStorage = createExportStorage(input.storage, input.prefix, {
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
  const sum = (counts: Map<string, number>) => [...counts.values()].reduce((total, n) => total + n, 0);
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
  const joinContext = (shards: readonly JoinedShard[]): JoinContext<Options> => ({
    export: input.export,
    exportId: input.export.id,
    options: input.options,
    dataset: input.dataset,
    storage,
    note: (message) => notes.add(message),
    drop: tally(dropped),
    changed: tally(changed),
    accounted: {
      get dropped() {
        return sum(dropped);
      },
      get changed() {
        return sum(changed);
      },
    },
    signal,
    log: input.log,
    scratchDir,
    shards,
  });
  return {
    storage,
    counted,
    notes,
    dropped,
    changed,
    scratchDir,
    drop: tally(dropped),
    change: tally(changed),
    joinContext,
    context: (shard: { index: number; count: number; parts: ShardParts }): ExportContext<Options> => {
      const { shards: _, ...shared } = joinContext([]);
      return {
        ...shared,
        items,
        totalItems: input.totalItems,
        progress: (items, annotations = 0) => input.onProgress?.({ items, annotations }),
        shard,
      };
    },
    /** manifest.json over every artifact, with the counts of what was received and dropped. */
    async commit(received: { items: number; annotations: number }): Promise<RunExportResult> {
      const formatNotes = [...notes].sort();
      // An exporter that drops more than it received has miscounted: never report negative writes.
      const written = Math.max(0, received.annotations - sum(dropped));
      const committed = await storage.commit({
        exportId: input.export.id,
        format: input.export.format,
        plugin: input.manifest,
        dataset: { id: input.dataset.id, name: input.dataset.name },
        exportedAt: input.exportedAt.toISOString(),
        itemCount: received.items,
        annotationCount: written,
        annotationsReceived: received.annotations,
        dropped: Object.fromEntries(dropped),
        changed: Object.fromEntries(changed),
        notes: formatNotes,
      });
      return {
        artifacts: committed.artifacts,
        totalSize: BigInt(committed.totalSize),
        manifestKey: committed.manifestKey,
        counts: create(ExportCountsSchema, {
          itemCount: BigInt(received.items),
          annotationCount: BigInt(written),
          fileCount: BigInt(committed.fileCount),
          receivedAnnotations: BigInt(received.annotations),
          dropped: dropCounts(dropped),
          changed: dropCounts(changed),
        }),
        formatNotes,
      };
    },
    async close() {
      try {
        await storage.dispose();
      } finally {
        await rm(scratchDir, { recursive: true, force: true });
      }
    },
  };
}

/** Media problems logged one by one per export; the exporter's notes count them all. */
const LOGGED_MEDIA_PROBLEMS = 20;

/** Counts by reason as messages, reasons sorted (the same export reports them in the same order). */
function dropCounts(counts: Map<string, number>) {
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([reason, count]) => create(DropCountSchema, { reason, count: BigInt(count) }));
}
