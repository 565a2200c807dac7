// The local driver against a real temp directory: the shared contract plus what only a
// filesystem shows (temp files, empty directories).
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testStorageDriver } from "../testing/storage-driver-suite.ts";
import type { ObjectInfo } from "./driver.ts";
import { isInvalidStorageKey, isStorageError } from "./errors.ts";
import { createLocalStorage } from "./local.ts";

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "labelport-local-storage-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

testStorageDriver("local", async () => createLocalStorage({ root }));

async function keysOf(items: AsyncIterable<ObjectInfo>): Promise<string[]> {
  const keys: string[] = [];
  for await (const item of items) keys.push(item.key);
  return keys;
}

describe("local storage on disk", () => {
  async function filesUnder(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  }

  it("leaves no temp file behind after an aborted put", async () => {
    const dir = join(root, "disk-abort");
    const storage = createLocalStorage({ root: dir });
    const controller = new AbortController();
    async function* body() {
      yield Buffer.alloc(1024, 1);
      controller.abort();
      yield Buffer.alloc(1024, 2);
    }
    await expect(storage.put("a/b.bin", body(), { signal: controller.signal })).rejects.toThrow();
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("hides temp files from list, refuses temp names as keys, and deletePrefix sweeps them", async () => {
    const dir = join(root, "disk-temp");
    const storage = createLocalStorage({ root: dir });
    await storage.put("p/kept.txt", "kept");
    // What a writer killed mid-put leaves.
    await writeFile(join(dir, "p", ".lp-tmp-crashed"), "partial");
    expect(await keysOf(storage.list("p/"))).toEqual(["p/kept.txt"]);
    await expect(storage.put("p/.lp-tmp-x", "x")).rejects.toSatisfy(isInvalidStorageKey);
    expect(await storage.deletePrefix("p/")).toBe(1);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("prunes directories a delete leaves empty, so the name can become a file", async () => {
    const dir = join(root, "disk-prune");
    const storage = createLocalStorage({ root: dir });
    await storage.put("x/y/z.txt", "z");
    await storage.delete("x/y/z.txt");
    expect(await readdir(dir)).toEqual([]);
    await storage.put("x", "now a file");
    expect(await storage.head("x")).toEqual({ key: "x", size: 10 });
  });

  it("makes a directory again when it was removed behind its back, for every kind of body", async () => {
    const dir = join(root, "disk-gone");
    const storage = createLocalStorage({ root: dir });
    await storage.put("a/b/one.txt", "one");
    await rm(join(dir, "a"), { recursive: true });
    await storage.put("a/b/two.txt", "two");
    expect(await filesUnder(dir)).toEqual(["a/b/two.txt"]);
    await rm(join(dir, "a"), { recursive: true });
    await storage.put(
      "a/b/three.txt",
      (async function* () {
        yield "three";
      })(),
    );
    await storage.put("a/b/four.txt", "four");
    expect(await keysOf(storage.list(""))).toEqual(["a/b/four.txt", "a/b/three.txt"]);
    expect(await filesUnder(dir)).toEqual(["a/b/four.txt", "a/b/three.txt"]);
  });

  it("fails a put below a key that is a file, leaving nothing", async () => {
    const dir = join(root, "disk-file-parent");
    const storage = createLocalStorage({ root: dir });
    await storage.put("f/x.txt", "x");
    await storage.delete("f/x.txt");
    await storage.put("f", "a file now");
    await expect(storage.put("f/y.txt", "y")).rejects.toSatisfy(isStorageError);
    await expect(storage.put("f/y.txt", new Uint8Array([1]))).rejects.toSatisfy(isStorageError);
    expect(await filesUnder(dir)).toEqual(["f"]);
  });

  it("writes new files in place (inPlace), making directories, with the same size and sha256", async () => {
    const dir = join(root, "disk-in-place");
    const storage = createLocalStorage({ root: dir });
    const text = "héllo\n";
    const bytes = new Uint8Array([0, 1, 2, 255]);
    const results = await Promise.all([
      storage.put("a/b/one.txt", text, { inPlace: true }),
      storage.put("a/c/two.bin", bytes, { inPlace: true }),
      ...Array.from({ length: 100 }, (_, i) => storage.put(`many/${i}.txt`, `file ${i}`, { inPlace: true })),
    ]);
    const { size, sha256 } = await storage.put("copy/one.txt", text);
    expect(results[0]).toEqual({ key: "a/b/one.txt", size, sha256 });
    expect(results[1]).toEqual({
      key: "a/c/two.bin",
      size: 4,
      sha256: createHash("sha256").update(bytes).digest("hex"),
    });
    expect(await readFile(join(dir, "a", "b", "one.txt"), "utf8")).toBe(text);
    expect(await readFile(join(dir, "many", "99.txt"), "utf8")).toBe("file 99");
    // Directories removed behind its back are made again.
    await rm(join(dir, "a"), { recursive: true });
    await storage.put("a/b/again.txt", "again", { inPlace: true });
    expect(await readFile(join(dir, "a", "b", "again.txt"), "utf8")).toBe("again");
    await storage.dispose();
  });

  it("fails an in-place put below a key that is a file, and removes one aborted meanwhile", async () => {
    const dir = join(root, "disk-in-place-fail");
    const storage = createLocalStorage({ root: dir });
    await storage.put("f", "a file");
    await expect(storage.put("f/y.txt", "y", { inPlace: true })).rejects.toSatisfy(isStorageError);
    const controller = new AbortController();
    const put = storage.put("g/z.txt", "z", { inPlace: true, signal: controller.signal });
    controller.abort();
    await expect(put).rejects.toThrow();
    expect(await filesUnder(dir)).toEqual(["f"]);
    await storage.dispose();
  });

  it("creates its root lazily and lists nothing before the first put", async () => {
    const storage = createLocalStorage({ root: join(root, "not-yet") });
    expect(await keysOf(storage.list(""))).toEqual([]);
    expect(await storage.head("a")).toBeNull();
  });
});
