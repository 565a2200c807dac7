// Checks that a SplittableExporter split into shards writes what one pass writes: shared by the
// conformance suite and the plugins' own split tests.
import { expect } from "vitest";
import type { ExporterClass } from "../exporter.ts";
import type { Item } from "../gen/labelport/v1/dataset_pb.ts";
import { generateItems, type SampleDataset, sampleDataset } from "./fixture.ts";
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
 * shards: the files, byte for byte, and the counts must be the whole export's. `joined` (default
 * true): the shards must really be joined; false: they named files alike, so one pass ran instead.
 */
export async function expectSplitsWriteTheSameBytes<Options>(
  Exporter: ExporterClass<Options>,
  fixture: () => SampleDataset | Promise<SampleDataset>,
  input: SampleExportOptions = {},
  checkWhole: (whole: SampleExport) => Promise<void> = async () => undefined,
  { shardCounts = [2, 3, 4], joined = true }: { shardCounts?: readonly number[]; joined?: boolean } = {},
): Promise<void> {
  const whole = await runSampleExport(Exporter, { ...input, fixture: await fixture() });
  try {
    await checkWhole(whole);
    const files = await whole.files();
    for (const shards of shardCounts) {
      const split = await runSampleExport(Exporter, { ...input, fixture: await fixture(), shards });
      try {
        expect(split.joined, `${shards} shards joined`).toBe(joined);
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

/**
 * A dozen generated items, then the sample dataset: five splits (one a free-text name with a
 * `/`), category folders, a video and an unsized image, media for every image. No two items share
 * a file name, so shards never name a file alike.
 */
export async function manySplitsDataset(): Promise<SampleDataset> {
  const fixture = sampleDataset();
  const generated: Item[] = [];
  for await (const item of generateItems(12)) {
    if (generated.length % 5 === 4) item.split = "night / rain";
    if (item.media) fixture.media.set(item.media.uri, new TextEncoder().encode(`image ${item.id}\n`));
    generated.push(item);
  }
  const third = fixture.items.find((item) => item.id === "item-03");
  if (third?.media) third.media.fileName = "street 03.jpg";
  fixture.items = [...generated, ...fixture.items];
  return fixture;
}
