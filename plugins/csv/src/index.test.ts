import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { geometryJson } from "@labelport/sdk";
import { AnnotationSchema } from "@labelport/sdk/contracts";
import {
  expectSplitsWriteTheSameBytes,
  runSampleExport,
  type SampleDataset,
  sampleDataset,
  testExporter,
  withDistinctFileNames,
} from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import CsvExporter, { CSV_COLUMNS, CSV_KEY, csvField, geometryCell } from "./index.ts";

testExporter(CsvExporter);

describe("csv fields", () => {
  it("quotes per RFC 4180", () => {
    expect(csvField("plain", true)).toBe("plain");
    expect(csvField('say "hi", ok', true)).toBe('"say ""hi"", ok"');
    expect(csvField("two\r\nlines", true)).toBe('"two\r\nlines"');
  });

  it("neutralises formulas unless told not to", () => {
    for (const cell of ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"]) {
      expect(csvField(cell, true).replace(/^"/, "")).toMatch(/^'/);
      expect(csvField(cell, false).replace(/^"/, "")).not.toMatch(/^'/);
    }
  });

  it("neutralises formulas after leading spaces, and after a ; or tab inside the cell", () => {
    expect(csvField(" =1+1", true)).toBe("' =1+1");
    expect(csvField("  @SUM(A1)", true)).toBe("'  @SUM(A1)");
    expect(csvField("a;=1+1", true)).toBe(`"a;'=1+1"`);
    expect(csvField('a; "=1+1"', true)).toBe(`"a;' ""=1+1"""`);
    expect(csvField("a\t-1", true)).toBe(`"a\t'-1"`);
    expect(csvField("a;=1+1", false)).toBe(`"a;=1+1"`);
    // Text that only looks like a list stays as it is.
    expect(csvField("a-b=c", true)).toBe("a-b=c");
  });

  it("quotes a cell holding the delimiter of any common locale", () => {
    for (const cell of ["a,b", "a;b", "a\tb"]) expect(csvField(cell, true)).toBe(`"${cell}"`);
  });
});

type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;

describe("csv geometry cells", () => {
  it("write boxes and point lists as the quoted JSON of their geometry", () => {
    const field = (value: string) => csvField(value, true);
    const odd = [0, -0, 1.5, -3.25, 1e21, 5e-7, 123456.789, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53 + 2];
    for (const [i, a] of odd.entries()) {
      const b = odd[(i * 3 + 1) % odd.length] ?? 0;
      const geometries: NonNullable<AnnotationInit["geometry"]>[] = [
        { case: "bbox", value: { x: a, y: b, width: b, height: a } },
        { case: "polygon", value: { points: [a, b, b, a, 1, 2] } },
        { case: "polyline", value: { points: [b, a] } },
      ];
      for (const geometry of geometries) {
        const annotation = create(AnnotationSchema, { id: "a", geometry });
        const json = JSON.stringify(geometryJson(annotation));
        expect(geometryCell(annotation, field), json).toBe(`"${json.replaceAll('"', '""')}"`);
      }
    }
  });
});

describe("csv export", () => {
  it("writes a header, CRLF rows, one row per annotation and one for an empty item", async () => {
    const run = await runSampleExport(CsvExporter);
    try {
      const text = await run.text(CSV_KEY);
      expect(text.startsWith(`${CSV_COLUMNS.join(",")}\r\n`)).toBe(true);
      expect(text.endsWith("\r\n")).toBe(true);
      expect(text).not.toMatch(/(?<!\r)\n/);
      const rows = text.split("\r\n").filter(Boolean);
      // 4 + 3 + 1 (empty item-03) + 2 + 2 + 1 annotations/rows, plus the header.
      expect(rows).toHaveLength(1 + 13);
      expect(rows.find((r) => r.startsWith("item-03,"))).toBe("item-03,street 01_1.jpg,640,480,,,,,,,,,,");
      expect(text).toContain("item-04,'=formula.png,100,100,train,9,");
      // The unsized image has empty width and height.
      expect(rows.find((r) => r.startsWith("item-06,"))).toMatch(/^item-06,unsized\.jpg,,,train,2,/);
      // Every annotation is a row (the empty item's row holds none): nothing dropped or changed.
      expect(rows.filter((r) => r.split(",")[7] !== "")).toHaveLength(1 + 12);
      expect(await run.json("manifest.json")).toMatchObject({
        annotationCount: 12,
        annotationsReceived: 12,
        dropped: {},
        changed: {},
      });
      expect(text.charCodeAt(0)).not.toBe(0xfeff);
    } finally {
      await run.cleanup();
    }
  });

  it("starts with a BOM when asked and keeps formulas when told", async () => {
    const run = await runSampleExport(CsvExporter, { options: { bom: true, neutralizeFormulas: false } });
    try {
      const bytes = await run.read(CSV_KEY);
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      expect(bytes.toString("utf8")).toContain("item-04,=formula.png,100,100,train,9,");
    } finally {
      await run.cleanup();
    }
  });
});

const distinctNames = (): SampleDataset => withDistinctFileNames(sampleDataset());
const noItems = (): SampleDataset => ({ ...sampleDataset(), items: [] });

describe("csv split export", () => {
  const header = `\uFEFF${CSV_COLUMNS.join(",")}\r\n`;
  const options = { options: { bom: true } };

  it("split into 2, 3 and 4 shards writes the bytes of one pass, the BOM and header once", async () => {
    await expectSplitsWriteTheSameBytes(CsvExporter, distinctNames, options, async (whole) => {
      const text = await whole.text(CSV_KEY);
      expect(text.startsWith(header)).toBe(true);
      expect(text.split("\r\n").filter(Boolean)).toHaveLength(1 + 13);
    });
  });

  it("split export of a dataset without items writes the BOM and header only, as one pass does", async () => {
    await expectSplitsWriteTheSameBytes(CsvExporter, noItems, options, async (whole) => {
      expect(await whole.text(CSV_KEY)).toBe(header);
    });
  });
});
