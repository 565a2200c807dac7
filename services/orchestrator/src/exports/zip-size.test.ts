// storedZipSize() against yazl itself, added to as downloads.ts adds entries: names of every
// width, sizes around the ZIP64 limits, and offsets past 4 GiB.
import { describe, expect, it } from "vitest";
import yazl from "yazl";
import { storedZipSize } from "./zip-size.ts";

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

describe("storedZipSize", () => {
  it.each([
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
