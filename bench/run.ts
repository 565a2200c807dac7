// `npm run bench [-- --quick] [--only CASES] [--formats LIST] [--profile] [--keep]`: imports
// deterministic synthetic datasets through POST /api/import, streams them back with StreamItems,
// exports them in every format through the real job path (orchestrator, NATS, one plugin process per
// format, local storage) and runs the peers users have today on the same data, on the same machine;
// then uploads one image set in every importer's format (import-formats.ts) and imports each.
// Prints one table and writes bench/results/latest.json. Not part of `npm test`.
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { createLabelportClient, type LabelportClient } from "@labelport/sdk/client";
import type { Export } from "@labelport/sdk/contracts";
import { MongoClient } from "mongodb";
import { DATA_DIR, startStack } from "../scripts/stack/index.ts";
import { freePort } from "../scripts/stack/processes.ts";
import { createItemSource } from "../sdk/src/runtime/item-stream.ts";
import { findProcess, meterCpu } from "./cpu.ts";
import { CATEGORIES, type GeneratedFile, writeImageSet, writeVideoSet } from "./datasets.ts";
import { postImport, timedGet } from "./http.ts";
import { formatHugeComparison, hugeCase } from "./huge.ts";
import { buildUpload, IMPORT_FORMATS, type ImportFormatsContext, measureImport, writeMedia } from "./import-formats.ts";
import { mediaSourcesEnv, prepareMediaSet } from "./media-copy.ts";
import { type Child, PLUGINS, ROOT, startOrchestratorChild, startPluginChild } from "./processes.ts";
import { formatSummary, summarizeProfile } from "./profile-summary.ts";
import { ensureBenchPython, type PeerRun, runPeer } from "./python.ts";
import {
  evaluateTargets,
  formatImportTable,
  formatTable,
  formatTargets,
  mbPerSec,
  type PeerResult,
  type Row,
  rate,
} from "./report.ts";
import { sampleRss } from "./rss.ts";
import {
  formatPlans,
  formatShardRuns,
  loadLine,
  measurePlans,
  measureShardExports,
  PLAN_DATASET,
  planRows,
  type ShardRun,
} from "./shards.ts";
import { formatVersions, measureVersions } from "./versions.ts";

const ALL_FORMATS = ["coco", "yolo", "voc", "csv", "jsonl", "json-snapshot"];
/** Export options per format: json-snapshot is measured in artifact mode (one file per item). */
const EXPORT_OPTIONS: Record<string, Record<string, string>> = { "json-snapshot": { mode: "artifact" } };

interface ImageCase {
  kind: "images";
  name: string;
  annotations: number;
}

interface VideoCase {
  kind: "video";
  name: string;
  videos: number;
  tracksPerVideo: number;
}

/** The same images uploaded in every importer's format (bench/import-formats.ts). */
interface ImportFormatsCase {
  kind: "import-formats";
  name: string;
  annotations: number;
}

/** Originals in the S3 test server copied into an export with save_original_file (bench/media-copy.ts). */
interface MediaCopyCase {
  kind: "media-copy";
  name: string;
  images: number;
}

/** Dataset versions: create, stream from one, storage after 10 (bench/versions.ts). */
interface VersionsCase {
  kind: "versions";
  name: string;
  annotations: number;
}

/** One export split across plugin processes, and the simulated plan of a 100M dataset (bench/shards.ts). */
interface ShardsCase {
  kind: "shards";
  name: string;
  annotations: number;
}

type BenchCase = ImageCase | VideoCase | ImportFormatsCase | MediaCopyCase | VersionsCase | ShardsCase;

function casesFor(quick: boolean, huge: ImageCase | undefined): BenchCase[] {
  const images: ImageCase[] = [
    { kind: "images", name: "images-10k", annotations: 10_000 },
    { kind: "images", name: "images-100k", annotations: 100_000 },
  ];
  if (!quick) images.push({ kind: "images", name: "images-1m", annotations: 1_000_000 });
  if (huge) images.push(huge);
  // The full video set is one ~95 MB video annotation JSONL file (the import target's size).
  const video: VideoCase = quick
    ? { kind: "video", name: "video-3k-tracks", videos: 60, tracksPerVideo: 50 }
    : { kind: "video", name: "video-23k-tracks", videos: 290, tracksPerVideo: 80 };
  const importFormats: ImportFormatsCase = quick
    ? { kind: "import-formats", name: "import-formats-10k", annotations: 10_000 }
    : { kind: "import-formats", name: "import-formats-100k", annotations: 100_000 };
  const mediaCopy: MediaCopyCase = quick
    ? { kind: "media-copy", name: "media-copy-1k", images: 1_000 }
    : { kind: "media-copy", name: "media-copy-10k", images: 10_000 };
  const versions: VersionsCase = quick
    ? { kind: "versions", name: "versions-100k", annotations: 100_000 }
    : { kind: "versions", name: "versions-1m", annotations: 1_000_000 };
  const shards: ShardsCase = quick
    ? { kind: "shards", name: "shards-100k", annotations: 100_000 }
    : { kind: "shards", name: "shards-1m", annotations: 1_000_000 };
  return [...images, video, importFormats, mediaCopy, versions, shards];
}

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    formats: { type: "string" },
    "import-formats": { type: "string" },
    profile: { type: "boolean", default: false },
    huge: { type: "boolean", default: false },
    "huge-annotations": { type: "string" },
    keep: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  allowPositionals: false,
});

if (args.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--only CASES] [--formats LIST] [--import-formats LIST] [--profile] [--keep]
  --quick     the 10k and 100k image cases, a small video set and import-formats at 10k (about four minutes)
  --only      comma-separated case names or prefixes (images-10k, images-100k, images-1m, video,
              import-formats, media-copy, versions, shards)
  --formats   comma-separated export formats (default: ${ALL_FORMATS.join(",")})
  --import-formats  comma-separated uploads of the import-formats case
              (default: ${IMPORT_FORMATS.map((f) => f.name).join(",")})
  --huge      also the images-10m case (10M annotations, every export format, no peers; an hour or
              more); with images-1m in the same run the table compares the two (bench/huge.ts)
  --huge-annotations N  the huge case's size instead of 10M (e.g. 2000000 to try the harness)
  --profile   write CPU profiles (.data/bench-profiles/) of the orchestrator (import and export
              phases apart) and the plugins per case, and print where the time went
  --keep      keep the run's state directory (.data/bench/<run>) for inspection
`);
  process.exit(0);
}

const quick = args.quick === true;
const formats = args.formats ? args.formats.split(",").map((f) => f.trim()) : ALL_FORMATS;
for (const format of formats) {
  if (!PLUGINS[format]) throw new Error(`unknown format ${format}: expected some of ${ALL_FORMATS.join(", ")}`);
}
const importFormats = args["import-formats"]
  ? args["import-formats"].split(",").map((f) => f.trim())
  : IMPORT_FORMATS.map((f) => f.name);
for (const name of importFormats) {
  if (!IMPORT_FORMATS.some((f) => f.name === name)) {
    throw new Error(`unknown upload ${name}: expected some of ${IMPORT_FORMATS.map((f) => f.name).join(", ")}`);
  }
}
// coco first: datumaro's peers convert its output.
formats.sort((a, b) => (a === "coco" ? -1 : b === "coco" ? 1 : 0));
const only = args.only?.split(",").map((s) => s.trim());
const hugeImages: ImageCase | undefined = args.huge
  ? hugeCase(args["huge-annotations"] ? Number(args["huge-annotations"]) : undefined)
  : undefined;
if (hugeImages && !(Number.isSafeInteger(hugeImages.annotations) && hugeImages.annotations > 0)) {
  throw new Error(`--huge-annotations must be a positive integer, got ${args["huge-annotations"]}`);
}
const cases = casesFor(quick, hugeImages).filter((c) => !only || only.some((o) => c.name.startsWith(o)));
const peerTimeoutMs = (quick ? 3 : 20) * 60 * 1000;

const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, "");
const stateDir = join(ROOT, ".data", "bench", `run-${stamp}-${process.pid}`);
const profileDir = args.profile ? join(ROOT, ".data", "bench-profiles", stamp) : undefined;
const dataDir = join(stateDir, "data");
const storageRoot = join(stateDir, "storage");
const logDir = join(stateDir, "logs");
const dbName = `bench_${stamp}`;

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const rows: Row[] = [];
const started = performance.now();

await mkdir(dataDir, { recursive: true });
say(`state in ${stateDir}`);
const pythonReady = ensureBenchPython(say).then(
  () => undefined,
  (err: unknown) => err as Error,
);
say("starting MongoDB and NATS...");
const stack = await startStack({ stateDir });
say(`mongodb: ${stack.sources.mongo}; nats: ${stack.sources.nats}`);
const port = await freePort();

let orchestrator: (Child & { url: string }) | undefined;
const plugins = new Map<string, Child>();
let client: LabelportClient | undefined;

/** What a case needs served: plugin processes (by package, plugins/<name>), export and import formats. */
interface PluginNeeds {
  plugins: string[];
  exports: string[];
  imports: string[];
}

/** Starts what is not running; with --profile, `tag` names the profiles (`<case>-<phase>`). */
async function startServices(
  caseName: string,
  phase: string,
  needs: PluginNeeds = { plugins: formats, exports: formats, imports: [] },
): Promise<void> {
  const profileTag = profileDir ? `${caseName}-${phase}` : undefined;
  if (!orchestrator) {
    orchestrator = await startOrchestratorChild({
      mongoUrl: stack.mongoUrl,
      natsUrl: stack.natsUrl,
      db: dbName,
      port,
      storageRoot,
      dataDir: stateDir,
      logDir,
      profileDir,
      ...(profileTag ? { profileName: `${profileTag}-orchestrator` } : {}),
    });
    client = createLabelportClient({ baseUrl: orchestrator.url });
  }
  const missing = needs.plugins.filter((f) => !plugins.has(f));
  const started = await Promise.all(
    missing.map((format) =>
      startPluginChild({
        format,
        natsUrl: stack.natsUrl,
        logDir,
        profileDir,
        ...(profileDir ? { profileName: `${caseName}-plugin-${format}` } : {}),
      }),
    ),
  );
  for (const [i, format] of missing.entries()) plugins.set(format, started[i] as Child);
  // The orchestrator learns of plugins from their announcements.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const listed = (await api().exports.listFormats({})).plugins;
    const exported = new Set(listed.flatMap((p) => p.formats));
    const imported = new Set(listed.flatMap((p) => p.importFormats));
    const waiting = [
      ...needs.exports.filter((f) => !exported.has(f)),
      ...needs.imports.filter((f) => !imported.has(f)),
    ];
    if (waiting.length === 0) break;
    if (Date.now() > deadline) throw new Error(`plugins not registered: ${waiting.join(", ")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopOrchestrator(): Promise<void> {
  await orchestrator?.stop();
  orchestrator = undefined;
}

async function stopServices(): Promise<void> {
  await Promise.all([...plugins.values()].map((p) => p.stop()));
  plugins.clear();
  await stopOrchestrator();
}

let mongod: number | undefined;
/** Our own mongod (undefined with MONGODB_URL): its CPU time is part of every row. */
function mongodPid(): number | undefined {
  mongod ??= findProcess(["mongod", join(stateDir, "mongo")]);
  return mongod;
}

function api(): LabelportClient {
  if (!client) throw new Error("orchestrator not started");
  return client;
}

function orchestratorPid(): number {
  if (!orchestrator) throw new Error("orchestrator not started");
  return orchestrator.pid;
}

// ---- measurements ----

interface ImportedFile extends GeneratedFile {
  seconds: number;
  importedAnnotations: number;
}

async function importFiles(
  caseName: string,
  files: GeneratedFile[],
  format: "labelport-items" | "jsonl",
  fields: Record<string, string>,
): Promise<Row> {
  const rss = sampleRss(orchestratorPid());
  const cpu = meterCpu({ orchestrator: orchestratorPid(), mongod: mongodPid() });
  const done: ImportedFile[] = [];
  for (const file of files) {
    const t0 = performance.now();
    const reply = await postImport(orchestrator?.url ?? "", file.path, { ...fields, format });
    const seconds = (performance.now() - t0) / 1000;
    const summary = reply.body.summary as { importedItems?: { annotations?: number } } | undefined;
    if (reply.status !== 200 || reply.body.success !== true) {
      rss.stop();
      cpu.stop();
      const errors = JSON.stringify(reply.body.errors ?? reply.body.message ?? reply.body).slice(0, 400);
      throw new Error(`import of ${file.path} failed: HTTP ${reply.status} ${errors}`);
    }
    done.push({ ...file, seconds, importedAnnotations: summary?.importedItems?.annotations ?? 0 });
    say(
      `  import ${format} ${(file.bytes / 1e6).toFixed(1)} MB, ${file.lines} lines: ${seconds.toFixed(2)} s (${Math.round(rate(file.annotations, seconds))} annotations/s)`,
    );
  }
  const orchestratorMb = rss.stop();
  const cpuSeconds = cpu.stop();
  const seconds = done.reduce((s, f) => s + f.seconds, 0);
  const lines = done.reduce((s, f) => s + f.lines, 0);
  const annotations = done.reduce((s, f) => s + f.annotations, 0);
  const bytes = done.reduce((s, f) => s + f.bytes, 0);
  const row: Row = {
    case: caseName,
    format: `import:${format}`,
    annotations,
    seconds,
    annotationsPerSec: rate(annotations, seconds),
    peakRssMb: { plugin: null, orchestrator: orchestratorMb },
    peer: null,
    items: format === "labelport-items" ? lines : 0,
    bytes,
    mbPerSec: mbPerSec(bytes, seconds),
    linesPerSec: rate(lines, seconds),
    cpuSeconds,
    files: done.map((f) => ({
      bytes: f.bytes,
      lines: f.lines,
      annotations: f.annotations,
      imported: f.importedAnnotations,
      seconds: f.seconds,
    })),
  };
  return row;
}

async function measureStreamItems(caseName: string, datasetId: string): Promise<Row> {
  // As the plugins read: the SDK's item source (Connect over HTTP/1.1, binary, 500 items a
  // message, no gzip, its own decoder).
  const items = createItemSource({
    baseUrl: orchestrator?.url ?? "",
    token: "",
    datasetId,
    filter: undefined,
    snapshotTime: undefined,
    signal: AbortSignal.timeout(30 * 60 * 1000),
  });
  const rss = sampleRss(orchestratorPid());
  const cpu = meterCpu({ orchestrator: orchestratorPid(), mongod: mongodPid(), client: process.pid });
  const t0 = performance.now();
  let count = 0;
  let annotations = 0;
  for await (const item of items()) {
    count += 1;
    annotations += item.annotations.length;
  }
  const seconds = (performance.now() - t0) / 1000;
  const orchestratorMb = rss.stop();
  const cpuSeconds = cpu.stop();
  return {
    case: caseName,
    format: "stream-items",
    cpuSeconds,
    annotations,
    seconds,
    annotationsPerSec: rate(annotations, seconds),
    peakRssMb: { plugin: null, orchestrator: orchestratorMb },
    peer: null,
    items: count,
    itemsPerSec: rate(count, seconds),
  };
}

/** A failed export, with what was measured until it failed. */
class ExportRunError extends Error {
  override name = "ExportRunError";
  constructor(
    message: string,
    readonly row: Row,
  ) {
    super(message);
  }
}

interface ExportMeasurement {
  row: Row;
  /** The export's folder in local storage. */
  dir: string;
  exportId: string;
}

async function measureExport(
  caseName: string,
  datasetId: string,
  format: string,
  annotations: number,
  saveOriginalFile = false,
): Promise<ExportMeasurement> {
  const plugin = plugins.get(format);
  if (!plugin) throw new Error(`no plugin process for ${format}`);
  const pluginRss = sampleRss(plugin.pid);
  const orchestratorRss = sampleRss(orchestratorPid());
  const cpu = meterCpu({ orchestrator: orchestratorPid(), plugin: plugin.pid, mongod: mongodPid() });
  const t0 = performance.now();
  let exported: Export;
  let peaks: { plugin: number; orchestrator: number } | undefined;
  let cpuSeconds: Record<string, number | undefined> = {};
  let firstFailure: string | undefined;
  try {
    // Wall time from job creation to the completed event, as a caller waits for it.
    exported = await api().exports.create(
      {
        datasetId,
        format,
        saveOriginalFile,
        name: `bench ${caseName} ${format} ${stamp}`,
        ...(EXPORT_OPTIONS[format] ? { options: EXPORT_OPTIONS[format] } : {}),
      },
      {
        wait: true,
        onProgress: (e) => {
          // A failed attempt is the result; its retries (up to 5 whole runs) would only cost time.
          if (e.errorMessage && !firstFailure) {
            firstFailure = `on attempt ${e.attempts}: ${e.errorMessage} (the bench canceled the retries)`;
            api()
              .exports.cancelExport({ exportId: e.id })
              .catch(() => undefined);
          }
        },
      },
    );
  } catch (err) {
    peaks = { plugin: pluginRss.stop(), orchestrator: orchestratorRss.stop() };
    const failedExport = (err as { export_?: Export }).export_;
    const attempts = failedExport ? `after ${failedExport.attempts} attempt(s), ` : "";
    throw new ExportRunError((err as Error).message, {
      case: caseName,
      format,
      annotations,
      seconds: (performance.now() - t0) / 1000,
      annotationsPerSec: 0,
      peakRssMb: peaks,
      peer: null,
      cpuSeconds: cpu.stop(),
      note: firstFailure ? `export failed ${firstFailure}` : `export failed ${attempts}${(err as Error).message}`,
    });
  } finally {
    peaks = { plugin: pluginRss.stop(), orchestrator: orchestratorRss.stop() };
    cpuSeconds = cpu.stop();
  }
  const seen = performance.now();
  const seconds = (seen - t0) / 1000;
  const bytes = Number(exported.fileSize);
  const row: Row = {
    case: caseName,
    format,
    annotations,
    seconds,
    annotationsPerSec: rate(annotations, seconds),
    peakRssMb: peaks,
    peer: null,
    items: Number(exported.counts?.itemCount ?? 0n),
    bytes,
    mbPerSec: mbPerSec(bytes, seconds),
    exportedAnnotations: Number(exported.counts?.annotationCount ?? 0n),
    phases: phasesOf(exported, t0, seen),
    cpuSeconds,
  };
  return { row, dir: join(storageRoot, exported.path), exportId: exported.id };
}

/**
 * The whole export as one ZIP through its download link (the orchestrator streams it, entry by
 * entry): seconds, MB/s and the orchestrator's peak, which must not grow with the file count.
 */
async function measureZipDownload(
  caseName: string,
  format: string,
  exportId: string,
  annotations: number,
): Promise<Row> {
  const rss = sampleRss(orchestratorPid());
  const cpu = meterCpu({ orchestrator: orchestratorPid(), mongod: mongodPid() });
  const row: Row = {
    case: caseName,
    format: `${format}: whole-ZIP download`,
    annotations,
    seconds: 0,
    annotationsPerSec: 0,
    peakRssMb: { plugin: null, orchestrator: 0 },
    peer: null,
  };
  try {
    const link = await api().exports.getExportDownload({ exportId });
    const got = await timedGet(link.downloadUrl, link.downloadUrl, 60 * 60 * 1000);
    if (got.status !== 200 || BigInt(got.bytes) !== link.fileSize) {
      row.note = `download answered HTTP ${got.status} with ${got.bytes} of ${link.fileSize} bytes`;
    }
    row.seconds = got.seconds;
    row.annotationsPerSec = rate(annotations, got.seconds);
    row.bytes = got.bytes;
    row.mbPerSec = mbPerSec(got.bytes, got.seconds);
  } catch (err) {
    row.note = `download failed: ${(err as Error).message}`;
  }
  row.peakRssMb.orchestrator = rss.stop();
  row.cpuSeconds = cpu.stop();
  say(
    `  ${row.format}: ${row.note ?? `${((row.bytes ?? 0) / 1e6).toFixed(1)} MB in ${row.seconds.toFixed(2)} s`}, orchestrator ${row.peakRssMb.orchestrator.toFixed(0)} MB`,
  );
  return row;
}

/**
 * Where an export's wall time went, from the job's own timestamps (one machine, one clock):
 * queued (created to claimed by the plugin), running (claimed to completed) and noticed
 * (completed to the caller's WatchExport seeing it).
 */
function phasesOf(exported: Export, t0: number, seen: number): Row["phases"] {
  const ms = (t: Timestamp | undefined) => (t ? Number(t.seconds) * 1000 + t.nanos / 1e6 : undefined);
  const created = ms(exported.createTime);
  const startedAt = ms(exported.startTime);
  const completed = ms(exported.completeTime);
  if (created === undefined || startedAt === undefined || completed === undefined) return undefined;
  const seenWall = performance.timeOrigin + seen;
  return {
    requestMs: Math.max(0, created - (performance.timeOrigin + t0)),
    queuedMs: startedAt - created,
    runningMs: completed - startedAt,
    noticedMs: Math.max(0, seenWall - completed),
  };
}

function peerResult(name: string, run: PeerRun): PeerResult & { processSeconds: number } {
  return { name, seconds: run.seconds, peakRssMb: run.peakRssMb, processSeconds: run.processSeconds };
}

async function peer(name: string, script: string, peerArgs: string[]): Promise<PeerResult | string> {
  const failure = await pythonReady;
  if (failure) return `Python peers unavailable: ${failure.message.split("\n")[0]}`;
  try {
    const run = await runPeer(script, peerArgs, peerTimeoutMs);
    say(`  peer ${name}: ${run.seconds.toFixed(2)} s, ${run.peakRssMb.toFixed(0)} MB (${JSON.stringify(run.report)})`);
    return peerResult(name, run);
  } catch (err) {
    say(`  peer ${name} failed: ${(err as Error).message}`);
    return `${name} failed: ${(err as Error).message.slice(0, 200)}`;
  }
}

async function cocoFiles(dir: string): Promise<string[]> {
  const annotations = join(dir, "annotations");
  return (await readdir(annotations)).filter((f) => f.endsWith(".json")).map((f) => join(annotations, f));
}

async function exportAll(caseName: string, datasetId: string, annotations: number, withPeers: boolean): Promise<void> {
  let cocoDir: string | undefined;
  // Removed when the case's last format has run, not between formats: on this machine's ext4
  // (mounted with discard) creating files right after removing many costs the kernel 3.5x the
  // CPU until the freed blocks are discarded (100k files of 1.5 KB: 4.0 s of system time into
  // fresh space, 14.6 s right after removing 100k others, 5.0 s after 100 s), and each format would
  // pay for the one before it.
  const outputs: string[] = [];
  for (const format of formats) {
    let row: Row;
    let dir: string | undefined;
    let download: Row | undefined;
    try {
      let exportId: string;
      ({ row, dir, exportId } = await measureExport(caseName, datasetId, format, annotations));
      say(
        `  export ${format}: ${row.seconds.toFixed(2)} s, ${Math.round(row.annotationsPerSec)} annotations/s, ${((row.bytes ?? 0) / 1e6).toFixed(1)} MB, plugin ${row.peakRssMb.plugin?.toFixed(0)} MB, orchestrator ${row.peakRssMb.orchestrator.toFixed(0)} MB`,
      );
      // One file per image: the download that has the most entries to stream.
      if (format === ZIP_DOWNLOAD_FORMAT) download = await measureZipDownload(caseName, format, exportId, annotations);
    } catch (err) {
      // One format failing says nothing about the others (nor about its peer): record it, go on.
      const message = (err as Error).message;
      failed = true;
      row =
        err instanceof ExportRunError
          ? err.row
          : {
              case: caseName,
              format,
              annotations,
              seconds: 0,
              annotationsPerSec: 0,
              peakRssMb: { plugin: null, orchestrator: 0 },
              peer: null,
              note: `export failed: ${message}`,
            };
      say(`  ${format}: ${row.note} (${row.seconds.toFixed(1)} s)`);
    }
    if (withPeers) {
      const peerOut = join(stateDir, "peers", caseName, format);
      let result: PeerResult | string | undefined;
      if (format === "coco") {
        cocoDir = dir;
        result = await peer("pymongo+json.dump script", "coco_from_mongo.py", [
          stack.mongoUrl,
          dbName,
          datasetId,
          peerOut,
        ]);
        if (dir) {
          const load = await peer("pycocotools load (our COCO)", "pycocotools_load.py", await cocoFiles(dir));
          if (typeof load !== "string") row.otherPeers = [load];
        }
      } else if ((format === "voc" || format === "yolo") && quick && annotations > 10_000) {
        // datumaro's VOC writer rewrites an image's XML once per object: minutes at 100k.
        result = "datumaro peers run on the 10k case only with --quick";
      } else if (format === "voc" || format === "yolo") {
        result = cocoDir
          ? await peer(`datumaro coco->${format}`, "datumaro_convert.py", [
              cocoDir,
              peerOut,
              format === "voc" ? "voc_detection" : "yolo",
            ])
          : "datumaro converts this case's coco export, which is missing";
      }
      if (typeof result === "string") row.note = row.note ? `${row.note}; ${result}` : result;
      else if (result) row.peer = result;
      outputs.push(peerOut);
    }
    rows.push(row);
    if (download) rows.push(download);
    if (dir) outputs.push(dir);
  }
  if (!args.keep) for (const output of outputs) await rm(output, { recursive: true, force: true });
}

async function runImageCase(c: ImageCase): Promise<void> {
  say(`${c.name}: generating ${c.annotations.toLocaleString("en-US")} annotations...`);
  const set = await writeImageSet(dataDir, { annotations: c.annotations, prefix: c.name });
  say(
    `${c.name}: ${set.items} images, ${set.bboxes} boxes, ${set.polygons} polygons in ${set.files.length} file(s), ${(set.files.reduce((s, f) => s + f.bytes, 0) / 1e6).toFixed(1)} MB`,
  );
  await startServices(c.name, "1-import");
  const { dataset } = await api().datasets.createDataset({
    name: `${c.name} ${stamp}`,
    categories: CATEGORIES.map((name) => ({ name, supercategory: "object" })),
  });
  const datasetId = dataset?.id ?? "";
  rows.push(await importFiles(c.name, set.files, "labelport-items", { datasetId }));
  for (const file of set.files) await rm(file.path, { force: true });
  if (profileDir) {
    // The import phase's profile is written as this orchestrator exits; exports get their own.
    await stopOrchestrator();
    await startServices(c.name, "2-export");
  }
  const stream = await measureStreamItems(c.name, datasetId);
  say(
    `  StreamItems: ${stream.items} items in ${stream.seconds.toFixed(2)} s (${Math.round(stream.itemsPerSec ?? 0)} items/s)`,
  );
  rows.push(stream);
  // The peers would take hours at 10M (datumaro's VOC writer alone about two).
  await exportAll(c.name, datasetId, set.annotations, c !== hugeImages);
  if (profileDir) await stopServices();
}

async function runVideoCase(c: VideoCase): Promise<void> {
  say(`${c.name}: generating ${c.videos} videos x ${c.tracksPerVideo} tracks...`);
  const set = await writeVideoSet(dataDir, { videos: c.videos, tracksPerVideo: c.tracksPerVideo });
  say(
    `${c.name}: ${set.tracks} tracks, ${set.keyframes} keyframes; tracks ${(set.trackFiles.reduce((s, f) => s + f.bytes, 0) / 1e6).toFixed(1)} MB in ${set.trackFiles.length} file(s)`,
  );
  await startServices(c.name, "1-import");
  // The video annotation REST routes work on the "default" dataset, so the video set goes there.
  const items = await importFiles(c.name, set.itemFiles, "labelport-items", {});
  say(`  ${items.items} video items imported`);
  const tracks = await importFiles(c.name, set.trackFiles, "jsonl", {
    options: JSON.stringify({ conflictResolution: { missingDependencies: "create" } }),
  });
  rows.push(tracks);
  for (const file of [...set.itemFiles, ...set.trackFiles]) await rm(file.path, { force: true });
  if (profileDir) {
    await stopOrchestrator();
    await startServices(c.name, "2-export");
  }
  const datasets = await api().datasets.listDatasets({ pageSize: 1000 });
  const datasetId = datasets.datasets.find((d) => d.name === "default")?.id ?? "default";
  rows.push(await measureStreamItems(c.name, datasetId));
  rows.push(await measureRestExport(c.name, set.tracks));
  await exportAll(c.name, datasetId, set.tracks, false);
  if (profileDir) await stopServices();
}

/**
 * Every importer format, the same data: the source dataset is imported as lossless items (the
 * baseline row), its media written as images, each upload made (exported with images, or
 * generated), then each upload imported into a fresh dataset, one at a time, timed and measured.
 */
async function runImportFormatsCase(c: ImportFormatsCase): Promise<void> {
  const specs = IMPORT_FORMATS.filter((f) => importFormats.includes(f.name));
  say(`${c.name}: generating ${c.annotations.toLocaleString("en-US")} annotations...`);
  const set = await writeImageSet(dataDir, { annotations: c.annotations, prefix: c.name, mediaExtension: ".png" });
  const itemFiles = set.files.map((f) => f.path);
  const exportFormats = [...new Set(specs.flatMap((f) => ("export" in f.upload ? [f.upload.export] : [])))];
  await startServices(c.name, "1-import", {
    plugins: [...new Set([...specs.map((f) => f.plugin), ...exportFormats])],
    exports: exportFormats,
    imports: [...new Set(specs.map((f) => f.format))],
  });
  const { dataset } = await api().datasets.createDataset({
    name: `${c.name} ${stamp}`,
    categories: CATEGORIES.map((name) => ({ name, supercategory: "object" })),
  });
  const datasetId = dataset?.id ?? "";
  rows.push(await importFiles(c.name, set.files, "labelport-items", { datasetId }));
  await writeMedia(storageRoot, itemFiles);
  const ctx: ImportFormatsContext = {
    api: api(),
    baseUrl: orchestrator?.url ?? "",
    storageRoot,
    dataDir,
    caseName: c.name,
    stamp,
    pids: { orchestrator: orchestratorPid(), mongod: mongodPid(), plugin: (name) => plugins.get(name)?.pid },
  };
  for (const spec of specs) {
    if (interrupted) break;
    let row: Row;
    try {
      const upload = await buildUpload(ctx, spec, datasetId, itemFiles);
      say(`  ${spec.name} upload: ${(upload.bytes / 1e6).toFixed(1)} MB`);
      const measured = await measureImport(ctx, spec, upload, set.annotations);
      await rm(upload.path, { force: true });
      row = measured.row;
      if (!measured.ok) failed = true;
    } catch (err) {
      // One format failing says nothing about the others: record it, go on.
      failed = true;
      row = {
        case: c.name,
        format: `import:${spec.name}`,
        annotations: 0,
        seconds: 0,
        annotationsPerSec: 0,
        peakRssMb: { plugin: null, orchestrator: 0 },
        peer: null,
        note: `import failed: ${(err as Error).message}`,
      };
    }
    say(
      `  import ${spec.name}: ${row.seconds.toFixed(2)} s, ${Math.round(row.annotationsPerSec)} annotations/s, plugin ${row.peakRssMb.plugin?.toFixed(0) ?? "n/a"} MB, orchestrator ${row.peakRssMb.orchestrator.toFixed(0)} MB${row.note ? ` (${row.note})` : ""}`,
    );
    rows.push(row);
  }
  for (const file of itemFiles) await rm(file, { force: true });
  if (profileDir) await stopServices();
}

/**
 * Images of about 100 KB in the S3 test server, referenced as s3:// URIs, copied into a COCO export
 * with save_original_file by a plugin process that alone has the bucket as a media source (the other
 * plugin processes are stopped so none of them takes the job): MB/s and the plugin's peak RSS.
 */
async function runMediaCopyCase(c: MediaCopyCase): Promise<void> {
  say(`${c.name}: ${c.images.toLocaleString("en-US")} images into the S3 test server...`);
  const set = await prepareMediaSet({ stateDir, dataDir: DATA_DIR, images: c.images, say });
  let dir: string | undefined;
  try {
    await Promise.all([...plugins.values()].map((p) => p.stop()));
    plugins.clear();
    const plugin = await startPluginChild({
      format: "coco",
      natsUrl: stack.natsUrl,
      logDir,
      profileDir,
      env: mediaSourcesEnv(set.s3),
      ...(profileDir ? { profileName: `${c.name}-plugin-coco` } : {}),
    });
    plugins.set("coco", plugin);
    await startServices(c.name, "1-export", { plugins: ["coco"], exports: ["coco"], imports: [] });
    const { dataset } = await api().datasets.createDataset({
      name: `${c.name} ${stamp}`,
      categories: CATEGORIES.map((name) => ({ name, supercategory: "object" })),
    });
    const datasetId = dataset?.id ?? "";
    await importFiles(c.name, [set.itemsFile], "labelport-items", { datasetId });
    const measured = await measureExport(c.name, datasetId, "coco", c.images, true);
    dir = measured.dir;
    const row = {
      ...measured.row,
      format: "coco+media (s3)",
      bytes: set.bytes,
      mbPerSec: mbPerSec(set.bytes, measured.row.seconds),
    };
    const summary = JSON.parse(await readFile(join(dir, "metadata", "export_summary.json"), "utf8")) as {
      originalFilesSaved?: number;
    };
    if (summary.originalFilesSaved !== c.images) {
      failed = true;
      row.note = `copied ${summary.originalFilesSaved ?? 0} of ${c.images} originals`;
    }
    say(
      `  export coco with ${c.images} originals: ${row.seconds.toFixed(2)} s, ${row.mbPerSec.toFixed(1)} MB/s, plugin ${row.peakRssMb.plugin?.toFixed(0)} MB`,
    );
    rows.push(row);
  } finally {
    // The next cases start plugins without the bucket's source.
    await plugins.get("coco")?.stop();
    plugins.delete("coco");
    if (dir && !args.keep) await rm(dir, { recursive: true, force: true });
    await rm(set.itemsFile.path, { force: true });
    await set.s3.stop();
  }
}

async function runVersionsCase(c: VersionsCase): Promise<void> {
  await startServices(c.name, "versions", { plugins: [], exports: [], imports: [] });
  const client = await MongoClient.connect(stack.mongoUrl);
  try {
    const figures = await measureVersions(orchestrator?.url ?? "", client.db(dbName), c.annotations);
    say(formatVersions(figures));
    rows.push({
      case: c.name,
      format: "create-version",
      annotations: c.annotations,
      seconds: figures.createSeconds,
      annotationsPerSec: rate(c.annotations, figures.createSeconds),
      peakRssMb: { plugin: null, orchestrator: 0 },
      peer: null,
      note: formatVersions(figures).split("\n").slice(2).join("; "),
    });
  } finally {
    await client.close();
  }
}

/**
 * COCO and YOLO of one image set exported unsplit by one plugin process, then split in 2 and in 4
 * shards over two (bench/shards.ts, which runs its own plugin processes: the others are stopped so
 * that none of them takes a job or a shard); then the simulated plan of a 100M dataset.
 */
async function runShardsCase(c: ShardsCase): Promise<void> {
  say(`${c.name}: generating ${c.annotations.toLocaleString("en-US")} annotations...`);
  const set = await writeImageSet(dataDir, { annotations: c.annotations, prefix: c.name });
  await Promise.all([...plugins.values()].map((p) => p.stop()));
  plugins.clear();
  await startServices(c.name, "shards", { plugins: [], exports: [], imports: [] });
  const { dataset } = await api().datasets.createDataset({
    name: `${c.name} ${stamp}`,
    categories: CATEGORIES.map((name) => ({ name, supercategory: "object" })),
  });
  const datasetId = dataset?.id ?? "";
  rows.push(await importFiles(c.name, set.files, "labelport-items", { datasetId }));
  for (const file of set.files) await rm(file.path, { force: true });
  say(`  ${loadLine()}`);
  const runs = await measureShardExports(
    {
      api: api(),
      natsUrl: stack.natsUrl,
      logDir,
      storageRoot,
      caseName: c.name,
      stamp,
      pids: { orchestrator: orchestratorPid(), mongod: mongodPid() },
      keep: args.keep === true,
      say,
    },
    datasetId,
    set.annotations,
  );
  shardRuns.push(...runs);
  rows.push(...runs.map((r) => r.row));
  if (runs.some((r) => r.error || r.mismatch)) failed = true;
  say(`  ${loadLine()}`);
  say("  planning a 100M-annotation dataset (simulated)...");
  const { total, plans } = await measurePlans();
  shardPlan = formatPlans(PLAN_DATASET, total, plans);
  say(shardPlan);
  rows.push(...planRows(c.name, plans, total));
}

/** The format whose export is also downloaded as one ZIP. */
const ZIP_DOWNLOAD_FORMAT = "yolo";

/** Requests of GET /api/export after the first, timed to their first byte. */
const REPEATED_GETS = 5;
/** Selections of the video set no request has asked for, each timed to its first byte once. */
const NEW_SELECTIONS = [
  "personaIds=persona-1",
  "annotationTypes=object",
  "videoIds=vid-00001,vid-00002",
  "personaIds=persona-1&annotationTypes=type",
  "includeInterpolated=true&personaIds=persona-2,persona-4",
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? null;

/**
 * The video track export, GET /api/export (JSONL of the default dataset): time to first byte and
 * throughput, then the first byte of the same request repeated, and of selections not asked before.
 */
async function measureRestExport(caseName: string, tracks: number): Promise<Row> {
  const rss = sampleRss(orchestratorPid());
  const cpu = meterCpu({ orchestrator: orchestratorPid(), mongod: mongodPid() });
  const row: Row = {
    case: caseName,
    format: "rest-export",
    annotations: tracks,
    seconds: 0,
    annotationsPerSec: 0,
    peakRssMb: { plugin: null, orchestrator: 0 },
    peer: null,
    ttfbMs: null,
  };
  try {
    const got = await timedGet(orchestrator?.url ?? "", "/api/export", 10 * 60 * 1000);
    if (got.status === 200) {
      row.seconds = got.seconds;
      row.annotationsPerSec = rate(tracks, got.seconds);
      row.ttfbMs = got.firstByteMs ?? null;
      row.bytes = got.bytes;
      row.mbPerSec = mbPerSec(got.bytes, got.seconds);
      // Again with nothing written since: the totals the first request kept answer the headers.
      const again: number[] = [];
      for (let i = 0; i < REPEATED_GETS; i++) {
        const repeated = await timedGet(orchestrator?.url ?? "", "/api/export", 60_000, { firstByteOnly: true });
        if (repeated.firstByteMs !== undefined) again.push(repeated.firstByteMs);
      }
      row.ttfbRepeatMs = median(again);
      const fresh: number[] = [];
      for (const query of NEW_SELECTIONS) {
        const first = await timedGet(orchestrator?.url ?? "", `/api/export?${query}`, 60_000, { firstByteOnly: true });
        if (first.firstByteMs !== undefined) fresh.push(first.firstByteMs);
      }
      row.ttfbNewSelectionMs = median(fresh);
      say(
        `  GET /api/export: first byte ${got.firstByteMs?.toFixed(0)} ms (again: ${row.ttfbRepeatMs?.toFixed(0)} ms, median of ${again.length}; selections not asked before: ${row.ttfbNewSelectionMs?.toFixed(0)} ms, median of ${fresh.length}), ${(got.bytes / 1e6).toFixed(1)} MB in ${got.seconds.toFixed(2)} s`,
      );
    } else {
      row.note = `GET /api/export answered HTTP ${got.status}`;
      say(`  ${row.note}: TTFB n/a`);
    }
  } catch (err) {
    row.note = `GET /api/export failed: ${(err as Error).message}`;
    say(`  ${row.note}`);
  }
  row.peakRssMb.orchestrator = rss.stop();
  row.cpuSeconds = cpu.stop();
  return row;
}

// ---- the run ----

let failed = false;
let interrupted = false;
/** The shards case's runs and plan, printed as tables of their own. */
const shardRuns: ShardRun[] = [];
let shardPlan: string | undefined;
async function cleanup(): Promise<void> {
  await stopServices().catch(() => undefined);
  await stack.stop().catch(() => undefined);
  if (args.keep) {
    say(`kept ${stateDir}`);
    return;
  }
  if (failed) {
    // The logs say why; the data is not worth keeping.
    const logs = join(ROOT, ".data", "bench", `logs-${stamp}`);
    await rename(logDir, logs).then(
      () => say(`logs of the failed run in ${logs}`),
      () => undefined,
    );
  }
  await rm(stateDir, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    say(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

try {
  for (const c of cases) {
    if (interrupted) break;
    const t0 = performance.now();
    try {
      if (c.kind === "images") await runImageCase(c);
      else if (c.kind === "video") await runVideoCase(c);
      else if (c.kind === "media-copy") await runMediaCopyCase(c);
      else if (c.kind === "versions") await runVersionsCase(c);
      else if (c.kind === "shards") await runShardsCase(c);
      else await runImportFormatsCase(c);
    } catch (err) {
      failed = true;
      say(`${c.name} failed: ${(err as Error).stack ?? err}`);
      if (profileDir) await stopServices().catch(() => undefined);
      if (!orchestrator && !profileDir) break; // it would not start: the next cases cannot run either
    }
    say(`${c.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
} finally {
  if (!interrupted) await cleanup();
}

const resultsDir = join(ROOT, "bench", "results");
await mkdir(resultsDir, { recursive: true });
const json = `${JSON.stringify(rows, null, 2)}\n`;
await writeFile(join(resultsDir, "latest.json"), json);
// A run of some cases or formats only must not replace the last complete quick or full results.
const partial = only !== undefined || args.formats !== undefined || args["import-formats"] !== undefined;
await writeFile(join(resultsDir, `latest-${partial ? "partial" : quick ? "quick" : "full"}.json`), json);

const seconds = (performance.now() - started) / 1000;
process.stdout.write(
  `\nLabelport bench (${quick ? "quick" : "full"}, ${stamp}, ${seconds.toFixed(0)} s; MongoDB ${stack.sources.mongo.split(" (")[0]}, 2-core target machine)\n\n`,
);
process.stdout.write(`${formatTable(rows)}\n\n`);
process.stdout.write(
  "seconds: job creation to completion (exports), request to response (imports), whole stream (StreamItems);\n" +
    "MB/s: the export's file_size over that time; peer s: the peer's own work time (imports and interpreter start-up excluded);\n" +
    "x peer: peer seconds / ours.\n\n",
);
const importTable = formatImportTable(rows);
if (importTable) process.stdout.write(`import per format (POST /api/import, end to end):\n${importTable}\n\n`);
process.stdout.write(`targets (reported, not asserted):\n${formatTargets(evaluateTargets(rows, formats))}\n`);
if (shardRuns.length > 0) {
  process.stdout.write(
    `\none export split across plugin processes (CreateExport to COMPLETED; cores busy: CPU s of all / seconds):\n${formatShardRuns(shardRuns)}\n`,
  );
}
if (shardPlan) process.stdout.write(`\n${shardPlan}\n`);
const hugeTable = hugeImages ? formatHugeComparison(rows, hugeImages.name) : undefined;
if (hugeTable) process.stdout.write(`\n${hugeTable}\n`);
process.stdout.write(`\nwrote bench/results/latest.json (${rows.length} rows)\n`);
if (profileDir) {
  process.stdout.write(`\nCPU profiles in ${profileDir} (main thread of each process):\n\n`);
  for (const name of (await readdir(profileDir)).sort()) {
    const dir = join(profileDir, name);
    const files = (await readdir(dir)).filter((f) => f.endsWith(".cpuprofile"));
    const summaries = files.map((f) => summarizeProfile(join(dir, f)));
    // The main thread is the busiest; the others are tsx's module loader.
    const main = summaries.sort((a, b) => b.busyMs - a.busyMs)[0];
    if (main) process.stdout.write(`${name}: ${formatSummary(main)}\n\n`);
  }
}
process.exit(failed ? 1 : 0);
