import { annotationTypeName, type Item, itemFromJson, itemToJson } from "@labelport/sdk";
import {
  expectSplitsWriteTheSameBytes,
  runSampleExport,
  type SampleDataset,
  type SampleExport,
  sampleDataset,
  testExporter,
  withDistinctFileNames,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import JsonSnapshotExporter, { isTagField, mergeTagFields, SNAPSHOT_KEY } from "./index.ts";

testExporter(JsonSnapshotExporter);
// Artifact mode writes one file per item: the same contract, with its own options.
testExporter(JsonSnapshotExporter, { options: { mode: "artifact" }, memoryItems: 5000 });

const sampleAnnotations = () => sampleDataset().items.flatMap((i) => i.annotations);

/** ExportCounts and the manifest agree: `written` annotations in the files, the rest dropped as `dropped`. */
async function expectAccounting(run: SampleExport, written: number, dropped: Record<string, number>) {
  const received = sampleAnnotations().length;
  const { counts } = run.result;
  expect(Number(counts.annotationCount)).toBe(written);
  expect(Number(counts.receivedAnnotations)).toBe(received);
  expect(Object.fromEntries(counts.dropped.map((d) => [d.reason, Number(d.count)]))).toEqual(dropped);
  expect(await run.json("manifest.json")).toMatchObject({
    annotationCount: written,
    annotationsReceived: received,
    dropped,
  });
}

describe("annotation accounting", () => {
  it("writes every annotation it receives, in both modes", async () => {
    for (const mode of ["attachment", "artifact"]) {
      const run = await runSampleExport(JsonSnapshotExporter, { options: { mode } });
      try {
        const files = (await run.files()).filter((f) => f.startsWith("items/"));
        const items =
          mode === "attachment"
            ? await run.json<Array<{ annotations?: unknown[] }>>(SNAPSHOT_KEY)
            : await Promise.all(files.map((f) => run.json<{ annotations?: unknown[] }>(f)));
        await expectAccounting(
          run,
          items.reduce((n, i) => n + (i.annotations?.length ?? 0), 0),
          {},
        );
      } finally {
        await run.cleanup();
      }
    }
  });

  it("drops every annotation with dataOnly, by type, saying why", async () => {
    const run = await runSampleExport(JsonSnapshotExporter, { options: { dataOnly: true } });
    try {
      const dropped: Record<string, number> = {};
      for (const annotation of sampleAnnotations()) {
        const reason = `${annotationTypeName(annotation)}: dataOnly writes only each item's data field`;
        dropped[reason] = (dropped[reason] ?? 0) + 1;
      }
      expect(dropped["bbox: dataOnly writes only each item's data field"]).toBe(5);
      await expectAccounting(run, 0, dropped);
    } finally {
      await run.cleanup();
    }
  });
});

describe("artifact mode", () => {
  it("writes items/<id>.json per item and no snapshot.json", async () => {
    const run = await runSampleExport(JsonSnapshotExporter, { options: { mode: "artifact" } });
    try {
      const files = await run.files();
      expect(files.filter((f) => f.startsWith("items/"))).toEqual(
        sampleDataset().items.map((item) => `items/${item.id}.json`),
      );
      expect(files).not.toContain(SNAPSHOT_KEY);
      const manifest = await run.json<{ schemaVersion: number; exportedAt: string; itemCount: number }>(
        "manifest.json",
      );
      expect(manifest).toMatchObject({ schemaVersion: 1, exportedAt: "2025-10-07T08:00:00.000Z", itemCount: 6 });
      const one = itemFromJson(await run.json("items/item-02.json"));
      expect(one.media?.fileName).toBe("자전거 사진.png");
      expect(one.annotations).toHaveLength(3);
    } finally {
      await run.cleanup();
    }
  });

  it("puts items in meta.category folders when asked", async () => {
    const run = await runSampleExport(JsonSnapshotExporter, { options: { mode: "artifact", categoryFolders: true } });
    try {
      const files = await run.files();
      expect(files).toContain("items/1. 자연/item-01.json");
      expect(files).toContain("items/2. 도시/item-02.json");
      expect(files).toContain("items/item-03.json");
    } finally {
      await run.cleanup();
    }
  });
});

describe("tag merging (snapshot API FR-005)", () => {
  it("recognises tag fields", () => {
    expect(["tags", "review_tags", "reviewTags"].map(isTagField)).toEqual([true, true, true]);
    expect(["tagsx", "stags", "tag"].map(isTagField)).toEqual([false, false, false]);
  });

  it("merges item tags and meta tag arrays into one sorted, de-duplicated array without changing the input", async () => {
    const item = sampleDataset().items[0] as Item;
    const before = JSON.stringify(itemToJson(item));
    const merged = (await mergeTagFields(item)) as Item;
    expect(merged.tags).toEqual(["a", "b", "c", "x"]);
    expect(merged.meta).toEqual({ category: "1. 자연", group: "B82026Z" });
    expect(JSON.stringify(itemToJson(item))).toBe(before);
  });

  it("leaves meta fields that are not string arrays alone", async () => {
    const item = sampleDataset().items[0] as Item;
    item.meta = { tags: "not-an-array", other_tags: [1, 2] };
    const merged = (await mergeTagFields(item)) as Item;
    expect(merged.tags).toEqual(["x"]);
    expect(merged.meta).toEqual({ tags: "not-an-array", other_tags: [1, 2] });
  });
});

describe("attachment mode", () => {
  it("writes one JSON array of lossless items, tags merged by default", async () => {
    const run = await runSampleExport(JsonSnapshotExporter);
    try {
      const text = await run.text(SNAPSHOT_KEY);
      const items = (JSON.parse(text) as unknown[]).map((json) => itemFromJson(json as never));
      expect(items.map((i) => i.id)).toEqual(sampleDataset().items.map((i) => i.id));
      expect(items[0]?.tags).toEqual(["a", "b", "c", "x"]);
      // Lossless: everything but the merged tags reads back as it was.
      const original = sampleDataset().items[4] as Item;
      expect(itemToJson(items[4] as Item)).toEqual(itemToJson((await mergeTagFields(original)) as Item));
      expect(text.split("\n")).toHaveLength(6 + 3);
    } finally {
      await run.cleanup();
    }
  });

  it("keeps tag fields apart with mergeTags: false", async () => {
    const run = await runSampleExport(JsonSnapshotExporter, { options: { mergeTags: false } });
    try {
      const [first] = await run.json<Array<{ tags: string[]; meta: Record<string, unknown> }>>(SNAPSHOT_KEY);
      expect(first?.tags).toEqual(["x"]);
      expect(first?.meta.review_tags).toEqual(["c", "a"]);
    } finally {
      await run.cleanup();
    }
  });

  it("writes only the data field with dataOnly", async () => {
    const run = await runSampleExport(JsonSnapshotExporter, { options: { dataOnly: true } });
    try {
      const data = await run.json<unknown[]>(SNAPSHOT_KEY);
      expect(data[0]).toEqual(sampleDataset().items[0]?.data);
      expect(data.slice(1)).toEqual([{}, {}, {}, {}, {}]);
    } finally {
      await run.cleanup();
    }
  });

  it("writes an empty array for an empty export", async () => {
    const run = await runSampleExport(JsonSnapshotExporter, { items: async function* () {}, totalItems: 0 });
    try {
      expect(await run.text(SNAPSHOT_KEY)).toBe("[]\n");
    } finally {
      await run.cleanup();
    }
  });
});

const distinctNames = (): SampleDataset => withDistinctFileNames(sampleDataset());
const noItems = (): SampleDataset => ({ ...sampleDataset(), items: [] });

describe("split export", () => {
  it("split into 2, 3 and 4 shards writes the bytes of one pass, in both modes", async () => {
    await expectSplitsWriteTheSameBytes(JsonSnapshotExporter, distinctNames, {}, async (whole) => {
      expect(await whole.json(SNAPSHOT_KEY)).toHaveLength(6);
    });
    await expectSplitsWriteTheSameBytes(
      JsonSnapshotExporter,
      distinctNames,
      { options: { mode: "artifact" } },
      async (whole) => {
        expect((await whole.files()).filter((f) => f.startsWith("items/"))).toHaveLength(6);
      },
    );
  });

  it("split export of a dataset without items writes []\\n, as one pass does", async () => {
    await expectSplitsWriteTheSameBytes(JsonSnapshotExporter, noItems, {}, async (whole) => {
      expect(await whole.text(SNAPSHOT_KEY)).toBe("[]\n");
    });
  });
});
