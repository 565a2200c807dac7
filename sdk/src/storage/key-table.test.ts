// The packed key set behind artifact records and file stems: exact membership, UTF-8 byte order.
import { describe, expect, it } from "vitest";
import { createKeyTable } from "./key-table.ts";
import { compareKeys } from "./keys.ts";

describe("createKeyTable", () => {
  it("adds each key once and finds it again, across growth", () => {
    const table = createKeyTable();
    // Enough bytes for several pages.
    const keys = Array.from({ length: 5000 }, (_, i) => `Annotations/img_${i}.xml`);
    keys.push("", "ü", "日本/語", "a".repeat(2000), "img_1", "IMG_1");
    keys.forEach((key, i) => {
      expect(table.add(key)).toBe(i);
    });
    expect(table.size).toBe(keys.length);
    keys.forEach((key, i) => {
      expect(table.indexOf(key)).toBe(i);
      expect(table.add(key)).toBe(i);
      expect(table.key(i)).toBe(key);
    });
    expect(table.size).toBe(keys.length);
    expect(table.indexOf("Annotations/img_5000.xml")).toBe(-1);
    expect(table.indexOf("img_")).toBe(-1);
    expect(() => table.key(keys.length)).toThrow(RangeError);
    expect(() => table.add("x".repeat(65536))).toThrow(RangeError);
    expect(table.add("y".repeat(65535))).toBe(keys.length);
    expect(table.key(keys.length)).toBe("y".repeat(65535));
    expect(table.indexOf("Annotations/img_4999.xml")).toBe(4999);
  });

  it("orders entries by UTF-8 bytes, as compareKeys does", () => {
    const table = createKeyTable();
    // The long ones put their neighbours on other pages.
    const keys = ["a/b", "a-b", "q".repeat(40000), "a0", "\uffff", "😀", "p".repeat(40000), "a", "ab", "é", "Z"];
    for (const key of keys) table.add(key);
    const order = keys.map((_, i) => i).sort((a, b) => table.compare(a, b));
    expect(order.map((i) => keys[i])).toEqual([...keys].sort(compareKeys));
  });
});
