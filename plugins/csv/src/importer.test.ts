import { isImportSourceError } from "@labelport/sdk";
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
import { restoreFormula } from "./formula-cells.ts";
import { CsvImporter } from "./importer.ts";
import CsvExporter, { CSV_KEY, neutralizeFormula } from "./index.ts";

const HEADER = [
  "item_id",
  "file_name",
  "image_width",
  "image_height",
  "split",
  "category_id",
  "category_name",
  "annotation_id",
  "type",
  "geometry",
  "attributes",
  "persona_id",
  "created_at",
  "updated_at",
];

/** Rows as cells; `csv()` joins them with a delimiter, quoting as a spreadsheet does. */
const ROWS = [
  HEADER,
  [
    "img-1",
    "a.jpg",
    "640",
    "480",
    "train",
    "1",
    "cat",
    "a1",
    "bbox",
    '{"x":1,"y":2,"width":3,"height":4}',
    "",
    "",
    "2025-01-01T00:00:00.000Z",
    "",
  ],
  [
    "img-1",
    "a.jpg",
    "640",
    "480",
    "train",
    "2",
    "dog; big",
    "a2",
    "polygon",
    '{"points":[0,0,1,0,1,1]}',
    '{"occluded":true}',
    "",
    "",
    "",
  ],
  ["img-2", "b.png", "", "", "", "", "", "", "", "", "", "", "", ""],
  ["img-3", "c.png", "", "", "val", "1", "cat", "", "classification", "", "", "", "", ""],
];

function csv(delimiter: string, rows = ROWS): string {
  const field = (v: string) => (/["\r\n,;\t]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return rows.map((r) => r.map(field).join(delimiter)).join("\r\n");
}

testImporter(CsvImporter, {
  samples: [
    { name: "a comma CSV", upload: { files: { [CSV_KEY]: csv(",") } }, expected: { items: 3, annotations: 3 } },
    {
      name: "Excel in a semicolon locale: `;` and a byte order mark, uploaded as the file",
      upload: { files: { "labels.csv": `\uFEFF${csv(";")}\r\n` }, single: true },
      expected: { items: 3, annotations: 3 },
    },
    {
      name: "tab-separated in the export's folder",
      upload: { files: { "export-7/annotations.csv": csv("\t") } },
      expected: { items: 3, annotations: 3 },
    },
  ],
});

async function uploadOf(run: SampleExport): Promise<Record<string, Uint8Array>> {
  const files: Record<string, Uint8Array> = {};
  for (const key of await run.files()) {
    if (key !== "manifest.json" && !key.startsWith("metadata/")) files[key] = await run.read(key);
  }
  return files;
}

function fixtureOf(imported: SampleImport): SampleDataset {
  const base = sampleDataset();
  return {
    dataset: { ...base.dataset, categories: imported.conversion.categories },
    items: imported.items,
    media: base.media,
  };
}

describe("csv import", () => {
  for (const options of [{}, { bom: true }, { neutralizeFormulas: false }, { categoryFolders: true }]) {
    it(`round trip ${JSON.stringify(options)}: csv export -> import -> export is byte-identical`, async () => {
      const first = await runSampleExport(CsvExporter, { options });
      let second: SampleExport | undefined;
      try {
        const imported = await runSampleImport(
          CsvImporter,
          { files: await uploadOf(first) },
          { options: { formulasNeutralized: options.neutralizeFormulas ?? true } },
        );
        expect(imported.conversion).toMatchObject({ items: 6, dropped: {}, changed: {} });
        expect(imported.items.find((i) => i.id === "item-04")?.annotations[0]?.attributes).toEqual({
          note: '=HYPERLINK("http://x")',
          difficult: false,
        });
        expect(imported.items.find((i) => i.id === "item-04")?.media?.fileName).toBe("=formula.png");
        second = await runSampleExport(CsvExporter, { options, fixture: fixtureOf(imported) });
        expect(await second.text(CSV_KEY)).toBe(await first.text(CSV_KEY));
        expect((await second.read(CSV_KEY)).equals(await first.read(CSV_KEY))).toBe(true);
      } finally {
        await first.cleanup();
        await second?.cleanup();
      }
    });
  }

  it("reads ids, categories, geometry, attributes and times; an item without rows of annotations stays empty", async () => {
    const { items, conversion } = await runSampleImport(CsvImporter, { files: { [CSV_KEY]: csv(";") } });
    expect(conversion.categories.map((c) => [c.id, c.name])).toEqual([
      [1, "cat"],
      [2, "dog; big"],
    ]);
    const [one, two, three] = items;
    expect(one?.split).toBe("train");
    expect(one?.media).toMatchObject({ uri: "a.jpg", fileName: "a.jpg" });
    expect(one?.annotations.map((a) => [a.id, a.categoryId, a.geometry.case])).toEqual([
      ["a1", 1, "bbox"],
      ["a2", 2, "polygon"],
    ]);
    expect(one?.annotations[0]?.geometry.value).toMatchObject({ x: 1, y: 2, width: 3, height: 4 });
    expect(one?.annotations[0]?.createTime?.seconds).toBe(BigInt(Date.UTC(2025, 0, 1) / 1000));
    expect(one?.annotations[1]?.attributes).toEqual({ occluded: true });
    expect(two?.annotations).toEqual([]);
    // No annotation_id: a stable one from the item.
    expect(three?.annotations.map((a) => [a.id, a.geometry.case])).toEqual([["img-3:1", undefined]]);
  });

  it("stores images under images/<split>/ and reads their size when the CSV has none", async () => {
    const png = Buffer.alloc(33);
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(png, 0);
    png.writeUInt32BE(13, 8);
    png.write("IHDR", 12);
    png.writeUInt32BE(64, 16);
    png.writeUInt32BE(48, 20);
    const { items } = await runSampleImport(CsvImporter, {
      files: { [CSV_KEY]: csv(","), "images/default/b.png": png },
    });
    expect(items[1]?.media).toMatchObject({ uri: "media/sample/images/default/b.png", width: 64, height: 48 });
  });

  it("drops rows it cannot carry by reason, and names the line of a broken cell", async () => {
    const rows = [...ROWS, ["img-9", "z.jpg", "", "", "", "", "", "z1", "cuboid", "{}", "", "", "", ""]];
    const { conversion } = await runSampleImport(CsvImporter, { files: { [CSV_KEY]: csv(",", rows) } });
    expect(conversion.dropped).toEqual({ "unknown annotation type 'cuboid'": 1 });
    const broken = [
      ...ROWS.slice(0, 2),
      ["img-9", "z.jpg", "", "", "", "1", "cat", "z1", "bbox", "{x:1}", "", "", "", ""],
    ];
    const err = await runSampleImport(CsvImporter, { files: { [CSV_KEY]: csv(",", broken) } }).catch((e) => e);
    expect(isImportSourceError(err)).toBe(true);
    expect(err.message).toMatch(/^annotations\.csv: line 3: geometry is not valid JSON/);
  });

  it("asks for sorted rows when an item's rows are apart", async () => {
    const apart = [ROWS[0] as string[], ROWS[1] as string[], ROWS[3] as string[], ROWS[2] as string[]];
    await expect(runSampleImport(CsvImporter, { files: { [CSV_KEY]: csv(",", apart) } })).rejects.toThrow(
      'line 4: rows of item "img-1" are not together; sort the rows by item_id',
    );
  });

  it("undoes exactly what neutralizeFormula did", () => {
    const values = [
      "=1+1",
      " =SUM(A1)",
      "+49 30",
      "-5",
      "@user",
      "\tTAB",
      "\rCR",
      "a;=b",
      "a\t=b",
      "\t\t=x",
      'x; "=y',
      "a;;=b;+c",
      "plain",
      "it's",
      "",
    ];
    for (const value of values) expect(restoreFormula(neutralizeFormula(value)), JSON.stringify(value)).toBe(value);
  });
});
