// The local driver against a real temp directory: the shared contract plus what only a
// filesystem shows (temp files, empty directories).
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
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

  it("creates its root lazily and lists nothing before the first put", async () => {
    const storage = createLocalStorage({ root: join(root, "not-yet") });
    expect(await keysOf(storage.list(""))).toEqual([]);
    expect(await storage.head("a")).toBeNull();
  });
});
