// The StorageDriver contract as a vitest suite. Every driver runs it against a real backend (ours
// and third parties'): `testStorageDriver("my-store", async () => createMyStorage(...))`.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectInfo, StorageBody, StorageDriver } from "../storage/driver.ts";
import { isInvalidStorageKey, isStorageNotFound } from "../storage/errors.ts";
import { compareKeys } from "../storage/keys.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** Above S3's 5 MiB minimum part size, so multipart uploads are exercised too. */
const MULTIPART_SIZE = 6 * MiB;

/**
 * Registers the contract tests. `factory` is called once for the suite and once more for the
 * dispose test; all keys live under a random prefix that is deleted afterwards, so the suite can
 * share a bucket or directory with other data.
 */
export function testStorageDriver(name: string, factory: () => Promise<StorageDriver>): void {
  describe(`StorageDriver contract: ${name}`, { timeout: 60_000 }, () => {
    const run = `contract-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    let driver: StorageDriver;
    let scopes = 0;
    /** A fresh prefix (no trailing slash) per test. */
    const scope = () => `${run}/t${++scopes}`;

    beforeAll(async () => {
      driver = await factory();
    });

    afterAll(async () => {
      if (!driver) return;
      await driver.deletePrefix(`${run}/`);
      await driver.dispose();
    });

    describe("put and get", () => {
      const binary = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
      const bodies: Array<[string, () => StorageBody, Buffer]> = [
        ["string", () => "héllo wörld ✓\n", Buffer.from("héllo wörld ✓\n")],
        ["empty string", () => "", Buffer.alloc(0)],
        ["Uint8Array", () => new Uint8Array(binary), binary],
        [
          "object-mode Readable",
          () => Readable.from([Buffer.from("ab"), "cd", new Uint8Array([0x65])]),
          Buffer.from("abcde"),
        ],
        ["byte Readable", () => byteReadable([binary, binary]), Buffer.concat([binary, binary])],
        ["async iterable", () => mixedChunks(), Buffer.from("one two ✓ three")],
      ];

      it.each(bodies)("round-trips a %s body with its size and sha256", async (_kind, makeBody, expected) => {
        const key = `${scope()}/body.bin`;
        const result = await driver.put(key, makeBody(), { contentType: "application/octet-stream" });
        expect(result).toEqual({ key, size: expected.length, sha256: sha256(expected) });
        expect(await readAll(await driver.get(key))).toEqual(expected);
        expect(await driver.head(key)).toEqual({ key, size: expected.length });
      });

      it("streams a 20 MiB body in and out without holding it", async () => {
        const key = `${scope()}/large.bin`;
        const size = 20 * MiB;
        const result = await driver.put(key, patternChunks(size));
        expect(result).toEqual({ key, size, sha256: patternSha256(size) });
        expect(await hashStream(await driver.get(key))).toEqual({ size, sha256: result.sha256 });
        // A range across the first multipart part boundary.
        const start = 5 * MiB - 100;
        const end = 5 * MiB + 100;
        expect(await readAll(await driver.get(key, { start, end }))).toEqual(pattern(start, end - start + 1));
      });

      it("keeps keys verbatim: spaces, non-ASCII, literal percent signs, plus signs", async () => {
        const p = scope();
        const keys = [
          `${p}/dir with space/ü ñ.txt`,
          `${p}/literal%20percent.txt`,
          `${p}/a+b=c&d.txt`,
          `${p}/..dots../...`,
        ];
        for (const key of keys) await driver.put(key, key);
        for (const key of keys) expect((await readAll(await driver.get(key))).toString()).toBe(key);
        expect((await collect(driver.list(`${p}/`))).map((o) => o.key)).toEqual([...keys].sort(compareKeys));
      });
    });

    describe("ranges", () => {
      let key: string;
      beforeAll(async () => {
        key = `${scope()}/digits.txt`;
        await driver.put(key, "0123456789");
      });

      it.each([
        [{ start: 0, end: 0 }, "0"],
        [{ start: 2, end: 5 }, "2345"],
        [{ start: 7 }, "789"],
        [{ end: 2 }, "012"],
        [{ start: 8, end: 100 }, "89"],
        [{ start: 10 }, ""],
        [{ start: 50, end: 60 }, ""],
      ])("get(%j) is %j", async (range, expected) => {
        expect((await readAll(await driver.get(key, range))).toString()).toBe(expected);
      });

      it.each([[{ start: 5, end: 2 }], [{ start: -1 }], [{ end: 1.5 }]])("refuses %j", async (range) => {
        await expect(driver.get(key, range)).rejects.toThrow();
      });

      it("reports a missing object before looking at the range", async () => {
        await expect(driver.get(`${scope()}/missing`, { start: 1, end: 2 })).rejects.toSatisfy(isStorageNotFound);
      });
    });

    describe("head and list", () => {
      it("head is null for a missing key and {key, size} for an object", async () => {
        const p = scope();
        expect(await driver.head(`${p}/missing`)).toBeNull();
        await driver.put(`${p}/x.txt`, "12345");
        expect(await driver.head(`${p}/x.txt`)).toEqual({ key: `${p}/x.txt`, size: 5 });
        // A "directory" above existing keys is not an object.
        await driver.put(`${p}/dir/y.txt`, "y");
        expect(await driver.head(`${p}/dir`)).toBeNull();
        await expect(driver.get(`${p}/dir`)).rejects.toSatisfy(isStorageNotFound);
      });

      it("lists every object under a prefix in UTF-8 byte order, with sizes", async () => {
        const p = scope();
        // "a-b" < "a/b" < "a0" as bytes, although a directory walk meets "a/" first;
        // "z" < "é" as bytes.
        const names = ["é", "b", "a0", "a/c/d", "ab", "a-b", "z", "a/b", "~"];
        for (const [i, name] of names.entries()) await driver.put(`${p}/${name}`, "x".repeat(i));
        const expected = names
          .map((name, i): ObjectInfo => ({ key: `${p}/${name}`, size: i }))
          .sort((a, b) => compareKeys(a.key, b.key));
        expect(await collect(driver.list(`${p}/`))).toEqual(expected);
        expect(await keysOf(driver.list(`${p}/a/`))).toEqual([`${p}/a/b`, `${p}/a/c/d`]);
        // A plain string prefix, not a directory.
        expect(await keysOf(driver.list(`${p}/a`))).toEqual([
          `${p}/a-b`,
          `${p}/a/b`,
          `${p}/a/c/d`,
          `${p}/a0`,
          `${p}/ab`,
        ]);
        expect(await keysOf(driver.list(`${p}/a/c/d`))).toEqual([`${p}/a/c/d`]);
        expect(await keysOf(driver.list(`${p}/nothing/`))).toEqual([]);
      });

      it("lists the same objects unordered when asked", async () => {
        const p = scope();
        const names = ["é", "b", "a0", "a/c/d", "a/c/e/f", "ab", "a-b", "z", "a/b", "~"];
        for (const [i, name] of names.entries()) await driver.put(`${p}/${name}`, "x".repeat(i));
        const byKey = (a: ObjectInfo, b: ObjectInfo) => compareKeys(a.key, b.key);
        for (const prefix of [`${p}/`, `${p}/a`, `${p}/a/`, `${p}/a/c/e/f`, `${p}/nothing/`]) {
          const unordered = await collect(driver.list(prefix, { unordered: true }));
          expect(unordered.sort(byKey)).toEqual(await collect(driver.list(prefix)));
        }
      });

      it("isolates sibling prefixes", async () => {
        const p = scope();
        for (const key of [`${p}/x/1`, `${p}/x-y/1`, `${p}/xy/1`, `${p}/x/2`]) await driver.put(key, key);
        expect(await keysOf(driver.list(`${p}/x/`))).toEqual([`${p}/x/1`, `${p}/x/2`]);
        expect(await keysOf(driver.list(`${p}/x-y/`))).toEqual([`${p}/x-y/1`]);
      });
    });

    describe("overwrite", () => {
      it("replaces the object", async () => {
        const key = `${scope()}/o.txt`;
        await driver.put(key, "first version");
        await driver.put(key, "second");
        expect((await readAll(await driver.get(key))).toString()).toBe("second");
        expect(await driver.head(key)).toEqual({ key, size: 6 });
      });

      it("never shows a reader a partial object", async () => {
        const key = `${scope()}/atomic.bin`;
        const v1 = Buffer.alloc(MULTIPART_SIZE, "a");
        const v2 = Buffer.alloc(MULTIPART_SIZE, "b");
        await driver.put(key, v1);
        let writing = true;
        const put = driver.put(key, slowChunks(v2, 256 * 1024, 5)).finally(() => {
          writing = false;
        });
        let reads = 0;
        while (writing) {
          const seen = await readAll(await driver.get(key));
          expect(seen.equals(v1) || seen.equals(v2), `read ${reads} saw ${seen.length} mixed bytes`).toBe(true);
          reads++;
        }
        await put;
        expect((await readAll(await driver.get(key))).equals(v2)).toBe(true);
        expect(reads).toBeGreaterThan(0);
      });
    });

    describe("delete", () => {
      it("is idempotent", async () => {
        const key = `${scope()}/d.txt`;
        await driver.delete(key);
        await driver.put(key, "x");
        await driver.delete(key);
        expect(await driver.head(key)).toBeNull();
        await expect(driver.get(key)).rejects.toSatisfy(isStorageNotFound);
        await driver.delete(key);
      });

      it("deletePrefix deletes exactly the objects under the prefix and counts them", async () => {
        const p = scope();
        const inside = [`${p}/d/1`, `${p}/d/2`, `${p}/d/x/y/3`];
        // Not `${p}/d` itself: a filesystem cannot hold a file and a directory of one name.
        const outside = [`${p}/d-sibling`, `${p}/dd/1`, `${p}/d0`];
        for (const key of [...inside, ...outside]) await driver.put(key, key);
        expect(await driver.deletePrefix(`${p}/d/`)).toBe(3);
        expect(await keysOf(driver.list(`${p}/d/`))).toEqual([]);
        expect(await keysOf(driver.list(`${p}/`))).toEqual([...outside].sort(compareKeys));
        expect(await driver.deletePrefix(`${p}/d/`)).toBe(0);
      });

      it("deletePrefix handles more than one page (1000) of objects", async () => {
        const p = scope();
        const count = 1005;
        await inBatches(count, 25, (i) => driver.put(`${p}/many/${String(i).padStart(4, "0")}`, "m"));
        expect(await driver.deletePrefix(`${p}/many/`)).toBe(count);
        expect(await keysOf(driver.list(`${p}/`))).toEqual([]);
      });

      it("deletePrefix refuses the empty prefix", async () => {
        await expect(driver.deletePrefix("")).rejects.toThrow();
      });
    });

    describe("key validation", () => {
      const bad = (p: string): Array<[string, string]> => [
        ["empty", ""],
        ["absolute", `/${p}/abs`],
        ["'..' segment", `${p}/../escape`],
        ["leading '..'", "../escape"],
        ["'.' segment", `${p}/./x`],
        ["empty segment", `${p}//x`],
        ["trailing slash", `${p}/x/`],
        ["backslash", `${p}\\..\\x`],
        ["NUL", `${p}/a\u0000b`],
        ["newline", `${p}/a\nb`],
        ["DEL", `${p}/a\u007fb`],
        ["encoded '..'", `${p}/%2e%2e/x`],
        ["encoded '..' (upper case)", `${p}/%2E%2E/x`],
        ["encoded slash", `${p}/a%2fb`],
        ["encoded backslash", `${p}/a%5cb`],
        ["double-encoded '..'", `${p}/%252e%252e/x`],
        ["double-encoded slash", `${p}/a%252Fb`],
        ["encoded NUL", `${p}/a%00b`],
        ["over 1024 bytes", `${p}/${"k".repeat(1024)}`],
        ["over 1024 bytes of UTF-8", `${p}/${"é".repeat(520)}`],
      ];

      it.each(bad(`${run}/kv`))("refuses a key that is %s, for every operation", async (_kind, key) => {
        const refused = (promise: Promise<unknown>) => expect(promise).rejects.toSatisfy(isInvalidStorageKey);
        await refused(driver.put(key, "x"));
        await refused(driver.get(key));
        await refused(driver.head(key));
        await refused(driver.delete(key));
        if (driver.presignGet) await refused(driver.presignGet(key, { expiresInSeconds: 60 }));
      });

      it("writes nothing for refused keys", async () => {
        const p = scope();
        for (const [, key] of bad(p)) await driver.put(key, "x").catch(() => undefined);
        expect(await keysOf(driver.list(`${run}/`))).not.toContain(`${run}/escape`);
        expect(await keysOf(driver.list(`${p}/`))).toEqual([]);
      });

      it("refuses bad list and deletePrefix prefixes", async () => {
        for (const prefix of ["/abs/", "../", "a/../", "a//", "a\\b/"]) {
          await expect(collect(driver.list(prefix))).rejects.toSatisfy(isInvalidStorageKey);
          await expect(driver.deletePrefix(prefix)).rejects.toSatisfy(isInvalidStorageKey);
        }
      });
    });

    describe("not found", () => {
      it("get rejects with StorageNotFoundError naming the key", async () => {
        const key = `${scope()}/nope.txt`;
        const err = await driver.get(key).catch((e: unknown) => e);
        expect(isStorageNotFound(err)).toBe(true);
        expect(String((err as Error).message)).toContain("nope.txt");
      });
    });

    describe("getBytes", () => {
      it("reads small objects whole, or their first maxBytes, many at once", async (ctx) => {
        if (!driver.getBytes) {
          ctx.skip();
          return;
        }
        const p = scope();
        const bodies = Array.from({ length: 150 }, (_, i) => Buffer.from(`file ${i} ✓ `.repeat(i % 7)));
        await Promise.all(bodies.map((body, i) => driver.put(`${p}/f${i}.txt`, body)));
        const read = await Promise.all(bodies.map((body, i) => driver.getBytes?.(`${p}/f${i}.txt`, body.length + 1)));
        expect(read).toEqual(bodies);
        expect(await driver.getBytes(`${p}/f6.txt`, 4)).toEqual(Buffer.from("file"));
        expect(await driver.getBytes(`${p}/f0.txt`, 0)).toEqual(Buffer.alloc(0));
      });

      it("rejects with StorageNotFoundError for a missing key and for a prefix of other keys", async (ctx) => {
        if (!driver.getBytes) {
          ctx.skip();
          return;
        }
        const p = scope();
        await driver.put(`${p}/dir/inner.txt`, "x");
        for (const key of [`${p}/nope.txt`, `${p}/dir`]) {
          const err = await driver.getBytes(key, 10).catch((e: unknown) => e);
          expect(isStorageNotFound(err)).toBe(true);
          expect(String((err as Error).message)).toContain(key.slice(p.length + 1));
        }
      });
    });

    describe("presign", () => {
      it("gives a URL that serves the bytes as a named attachment", async (ctx) => {
        if (!driver.capabilities.presign || !driver.presignGet) {
          expect(driver.capabilities.presign).toBe(false);
          ctx.skip();
          return;
        }
        const key = `${scope()}/report.json`;
        const body = Buffer.from('{"ok": "✓"}');
        await driver.put(key, body, { contentType: "application/json" });

        const plain = await fetch(await driver.presignGet(key, { expiresInSeconds: 60, fileName: "report.json" }));
        expect(plain.status).toBe(200);
        expect(Buffer.from(await plain.arrayBuffer())).toEqual(body);
        expect(plain.headers.get("content-disposition")).toMatch(/^attachment;\s*filename="report\.json"/);

        const named = await fetch(await driver.presignGet(key, { expiresInSeconds: 60, fileName: 'résumé "q".json' }));
        expect(Buffer.from(await named.arrayBuffer())).toEqual(body);
        const disposition = named.headers.get("content-disposition") ?? "";
        expect(disposition).toMatch(/^attachment; filename="[\x20-\x7e]+";/);
        expect(disposition).toContain("filename*=UTF-8''r%C3%A9sum%C3%A9%20%22q%22.json");

        const bare = await fetch(await driver.presignGet(key, { expiresInSeconds: 60 }));
        expect(Buffer.from(await bare.arrayBuffer())).toEqual(body);
      });
    });

    describe("abort", () => {
      it("rejects at once for an already aborted signal and writes nothing", async () => {
        const key = `${scope()}/pre.txt`;
        const controller = new AbortController();
        controller.abort(new Error("stop"));
        await expect(driver.put(key, "x", { signal: controller.signal })).rejects.toThrow();
        expect(await driver.head(key)).toBeNull();
      });

      it.each([
        ["small", MiB],
        ["multipart-sized", MULTIPART_SIZE + MiB],
      ])("an abort mid-stream (%s) leaves the old object and nothing else", async (_kind, abortAfter) => {
        const p = scope();
        const key = `${p}/aborted.bin`;
        await driver.put(key, "old");
        const controller = new AbortController();
        const reason = new Error("export canceled");
        const source = endlessChunks(abortAfter, () => controller.abort(reason));
        const err = await driver.put(key, source.chunks, { signal: controller.signal }).catch((e: unknown) => e);
        expect(err === reason || (err as Error).name === "AbortError", `rejected with ${String(err)}`).toBe(true);
        // The driver stopped pulling the body.
        await until(() => source.stopped);
        expect((await readAll(await driver.get(key))).toString()).toBe("old");
        expect(await collect(driver.list(`${p}/`))).toEqual([{ key, size: 3 }]);
      });
    });

    describe("lifecycle", () => {
      it("dispose is idempotent", async () => {
        const other = await factory();
        const key = `${scope()}/lifecycle.txt`;
        await other.put(key, "x");
        expect(await other.head(key)).toEqual({ key, size: 1 });
        await other.dispose();
        await other.dispose();
      });
    });
  });
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function hashStream(stream: Readable): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Uint8Array);
    size += (chunk as Uint8Array).length;
  }
  return { size, sha256: hash.digest("hex") };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

async function keysOf(items: AsyncIterable<ObjectInfo>): Promise<string[]> {
  return (await collect(items)).map((o) => o.key);
}

function byteReadable(chunks: Buffer[]): Readable {
  const queue = [...chunks];
  return new Readable({
    read() {
      this.push(queue.shift() ?? null);
    },
  });
}

async function* mixedChunks(): AsyncGenerator<string | Uint8Array> {
  yield "one ";
  yield new TextEncoder().encode("two ");
  await sleep(1);
  yield "✓ three";
}

// Deterministic bytes, so any range can be recomputed: block b (1 KiB) is sha256("b") repeated.
const BLOCK = 1024;

function block(b: number): Buffer {
  const digest = createHash("sha256").update(String(b)).digest();
  return Buffer.concat(Array.from({ length: BLOCK / digest.length }, () => digest));
}

function pattern(offset: number, length: number): Buffer {
  const first = Math.floor(offset / BLOCK);
  const last = Math.floor((offset + length - 1) / BLOCK);
  const blocks: Buffer[] = [];
  for (let b = first; b <= last; b++) blocks.push(block(b));
  const skip = offset - first * BLOCK;
  return Buffer.concat(blocks).subarray(skip, skip + length);
}

async function* patternChunks(size: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < size; offset += CHUNK) yield pattern(offset, Math.min(CHUNK, size - offset));
}

function patternSha256(size: number): string {
  const hash = createHash("sha256");
  for (let offset = 0; offset < size; offset += CHUNK) hash.update(pattern(offset, Math.min(CHUNK, size - offset)));
  return hash.digest("hex");
}

async function* slowChunks(bytes: Buffer, chunkSize: number, delayMs: number): AsyncGenerator<Buffer> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    await sleep(delayMs);
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

/** Chunks forever; calls `onThreshold` once `threshold` bytes were pulled; `stopped` once closed. */
function endlessChunks(
  threshold: number,
  onThreshold: () => void,
): { chunks: AsyncGenerator<Buffer>; readonly stopped: boolean } {
  let stopped = false;
  async function* chunks(): AsyncGenerator<Buffer> {
    let sent = 0;
    try {
      for (;;) {
        if (sent >= threshold) {
          onThreshold();
          await sleep(2);
        }
        const chunk = Buffer.alloc(CHUNK, sent % 251);
        sent += chunk.length;
        yield chunk;
      }
    } finally {
      stopped = true;
    }
  }
  return {
    chunks: chunks(),
    get stopped() {
      return stopped;
    },
  };
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(10);
  }
}

async function inBatches(count: number, width: number, task: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += width) {
    await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, j) => task(start + j)));
  }
}
