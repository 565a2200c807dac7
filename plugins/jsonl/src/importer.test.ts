import { type Item, isImportSourceError, itemToJson } from "@labelport/sdk";
import {
  runSampleExport,
  runSampleImport,
  type SampleDataset,
  type SampleExport,
  type SampleImport,
  sampleDataset,
  testImporter,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import { LabelportImporter } from "./importer.ts";
import JsonlExporter, { DATASET_JSON, datasetJson, ITEMS_JSONL } from "./index.ts";

const sample = sampleDataset();
const itemLines = sample.items.map((item) => JSON.stringify(itemToJson(item)));
const datasetText = `${JSON.stringify(datasetJson(sample.dataset), null, 2)}\n`;
const sampleAnnotations = sample.items.reduce((n, item) => n + item.annotations.length, 0);
const everything = { items: sample.items.length, annotations: sampleAnnotations };

testImporter(LabelportImporter, {
  samples: [
    {
      name: "a jsonl items export (items.jsonl + dataset.json)",
      upload: { files: { [ITEMS_JSONL]: `${itemLines.join("\n")}\n`, [DATASET_JSON]: datasetText } },
      expected: everything,
    },
    {
      name: "a json-snapshot export re-zipped in a folder, CRLF line ends",
      upload: {
        files: {
          "export-1/snapshot.json": `[\r\n${itemLines.join(",\r\n")}\r\n]\r\n`,
          "export-1/dataset.json": datasetText,
        },
      },
      expected: everything,
    },
    {
      name: "a pretty-printed snapshot array",
      upload: {
        files: { "snapshot.json": JSON.stringify(sample.items.map(itemToJson), null, 2), "dataset.json": datasetText },
      },
      expected: everything,
    },
  ],
});

/** The export's files, as the user downloads them in the ZIP. */
async function uploadOf(run: SampleExport): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const key of await run.files()) files[key] = await run.read(key);
  return files;
}

function fixtureOf(imported: SampleImport, upload: Record<string, Uint8Array>): SampleDataset {
  const media = new Map(sample.media);
  for (const [path, uri] of imported.media) media.set(uri, upload[path] as Uint8Array);
  return {
    dataset: { ...sample.dataset, categories: imported.conversion.categories },
    items: imported.items,
    media,
  };
}

describe("labelport import", () => {
  it("round trip: jsonl items export -> import -> export gives byte-identical items.jsonl and dataset.json", async () => {
    const first = await runSampleExport(JsonlExporter, { options: { items: true } });
    let second: SampleExport | undefined;
    try {
      const upload = await uploadOf(first);
      const imported = await runSampleImport(LabelportImporter, { files: upload });
      expect(imported.conversion).toMatchObject({ items: 6, annotations: sampleAnnotations, dropped: {}, changed: {} });
      // Categories come back whole: ids, supercategory, keypoints, skeleton.
      expect(imported.conversion.categories).toEqual(sample.dataset.categories);
      second = await runSampleExport(JsonlExporter, { options: { items: true }, fixture: fixtureOf(imported, upload) });
      expect(await second.text(ITEMS_JSONL)).toBe(await first.text(ITEMS_JSONL));
      expect(await second.text(DATASET_JSON)).toBe(await first.text(DATASET_JSON));
    } finally {
      await first.cleanup();
      await second?.cleanup();
    }
  });

  it("stores the images an export copied and points the items to them; the rest keep their URIs", async () => {
    const first = await runSampleExport(JsonlExporter, { options: { items: true }, saveOriginalFile: true });
    try {
      const upload = await uploadOf(first);
      // item-06's image is missing from the ZIP: its URI stays as exported.
      delete upload["images/train/unsized.jpg"];
      const imported = await runSampleImport(LabelportImporter, { files: upload });
      const uris = Object.fromEntries(imported.items.map((i) => [i.id, i.media?.uri]));
      expect(uris).toEqual({
        "item-01": "media/sample/images/train/street 01.jpg",
        "item-02": "media/sample/images/val/자전거 사진.png",
        // The second "street 01.jpg" was de-duplicated by the export layout.
        "item-03": "media/sample/images/default/street 01_1.jpg",
        "item-04": "media/sample/images/train/=formula.png",
        "item-05": "media/sample/images/val/clip.mp4",
        "item-06": "media/item-06.jpg",
      });
      // Everything else about the item is as exported.
      const strip = (item: Item) => ({ ...(itemToJson(item) as object), media: undefined });
      expect(imported.items.map(strip)).toEqual(sample.items.map(strip));
      expect(imported.items[0]?.media?.fileName).toBe("street 01.jpg");
    } finally {
      await first.cleanup();
    }
  });

  it("finds images under meta.category folders when the export used categoryFolders", async () => {
    const first = await runSampleExport(JsonlExporter, {
      options: { items: true, categoryFolders: true },
      saveOriginalFile: true,
    });
    try {
      const imported = await runSampleImport(LabelportImporter, { files: await uploadOf(first) });
      expect(imported.items[0]?.media?.uri).toBe("media/sample/images/train/1. 자연/street 01.jpg");
      expect(imported.media.size).toBe(6);
    } finally {
      await first.cleanup();
    }
  });

  it("imports a bare items.jsonl and says the categories must already exist", async () => {
    const imported = await runSampleImport(LabelportImporter, {
      files: { "export.jsonl": `\uFEFF${itemLines.join("\n")}\n\n` },
      single: true,
    });
    expect(imported.items.map((i) => i.id)).toEqual(sample.items.map((i) => i.id));
    expect(imported.conversion.categories).toEqual([]);
    expect(imported.conversion.notes).toEqual([
      "no dataset.json: annotations keep their category ids, which the dataset must have",
    ]);
  });

  it("names the file and line of a broken item", async () => {
    const broken = [itemLines[0], '{"id": "x", "nope": 1}'].join("\n");
    const err = await runSampleImport(LabelportImporter, { files: { [ITEMS_JSONL]: broken } }).catch((e) => e);
    expect(isImportSourceError(err)).toBe(true);
    expect(err.message).toMatch(/^items\.jsonl: line 2: not a Labelport item/);
    const truncated = [itemLines[0], itemLines[1]?.slice(0, 40)].join("\n");
    const err2 = await runSampleImport(LabelportImporter, { files: { [ITEMS_JSONL]: truncated } }).catch((e) => e);
    expect(err2.message).toMatch(/^items\.jsonl: line 2: not valid JSON/);
  });

  it("refuses a dataset.json of another schema version", async () => {
    const files = { [ITEMS_JSONL]: itemLines[0] as string, [DATASET_JSON]: '{"schemaVersion": 2, "categories": []}' };
    await expect(runSampleImport(LabelportImporter, { files })).rejects.toThrow(
      "dataset.json: schemaVersion 2; this reads 1",
    );
  });
});
