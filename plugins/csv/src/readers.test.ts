// CSV read back by Python's csv module (csv.DictReader), compared cell by cell.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSampleExport, type SampleExport, sampleDataset } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePythonTools, runPythonJson } from "../../../test/support/python.ts";
import CsvExporter, { CSV_COLUMNS, CSV_KEY, csvRecord, neutralizeFormula } from "./index.ts";

const reader = `
import csv, json, sys
with open(sys.argv[1], newline="", encoding=sys.argv[2]) as f:
    rows = list(csv.DictReader(f, strict=True))
print(json.dumps({"columns": list(rows[0].keys()) if rows else [], "rows": rows}, ensure_ascii=False))
`;

function expectedRows(neutralize: boolean): Array<Record<string, string>> {
  const data = sampleDataset();
  const names = new Map(data.dataset.categories.map((c) => [c.id, c.name]));
  const files: Record<string, string> = {
    "item-01": "street 01.jpg",
    "item-02": "자전거 사진.png",
    "item-03": "street 01_1.jpg",
    "item-04": "=formula.png",
    "item-05": "clip.mp4",
    "item-06": "unsized.jpg",
  };
  const sizes: Record<string, [string, string]> = {
    "item-01": ["640", "480"],
    "item-02": ["320", "240"],
    "item-03": ["640", "480"],
    "item-04": ["100", "100"],
    "item-05": ["1920", "1080"],
    "item-06": ["", ""],
  };
  const cell = (v: string) => (neutralize ? neutralizeFormula(v) : v);
  const rows: Array<Record<string, string>> = [];
  for (const item of data.items) {
    const [width, height] = sizes[item.id] ?? ["", ""];
    const base = {
      item_id: item.id,
      file_name: cell(files[item.id] ?? ""),
      image_width: width,
      image_height: height,
      split: item.split,
    };
    if (item.annotations.length === 0) {
      rows.push({
        ...base,
        ...Object.fromEntries(CSV_COLUMNS.slice(Object.keys(base).length).map((c) => [c, ""])),
      });
    }
    for (const a of item.annotations) {
      rows.push({
        ...base,
        category_id: a.categoryId === undefined ? "" : String(a.categoryId),
        category_name: a.categoryId === undefined ? "" : (names.get(a.categoryId) ?? ""),
        annotation_id: a.id,
        type: "",
        geometry: "",
        attributes: a.attributes && Object.keys(a.attributes).length ? JSON.stringify(a.attributes) : "",
        persona_id: a.personaId,
        created_at: a.createTime ? new Date(Number(a.createTime.seconds) * 1000).toISOString() : "",
        updated_at: a.updateTime ? new Date(Number(a.updateTime.seconds) * 1000).toISOString() : "",
      });
    }
  }
  return rows;
}

describe("csv read by Python's csv module", () => {
  let run: SampleExport;
  beforeAll(async () => {
    await ensurePythonTools();
    run = await runSampleExport(CsvExporter, { options: { bom: true } });
  }, 900_000);
  afterAll(() => run?.cleanup());

  it("reads the same cells back, with the documented columns", async () => {
    const read = await runPythonJson<{ columns: string[]; rows: Array<Record<string, string>> }>(reader, [
      `${run.dir}/${CSV_KEY}`,
      "utf-8-sig",
    ]);
    expect(read.columns).toEqual([...CSV_COLUMNS]);
    const expected = expectedRows(true);
    expect(read.rows).toHaveLength(expected.length);
    read.rows.forEach((row, i) => {
      const want = expected[i] as Record<string, string>;
      for (const column of CSV_COLUMNS) {
        if (column === "type" || column === "geometry") continue;
        expect(row[column], `row ${i} ${column}`).toBe(want[column]);
      }
    });
    const types = read.rows.map((r) => r.type);
    expect(types).toEqual([
      "bbox",
      "bbox",
      "polygon",
      "keypoints",
      "bbox",
      "polyline",
      "classification",
      "",
      "bbox",
      "polygon",
      "track",
      "track",
      "bbox",
    ]);
    expect(JSON.parse(read.rows[0]?.geometry ?? "")).toEqual({ x: 10, y: 20, width: 100, height: 50 });
    expect(JSON.parse(read.rows[2]?.geometry ?? "")).toEqual({ points: [0, 300, 200, 300, 200, 480, 0, 480] });
    expect(JSON.parse(read.rows[10]?.geometry ?? "").boxes).toHaveLength(3);
    expect(read.rows[6]?.geometry).toBe("");
  });
});

describe("csv opened with another locale's delimiter (Python's csv module)", () => {
  const views = `
import csv, json, sys
with open(sys.argv[1], newline="", encoding="utf-8") as f:
    text = f.read()
out = {}
for name, delimiter in (("comma", ","), ("semicolon", ";"), ("tab", "\\t")):
    out[name] = list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=(delimiter == ",")))
print(json.dumps(out, ensure_ascii=False))
`;
  // OWASP CSV injection: what a spreadsheet would evaluate at the start of a cell.
  const formula = /^\s*[=+\-@]|^[\t\r]/;
  const rows = [
    ["item-1", "a;=1+1", " =2", 'x; "=3"', "tab\t+4", "plain,text", "@cmd", "-5", "ok"],
    ["=HYPERLINK(1)", "a\t@x", "semi;colon", "line\r\nbreak", "fine"],
  ];
  let dir: string;
  beforeAll(async () => {
    await ensurePythonTools();
    dir = await mkdtemp(join(tmpdir(), "csv-views-"));
  }, 900_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("keeps every cell whole with commas, and no view starts a cell with a formula", async () => {
    const file = join(dir, "cells.csv");
    await writeFile(file, rows.map((r) => csvRecord(r, true)).join(""));
    const read = await runPythonJson<Record<"comma" | "semicolon" | "tab", string[][]>>(views, [file]);
    expect(read.comma).toEqual(rows.map((r) => r.map(neutralizeFormula)));
    for (const [view, cells] of Object.entries(read)) {
      for (const cell of cells.flat()) expect(cell, `${view} view cell ${JSON.stringify(cell)}`).not.toMatch(formula);
    }
  });
});
