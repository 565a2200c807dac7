// One export split into shards across workers: for every built-in format the joined files are the
// unsplit export's, a shard that fails is retried alone, one that fails for good fails the export
// with its message, and a cancel stops every shard. Two workers of each format share the shards.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  createExportLayout,
  type ExportContext,
  finishExportLayout,
  type JoinContext,
  joinGatheredFile,
  OptionsError,
  openGatheredFile,
  SplittableExporter,
  z,
} from "@labelport/sdk";
import {
  type AnnotationSchema,
  AnnotationType,
  ExportStatus,
  type Item,
  ItemKind,
  ItemSchema,
  ItemStatus,
  VersionService,
} from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { filesUnder, type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-shards-"));
let stack: JobStack;
let nats: NatsConnection;
let datasetId: string;
const pluginWorkers: PluginWorkers[] = [];
const probeWorkers: Worker[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const ITEMS = 120;

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  nats = await connect(natsConnectOptions(stack.nats.url));
  datasetId = await seedMixedDataset();
  // Two workers of every built-in format: shards go to either.
  for (let n = 0; n < 2; n++) pluginWorkers.push(await startPluginWorkers(stack, undefined, { importers: false }));
  // Two shard slots each: the three shards of the cancel test all run at once.
  for (let n = 0; n < 2; n++) {
    probeWorkers.push(
      await startWorker({ nats, exporter: ShardProbe, jobsInFlight: 2, shardAnnotations: 200, log: quiet }),
    );
  }
  // A format with one worker: left to it, an export is never split.
  probeWorkers.push(await startWorker({ nats, exporter: SoloProbe, shardAnnotations: 200, log: quiet }));
  await waitFor(
    async () => (await stack.exports.listFormats({})).plugins.some((p) => p.formats.includes("shard-probe")),
    "the probe workers to register",
  );
}, 120_000);

afterAll(async () => {
  await Promise.all(probeWorkers.map((w) => w.stop()));
  await Promise.all(pluginWorkers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

/** Images over train/val/test with boxes, polygons, a polyline and a label, meta.category folders. */
async function seedMixedDataset(): Promise<string> {
  const { dataset } = await stack.datasets.createDataset({
    name: "split across workers",
    categories: [{ name: "car" }, { name: "person" }, { name: "tree", supercategory: "plant" }],
  });
  const id = dataset?.id ?? "";
  const items: Item[] = [];
  for (let i = 0; i < ITEMS; i++) {
    const itemId = `img-${String(i).padStart(4, "0")}`;
    const boxes = i % 7;
    const annotations: MessageInitShape<typeof AnnotationSchema>[] = [
      ...Array.from({ length: boxes }, (_, n) => ({
        id: `${itemId}-b${n}`,
        type: AnnotationType.BBOX,
        categoryId: 1 + (n % 3),
        geometry: { case: "bbox" as const, value: { x: 5 + n * 20, y: 10, width: 30, height: 40 } },
      })),
      {
        id: `${itemId}-p`,
        type: AnnotationType.POLYGON,
        categoryId: 2,
        geometry: { case: "polygon" as const, value: { points: [10, 10, 60, 12, 40, 70] } },
      },
      ...(i % 10 === 0
        ? [
            {
              id: `${itemId}-l`,
              type: AnnotationType.POLYLINE,
              categoryId: 3,
              geometry: { case: "polyline" as const, value: { points: [1, 1, 20, 20, 40, 5] } },
            },
            {
              id: `${itemId}-c`,
              type: AnnotationType.CLASSIFICATION,
              categoryId: 1,
              // A classification has no geometry: the label is its category.
            },
          ]
        : []),
    ];
    items.push(
      create(ItemSchema, {
        id: itemId,
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split: ["train", "train", "val", "test"][i % 4] as string,
        meta: { category: i % 3 === 0 ? "1. 자연" : "street" },
        media: { uri: `media/${itemId}.jpg`, fileName: `${itemId}.jpg`, width: 640, height: 480 },
        annotations,
      }),
    );
  }
  await stack.items.upsertItems({ datasetId: id, items });
  return id;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function exportOf(exportId: string) {
  const { export: e } = await stack.exports.getExport({ exportId });
  if (!e) throw new Error(`export ${exportId} is gone`);
  return e;
}

async function runExport(
  format: string,
  shards: number,
  options: Record<string, unknown> = {},
  request: Partial<{ filter: { splits: string[] }; versionId: string }> = {},
) {
  const { export: created } = await stack.exports.createExport({
    datasetId,
    format,
    shards,
    saveOriginalFile: false,
    options: options as never,
    ...request,
  });
  const exportId = created?.id ?? "";
  await waitFor(async () => {
    const status = (await exportOf(exportId)).status;
    return status !== ExportStatus.QUEUED && status !== ExportStatus.RUNNING;
  }, `export ${exportId} (${format}, ${shards} shards) to end`);
  return exportOf(exportId);
}

async function logOf(exportId: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const response of stack.exports.getExportLogs({ exportId })) {
    for (const line of response.lines) lines.push(line.message);
  }
  return lines;
}

/** Every file's sha256 but manifest.json's; COCO's `info` names the export's own creation time. */
function exportedFiles(exportId: string): Map<string, string> {
  const files = filesUnder(storageRoot, `exports/${exportId}`);
  files.delete("manifest.json");
  for (const key of files.keys()) {
    if (!/^annotations\/instances_.*\.json$/.test(key)) continue;
    const coco = JSON.parse(readFileSync(join(storageRoot, "exports", exportId, key), "utf8")) as { info?: unknown };
    coco.info = null;
    files.set(key, createHash("sha256").update(JSON.stringify(coco)).digest("hex"));
  }
  return files;
}

function manifestOf(exportId: string) {
  const manifest = JSON.parse(readFileSync(join(storageRoot, "exports", exportId, "manifest.json"), "utf8"));
  // The export's own id and snapshot instant differ between the two exports; the rest must not.
  const {
    exportId: _id,
    exportedAt: _at,
    artifacts,
    ...rest
  } = manifest as {
    exportId: string;
    exportedAt: string;
    artifacts: Array<{ key: string }>;
  };
  return { ...rest, keys: artifacts.map((a) => a.key) };
}

describe("one export split across workers", () => {
  const formats: Array<[string, Record<string, unknown>]> = [
    ["json-snapshot", {}],
    ["json-snapshot", { mode: "artifact" }],
    ["jsonl", {}],
    ["coco", {}],
    ["yolo", { segmentation: true }],
    ["voc", {}],
    ["csv", {}],
    ["dm-json", {}],
  ];
  for (const [format, options] of formats) {
    it(`${format} ${JSON.stringify(options)}: 3 shards on two workers join into the unsplit export's files`, async () => {
      const whole = await runExport(format, 1, options);
      const split = await runExport(format, 3, options);
      expect(whole.status, whole.errorMessage).toBe(ExportStatus.COMPLETED);
      expect(split.status, split.errorMessage).toBe(ExportStatus.COMPLETED);
      expect((await logOf(split.id)).some((line) => /split into 3 shards/.test(line))).toBe(true);
      expect((await logOf(whole.id)).some((line) => /split into/.test(line))).toBe(false);
      const files = exportedFiles(whole.id);
      expect(files.size).toBeGreaterThan(0);
      expect(exportedFiles(split.id)).toEqual(files);
      expect(manifestOf(split.id)).toEqual(manifestOf(whole.id));
      expect(split.counts).toEqual(whole.counts);
      expect(split.formatNotes).toEqual(whole.formatNotes);
      expect(split.progress?.processedItems).toBe(BigInt(ITEMS));
    });
  }

  it("splits a filtered export and an export of a dataset version the same way", async () => {
    const filter = { splits: ["val", "test"] };
    const whole = await runExport("yolo", 1, {}, { filter });
    const split = await runExport("yolo", 4, {}, { filter });
    expect(split.status, split.errorMessage).toBe(ExportStatus.COMPLETED);
    expect(exportedFiles(split.id)).toEqual(exportedFiles(whole.id));
    expect(split.counts?.itemCount).toBe(BigInt(ITEMS / 2));

    const versions = createClient(
      VersionService,
      createConnectTransport({ baseUrl: stack.orchestrator.url, httpVersion: "1.1" }),
    );
    const { version } = await versions.createVersion({ datasetId, name: "before the edit" });
    const versionId = version?.id ?? "";
    const before = await runExport("coco", 1, {}, { versionId });
    // Half the items change after the version: its split export still reads the version.
    await stack.items.deleteItems({
      datasetId,
      itemIds: Array.from({ length: ITEMS / 2 }, (_, i) => `img-${String(i * 2).padStart(4, "0")}`),
    });
    const split2 = await runExport("coco", 3, {}, { versionId });
    expect(split2.status, split2.errorMessage).toBe(ExportStatus.COMPLETED);
    expect(exportedFiles(split2.id)).toEqual(exportedFiles(before.id));
    expect(split2.counts?.itemCount).toBe(BigInt(ITEMS));
  });

  it("left to the workers, splits by size across the workers free to take shards, and never on one worker", async () => {
    const auto = await runExport("shard-probe", 0);
    expect(auto.status, auto.errorMessage).toBe(ExportStatus.COMPLETED);
    const shards = (await logOf(auto.id)).map((line) => /split into (\d+) shards/.exec(line)?.[1]).find(Boolean);
    expect(Number(shards)).toBeGreaterThan(1);
    const whole = await runExport("shard-probe", 1);
    expect(exportedFiles(auto.id)).toEqual(exportedFiles(whole.id));

    await waitFor(
      async () => (await stack.exports.listFormats({})).plugins.some((p) => p.formats.includes("shard-probe-solo")),
      "the solo probe to register",
    );
    const solo = await runExport("shard-probe-solo", 0);
    expect(solo.status, solo.errorMessage).toBe(ExportStatus.COMPLETED);
    expect((await logOf(solo.id)).some((line) => /split into/.test(line))).toBe(false);
  });

  it("retries a failed shard alone and still joins the same files", async () => {
    probe.reset();
    const whole = await runExport("shard-probe", 1);
    probe.reset();
    const split = await runExport("shard-probe", 4, { failOnceInShard: 2 });
    expect(split.status, split.errorMessage).toBe(ExportStatus.COMPLETED);
    // Shard 2 ran twice, every other once; the export itself was never retried.
    expect(probe.runs).toEqual([1, 1, 2, 1]);
    expect(split.attempts).toBe(1);
    expect(exportedFiles(split.id)).toEqual(exportedFiles(whole.id));
    expect((await logOf(split.id)).some((line) => /shard 3 of 4: failed/.test(line))).toBe(true);
  });

  it("fails the export with the message of a shard that fails for good", async () => {
    probe.reset();
    const split = await runExport("shard-probe", 3, { failForGoodInShard: 1 });
    expect(split.status).toBe(ExportStatus.FAILED);
    expect(split.errorMessage).toMatch(/shard 2 of 3: .*probe refuses shard 1/);
  });

  it("stops every shard when the export is canceled", async () => {
    probe.reset();
    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "shard-probe",
      shards: 3,
      options: { delayMs: 200 } as never,
    });
    const exportId = created?.id ?? "";
    await waitFor(async () => probe.started.size === 3, "all three shards to start");
    await stack.exports.cancelExport({ exportId });
    await waitFor(async () => probe.aborted.size === 3, "every shard to stop");
    expect((await exportOf(exportId)).status).toBe(ExportStatus.CANCELED);
    await waitFor(async () => filesUnder(storageRoot, `exports/${exportId}`).size === 0, "the files to be removed");
  });
});

/** What the probe's shards did, in this process (its workers run here). */
const probe = {
  runs: [0, 0, 0, 0] as number[],
  started: new Set<number>(),
  aborted: new Set<number>(),
  reset() {
    this.runs = [0, 0, 0, 0];
    this.started.clear();
    this.aborted.clear();
  },
};

const probeOptions = z.strictObject({
  delayMs: z.number().int().min(0).default(0),
  failOnceInShard: z.number().int().default(-1),
  failForGoodInShard: z.number().int().default(-1),
  categoryFolders: z.boolean().default(false),
});
type ProbeOptions = z.output<typeof probeOptions>;

/** A third-party SplittableExporter: a gathered JSON-lines file and a per-item file. */
class ShardProbe extends SplittableExporter<ProbeOptions> {
  static override manifest = { name: "shard-probe", version: "1.0.0", formats: ["shard-probe"], sdk: "^0.1.0" };
  readonly options = probeOptions;

  async exportShard(ctx: ExportContext<ProbeOptions>): Promise<{ items: number }> {
    const { index, count } = ctx.shard;
    if (count > 1) {
      probe.runs[index] = (probe.runs[index] ?? 0) + 1;
      probe.started.add(index);
      if (ctx.options.failOnceInShard === index && probe.runs[index] === 1) throw new Error("probe fails once");
      if (ctx.options.failForGoodInShard === index)
        throw new OptionsError([{ path: "", message: `probe refuses shard ${index}` }]);
    }
    const layout = createExportLayout(ctx, ctx.options);
    const lines = openGatheredFile(ctx, "items.jsonl", "lines", {
      contentType: "application/x-ndjson",
      between: "\n",
      tail: "\n",
    });
    let items = 0;
    try {
      for await (const item of ctx.items()) {
        const placement = layout.place(item);
        await lines.add(JSON.stringify({ id: item.id, annotations: item.annotations.length }));
        await ctx.storage.queueFile(`per-item/${placement.path}.txt`, `${item.id}\n`);
        layout.done(item, placement);
        items += 1;
        if (ctx.options.delayMs) await sleep(ctx.options.delayMs, undefined, { signal: ctx.signal });
      }
    } catch (err) {
      if (ctx.signal.aborted) probe.aborted.add(index);
      throw err;
    }
    await lines.close();
    await layout.finish();
    return { items };
  }

  async join(ctx: JoinContext<ProbeOptions>): Promise<void> {
    await joinGatheredFile(ctx, "items.jsonl", "lines", {
      contentType: "application/x-ndjson",
      between: "\n",
      tail: "\n",
    });
    const items = ctx.shards.reduce((sum, shard) => sum + (shard.state as { items: number }).items, 0);
    ctx.note(`${items} items`);
    await finishExportLayout(ctx, ctx.options);
  }
}

class SoloProbe extends ShardProbe {
  static override manifest = {
    name: "shard-probe-solo",
    version: "1.0.0",
    formats: ["shard-probe-solo"],
    sdk: "^0.1.0",
  };
}
