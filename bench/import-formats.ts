// The import-formats case: the same synthetic images and annotations uploaded in every format an
// importer plugin reads, each through POST /api/import?format=<fmt> into a fresh dataset. End to
// end: the upload, its conversion in the plugin's import worker (a `labelport-plugin run` process
// of its own, so its memory is measured apart) and the orchestrator's import of the records.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { JsonObject } from "@bufbuild/protobuf";
import type { LabelportClient } from "@labelport/sdk/client";
import { meterCpu } from "./cpu.ts";
import { postImport } from "./http.ts";
import { mbPerSec, type Row, rate } from "./report.ts";
import { sampleRss } from "./rss.ts";
import {
  png,
  readItems,
  type Upload,
  writeCvatUpload,
  writeDmJsonUpload,
  writeLabelmeUpload,
  zipFolder,
} from "./upload-formats.ts";

type UploadWriter = (itemFiles: readonly string[], path: string) => Promise<Upload>;

export interface ImportFormatSpec {
  /** The row's name: the format, or the format and what differs (`coco-no-images`). */
  name: string;
  /** The importer's format (`?format=`). */
  format: string;
  /** The built-in plugin package serving it (plugins/<name>). */
  plugin: string;
  /** Made by our exporter of that format (images copied unless `images` is false), or written by a generator. */
  upload: { export: string; options?: JsonObject; images?: false } | { generate: UploadWriter };
}

export const IMPORT_FORMATS: readonly ImportFormatSpec[] = [
  { name: "coco", format: "coco", plugin: "coco", upload: { export: "coco" } },
  // The same without images (COCO carries the sizes): what storing ~1 image per 10 annotations costs.
  { name: "coco-no-images", format: "coco", plugin: "coco", upload: { export: "coco", images: false } },
  // YOLO-seg: detection labels cannot hold the polygons (1 in 5 annotations); boxes become 4-corner polygons.
  { name: "yolo", format: "yolo", plugin: "yolo", upload: { export: "yolo", options: { segmentation: true } } },
  { name: "voc", format: "voc", plugin: "voc", upload: { export: "voc" } },
  { name: "csv", format: "csv", plugin: "csv", upload: { export: "csv" } },
  { name: "labelport", format: "labelport", plugin: "jsonl", upload: { export: "jsonl", options: { items: true } } },
  { name: "labelme", format: "labelme", plugin: "labelme", upload: { generate: writeLabelmeUpload } },
  { name: "cvat", format: "cvat", plugin: "cvat", upload: { generate: writeCvatUpload } },
  { name: "dm-json", format: "dm-json", plugin: "dm-json", upload: { generate: writeDmJsonUpload } },
];

export interface ImportFormatsContext {
  api: LabelportClient;
  baseUrl: string;
  storageRoot: string;
  /** Where the uploads are written. */
  dataDir: string;
  caseName: string;
  stamp: string;
  pids: { orchestrator: number; mongod: number | undefined; plugin(name: string): number | undefined };
}

/** The image of each item's media URI (`media/<id>.png` under local storage), for the exports to copy. */
export async function writeMedia(storageRoot: string, itemFiles: readonly string[]): Promise<void> {
  const made = new Set<string>();
  for await (const item of readItems(itemFiles)) {
    const path = join(storageRoot, item.media.uri);
    const dir = dirname(path);
    if (!made.has(dir)) await mkdir(dir, { recursive: true });
    made.add(dir);
    await writeFile(path, png(item.media.width, item.media.height));
  }
}

/** The upload of `spec` for the dataset `datasetId` (whose items are in `itemFiles`). */
export async function buildUpload(
  ctx: ImportFormatsContext,
  spec: ImportFormatSpec,
  datasetId: string,
  itemFiles: readonly string[],
): Promise<Upload> {
  const path = join(ctx.dataDir, `${ctx.caseName}-${spec.name}.zip`);
  if ("generate" in spec.upload) return spec.upload.generate(itemFiles, path);
  const { export: format, options, images } = spec.upload;
  const exported = await ctx.api.exports.create(
    {
      datasetId,
      format,
      saveOriginalFile: images !== false,
      name: `bench ${ctx.caseName} upload ${spec.name} ${ctx.stamp}`,
      ...(options ? { options } : {}),
    },
    { wait: true },
  );
  const dir = join(ctx.storageRoot, exported.path);
  try {
    return await zipFolder(dir, path, Number(exported.counts?.annotationCount ?? 0n));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What POST /api/import answers, as far as the bench reads it (services/orchestrator/src/data/import/rest.ts). */
interface ImportBody {
  status?: string;
  message?: string;
  errors?: unknown;
  summary?: { importedItems?: { items?: number; annotations?: number } };
  annotations?: {
    received: number;
    written: number;
    merged: number;
    skipped: number;
    dropped: number;
    droppedByReason: Record<string, number>;
    changed: Record<string, number>;
  };
}

const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(", ");

/**
 * One timed import of `upload` into a fresh dataset. The row's annotations are those written;
 * its note says what the accounting reports beside them. `ok` is false when the import failed.
 */
export async function measureImport(
  ctx: ImportFormatsContext,
  spec: ImportFormatSpec,
  upload: Upload,
  sourceAnnotations: number,
): Promise<{ row: Row; ok: boolean }> {
  const { dataset } = await ctx.api.datasets.createDataset({ name: `${ctx.caseName} ${spec.name} ${ctx.stamp}` });
  const pluginPid = ctx.pids.plugin(spec.plugin);
  const pluginRss = pluginPid === undefined ? undefined : sampleRss(pluginPid);
  const orchestratorRss = sampleRss(ctx.pids.orchestrator);
  const cpu = meterCpu({ orchestrator: ctx.pids.orchestrator, plugin: pluginPid, mongod: ctx.pids.mongod });
  const t0 = performance.now();
  let reply: { status: number; body: ImportBody };
  let peaks: Row["peakRssMb"];
  let cpuSeconds: Row["cpuSeconds"];
  let seconds: number;
  try {
    reply = await postImport(ctx.baseUrl, upload.path, { format: spec.format, datasetId: dataset?.id ?? "" });
  } finally {
    seconds = (performance.now() - t0) / 1000;
    // Stopped in every case: a sampler left running would keep the run alive.
    peaks = { plugin: pluginRss?.stop() ?? null, orchestrator: orchestratorRss.stop() };
    cpuSeconds = cpu.stop();
  }
  const body = reply.body;
  const accounting = body.annotations;
  const ok = reply.status === 200 && body.status !== "failed" && accounting !== undefined;
  const written = accounting ? accounting.written + accounting.merged : 0;
  const notes: string[] = [];
  if (!ok) {
    notes.push(
      `import failed: HTTP ${reply.status} ${body.status ?? ""} ${JSON.stringify(body.message ?? body.errors ?? "").slice(0, 300)}`,
    );
  } else {
    if (body.status !== "completed") notes.push(body.status ?? "no status");
    if (upload.annotations !== sourceAnnotations)
      notes.push(`the upload holds ${upload.annotations} of ${sourceAnnotations}`);
    if (written !== upload.annotations) notes.push(`${written} of ${upload.annotations} written`);
    if (accounting.dropped > 0) notes.push(`dropped: ${counts(accounting.droppedByReason)}`);
    if (Object.keys(accounting.changed).length > 0) notes.push(`changed: ${counts(accounting.changed)}`);
  }
  const row: Row = {
    case: ctx.caseName,
    format: `import:${spec.name}`,
    annotations: written,
    seconds,
    annotationsPerSec: ok ? rate(written, seconds) : 0,
    peakRssMb: peaks,
    peer: null,
    items: body.summary?.importedItems?.items ?? 0,
    bytes: upload.bytes,
    mbPerSec: mbPerSec(upload.bytes, seconds),
    cpuSeconds,
    ...(notes.length > 0 ? { note: notes.join("; ") } : {}),
  };
  return { row, ok };
}
