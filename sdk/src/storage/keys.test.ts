import { describe, expect, it } from "vitest";
import { seededRandom } from "../testing/seeded-random.ts";
import { InvalidStorageKeyError, isInvalidStorageKey } from "./errors.ts";
import { compareKeys, joinKey, MAX_KEY_BYTES, validateKey, validatePrefix } from "./keys.ts";

function reasonFor(key: string): string | undefined {
  try {
    validateKey(key);
    return undefined;
  } catch (err) {
    if (!isInvalidStorageKey(err)) throw err;
    return err.reason;
  }
}

describe("validateKey", () => {
  it.each([
    ["", "empty"],
    ["/etc/passwd", "absolute (starts with /)"],
    ["a/../b", '".." path segment'],
    ["..", '".." path segment'],
    ["a/..", '".." path segment'],
    ["./a", '"." path segment'],
    ["a//b", "empty path segment"],
    ["a/", "empty path segment"],
    ["a\\b", "contains a backslash"],
    ["a\u0000b", "contains NUL"],
    ["a\tb", "contains a control character"],
    ["a\u007fb", "contains a control character"],
    ["a\u0085b", "contains a control character"],
    ["a\ud800b", "not valid Unicode (lone surrogate)"],
    ["%2e%2e/etc", 'percent-encoded ".." path segment'],
    ["a/%2E%2e/b", 'percent-encoded ".." path segment'],
    ["a/.%2e/b", 'percent-encoded ".." path segment'],
    ["a/%2e/b", 'percent-encoded "." path segment'],
    ["a%2fb", "percent-encoded slash"],
    ["a%2F..", "percent-encoded slash"],
    ["a%5cb", "percent-encoded backslash"],
    ["a%00b", "percent-encoded control character"],
    ["%252e%252e/x", 'percent-encoded ".." path segment'],
    ["a%25252fb", "percent-encoded slash"],
    ["a%2525252525b", "percent-encoded more than 4 times"],
    ["x".repeat(MAX_KEY_BYTES + 1), `longer than ${MAX_KEY_BYTES} bytes`],
    ["é".repeat(MAX_KEY_BYTES / 2 + 1), `longer than ${MAX_KEY_BYTES} bytes`],
  ])("refuses %j: %s", (key, reason) => {
    expect(reasonFor(key)).toBe(reason);
  });

  it.each([
    "a",
    "exports/123/annotations.json",
    "a/b/c.d.e",
    ".hidden/..dots/...",
    "dir with space/ü ñ.txt",
    "100%.txt",
    "literal%20space",
    "a%25b",
    "x".repeat(MAX_KEY_BYTES),
  ])("accepts %j", (key) => {
    expect(reasonFor(key)).toBeUndefined();
  });

  it("names the key and the reason in an error that keeps its class name", () => {
    const err = (() => {
      try {
        validateKey("a/../b");
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(InvalidStorageKeyError);
    expect(err).toMatchObject({ name: "InvalidStorageKeyError", key: "a/../b" });
    expect((err as Error).message).toBe('invalid storage key "a/../b": ".." path segment');
  });

  it("refuses non-strings from untyped callers", () => {
    expect(() => validateKey(42 as unknown as string)).toThrow(InvalidStorageKeyError);
  });
});

describe("validatePrefix", () => {
  it("accepts the empty prefix and one trailing slash", () => {
    for (const prefix of ["", "a", "a/", "a/b/"]) expect(() => validatePrefix(prefix)).not.toThrow();
  });

  it("refuses what keys refuse", () => {
    for (const prefix of ["/", "a//", "../", "a/../", "%2e%2e/"]) {
      expect(() => validatePrefix(prefix)).toThrow(InvalidStorageKeyError);
    }
  });
});

describe("joinKey", () => {
  it("joins with exactly one slash", () => {
    expect(joinKey("exports/1", "a.json")).toBe("exports/1/a.json");
    expect(joinKey("exports/1/", "a/b.json")).toBe("exports/1/a/b.json");
    expect(joinKey("", "a.json")).toBe("a.json");
  });

  it("refuses a bad key, a bad prefix, and a join over the length limit", () => {
    expect(() => joinKey("exports/1", "../2/a.json")).toThrow(/"\.\." path segment/);
    expect(() => joinKey("/abs", "a.json")).toThrow(InvalidStorageKeyError);
    expect(() => joinKey("p", "x".repeat(MAX_KEY_BYTES))).toThrow(/longer than/);
  });
});

describe("compareKeys", () => {
  it("orders by UTF-8 bytes, as S3 lists", () => {
    const keys = ["a0", "é", "a/b", "\u{1F600}", "a-b", "\uFF01", "Z"];
    expect([...keys].sort(compareKeys)).toEqual(["Z", "a-b", "a/b", "a0", "é", "\uFF01", "\u{1F600}"]);
  });

  it("agrees with comparing the UTF-8 bytes on random keys", () => {
    const random = seededRandom(11);
    const alphabet = [
      "a",
      "b",
      "/",
      "é",
      "\u07FF",
      "\u0800",
      "\uD7FF",
      "\uE000",
      "\uFFFF",
      "\u{10000}",
      "\u{1F600}",
      "\u{10FFFF}",
    ];
    const key = () =>
      Array.from({ length: Math.floor(random() * 5) }, () => alphabet[Math.floor(random() * alphabet.length)]).join("");
    for (let i = 0; i < 5000; i++) {
      const [a, b] = [key(), key()];
      expect(compareKeys(a, b)).toBe(Buffer.compare(Buffer.from(a), Buffer.from(b)));
    }
  });
});
