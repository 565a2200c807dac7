// The stored ZIP against yazl itself, whose layout it keeps: storedZipSize() for names of every
// width, sizes around the ZIP64 limits and offsets past 4 GiB; storedZipStream() byte for byte,
// and read back by Python's zipfile.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import yazl from "yazl";
import { type StoredZipEntry, storedZipSize, storedZipStream } from "./stored-zip.ts";

function yazlSize(entries: readonly (readonly [string, number])[]): number {
  const zip = new yazl.ZipFile();
  for (const [name, size] of entries) {
    zip.addReadStreamLazy(name, { size, compress: false, mtime: new Date(0) }, () => undefined);
  }
  const end = zip.end.bind(zip) as (options: object, onSize: (size: number) => void) => void;
  let total = -1;
  end({ forceZip64Format: true }, (size) => {
    total = size;
  });
  return total;
}

function sizeOf(entries: readonly (readonly [string, number])[]) {
  const size = storedZipSize();
  for (const [name, bytes] of entries) size.add(name, bytes);
  return size;
}

const sized = (entries: readonly (readonly [string, number])[]) => sizeOf(entries).total();

/** Entries both the size and the writer are held to yazl on. */
const SMALL_CASES = [
  ["no entries", []],
  ["one small file", [["manifest.json", 120]]],
  [
    "empty files and non-ASCII names",
    [
      ["a/ü.json", 0],
      ["日本/語.txt", 17],
      ["😀.xml", 3],
      ["manifest.json", 9],
    ],
  ],
] as const;

describe("storedZipSize", () => {
  it.each([
    ...SMALL_CASES,
    [
      "a file at and past the ZIP64 size limit",
      [
        ["big.bin", 0xfffffffe],
        ["bigger.bin", 0xffffffff],
        ["x", 1],
      ],
    ],
    [
      "offsets past 4 GiB",
      [
        ["a", 3e9],
        ["b", 2e9],
        ["c", 10],
        ["d", 5e9],
        ["manifest.json", 200],
      ],
    ],
  ] as const)("equals yazl's size: %s", (_, entries) => {
    expect(sized(entries)).toBe(yazlSize(entries));
  });

  it("equals yazl's size for 70k entries (more than a classic ZIP counts)", () => {
    const entries = Array.from({ length: 70_000 }, (_, i) => [`Annotations/img-${i}.xml`, 3000 + (i % 997)] as const);
    expect(sized(entries)).toBe(yazlSize(entries));
  });

  it("says when the order of the entries cannot change the size", () => {
    // Every order of these, up to a cursor of 0xfffffffe, sizes alike.
    const small = [
      ["b.bin", 0xfffffffe - 200],
      ["a", 3],
      ["z/ü", 0],
    ] as const;
    const reversed = [...small].reverse();
    expect(sizeOf(small).sameInAnyOrder()).toBe(true);
    expect(sized(reversed)).toBe(sized(small));
    expect(sized(reversed)).toBe(yazlSize(small));
    // Past 4 GiB the order decides which entry needs ZIP64 fields.
    const large = [
      ["a", 3e9],
      ["b", 2e9],
      ["c", 10],
    ] as const;
    expect(sizeOf(large).sameInAnyOrder()).toBe(false);
    expect(sized([...large].reverse())).not.toBe(sized(large));
  });
});

const MTIME = new Date("2026-11-27T10:15:31Z");

/** Entries with content: each file's bytes are its name repeated to its size. */
function filesOf(entries: readonly (readonly [string, number])[]): Map<string, Buffer> {
  return new Map(entries.map(([name, size]) => [name, Buffer.alloc(size, name)]));
}

function yazlBytes(files: Map<string, Buffer>): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const [name, bytes] of files) {
    zip.addReadStream(Readable.from([bytes]), name, { size: bytes.length, compress: false, mtime: MTIME });
  }
  zip.end({ forceZip64Format: true, comment: "" });
  return buffer(zip.outputStream);
}

function ourZip(files: Map<string, Buffer>, options: { spillAfterBytes?: number; size?: number } = {}): Readable {
  const entries: StoredZipEntry[] = [...files].map(([name, bytes]) => ({ name, size: bytes.length }));
  return storedZipStream(entries, {
    mtime: MTIME,
    open: async (name) => Readable.from([files.get(name) ?? Buffer.alloc(0)]),
    ...options,
  });
}

describe("storedZipStream", () => {
  it.each(SMALL_CASES)("writes yazl's bytes, of storedZipSize()'s length: %s", async (_, entries) => {
    const files = filesOf(entries);
    const ours = await buffer(ourZip(files));
    expect(ours.equals(await yazlBytes(files))).toBe(true);
    expect(ours.length).toBe(sized(entries));
  });

  it("writes yazl's bytes when its central directory goes through a scratch file", async () => {
    const entries = Array.from({ length: 3000 }, (_, i) => [`labels/img-${i}.txt`, i % 40] as const);
    const files = filesOf(entries);
    const ours = await buffer(ourZip(files, { spillAfterBytes: 1000 }));
    expect(ours.equals(await yazlBytes(files))).toBe(true);
    expect(ours.length).toBe(sized(entries));
  });

  it("writes the same bytes when storage reads small entries whole (read), a large one still opened", async () => {
    const entries = [
      ...Array.from({ length: 500 }, (_, i) => [`labels/img-${i}.txt`, i % 300] as const),
      ["images/big.jpg", 300 * 1024] as const,
      ["manifest.json", 700] as const,
    ];
    const files = filesOf(entries);
    const opened: string[] = [];
    const ours = await buffer(
      storedZipStream(
        [...files].map(([name, bytes]) => ({ name, size: bytes.length })),
        {
          mtime: MTIME,
          open: async (name) => {
            opened.push(name);
            return Readable.from([files.get(name) ?? Buffer.alloc(0)]);
          },
          read: async (name, maxBytes) => (files.get(name) ?? Buffer.alloc(0)).subarray(0, maxBytes),
          spillAfterBytes: 2000,
        },
      ),
    );
    expect(ours.equals(await yazlBytes(files))).toBe(true);
    expect(opened).toEqual(["images/big.jpg"]);
  });

  it.each([
    [20, "b.txt is not the 21 bytes listed (20)"],
    [30, "b.txt is not the 21 bytes listed (more)"],
  ])("fails naming an entry read whole that is %i bytes, not the size listed", async (actual, message) => {
    const files = filesOf([
      ["a.txt", 10],
      ["b.txt", actual],
    ]);
    const zip = storedZipStream(
      [
        { name: "a.txt", size: 10 },
        { name: "b.txt", size: 21 },
      ],
      {
        mtime: MTIME,
        open: async () => Readable.from([]),
        read: async (name, maxBytes) => (files.get(name) ?? Buffer.alloc(0)).subarray(0, maxBytes),
      },
    );
    await expect(buffer(zip)).rejects.toThrow(message);
  });

  it("is read back whole by Python's zipfile", async () => {
    const files = filesOf([
      ["images/ü 1.jpg", 5000],
      ["labels/1.txt", 0],
      ["manifest.json", 300],
    ]);
    const dir = mkdtempSync(join(tmpdir(), "stored-zip-test-"));
    try {
      const path = join(dir, "export.zip");
      writeFileSync(path, await buffer(ourZip(files, { spillAfterBytes: 100 })));
      const script = [
        "import sys, zipfile, json",
        "z = zipfile.ZipFile(sys.argv[1])",
        "assert z.testzip() is None",
        "print(json.dumps({i.filename: [i.file_size, i.date_time[0]] for i in z.infolist()}))",
      ].join("\n");
      const read = JSON.parse(execFileSync("python3", ["-c", script, path]).toString());
      expect(read).toEqual({
        "images/ü 1.jpg": [5000, MTIME.getFullYear()],
        "labels/1.txt": [0, MTIME.getFullYear()],
        "manifest.json": [300, MTIME.getFullYear()],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails naming an entry that is not the size listed", async () => {
    const files = filesOf([
      ["a.txt", 10],
      ["b.txt", 20],
    ]);
    const zip = storedZipStream(
      [
        { name: "a.txt", size: 10 },
        { name: "b.txt", size: 21 },
      ],
      { mtime: MTIME, open: async (name) => Readable.from([files.get(name) ?? Buffer.alloc(0)]) },
    );
    await expect(buffer(zip)).rejects.toThrow("b.txt is not the 21 bytes listed (20)");
  });

  it("fails before its end records when it comes out another size than it was given", async () => {
    const files = filesOf([["a.txt", 10]]);
    await expect(buffer(ourZip(files, { size: sized([["a.txt", 10]]) + 1 }))).rejects.toThrow(
      "the export's files changed while they were zipped",
    );
  });

  it("closes the entry it reads when it is destroyed, even one that stalls", async () => {
    const stalled = new PassThrough();
    stalled.write(Buffer.alloc(10));
    const zip = storedZipStream([{ name: "slow.bin", size: 1000 }], { mtime: MTIME, open: async () => stalled });
    zip.resume();
    await new Promise((resolve) => setTimeout(resolve, 20));
    zip.destroy();
    await new Promise((resolve) => stalled.once("close", resolve));
    expect(stalled.destroyed).toBe(true);
  });
});
