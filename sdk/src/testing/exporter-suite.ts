// testExporter(): the contract every exporter plugin runs (built-in and third-party), after
// unstorage's testDriver. Manifest, options schema, a real export of the sample dataset through
// runExport into local storage (determinism, artifacts, manifest), accounting for every annotation,
// stopping on abort, progress, writing only through ctx.storage (behaviour-checks.ts), and flat memory.
import { createHash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { supportsShards } from "../exporter.ts";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
import { validateManifest } from "../manifest.ts";
import { MANIFEST_KEY } from "../storage/export-storage.ts";
import {
  ABORT_DEADLINE_MS,
  checkAccountsForAnnotations,
  checkReportsProgress,
  checkStopsOnAbort,
  checkWritesOnlyThroughStorage,
} from "./behaviour-checks.ts";
import { generateItems, type SampleDataset, sampleDataset } from "./fixture.ts";
import { type ExporterClass, runSampleExport } from "./run-sample-export.ts";
import { expectSplitsWriteTheSameBytes, withDistinctFileNames } from "./split-checks.ts";

export interface ExporterSuiteOptions {
  /** Raw exporter options for every export of the suite (default {}: the defaults). */
  options?: Record<string, unknown>;
  /** The dataset exported by the checks (default sampleDataset()). */
  fixture?: () => SampleDataset;
  /** Items in the memory check (default 20 000; 0 skips it). */
  memoryItems?: number;
  /** Allowed heap growth between 10% and 100% of the memory check's items (default 48 MiB). */
  maxHeapGrowthBytes?: number;
  /** Expect original media under images/ when save_original_file is set (default true). */
  savesOriginalFiles?: boolean;
}

export function testExporter(Exporter: ExporterClass<unknown>, suiteOptions: ExporterSuiteOptions = {}): void {
  const fixture = suiteOptions.fixture ?? sampleDataset;
  const manifest = Exporter.manifest;

  const options = suiteOptions.options ?? {};
  const label = Object.keys(options).length > 0 ? ` ${JSON.stringify(options)}` : "";

  describe(`exporter contract: ${manifest?.name ?? Exporter.name}${label}`, () => {
    it("has a manifest: name, semver version, formats and an SDK range this SDK satisfies", () => {
      // The runtime's own check, so a plugin that passes here also loads (ManifestError names the field).
      validateManifest(manifest);
    });

    it("publishes its options as JSON Schema, has defaults for all, and rejects unknown keys", () => {
      const exporter = new Exporter();
      const schema = z.toJSONSchema(exporter.options, { io: "input" }) as Record<string, unknown>;
      expect(schema.type).toBe("object");
      expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
      expect(exporter.options.safeParse({}).success).toBe(true);
      expect(exporter.options.safeParse({ "no such option": true }).success).toBe(false);
    });

    for (const format of manifest.formats) {
      it(`exports the sample dataset as ${format}: same bytes twice, every artifact in the manifest`, async () => {
        const first = await runSampleExport(Exporter, { fixture: fixture(), format, options });
        const second = await runSampleExport(Exporter, { fixture: fixture(), format, options });
        try {
          const files = await first.files();
          expect(files).toContain(MANIFEST_KEY);
          expect(await second.files()).toEqual(files);
          for (const key of files) expect((await second.read(key)).equals(await first.read(key)), key).toBe(true);

          const written = await first.json<{
            schemaVersion: number;
            itemCount: number;
            artifacts: Array<{ key: string; size: number; sha256: string }>;
          }>(MANIFEST_KEY);
          expect(written.schemaVersion).toBe(1);
          expect(written.itemCount).toBe(fixture().items.length);
          expect(written.artifacts.map((a) => a.key)).toEqual(files.filter((key) => key !== MANIFEST_KEY));
          expect(written.artifacts.length).toBeGreaterThan(0);
          for (const artifact of written.artifacts) {
            const bytes = await first.read(artifact.key);
            expect(artifact.size, artifact.key).toBe(bytes.length);
            expect(artifact.sha256, artifact.key).toBe(createHash("sha256").update(bytes).digest("hex"));
          }
          expect(first.result.artifacts.map((a) => [a.key, Number(a.size), a.sha256])).toEqual(
            written.artifacts.map((a) => [a.key, a.size, a.sha256]),
          );
        } finally {
          await first.cleanup();
          await second.cleanup();
        }
      });
    }

    if (supportsShards(new Exporter())) {
      // The sample repeats file names on purpose; here every item has its own, so the shards are
      // joined (with repeats they are exported in one pass instead, as the runtime does).
      it("split into 2, 3 and 4 shards and joined, writes the same bytes as one pass", async () => {
        await expectSplitsWriteTheSameBytes(Exporter, () => withDistinctFileNames(fixture()), { options });
      });

      it("with one item per shard writes the same bytes (in one pass when file names repeat)", async () => {
        const whole = await runSampleExport(Exporter, { fixture: fixture(), options });
        const split = await runSampleExport(Exporter, { fixture: fixture(), options, shards: fixture().items.length });
        try {
          const files = await whole.files();
          expect(await split.files()).toEqual(files);
          for (const key of files) expect((await split.read(key)).equals(await whole.read(key)), key).toBe(true);
        } finally {
          await whole.cleanup();
          await split.cleanup();
        }
      });
    }

    for (const format of manifest.formats) {
      it(`accounts for every annotation as ${format}: written + dropped = received = fed, reasons given`, async () => {
        await checkAccountsForAnnotations(Exporter, { options, format, fixture: fixture() });
      });
    }

    if (suiteOptions.savesOriginalFiles ?? true) {
      it("copies original media under images/ with save_original_file", async () => {
        const data = fixture();
        const run = await runSampleExport(Exporter, { fixture: data, saveOriginalFile: true, options });
        try {
          const images = (await run.files()).filter((key) => key.startsWith("images/"));
          expect(images.length).toBeGreaterThan(0);
          const originals = new Set([...data.media.values()].map((bytes) => Buffer.from(bytes).toString("hex")));
          for (const key of images) expect(originals.has((await run.read(key)).toString("hex")), key).toBe(true);
        } finally {
          await run.cleanup();
        }
      });
    }

    it(`stops within ${ABORT_DEADLINE_MS} ms of abort and leaves no file behind`, async () => {
      await checkStopsOnAbort(Exporter, { options });
    });

    it("reports progress for every item it exports", async () => {
      await checkReportsProgress(Exporter, { options });
    });

    it("writes only through ctx.storage and ctx.scratchDir", async () => {
      await checkWritesOnlyThroughStorage(Exporter, { options });
    });

    const count = suiteOptions.memoryItems ?? 20_000;
    if (count > 0) {
      it(`keeps memory flat over ${count} items`, { timeout: 300_000 }, async () => {
        const growth = await measureHeapGrowth(Exporter, count, options);
        const limit = suiteOptions.maxHeapGrowthBytes ?? 48 * 1024 * 1024;
        expect(growth, `heap grew ${(growth / 1048576).toFixed(1)} MiB`).toBeLessThan(limit);
      });
    }
  });
}

/**
 * Exports `count` generated items and returns how much the heap (after GC) grew between 10% and
 * 100% of them, the worst over all passes the exporter makes: what the exporter keeps per item.
 */
export async function measureHeapGrowth(
  Exporter: ExporterClass<unknown>,
  count: number,
  options: Record<string, unknown> = {},
): Promise<number> {
  const gc = exposeGc();
  let growth = 0;
  async function* items(): AsyncGenerator<Item> {
    let n = 0;
    let early = 0;
    for await (const item of generateItems(count)) {
      if (++n === Math.ceil(count / 10)) early = heapAfterGc(gc);
      yield item;
    }
    growth = Math.max(growth, heapAfterGc(gc) - early);
  }
  const run = await runSampleExport(Exporter, { items, totalItems: count, options });
  await run.cleanup();
  if (run.result.counts.itemCount !== BigInt(count)) {
    throw new Error(`exported ${run.result.counts.itemCount} of ${count} items`);
  }
  return growth;
}

function exposeGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
