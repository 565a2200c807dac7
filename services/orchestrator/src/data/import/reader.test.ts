// The spool and the record readers: line numbers, limits, UTF-8, BOM, depth, JSON arrays.
import { readFile, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { nestingDepth, type RawRecord, readRecords, spool } from "./reader.ts";

async function records(content: string | Buffer, format: "jsonl" | "json" = "jsonl", limits = {}) {
  const file = await spool(Readable.from([Buffer.from(content)]));
  try {
    const out: RawRecord[] = [];
    for await (const batch of readRecords(file.path, format, 2, limits)) out.push(...batch);
    return out;
  } finally {
    await file.dispose();
  }
}

describe("spool", () => {
  it("hashes and counts while writing, and refuses past the limit", async () => {
    const file = await spool(Readable.from([Buffer.from("ab"), Buffer.from("c")]), 3);
    expect(file.size).toBe(3);
    expect(file.sha256).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await readFile(file.path, "utf8")).toBe("abc");
    await file.dispose();
    await expect(spool(Readable.from([Buffer.from("abcd")]), 3)).rejects.toMatchObject({
      name: "ImportTooLargeError",
      message: "File exceeds the 0 MB import limit",
    });
  });
});

describe("JSON lines", () => {
  it("numbers lines, skips blank ones, accepts CRLF and a BOM", async () => {
    const out = await records(`\uFEFF{"a":1}\r\n\n  \n{"a":2}\n{"a":3}`);
    expect(out).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 4, value: { a: 2 } },
      { line: 5, value: { a: 3 } },
    ]);
  });

  it("reports invalid JSON, invalid UTF-8, long lines and deep nesting by line", async () => {
    const content = Buffer.concat([
      Buffer.from('{"a":1}\n{"a":}\n{"a":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(`"}\n{"long":"${"x".repeat(200)}"}\n${"[".repeat(70)}${"]".repeat(70)}\n{"ok":true}\n`),
    ]);
    const out = await records(content, "jsonl", { maxLineBytes: 100 });
    expect(out.map((r) => [r.line, r.error ?? "ok"])).toEqual([
      [1, "ok"],
      [2, expect.stringMatching(/^Invalid JSON on line 2: /)],
      [3, "Invalid UTF-8 on line 3"],
      [4, "Line 4 exceeds the maximum length of 100 bytes"],
      [5, "Line 5 exceeds the maximum length of 100 bytes"],
      [6, "ok"],
    ]);
    const deep = await records(`${"[".repeat(70)}${"]".repeat(70)}\n`);
    expect(deep[0]?.error).toBe("JSON nesting deeper than 64 levels on line 1");
  });

  it("joins lines across chunks", async () => {
    const line = JSON.stringify({ text: "é".repeat(400_000) });
    const path = `${process.env.TMPDIR ?? "/tmp"}/labelport-reader-test-${process.pid}.jsonl`;
    await writeFile(path, `${line}\n${line}\n`);
    const out: RawRecord[] = [];
    for await (const batch of readRecords(path, "jsonl", 10)) out.push(...batch);
    expect(out.map((r) => [r.line, r.error ?? (r.value as { text: string }).text.length])).toEqual([
      [1, 400_000],
      [2, 400_000],
    ]);
  });
});

describe("JSON arrays", () => {
  it("splits elements and names the line each starts on", async () => {
    const out = await records('[\n  {"a": [1, "]"]},\n  {"b": "\\"}"},\n\n  {"c":\n 3}\n]\n', "json");
    expect(out).toEqual([
      { line: 2, value: { a: [1, "]"] } },
      { line: 3, value: { b: '"}' } },
      { line: 5, value: { c: 3 } },
    ]);
    expect(await records("[]", "json")).toEqual([]);
    expect(await records("[1, 2]", "json")).toEqual([
      { line: 1, value: 1 },
      { line: 1, value: 2 },
    ]);
  });

  it("fails the whole file on structural errors", async () => {
    expect((await records('{"a":1}', "json"))[0]).toMatchObject({
      fatal: true,
      error: expect.stringContaining("JSON array"),
    });
    expect((await records('[{"a":1} {"b":2}]', "json")).at(-1)).toMatchObject({ fatal: true, line: 1 });
    expect((await records('[{"a":1},\n{"b":2}', "json")).at(-1)).toMatchObject({
      fatal: true,
      error: "Invalid JSON on line 2: unexpected end of file",
    });
    expect((await records('[{"a":}]', "json"))[0]?.error).toMatch(/^Invalid JSON on line 1/);
  });
});

describe("nestingDepth", () => {
  it("ignores brackets in strings", () => {
    expect(nestingDepth('{"a":"[[[[{{{{","b":[{"c":[]}]}', 64)).toBe(4);
    expect(nestingDepth('"\\"["', 64)).toBe(0);
  });
});
