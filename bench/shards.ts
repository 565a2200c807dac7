// Split ("sharded") exports (issue 21). Two parts:
// - measureShardExports: one image dataset exported as COCO and as YOLO through the real job path
//   three ways, one at a time: one plugin process unsplit (shards 1), two processes with 2 shards,
//   two processes with 4 shards. Seconds from CreateExport to COMPLETED, the speed-up, the peak RSS
//   and CPU seconds of every process (whether two cores were the limit), and a check that every
//   split export wrote the unsplit one's files. Run by `npm run bench -- --only shards`.
// - measurePlans: the planner of SplitItems (planRanges) fed a generated 10M-item, ~100M-annotation
//   stream with a skewed size distribution: ranges, their imbalance, the planning time and the
//   process's peak RSS. No servers: `node --import tsx bench/shards.ts --plan-only`.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { LabelportClient } from "@labelport/sdk/client";
import { type Export, ExportStatus } from "@labelport/sdk/contracts";
import { SHARD_ANNOTATIONS } from "../sdk/src/runtime/split-export.ts";
import { seededRandom } from "../sdk/src/testing/seeded-random.ts";
import {
  DEFAULT_ANNOTATIONS_PER_RANGE,
  type ItemSize,
  MAX_RANGES,
  type PlanOptions,
  planRanges,
} from "../services/orchestrator/src/data/split-items.ts";
import { meterCpu } from "./cpu.ts";
import { type Child, startPluginChild } from "./processes.ts";
import { mbPerSec, type Row, rate } from "./report.ts";
import { sampleRss } from "./rss.ts";

export const SHARD_FORMATS = ["coco", "yolo"];
/** The three ways each format is exported: (a) is the baseline of the speed-up. */
const WAYS = [
  { processes: 1, shards: 1 },
  { processes: 2, shards: 2 },
  { processes: 2, shards: 4 },
] as const;

export interface ShardsContext {
  api: LabelportClient;
  natsUrl: string;
  logDir: string;
  storageRoot: string;
  caseName: string;
  stamp: string;
  pids: { orchestrator: number; mongod: number | undefined };
  /** Keep the exports' files (--keep). */
  keep: boolean;
  say: (line: string) => void;
}

export interface ShardRun {
  format: string;
  processes: number;
  shards: number;
  /** "split into K shards" lines in the export's log: 0 for an unsplit export. */
  splitInto: number;
  seconds: number;
  annotations: number;
  /** Unsplit seconds / these seconds; undefined without an unsplit export to compare with. */
  speedUp?: number;
  pluginMb: number[];
  orchestratorMb: number;
  /** CPU seconds per process: orchestrator, mongod, plugin-1, plugin-2. */
  cpuSeconds: Record<string, number | undefined>;
  /** undefined: the same files as the unsplit export (or this is it); else what differs. */
  mismatch?: string;
  error?: string;
  row: Row;
}

/** Exports the dataset in every SHARD_FORMATS format the three ways; the processes are this function's own. */
export async function measureShardExports(
  ctx: ShardsContext,
  datasetId: string,
  annotations: number,
): Promise<ShardRun[]> {
  const runs: ShardRun[] = [];
  for (const format of SHARD_FORMATS) {
    const processes: Child[] = [];
    const dirs: string[] = [];
    try {
      let whole: { run: ShardRun; dir: string } | undefined;
      for (const way of WAYS) {
        while (processes.length < way.processes) {
          processes.push(
            await startPluginChild({
              format,
              natsUrl: ctx.natsUrl,
              logDir: ctx.logDir,
              name: `plugin-${format}-${processes.length + 1}`,
            }),
          );
        }
        await waitRegistered(ctx.api, format);
        const measured = await measureOne(ctx, datasetId, format, way, processes, annotations);
        const { run } = measured;
        if (measured.dir) dirs.push(measured.dir);
        if (way.shards === 1) {
          if (measured.dir && !run.error) {
            whole = { run, dir: measured.dir };
            run.speedUp = 1;
          }
        } else if (!run.error) {
          if (whole && measured.dir) {
            run.speedUp = whole.run.seconds / run.seconds;
            const mismatch = await compareExports(whole.dir, measured.dir);
            if (mismatch) run.mismatch = mismatch;
          } else {
            run.mismatch = "not compared: the unsplit export failed";
          }
        }
        if (run.shards > 1 && !run.error && run.splitInto !== run.shards) {
          run.mismatch ??= `asked for ${run.shards} shards, the log says ${run.splitInto || "unsplit"}`;
        }
        run.row.note = noteOf(run);
        ctx.say(`  ${format} ${wayName(run)}: ${run.seconds.toFixed(2)} s${run.row.note ? `, ${run.row.note}` : ""}`);
        runs.push(run);
      }
    } finally {
      await Promise.all(processes.map((p) => p.stop()));
      if (!ctx.keep) await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    }
  }
  return runs;
}

/** A worker's announcement reaches the orchestrator a moment after the process says it serves. */
async function waitRegistered(api: LabelportClient, format: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await api.exports.listFormats({})).plugins.some((p) => p.formats.includes(format))) {
    if (Date.now() > deadline) throw new Error(`the ${format} plugin did not register in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function wayName(run: Pick<ShardRun, "processes" | "shards">): string {
  return `${run.shards === 1 ? "unsplit" : `${run.shards} shards`}, ${run.processes} proc`;
}

function speedUpOf(run: ShardRun): string {
  return run.speedUp === undefined ? "no unsplit baseline" : `x${run.speedUp.toFixed(2)} vs unsplit`;
}

function noteOf(run: ShardRun): string {
  if (run.error) return `export failed ${run.error}`;
  const parts = [run.shards === 1 ? "baseline" : speedUpOf(run)];
  const plugins = Object.entries(run.cpuSeconds).filter(([name]) => name.startsWith("plugin-"));
  parts.push(`plugin CPU s ${plugins.map(([, s]) => s?.toFixed(1) ?? "-").join("/")}`);
  if (run.shards > 1) parts.push(run.mismatch ? `DIFFERS: ${run.mismatch}` : "same files");
  return parts.join("; ");
}

async function measureOne(
  ctx: ShardsContext,
  datasetId: string,
  format: string,
  way: (typeof WAYS)[number],
  processes: Child[],
  annotations: number,
): Promise<{ run: ShardRun; dir?: string }> {
  const pluginRss = processes.map((p) => sampleRss(p.pid));
  const orchestratorRss = sampleRss(ctx.pids.orchestrator);
  const cpu = meterCpu({
    orchestrator: ctx.pids.orchestrator,
    mongod: ctx.pids.mongod,
    ...Object.fromEntries(processes.map((p, i) => [`plugin-${i + 1}`, p.pid])),
  });
  let firstFailure: string | undefined;
  let exported: Export | undefined;
  let error: string | undefined;
  const t0 = performance.now();
  try {
    exported = await ctx.api.exports.create(
      {
        datasetId,
        format,
        shards: way.shards,
        // As the images cases: the bench images have no media files to copy.
        saveOriginalFile: false,
        name: `bench ${ctx.caseName} ${format} ${way.shards} ${ctx.stamp}`,
      },
      {
        wait: true,
        onProgress: (e) => {
          // A failed attempt is the result; its retries would only run the whole export again.
          if (e.errorMessage && !firstFailure) {
            firstFailure = `on attempt ${e.attempts}: ${e.errorMessage} (the bench canceled the retries)`;
            ctx.api.exports.cancelExport({ exportId: e.id }).catch(() => undefined);
          }
        },
      },
    );
    if (exported.status !== ExportStatus.COMPLETED) error = `with status ${ExportStatus[exported.status]}`;
  } catch (err) {
    error = firstFailure ?? (err as Error).message;
  }
  const seconds = (performance.now() - t0) / 1000;
  const pluginMb = pluginRss.map((s) => s.stop());
  const orchestratorMb = orchestratorRss.stop();
  const cpuSeconds = cpu.stop();
  const pluginCpu = Object.entries(cpuSeconds)
    .filter(([name]) => name.startsWith("plugin-"))
    .reduce((sum, [, s]) => sum + (s ?? 0), 0);
  const bytes = Number(exported?.fileSize ?? 0n);
  const run: ShardRun = {
    format,
    processes: way.processes,
    shards: way.shards,
    splitInto: exported ? await splitInto(ctx.api, exported.id) : 0,
    seconds,
    annotations,
    pluginMb,
    orchestratorMb,
    cpuSeconds,
    ...(error ? { error } : {}),
    row: {
      case: ctx.caseName,
      format: `${format} (${wayName(way)})`,
      annotations,
      seconds,
      annotationsPerSec: error ? 0 : rate(annotations, seconds),
      peakRssMb: { plugin: Math.max(...pluginMb), orchestrator: orchestratorMb },
      peer: null,
      items: Number(exported?.counts?.itemCount ?? 0n),
      bytes,
      mbPerSec: mbPerSec(bytes, seconds),
      exportedAnnotations: Number(exported?.counts?.annotationCount ?? 0n),
      cpuSeconds: { ...cpuSeconds, plugin: Math.round(pluginCpu * 100) / 100 },
    },
  };
  return exported?.path ? { run, dir: join(ctx.storageRoot, exported.path) } : { run };
}

/**
 * K from the export log's "split into K shards" line; 0 when the export ran unsplit, also when the
 * coordinator fell back to one pass (no plan, or shards whose file names collide).
 */
async function splitInto(api: LabelportClient, exportId: string): Promise<number> {
  let shards = 0;
  for await (const response of api.exports.getExportLogs({ exportId })) {
    for (const line of response.lines) {
      if (/exporting in one pass/.test(line.message)) return 0;
      const found = /split into (\d+) shards/.exec(line.message);
      if (found) shards = Number(found[1]);
    }
  }
  return shards;
}

interface ManifestFile {
  exportId: string;
  exportedAt: string;
  artifacts: Array<{ key: string; sha256: string }>;
  [field: string]: unknown;
}

/** COCO's instances files open with `info`, whose date_created is the export's own creation time. */
const COCO_INSTANCES = /^annotations\/instances_.*\.json$/;

/**
 * What differs between two exports' files (undefined: nothing), from their manifest.json: every
 * artifact's sha256 and the counts and notes; COCO instances files are hashed with `info` nulled.
 */
export async function compareExports(wholeDir: string, splitDir: string): Promise<string | undefined> {
  const read = async (dir: string) => JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as ManifestFile;
  const whole = await read(wholeDir);
  const split = await read(splitDir);
  const { exportId: _a, exportedAt: _b, artifacts: wholeArtifacts, ...wholeRest } = whole;
  const { exportId: _c, exportedAt: _d, artifacts: splitArtifacts, ...splitRest } = split;
  for (const field of new Set([...Object.keys(wholeRest), ...Object.keys(splitRest)])) {
    if (JSON.stringify(wholeRest[field]) !== JSON.stringify(splitRest[field])) {
      return `manifest.json ${field}: ${JSON.stringify(splitRest[field])} where unsplit has ${JSON.stringify(wholeRest[field])}`;
    }
  }
  const splitByKey = new Map(splitArtifacts.map((a) => [a.key, a.sha256]));
  if (splitByKey.size !== wholeArtifacts.length) {
    return `${splitByKey.size} files where unsplit has ${wholeArtifacts.length}`;
  }
  for (const { key, sha256 } of wholeArtifacts) {
    const other = splitByKey.get(key);
    if (other === undefined) return `${key} missing`;
    if (COCO_INSTANCES.test(key)) {
      const [a, b] = await Promise.all([hashWithoutInfo(join(wholeDir, key)), hashWithoutInfo(join(splitDir, key))]);
      if (a !== b) return `${key} differs (info aside)`;
    } else if (other !== sha256) {
      return `${key} differs`;
    }
  }
  return undefined;
}

/**
 * sha256 of a COCO file with its `info` value replaced by null. The exporter writes
 * `{"info":{...},"licenses":...`; only that head is parsed, so a 200 MB file is hashed as a
 * stream, and every other byte must match exactly.
 */
async function hashWithoutInfo(path: string): Promise<string> {
  const head = Buffer.alloc(64 * 1024);
  const file = await open(path);
  const { bytesRead } = await file.read(head, 0, head.length, 0).finally(() => file.close());
  const text = head.subarray(0, bytesRead).toString("utf8");
  const opening = '{"info":';
  const end = text.indexOf(',"licenses":');
  if (!text.startsWith(opening) || end < 0) throw new Error(`${path}: does not open with {"info":...,"licenses":`);
  JSON.parse(text.slice(opening.length, end)); // the info value must be one JSON value
  const hash = createHash("sha256").update('{"info":null');
  for await (const chunk of createReadStream(path, { start: Buffer.byteLength(text.slice(0, end)) })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

export function formatShardRuns(runs: ShardRun[]): string {
  const header = [
    "format",
    "processes",
    "shards",
    "seconds",
    "ann/s",
    "speed-up",
    "plugin MB",
    "orch MB",
    "CPU s orch/plugins/mongod",
    "cores busy",
    "files",
  ];
  const one = (s: number | undefined) => (s === undefined ? "-" : s.toFixed(1));
  const body = runs.map((r) => {
    const plugins = Object.entries(r.cpuSeconds).filter(([name]) => name.startsWith("plugin-"));
    const busy = Object.values(r.cpuSeconds).reduce<number>((sum, s) => sum + (s ?? 0), 0) / r.seconds;
    return [
      r.format,
      String(r.processes),
      r.splitInto > 0 ? String(r.splitInto) : "1",
      r.seconds.toFixed(2),
      r.error ? "failed" : Math.round(rate(r.annotations, r.seconds)).toLocaleString("en-US"),
      r.speedUp === undefined ? "" : `x${r.speedUp.toFixed(2)}`,
      r.pluginMb.map((mb) => mb.toFixed(0)).join("+"),
      r.orchestratorMb.toFixed(0),
      `${one(r.cpuSeconds.orchestrator)}/${plugins.map(([, s]) => one(s)).join("+")}/${one(r.cpuSeconds.mongod)}`,
      busy.toFixed(2),
      r.error ? `failed: ${r.error.slice(0, 80)}` : r.shards === 1 ? "baseline" : (r.mismatch ?? "same"),
    ];
  });
  return table(header, body, [0, header.length - 1]);
}

// ---- the plan of a 100M-annotation dataset ----

export interface PlanFigures {
  label: string;
  ranges: number;
  minAnnotations: number;
  medianAnnotations: number;
  maxAnnotations: number;
  planSeconds: number;
  /** The planning process's peak RSS while planning (its VmHWM, reset before). */
  peakRssMb: number;
}

export interface GeneratedSizes {
  items: number;
  /** 1 in `hugeEvery` items has `hugeAnnotations`; the others `min`..`max`. */
  hugeEvery: number;
  hugeAnnotations: number;
  min: number;
  max: number;
  seed: number;
}

/**
 * 10M items of 4 to 12 annotations (8 on average) and 1 in 1000 of 2000: about 100M annotations,
 * a fifth of them in a thousandth of the items.
 */
export const PLAN_DATASET: GeneratedSizes = {
  items: 10_000_000,
  hugeEvery: 1000,
  hugeAnnotations: 2000,
  min: 4,
  max: 12,
  seed: 0x5a4d,
};

/** The same sizes on every call, in id order (zero-padded ids sort as MongoDB orders strings). */
async function* generatedSizes(spec: GeneratedSizes): AsyncGenerator<ItemSize> {
  const random = seededRandom(spec.seed);
  for (let i = 0; i < spec.items; i++) {
    const annotations =
      random() * spec.hugeEvery < 1
        ? spec.hugeAnnotations
        : spec.min + Math.floor(random() * (spec.max - spec.min + 1));
    yield { itemId: `img-${String(i).padStart(9, "0")}`, annotations };
  }
}

async function totalOf(spec: GeneratedSizes): Promise<number> {
  let total = 0;
  for await (const { annotations } of generatedSizes(spec)) total += annotations;
  return total;
}

async function planOnce(label: string, spec: GeneratedSizes, options: PlanOptions): Promise<PlanFigures> {
  const rss = sampleRss(process.pid);
  const t0 = performance.now();
  const ranges = await planRanges(generatedSizes(spec), options);
  const planSeconds = (performance.now() - t0) / 1000;
  const peakRssMb = rss.stop();
  const sizes = ranges.map((r) => r.annotations).sort((a, b) => a - b);
  return {
    label,
    ranges: ranges.length,
    minAnnotations: sizes[0] ?? 0,
    medianAnnotations: sizes[Math.floor(sizes.length / 2)] ?? 0,
    maxAnnotations: sizes.at(-1) ?? 0,
    planSeconds,
    peakRssMb,
  };
}

/**
 * Plans as SplitItems does: by annotations per range (its default, and the worker's default for
 * an export of `shards: 0`), and for K ranges (target total/K, at most K ranges).
 */
export async function measurePlans(spec: GeneratedSizes = PLAN_DATASET): Promise<{
  total: number;
  plans: PlanFigures[];
}> {
  const total = await totalOf(spec);
  const plans = [
    await planOnce(`SplitItems default, ${compact(DEFAULT_ANNOTATIONS_PER_RANGE)}/range`, spec, {
      target: DEFAULT_ANNOTATIONS_PER_RANGE,
      maxRanges: MAX_RANGES,
    }),
    await planOnce(`export shards 0, ${compact(SHARD_ANNOTATIONS)}/shard`, spec, {
      target: SHARD_ANNOTATIONS,
      maxRanges: MAX_RANGES,
    }),
  ];
  for (const k of [16, 64]) plans.push(await planOnce(`${k} ranges`, spec, { target: total / k, maxRanges: k }));
  return { total, plans };
}

export function formatPlans(spec: GeneratedSizes, total: number, plans: PlanFigures[]): string {
  const title =
    `plan of a ${compact(total)}-annotation dataset (simulated: planRanges over ${compact(spec.items)} generated items, ` +
    `${spec.min}-${spec.max} annotations, 1 in ${spec.hugeEvery} with ${spec.hugeAnnotations}):`;
  const header = ["plan", "ranges", "min", "median", "max", "max/median", "plan s", "RSS MB"];
  const body = plans.map((p) => [
    p.label,
    String(p.ranges),
    compact(p.minAnnotations),
    compact(p.medianAnnotations),
    compact(p.maxAnnotations),
    (p.maxAnnotations / Math.max(1, p.medianAnnotations)).toFixed(3),
    p.planSeconds.toFixed(2),
    p.peakRssMb.toFixed(0),
  ]);
  return `${title}\n${table(header, body, [0])}`;
}

/** Plan rows for bench/results/latest.json and the main table. */
export function planRows(caseName: string, plans: PlanFigures[], total: number): Row[] {
  return plans.map((p) => ({
    case: caseName,
    format: `plan: ${p.label}`,
    annotations: total,
    seconds: p.planSeconds,
    annotationsPerSec: rate(total, p.planSeconds),
    peakRssMb: { plugin: null, orchestrator: 0 },
    peer: null,
    note: `${p.ranges} ranges, min/median/max ${compact(p.minAnnotations)}/${compact(p.medianAnnotations)}/${compact(p.maxAnnotations)}, bench RSS ${p.peakRssMb.toFixed(0)} MB`,
  }));
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

/** Text columns (`left`, by index) are left-aligned, numbers right-aligned. */
function table(header: string[], body: string[][], left: number[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (left.includes(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/** The machine's load while the case ran: the figures mean little on a busy machine. */
export function loadLine(): string {
  return `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { "plan-only": { type: "boolean", default: false } } });
  if (!values["plan-only"]) {
    throw new Error(
      "the split exports need the bench's servers: run `npm run bench -- --only shards`; here: --plan-only",
    );
  }
  const { total, plans } = await measurePlans();
  process.stdout.write(`${formatPlans(PLAN_DATASET, total, plans)}\n${loadLine()}\n`);
}
