// Checks that a SplittableExporter split into shards writes what one pass writes: shared by the
// conformance suite and the plugins' own split tests.
import { expect } from "vitest";
import type { ExporterClass } from "../exporter.ts";
import type { SampleDataset } from "./fixture.ts";
import { runSampleExport, type SampleExport, type SampleExportOptions } from "./run-sample-export.ts";

/** The dataset with a file name of its own per item: shards that name files alike are exported in one pass. */
export function withDistinctFileNames(data: SampleDataset): SampleDataset {
  const items = data.items.map((item) =>
    item.media ? { ...item, media: { ...item.media, fileName: `${item.id}-${item.media.fileName}` } } : item,
  );
  return { ...data, items };
}

/**
 * Exports the fixture whole (`checkWhole` looks at it), then split into each of `shardCounts`
 * shards and joined: the shards must really be joined (not exported again in one pass), and the
 * files, byte for byte, and the counts must be the whole export's.
 */
export async function expectSplitsWriteTheSameBytes<Options>(
  Exporter: ExporterClass<Options>,
  fixture: () => SampleDataset,
  input: SampleExportOptions = {},
  checkWhole: (whole: SampleExport) => Promise<void> = async () => undefined,
  shardCounts: readonly number[] = [2, 3, 4],
): Promise<void> {
  const whole = await runSampleExport(Exporter, { ...input, fixture: fixture() });
  try {
    await checkWhole(whole);
    const files = await whole.files();
    for (const shards of shardCounts) {
      const split = await runSampleExport(Exporter, { ...input, fixture: fixture(), shards });
      try {
        expect(split.joined, `${shards} shards joined`).toBe(true);
        expect(await split.files()).toEqual(files);
        for (const key of files) {
          expect((await split.read(key)).toString("utf8"), `${key} in ${shards} shards`).toBe(await whole.text(key));
        }
        expect(split.result.counts).toEqual(whole.result.counts);
      } finally {
        await split.cleanup();
      }
    }
  } finally {
    await whole.cleanup();
  }
}
