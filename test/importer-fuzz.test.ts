// Hostile uploads against every importer plugin, end to end through POST /api/import. Importer
// workers run inside the server process (npm start), so whatever an upload does to an importer
// it does to the service. For every upload the answer is 200 with honest accounting or a 4xx
// naming the file, never a 5xx; /healthz answers after each; a refused upload stores nothing;
// a ZIP bomb is refused before it is inflated (the workers run in this process: its RSS is
// measured around the bombs).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32, deflateRawSync, constants as zlib } from "node:zlib";
import { loadPlugin } from "@labelport/sdk/plugin-cli";
import { runSampleExport, seededRandom } from "@labelport/sdk/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { upload } from "../services/orchestrator/src/data/testing.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { type PluginWorkers, startPluginWorkers } from "./support/plugin-workers.ts";
import { png } from "./support/png.ts";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-importer-fuzz-"));
let stack: JobStack;
let workers: PluginWorkers;

// ---------------------------------------------------------------------------------------------
// ZIPs built byte by byte, so that headers can lie.

interface ZipEntry {
  name: string;
  data: Buffer;
  /** Deflate the data (default: stored). */
  deflate?: boolean;
  /** Raw bytes to store instead of the data, deflated (a bomb); sizes and CRC still come from here. */
  compressed?: Buffer;
  /** The uncompressed size the headers claim (default: the data's). */
  declaredSize?: number;
}

function zipOf(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, "utf8");
    const deflated = entry.compressed !== undefined || entry.deflate === true;
    const body = entry.compressed ?? (entry.deflate ? deflateRawSync(entry.data) : entry.data);
    const size = entry.declaredSize ?? entry.data.length;
    const crc = entry.compressed ? 0 : crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // names in UTF-8
    local.writeUInt16LE(deflated ? 8 : 0, 8);
    local.writeUInt16LE(0x21, 12); // 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(deflated ? 8 : 0, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  const count = entries.length;
  if (count > 0xffff) {
    // ZIP64: the counts live in the ZIP64 end record, the classic one says 0xffff.
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeUInt16LE(45, 12);
    record.writeUInt16LE(45, 14);
    record.writeBigUInt64LE(BigInt(count), 24);
    record.writeBigUInt64LE(BigInt(count), 32);
    record.writeBigUInt64LE(BigInt(directory.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + directory.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Math.min(count, 0xffff), 8);
  end.writeUInt16LE(Math.min(count, 0xffff), 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, ...tail, end]);
}

/**
 * Deflate data inflating to `bytes` of `fill` from about bytes/1000 bytes: one MiB deflated with a
 * sync flush (it ends on a byte boundary and refers only to the same byte), repeated, then an
 * empty final block.
 */
function bomb(bytes: number, fill: number): Buffer {
  const mebibyte = 1024 * 1024;
  const block = deflateRawSync(Buffer.alloc(mebibyte, fill), { finishFlush: zlib.Z_SYNC_FLUSH });
  const parts: Buffer[] = [];
  for (let n = 0; n < bytes / mebibyte; n++) parts.push(block);
  parts.push(Buffer.from([0x03, 0x00]));
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// One valid upload per format: what our exporter writes, or (import-only formats) what the tool does.

interface FormatCase {
  format: string;
  files: Map<string, Buffer>;
  /** The annotation files the hostile contents go into. */
  targets: string[];
}

const PNG_32x24 = png(32, 24);

const labelmeJson = JSON.stringify({
  version: "5.5.0",
  flags: {},
  shapes: [
    {
      label: "car",
      points: [
        [1, 2],
        [20, 10],
      ],
      group_id: null,
      description: "",
      shape_type: "rectangle",
      flags: {},
    },
    {
      label: "road",
      points: [
        [0, 20],
        [31, 20],
        [31, 23],
      ],
      group_id: 1,
      shape_type: "polygon",
      flags: {},
    },
    { label: "nose", points: [[4, 4]], shape_type: "point", flags: { hidden: true } },
  ],
  imagePath: "frame 1.png",
  imageData: null,
  imageHeight: 24,
  imageWidth: 32,
});

const cvatXml = `<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><id>7</id><name>street</name><size>2</size><labels>
    <label><name>car</name><type>any</type><attributes>
      <attribute><name>doors</name><mutable>False</mutable><input_type>number</input_type><default_value>2</default_value><values>2
5
1</values></attribute>
    </attributes></label>
    <label><name>road</name><type>polygon</type><attributes/></label>
  </labels></task></meta>
  <image id="0" name="frame_0.png" width="32" height="24">
    <box label="car" source="manual" occluded="1" xtl="1.5" ytl="2" xbr="20" ybr="10" z_order="1"><attribute name="doors">5</attribute></box>
    <polygon label="road" source="manual" occluded="0" points="0.00,20.00;31.00,20.00;31.00,23.00" z_order="0"></polygon>
    <points label="car" source="manual" occluded="0" points="4.00,4.00;6.00,6.00" z_order="0"></points>
    <mask label="road" source="manual" occluded="0" rle="1, 2, 3" left="2" top="1" width="3" height="2" z_order="0"></mask>
    <tag label="car" source="manual"></tag>
  </image>
  <image id="1" name="frame_1.png" width="32" height="24"></image>
</annotations>
`;

const dmJson = JSON.stringify({
  assignmentId: 4711,
  extra: { image_1: { width: 32, height: 24 } },
  annotations: {
    image_1: [
      { id: "A1", tool: "bounding_box", classification: { class: "car", color: "red" } },
      { id: "A2", tool: "polygon", classification: { class: "road" } },
      { id: "A3", tool: "keypoint", classification: { class: "nose" } },
      { id: "A4", tool: "classification", classification: { class: "day" } },
    ],
  },
  annotationsData: {
    image_1: [
      { id: "A1", coordinate: { x: 1, y: 2, width: 10, height: 5, rotation: 0 } },
      {
        id: "A2",
        coordinate: [
          { x: 0, y: 0 },
          { x: 10, y: 0 },
          { x: 10, y: 10 },
        ],
      },
      { id: "A3", coordinate: { x: 5, y: 6 } },
    ],
  },
  relations: {},
  annotationGroups: {},
});

async function exportedFiles(pkg: string, options: Record<string, unknown> = {}): Promise<Map<string, Buffer>> {
  const plugin = await loadPlugin(pkg);
  if (!plugin.exporter) throw new Error(`${pkg} has no exporter`);
  const run = await runSampleExport(plugin.exporter, { saveOriginalFile: true, options });
  const files = new Map<string, Buffer>();
  for (const key of await run.files()) {
    if (key !== "manifest.json" && !key.startsWith("metadata/")) files.set(key, await run.read(key));
  }
  await run.cleanup();
  return files;
}

async function formatCases(): Promise<FormatCase[]> {
  const text = (entries: Record<string, string | Buffer>) =>
    new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === "string" ? Buffer.from(v) : v]));
  return [
    {
      format: "coco",
      files: await exportedFiles("@labelport/plugin-coco"),
      targets: ["annotations/instances_train.json"],
    },
    {
      format: "yolo",
      files: await exportedFiles("@labelport/plugin-yolo"),
      targets: ["labels/train/street 01.txt", "data.yaml"],
    },
    { format: "voc", files: await exportedFiles("@labelport/plugin-voc"), targets: ["Annotations/street 01.xml"] },
    { format: "csv", files: await exportedFiles("@labelport/plugin-csv"), targets: ["annotations.csv"] },
    {
      format: "labelport",
      files: await exportedFiles("@labelport/plugin-jsonl", { items: true }),
      targets: ["items.jsonl", "dataset.json"],
    },
    {
      format: "labelme",
      files: text({ "shots/frame 1.json": labelmeJson, "shots/frame 1.png": PNG_32x24 }),
      targets: ["shots/frame 1.json"],
    },
    {
      format: "cvat",
      files: text({ "annotations.xml": cvatXml, "images/frame_0.png": PNG_32x24, "images/frame_1.png": PNG_32x24 }),
      targets: ["annotations.xml"],
    },
    {
      format: "dm-json",
      files: text({ "export/json/a.json": dmJson, "export/original_files/a.png": PNG_32x24 }),
      targets: ["export/json/a.json"],
    },
  ];
}

const zipFiles = (files: Map<string, Buffer>, extra: ZipEntry[] = []) =>
  zipOf([...[...files].map(([name, data]) => ({ name, data, deflate: true })), ...extra]);

const replaced = (files: Map<string, Buffer>, path: string, data: Buffer) => new Map([...files, [path, data]]);

// ---------------------------------------------------------------------------------------------
// Hostile contents for one annotation file.

const DEEP = 100_000;
const LAUGHS = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from(
  { length: 9 },
  (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ""};`.repeat(10)}">`,
).join("")}<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`;

function hostileContents(original: Buffer): Array<[string, Buffer]> {
  const text = original.toString("utf8");
  const isXml = /^\s*(<\?xml|<\w)/.test(text.replace(/^\uFEFF/, ""));
  const numbers = /-?\b\d+(\.\d+)?([eE][+-]?\d+)?\b/g;
  const quotedNumbers = /"(-?\d+(\.\d+)?)"/g;
  const entities = (entity: string) =>
    `${text.replace(/^<\?xml[^>]*\?>/, "").replace(/^/, `<?xml version="1.0"?>${LAUGHS}`)}`.replace(
      />([^<\s][^<]*)</,
      `>${entity}<`,
    );
  const invalidUtf8 = Buffer.concat([
    Buffer.from([0xff, 0xfe]),
    original.subarray(0, original.length >> 1),
    Buffer.from([0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80]),
    original.subarray(original.length >> 1),
  ]);
  return [
    ["empty", Buffer.alloc(0)],
    ["deep arrays", Buffer.from(`${"[".repeat(DEEP)}${"]".repeat(DEEP)}`)],
    ["deep objects", Buffer.from(`${'{"a":'.repeat(DEEP)}1${"}".repeat(DEEP)}`)],
    ["deep elements", Buffer.from(`<annotation>${"<a>".repeat(DEEP)}${"</a>".repeat(DEEP)}</annotation>`)],
    ["huge numbers", Buffer.from(text.replace(numbers, "1e999"))],
    ["negative numbers", Buffer.from(text.replace(numbers, "-123456789012345678901234567890"))],
    ["NaN strings", Buffer.from(text.replace(numbers, isXml ? "NaN" : '"NaN"').replace(quotedNumbers, '"Infinity"'))],
    ["bare NaN", Buffer.from(text.replace(numbers, "NaN"))],
    ["billion laughs", Buffer.from(entities("&lol9;"))],
    ["external entity", Buffer.from(entities("&xxe;"))],
    ["invalid UTF-8", invalidUtf8],
    ["binary", Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))],
  ];
}

/** Every field of a JSON value by its path (array indexes as `*`), with a value of the wrong type. */
function jsonFieldPaths(value: unknown, path: string[] = [], out = new Map<string, string[]>()): Map<string, string[]> {
  if (path.length > 0) out.set(path.join("."), path);
  if (Array.isArray(value)) for (const v of value) jsonFieldPaths(v, [...path, "*"], out);
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) jsonFieldPaths(v, [...path, k], out);
  }
  return out;
}

function wrongType(value: unknown): unknown {
  if (typeof value === "string") return 12345;
  if (typeof value === "number") return "12";
  if (typeof value === "boolean") return "yes";
  if (Array.isArray(value)) return { length: 3, 0: 1 };
  if (value === null) return { x: [] };
  return [1, "a", null];
}

function withWrongType(value: unknown, path: readonly string[]): unknown {
  if (path.length === 0) return wrongType(value);
  const [head, ...rest] = path;
  if (Array.isArray(value)) return head === "*" ? value.map((v) => withWrongType(v, rest)) : value;
  if (value && typeof value === "object" && head !== undefined && head in value) {
    return { ...value, [head]: withWrongType((value as Record<string, unknown>)[head], rest) };
  }
  return value;
}

/** One mutation per field of the file, every occurrence of the field given a value of another type. */
function wrongTypeMutations(path: string, original: Buffer): Array<[string, Buffer]> {
  const text = original.toString("utf8");
  const out: Array<[string, Buffer]> = [];
  if (path.endsWith(".json") || path.endsWith(".jsonl")) {
    const lines = path.endsWith(".jsonl") ? text.split("\n").filter(Boolean) : [text];
    const docs = lines.map((line) => JSON.parse(line) as unknown);
    const fields = new Map<string, string[]>();
    for (const doc of docs) jsonFieldPaths(doc, [], fields);
    for (const [name, fieldPath] of fields) {
      const mutated = docs.map((doc) => JSON.stringify(withWrongType(doc, fieldPath)));
      out.push([
        `${name} of the wrong type`,
        Buffer.from(path.endsWith(".jsonl") ? `${mutated.join("\n")}\n` : (mutated[0] ?? "")),
      ]);
    }
  } else if (path.endsWith(".xml")) {
    const tags = new Set([...text.matchAll(/<([\w:-]+)>[^<]+<\/\1>/g)].map((m) => m[1] as string));
    for (const tag of tags) {
      const leaf = new RegExp(`<${tag}>[^<]+</${tag}>`, "g");
      out.push([`<${tag}> as words`, Buffer.from(text.replace(leaf, `<${tag}>not a number</${tag}>`))]);
      out.push([`<${tag}> as an element`, Buffer.from(text.replace(leaf, `<${tag}><x>1</x></${tag}>`))]);
    }
    const attributes = new Set([...text.matchAll(/ ([\w:-]+)="[^"]*"/g)].map((m) => m[1] as string));
    for (const attribute of attributes) {
      const value = new RegExp(` ${attribute}="[^"]*"`, "g");
      out.push([`${attribute}= as words`, Buffer.from(text.replace(value, ` ${attribute}="not a number"`))]);
    }
  } else if (path.endsWith(".csv")) {
    const rows = text.split("\r\n");
    const columns = (rows[0] ?? "").split(",").length;
    for (let column = 0; column < columns; column++) {
      for (const cell of ["not a number", '"{""x"":[1,""a""]}"']) {
        const mutated = rows.map((row, i) => {
          if (i === 0 || row === "") return row;
          const cells = (row.match(/("([^"]|"")*"|[^,]*)(,|$)/g) ?? [])
            .slice(0, columns)
            .map((c) => c.replace(/,$/, ""));
          cells[column] = cell;
          return cells.join(",");
        });
        out.push([`column ${column} as ${cell}`, Buffer.from(mutated.join("\r\n"))]);
      }
    }
  } else if (path.endsWith(".txt")) {
    for (let token = 0; token < 7; token++) {
      const mutated = text.split("\n").map((line) =>
        line
          .split(" ")
          .map((t, i) => (i === token ? "x" : t))
          .join(" "),
      );
      out.push([`token ${token} as a word`, Buffer.from(mutated.join("\n"))]);
    }
  } else if (path.endsWith(".yaml")) {
    const keys = [...text.matchAll(/^(\w+):/gm)].map((m) => m[1] as string);
    for (const key of keys) {
      for (const value of ["5", "[1, {a: 2}]", "{a: [1]}", "~"]) {
        const mutated = text.replace(new RegExp(`^${key}:.*(\\n[ -].*)*`, "m"), `${key}: ${value}`);
        out.push([`${key}: ${value}`, Buffer.from(mutated)]);
      }
    }
  }
  return out;
}

const TOKENS = ['"', "{", "}", "[", "]", ",", ":", "<", ">", "&", "-1", "1e999", "null", "\u0000", "\n", "\r", "\\"];

/** 1 to 3 random edits: a byte flipped, a slice cut or repeated, a token put in. */
function mutate(original: Buffer, next: () => number): Buffer {
  let bytes = Buffer.from(original);
  const edits = 1 + Math.floor(next() * 3);
  for (let n = 0; n < edits; n++) {
    const at = Math.floor(next() * (bytes.length + 1));
    const length = 1 + Math.floor(next() * 40);
    const kind = Math.floor(next() * 4);
    if (kind === 0 && bytes.length > 0) {
      const i = Math.min(at, bytes.length - 1);
      bytes[i] = (bytes[i] as number) ^ (1 << Math.floor(next() * 8));
    } else if (kind === 1) {
      bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + length)]);
    } else if (kind === 2) {
      bytes = Buffer.concat([
        bytes.subarray(0, at + length),
        bytes.subarray(at, at + length),
        bytes.subarray(at + length),
      ]);
    } else {
      const token = TOKENS[Math.floor(next() * TOKENS.length)] as string;
      bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(token), bytes.subarray(at)]);
    }
  }
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// One upload, and every check on its answer.

interface Attempt {
  format: string;
  name: string;
  body: Buffer;
  fileName: string;
}

const problems: string[] = [];
let uploads = 0;

async function post(attempt: Attempt): Promise<number> {
  const { format, name, body, fileName } = attempt;
  const what = `${format} / ${name}`;
  const { dataset } = await stack.datasets.createDataset({ name: `fuzz ${format} ${++uploads}` });
  const datasetId = dataset?.id ?? "";
  let res: Awaited<ReturnType<typeof upload>>;
  try {
    res = await upload(`${stack.orchestrator.url}/api/import`, body, { datasetId, format }, fileName);
  } catch (err) {
    problems.push(`${what}: no answer (${(err as Error).message})`);
    return 0;
  }
  const health = await fetch(`${stack.orchestrator.url}/healthz`);
  if (health.status !== 200) problems.push(`${what}: /healthz answered ${health.status}`);
  const status = res.status;
  const message = String((res.body as { message?: unknown }).message ?? "");
  const after = (await stack.datasets.getDataset({ datasetId })).dataset;
  let stored = 0;
  for await (const page of stack.items.streamItems({ datasetId, filter: { allStatuses: true } })) {
    for (const item of page.items) stored += item.annotations.length;
  }
  const leaked = JSON.stringify(after?.categories ?? []).includes("root:");
  if (leaked) problems.push(`${what}: an external entity was resolved into a category`);
  if (status >= 500) {
    problems.push(`${what}: ${status} ${message}`);
  } else if (status >= 400) {
    if (!message.includes(fileName)) problems.push(`${what}: ${status} without the file name: ${message}`);
    if (/Cannot read prop|undefined|is not a function|is not iterable|\[object /.test(message)) {
      problems.push(`${what}: ${status} with a programming error: ${message}`);
    }
    if (after?.itemCount !== 0n || (after?.categories.length ?? 0) > 0 || stored > 0) {
      problems.push(`${what}: ${status} but stored ${after?.itemCount} items, ${after?.categories.length} categories`);
    }
  } else if (status === 200) {
    const result = res.body as {
      status: string;
      annotations: {
        received: number;
        written: number;
        merged: number;
        skipped: number;
        dropped: number;
        droppedByReason: Record<string, number>;
      };
    };
    const a = result.annotations;
    const byReason = Object.values(a.droppedByReason).reduce((n, c) => n + c, 0);
    if (a.received !== a.written + a.merged + a.skipped + a.dropped || byReason !== a.dropped) {
      problems.push(`${what}: accounting does not add up: ${JSON.stringify(a)}`);
    }
    if (result.status === "failed" ? stored !== 0 : stored !== a.written) {
      problems.push(`${what}: ${result.status}, ${a.written} written but ${stored} stored`);
    }
  } else {
    problems.push(`${what}: unexpected ${status} ${message}`);
  }
  return status;
}

/** Runs the uploads of each format one after another, the formats side by side; returns the statuses. */
async function postAll(cases: FormatCase[], attempts: (c: FormatCase) => Attempt[]): Promise<Map<string, number>> {
  const statuses = new Map<string, number>();
  await Promise.all(
    cases.map(async (c) => {
      for (const attempt of attempts(c)) statuses.set(`${attempt.format} / ${attempt.name}`, await post(attempt));
    }),
  );
  return statuses;
}

let cases: FormatCase[] = [];

beforeEach(() => {
  problems.length = 0;
});

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  workers = await startPluginWorkers(stack);
  cases = await formatCases();
}, 120_000);

afterAll(async () => {
  await workers?.stop();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
});

const sampleZip = (c: FormatCase) => zipFiles(c.files);
const target = (c: FormatCase) => c.targets[0] as string;
const baseName = (path: string) => path.split("/").pop() as string;

describe("importers under hostile uploads", () => {
  it("import each format's valid sample", { timeout: 180_000 }, async () => {
    const statuses = await postAll(cases, (c) => [
      { format: c.format, name: "valid sample", body: sampleZip(c), fileName: "sample.zip" },
    ]);
    expect(problems).toEqual([]);
    expect(new Set(statuses.values())).toEqual(new Set([200]));
  });

  it("refuse broken ZIPs and empty uploads", { timeout: 180_000 }, async () => {
    await postAll(cases, (c) => {
      const zip = sampleZip(c);
      const cuts = [3, 30, Math.floor(zip.length * 0.3), Math.floor(zip.length * 0.7), zip.length - 22, zip.length - 1];
      const main = target(c);
      const data = c.files.get(main) as Buffer;
      const others = new Map([...c.files].filter(([k]) => k !== main));
      return [
        ...cuts.map((cut) => ({
          format: c.format,
          name: `cut at ${cut}`,
          body: zip.subarray(0, cut),
          fileName: "cut.zip",
        })),
        { format: c.format, name: "0-byte upload", body: Buffer.alloc(0), fileName: "empty.zip" },
        { format: c.format, name: "0-byte file", body: Buffer.alloc(0), fileName: baseName(main) },
        {
          format: c.format,
          name: "entry size understated",
          body: zipFiles(others, [{ name: main, data, deflate: true, declaredSize: Math.floor(data.length / 2) }]),
          fileName: "small-lie.zip",
        },
        {
          format: c.format,
          name: "entry size overstated",
          body: zipFiles(others, [{ name: main, data, deflate: true, declaredSize: data.length * 2 + 100 }]),
          fileName: "big-lie.zip",
        },
        {
          format: c.format,
          name: "stored entry size overstated",
          body: zipFiles(others, [{ name: main, data, declaredSize: data.length + 7 }]),
          fileName: "stored-lie.zip",
        },
      ];
    });
    expect(problems).toEqual([]);
  });

  it("refuse ZIP bombs without inflating them", { timeout: 180_000 }, async () => {
    const before = process.memoryUsage().rss;
    const size = 1100 * 1024 * 1024;
    const spaces = bomb(size, 0x20);
    const zeros = bomb(size, 0);
    const statuses = await postAll(cases, (c) => [
      {
        format: c.format,
        name: "annotation file bomb",
        body: zipFiles(replaced(c.files, target(c), Buffer.alloc(0)), [
          { name: `${target(c)}.bomb`, data: Buffer.alloc(0), compressed: spaces, declaredSize: size },
        ]),
        fileName: "bomb.zip",
      },
      {
        format: c.format,
        name: "bomb as the annotation file",
        body: zipOf([
          ...[...c.files].filter(([k]) => k !== target(c)).map(([name, data]) => ({ name, data })),
          { name: target(c), data: Buffer.alloc(0), compressed: spaces, declaredSize: size },
        ]),
        fileName: "bomb.zip",
      },
      {
        format: c.format,
        name: "bomb as an image",
        body: zipFiles(c.files, [
          { name: "images/huge.png", data: Buffer.alloc(0), compressed: zeros, declaredSize: size },
        ]),
        fileName: "image-bomb.zip",
      },
      {
        format: c.format,
        name: "bomb whose header lies small",
        body: zipOf([
          ...[...c.files].filter(([k]) => k !== target(c)).map(([name, data]) => ({ name, data })),
          { name: target(c), data: Buffer.alloc(0), compressed: spaces, declaredSize: 1000 },
        ]),
        fileName: "lying-bomb.zip",
      },
    ]);
    const grown = process.memoryUsage().rss - before;
    expect(problems).toEqual([]);
    for (const [name, status] of statuses) expect(status, name).toBe(400);
    expect(grown, `RSS grew by ${Math.round(grown / 1024 / 1024)} MiB`).toBeLessThan(256 * 1024 * 1024);
  });

  it("keep to the upload with odd entry names, duplicates, a 100k-entry ZIP and images that are not images", {
    timeout: 180_000,
  }, async () => {
    const empties: ZipEntry[] = Array.from({ length: 100_000 }, (_, i) => ({
      name: `empty/${String(i).padStart(6, "0")}.json`,
      data: Buffer.alloc(0),
    }));
    await postAll(cases, (c) => {
      const main = target(c);
      const data = c.files.get(main) as Buffer;
      const images = [...c.files.keys()].filter((k) => /\.(png|jpe?g)$/i.test(k));
      const bigHeader = Buffer.from(PNG_32x24.subarray(0, 33));
      bigHeader.writeUInt32BE(0x7fffffff, 16);
      bigHeader.writeUInt32BE(0x7fffffff, 20);
      const odd = (name: string) => ({ name: `${main} as ${name}`, entry: { name, data, deflate: true } });
      return [
        ...[odd(`/abs/${baseName(main)}`), odd(`../../${baseName(main)}`), odd(`a\\..\\..\\${baseName(main)}`)].map(
          ({ name, entry }) => ({ format: c.format, name, body: zipFiles(c.files, [entry]), fileName: "odd.zip" }),
        ),
        {
          format: c.format,
          name: "annotation file named like a directory",
          body: zipFiles(new Map([...c.files].filter(([k]) => k !== main)), [{ name: `${main}/`, data }]),
          fileName: "dir.zip",
        },
        {
          format: c.format,
          name: "a file under the annotation file",
          body: zipFiles(c.files, [{ name: `${main}/inner.json`, data }]),
          fileName: "nested.zip",
        },
        {
          format: c.format,
          name: "the annotation file twice",
          body: zipFiles(c.files, [{ name: main, data: Buffer.from("{ broken") }]),
          fileName: "twice.zip",
        },
        {
          format: c.format,
          name: "100k empty entries",
          body: zipOf([...[...c.files].map(([name, d]) => ({ name, data: d })), ...empties]),
          fileName: "many.zip",
        },
        ...[
          ["text", Buffer.from("not an image")],
          ["0 bytes", Buffer.alloc(0)],
          ["a 2^31 px PNG header", bigHeader],
        ].map(([label, bytes]) => ({
          format: c.format,
          name: `images as ${label}`,
          body: zipFiles(new Map([...c.files].map(([k, v]) => [k, images.includes(k) ? (bytes as Buffer) : v]))),
          fileName: "images.zip",
        })),
      ];
    });
    expect(problems).toEqual([]);
  });

  it("read hostile annotation files: deep nesting, huge numbers, NaN, entities, invalid UTF-8", {
    timeout: 180_000,
  }, async () => {
    await postAll(cases, (c) =>
      c.targets.flatMap((path) =>
        hostileContents(c.files.get(path) as Buffer).map(([name, data]) => ({
          format: c.format,
          name: `${path}: ${name}`,
          body: zipFiles(replaced(c.files, path, data)),
          fileName: "hostile.zip",
        })),
      ),
    );
    expect(problems).toEqual([]);
  });

  it("read every field with a value of the wrong type", { timeout: 180_000 }, async () => {
    await postAll(cases, (c) =>
      c.targets.flatMap((path) =>
        wrongTypeMutations(path, c.files.get(path) as Buffer).map(([name, data]) => ({
          format: c.format,
          name: `${path}: ${name}`,
          body: zipFiles(replaced(c.files, path, data)),
          fileName: "types.zip",
        })),
      ),
    );
    expect(problems).toEqual([]);
  });

  it("read seeded random mutations of the valid samples", { timeout: 180_000 }, async () => {
    await postAll(cases, (c) => {
      const next = seededRandom([...c.format].reduce((h, ch) => h * 31 + (ch.codePointAt(0) ?? 0), 7));
      return Array.from({ length: 16 }, (_, n) => {
        const path = c.targets[n % c.targets.length] as string;
        return {
          format: c.format,
          name: `${path}: mutation ${n}`,
          body: zipFiles(replaced(c.files, path, mutate(c.files.get(path) as Buffer, next))),
          fileName: "mutated.zip",
        };
      });
    });
    expect(problems).toEqual([]);
  });

  it("answer 503 once the importers are stopped, and the server stays up", { timeout: 180_000 }, async () => {
    await workers.stop();
    for (const c of cases) {
      const { dataset } = await stack.datasets.createDataset({ name: `fuzz stopped ${c.format}` });
      const res = await upload(
        `${stack.orchestrator.url}/api/import`,
        sampleZip(c),
        { datasetId: dataset?.id ?? "", format: c.format },
        "sample.zip",
      );
      expect(res.status, c.format).toBe(503);
      expect((await fetch(`${stack.orchestrator.url}/healthz`)).status).toBe(200);
    }
  });
});
