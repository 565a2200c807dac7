// Storage keys are relative, "/"-separated paths that mean the same thing on a filesystem and in
// S3. Every driver validates here, so a key that could escape a root or alias another key is
// refused before any I/O, whatever the backend.
import { InvalidStorageKeyError } from "./errors.ts";

/** S3's limit, in UTF-8 bytes; local filesystems are held to the same so keys stay portable. */
export const MAX_KEY_BYTES = 1024;

// Percent-decoding more often than this is not a file name, it is an attempt to hide one.
const MAX_DECODE_ROUNDS = 4;

const LONE_SURROGATE = /\p{Surrogate}/u;
const PERCENT_TRIPLE = /%([0-9a-fA-F]{2})/g;

/** Throws InvalidStorageKeyError naming the key and the reason unless `key` is a safe relative key. */
export function validateKey(key: string): void {
  const reason = invalidReason(key);
  if (reason !== undefined) throw new InvalidStorageKeyError(String(key), reason);
}

/** A prefix for list/deletePrefix: "" (everything), or a key with an optional trailing "/". */
export function validatePrefix(prefix: string): void {
  if (typeof prefix !== "string") throw new InvalidStorageKeyError(String(prefix), "prefix is not a string");
  if (prefix === "") return;
  const reason = invalidReason(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  if (reason !== undefined) throw new InvalidStorageKeyError(prefix, reason);
}

/** Joins a prefix ("" or "a/b" or "a/b/") and a relative key into one validated key. */
export function joinKey(prefix: string, key: string): string {
  validateKey(key);
  if (prefix === "") return key;
  validatePrefix(prefix);
  const joined = prefix.endsWith("/") ? `${prefix}${key}` : `${prefix}/${key}`;
  validateKey(joined);
  return joined;
}

/**
 * Orders keys by UTF-8 bytes, the order S3 lists in. JS `<` compares UTF-16 code units, which
 * differs only where a surrogate (a code point past U+FFFF) meets U+E000-U+FFFF: ranked apart
 * here, without encoding either key (local listings sort a million names with it).
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) < utf8Rank(y) ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** A UTF-16 code unit's place in code point order: surrogates after U+E000-U+FFFF. */
function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

function invalidReason(key: string): string | undefined {
  if (typeof key !== "string") return "not a string";
  if (key === "") return "empty";
  if (Buffer.byteLength(key, "utf8") > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (LONE_SURROGATE.test(key)) return "not valid Unicode (lone surrogate)";
  if (key.includes("\u0000")) return "contains NUL";
  if (hasControl(key, true)) return "contains a control character";
  if (key.includes("\\")) return "contains a backslash";
  if (key.startsWith("/")) return "absolute (starts with /)";
  const segmentReason = badSegment(key);
  if (segmentReason !== undefined) return segmentReason;
  return encodedReason(key);
}

function badSegment(path: string): string | undefined {
  for (const segment of path.split("/")) {
    if (segment === "") return "empty path segment";
    if (segment === ".") return '"." path segment';
    if (segment === "..") return '".." path segment';
  }
  return undefined;
}

// Something downstream (a proxy, a URL signer, a browser) may decode the key once or more; any
// decoding must not turn it into a traversal, a new separator or a control character.
function encodedReason(key: string): string | undefined {
  // Most keys hold no escape at all: skip the decoding rounds.
  if (!key.includes("%")) return undefined;
  const slashes = countOf(key, "/");
  let current = key;
  for (let round = 0; round < MAX_DECODE_ROUNDS; round++) {
    const decoded = current.replace(PERCENT_TRIPLE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
    if (decoded === current) return undefined;
    if (countOf(decoded, "/") !== slashes) return "percent-encoded slash";
    if (decoded.includes("\\")) return "percent-encoded backslash";
    if (hasControl(decoded, false)) return "percent-encoded control character";
    const segmentReason = badSegment(decoded);
    if (segmentReason !== undefined) return `percent-encoded ${segmentReason}`;
    current = decoded;
  }
  return `percent-encoded more than ${MAX_DECODE_ROUNDS} times`;
}

// C0 controls, DEL and C1 controls: invisible in logs and meaningless in file names. Decoded text
// holds single bytes, where 0x80-0x9f are pieces of UTF-8 sequences, so C1 is checked on raw keys only.
function hasControl(text: string, withC1: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || (withC1 && code >= 0x80 && code <= 0x9f)) return true;
  }
  return false;
}

function countOf(text: string, char: string): number {
  let count = 0;
  for (const c of text) if (c === char) count++;
  return count;
}
