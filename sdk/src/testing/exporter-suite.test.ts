// The conformance kit checked on itself: a minimal exporter passes the suite, and the memory
// check tells an exporter that keeps its items from one that streams.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BaseExporter, type ExportContext } from "../exporter.ts";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
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

testExporter(IdsExporter, { memoryItems: 5000 });

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
