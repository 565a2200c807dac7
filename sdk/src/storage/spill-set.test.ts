// The set behind artifact records and file stems once an export outgrows memory: exact
// membership and UTF-8 byte order across memory, runs on disk and merged runs.
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { seededRandom } from "../testing/seeded-random.ts";
import { compareKeys } from "./keys.ts";
import { createSpillSet } from "./spill-set.ts";

function payloadOf(key: string): Buffer {
  const payload = Buffer.alloc(12);
  payload.writeUInt32LE(key.length, 0);
  payload.write(key.slice(0, 8), 4, 8, "utf8");
  return payload;
}

function randomKey(random: () => number): string {
  const alphabet = ["a", "B", "0", "/", "é", "日", "😀", "_", "."];
  let key = "";
  const length = 1 + Math.floor(random() * 12);
  for (let i = 0; i < length; i++) key += alphabet[Math.floor(random() * alphabet.length)];
  return key;
}

describe("createSpillSet", () => {
  it("answers as a Set does and lists its keys in UTF-8 byte order, across runs and merges", () => {
    const random = seededRandom(7);
    // 7 keys in memory: 2000 keys make runs of every tier up to 2 (8 and 64 memtables merged).
    const set = createSpillSet({ payloadBytes: 12, memoryKeys: 7 });
    const reference = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const key = i % 3 === 0 ? `img_${i}.xml` : randomKey(random);
      expect(set.has(key)).toBe(reference.has(key));
      if (!reference.has(key)) {
        set.add(key, payloadOf(key));
        reference.add(key);
      }
    }
    expect(set.size).toBe(reference.size);
    for (const key of reference) expect(set.has(key)).toBe(true);
    for (let i = 0; i < 2000; i++) {
      const key = `${randomKey(random)}~absent`;
      expect(set.has(key)).toBe(false);
    }
    const listed = [...set.sorted()].map(({ key, payload }) => {
      expect(Buffer.compare(payload, payloadOf(key))).toBe(0);
      return key;
    });
    expect(listed).toEqual([...reference].sort(compareKeys));
    set.close();
    expect(() => set.has("a")).toThrow(/closed/);
  });

  it("keeps long keys and keys without payloads", () => {
    const set = createSpillSet({ memoryKeys: 2 });
    const keys = ["x".repeat(65535), "a", "y".repeat(300_000 / 10), "", "ü"];
    for (const key of keys) set.add(key);
    for (const key of keys) expect(set.has(key)).toBe(true);
    expect(set.has("x".repeat(65534))).toBe(false);
    expect([...set.sorted()].map((entry) => entry.key)).toEqual([...keys].sort(compareKeys));
    expect(() => set.add("z".repeat(65536))).toThrow(RangeError);
    set.close();
  });

  it("refuses add() while its entries are read, and again allows it after", () => {
    const set = createSpillSet({ memoryKeys: 2 });
    for (const key of ["a", "b", "c"]) set.add(key);
    for (const { key } of set.sorted()) {
      expect(() => set.add(`${key}2`)).toThrow(/while its sorted/);
      break;
    }
    set.add("d");
    expect([...set.sorted()].map((entry) => entry.key)).toEqual(["a", "b", "c", "d"]);
    set.close();
  });

  it("refuses a payload of the wrong size", () => {
    const set = createSpillSet({ payloadBytes: 4 });
    expect(() => set.add("a", Buffer.alloc(3))).toThrow(/4 bytes/);
    expect(() => set.add("a")).toThrow(/4 bytes/);
    set.close();
  });

  it("leaves no file behind, even before close()", () => {
    const before = readdirSync(tmpdir()).filter((name) => name.startsWith("labelport-spill-")).length;
    const set = createSpillSet({ memoryKeys: 3 });
    for (let i = 0; i < 100; i++) set.add(`k${i}`);
    expect(readdirSync(tmpdir()).filter((name) => name.startsWith("labelport-spill-")).length).toBe(before);
    set.close();
    set.close();
  });
});
