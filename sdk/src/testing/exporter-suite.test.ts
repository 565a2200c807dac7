// The conformance kit checked on itself: a minimal exporter passes the suite, the memory check
// tells an exporter that keeps its items from one that streams, and the behaviour checks fail
// exporters with the bugs they are for, each with a message that says what to change.
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BaseExporter, type ExportContext } from "../exporter.ts";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
import {
  checkAccountsForAnnotations,
  checkReportsProgress,
  checkStopsOnAbort,
  checkWritesOnlyThroughStorage,
} from "./behaviour-checks.ts";
import { measureHeapGrowth, testExporter } from "./exporter-suite.ts";
import { sampleDataset } from "./fixture.ts";
import { runSampleExport } from "./run-sample-export.ts";

const options = z.strictObject({ pretty: z.boolean().default(false) });
type Options = z.output<typeof options>;

class IdsExporter extends BaseExporter<Options> {
  static override manifest = { name: "ids", version: "1.0.0", formats: ["ids"], sdk: "^0.1.0" };
  readonly options = options;
  async export(ctx: ExportContext<Options>): Promise<void> {
    const out = await ctx.storage.open("ids.txt");
    for await (const item of ctx.items()) {
      ctx.signal.throwIfAborted();
      if (ctx.export.saveOriginalFile && item.media?.uri) {
        await ctx.storage.copyMedia(item.media.uri, `images/${item.id}-${item.media.fileName}`);
      }
      await out.write(`${item.id}\n`);
      ctx.progress(1, item.annotations.length);
    }
    await out.close();
  }
}

class HoardingExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "hoarding" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    const all: Item[] = [];
    for await (const item of ctx.items()) all.push(item);
    await ctx.storage.writeFile("count.txt", String(all.length));
  }
}

/** Keeps "flushing" for 3 s after the items stop, whatever the signal says. */
class SlowToCancelExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "slow-to-cancel" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    try {
      await super.export(ctx);
    } finally {
      await sleep(3000);
    }
  }
}

class SilentExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "silent" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    await super.export({ ...ctx, progress: () => {} });
  }
}

/** Writes a spill file to the system temp dir and a log to the working directory, and leaves both. */
class StrayWriterExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "stray-writer" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    await writeFile(join(tmpdir(), "spill.jsonl"), "{}\n");
    await writeFile("export.log", "started\n");
    await super.export(ctx);
  }
}

/** Writes nothing of the annotations and drops each one, by type, saying why: honest. */
class DroppingExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "dropping" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    await super.export({
      ...ctx,
      items: async function* () {
        for await (const item of ctx.items()) {
          for (const annotation of item.annotations) ctx.drop(`${annotation.geometry.case ?? "none"}: ids only`);
          yield item;
        }
      },
    });
  }
}

/** Drops every annotation twice: more dropped than received. */
class OverDroppingExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "over-dropping" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    for await (const item of ctx.items()) ctx.drop("bbox: twice", item.annotations.length * 2);
    await super.export(ctx);
  }
}

class BlankReasonExporter extends IdsExporter {
  static override manifest = { ...IdsExporter.manifest, name: "blank-reason" };
  override async export(ctx: ExportContext<Options>): Promise<void> {
    ctx.drop("  ");
    await super.export(ctx);
  }
}

testExporter(IdsExporter, { memoryItems: 5000 });

describe("behaviour checks", () => {
  it("fail an exporter that keeps working 3 s after cancel", { timeout: 20_000 }, async () => {
    await expect(checkStopsOnAbort(SlowToCancelExporter)).rejects.toThrow(
      /slow-to-cancel: export\(\) was still running 2000 ms after ctx.signal aborted; check ctx.signal/,
    );
  });

  it("fail an exporter that never reports progress", async () => {
    await expect(checkReportsProgress(SilentExporter)).rejects.toThrow(
      /silent: ctx.progress\(\) reported 0 items of 6 exported; call ctx.progress\(1, /,
    );
  });

  it("fail an exporter that writes files outside ctx.storage, naming them", async () => {
    await expect(checkWritesOnlyThroughStorage(StrayWriterExporter)).rejects.toThrow(
      /stray-writer: export\(\) wrote files outside ctx.storage \(working directory: export.log, TMPDIR: spill.jsonl\); write artifacts with ctx.storage/,
    );
  });

  it("fail an exporter whose drops do not add up to what it received", async () => {
    await expect(checkAccountsForAnnotations(OverDroppingExporter)).rejects.toThrow(
      /over-dropping: 0 written \+ 24 dropped != 12 received; call ctx.drop\(reason\) once for each annotation/,
    );
  });

  it("fail an exporter that drops without a reason", async () => {
    await expect(checkAccountsForAnnotations(BlankReasonExporter)).rejects.toThrow(
      /blank-reason: ctx.drop\(\) was called with an empty reason; say what and why/,
    );
  });

  it("pass an exporter that does none of that", async () => {
    await checkStopsOnAbort(IdsExporter);
    await checkReportsProgress(IdsExporter);
    await checkWritesOnlyThroughStorage(IdsExporter);
    await checkAccountsForAnnotations(IdsExporter);
    await checkAccountsForAnnotations(DroppingExporter);
  });
});

describe("conformance kit", () => {
  it("sees an exporter that keeps every item", { timeout: 120_000 }, async () => {
    const streaming = await measureHeapGrowth(IdsExporter, 20_000);
    const hoarding = await measureHeapGrowth(HoardingExporter, 20_000);
    expect(streaming).toBeLessThan(16 * 1024 * 1024);
    expect(hoarding).toBeGreaterThan(48 * 1024 * 1024);
  });

  it("runs a sample export and reads it back", async () => {
    const run = await runSampleExport(IdsExporter);
    try {
      expect(await run.text("ids.txt")).toBe(
        `${sampleDataset()
          .items.map((i) => i.id)
          .join("\n")}\n`,
      );
      expect(await run.files()).toEqual(["ids.txt", "manifest.json"]);
    } finally {
      await run.cleanup();
    }
  });
});
