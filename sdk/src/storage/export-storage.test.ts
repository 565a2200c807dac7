// ExportStorage over a real local driver: artifacts, the manifest, and the rules around them.
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StorageDriver } from "./driver.ts";
import { isDuplicateArtifact, isInvalidStorageKey } from "./errors.ts";
import {
  COMMIT_ARTIFACT_LIMIT,
  createExportStorage,
  type ExportManifestFields,
  guessContentType,
} from "./export-storage.ts";
import { compareKeys } from "./keys.ts";
import { createLocalStorage } from "./local.ts";

let dir: string;
let driver: StorageDriver;
let media: StorageDriver;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "labelport-export-storage-"));
  driver = createLocalStorage({ root: join(dir, "exports") });
  media = createLocalStorage({ root: join(dir, "media") });
  await media.put("images/cat.png", Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  await media.put("images/my cat.jpg", "jpeg bytes");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const fields: ExportManifestFields = {
  exportId: "exp-1",
  format: "coco",
  plugin: { name: "coco", version: "1.0.0" },
  dataset: { id: "ds-1", name: "Cats" },
  exportedAt: "2024-05-01T12:00:00.000Z",
  itemCount: 2,
  annotationCount: 3,
  annotationsReceived: 4,
  dropped: { "polyline: coco has no polylines": 1 },
  changed: {},
  notes: ["dropped 1 polygon hole"],
};

const sha256 = (text: string | Uint8Array) => createHash("sha256").update(text).digest("hex");

/** Records, in completion order, the keys the driver finished writing. */
function recording(inner: StorageDriver): { driver: StorageDriver; completed: string[] } {
  const completed: string[] = [];
  return {
    completed,
    driver: {
      ...inner,
      async put(key, body, options) {
        const result = await inner.put(key, body, options);
        completed.push(key);
        return result;
      },
    },
  };
}

/** One export whose writes finish in an order set by `delays`, to show the manifest does not depend on it. */
async function sampleExport(prefix: string, target: StorageDriver, delays: [number, number]) {
  const storage = createExportStorage(target, prefix, { mediaDriver: media, signal: new AbortController().signal });
  const writer = await storage.open("annotations/labels.jsonl");
  await Promise.all([
    (async () => {
      await new Promise((r) => setTimeout(r, delays[0]));
      await storage.writeJson("annotations/instances.json", { images: [{ id: 1 }] }, { pretty: true });
    })(),
    (async () => {
      await new Promise((r) => setTimeout(r, delays[1]));
      await storage.writeFile("README.txt", Readable.from(["hello ", "world\n"]));
    })(),
    (async () => {
      for (let i = 0; i < 3; i++) await writer.write(`{"line":${i}}\n`);
      await writer.close();
    })(),
    storage.copyMedia("images/cat.png", "images/cat.png"),
  ]);
  return storage.commit(fields);
}

describe("createExportStorage", () => {
  it("records every file as an artifact with size, sha256 and content type, sorted by key", async () => {
    const result = await sampleExport("exports/a", driver, [5, 0]);
    expect(result.manifestKey).toBe("exports/a/manifest.json");
    const lines = '{"line":0}\n{"line":1}\n{"line":2}\n';
    const instances = `${JSON.stringify({ images: [{ id: 1 }] }, null, 2)}\n`;
    expect(
      result.artifacts.map((a) => ({ key: a.key, size: a.size, sha256: a.sha256, contentType: a.contentType })),
    ).toEqual([
      { key: "README.txt", size: 12n, sha256: sha256("hello world\n"), contentType: "text/plain" },
      {
        key: "annotations/instances.json",
        size: BigInt(instances.length),
        sha256: sha256(instances),
        contentType: "application/json",
      },
      {
        key: "annotations/labels.jsonl",
        size: BigInt(lines.length),
        sha256: sha256(lines),
        contentType: "application/x-ndjson",
      },
      {
        key: "images/cat.png",
        size: 4n,
        sha256: sha256(Buffer.from([0x89, 0x50, 0x4e, 0x47])),
        contentType: "image/png",
      },
    ]);
    // What is recorded is what is stored.
    for (const artifact of result.artifacts) {
      const stored = await readFile(join(dir, "exports", "exports/a", artifact.key));
      expect(sha256(stored)).toBe(artifact.sha256);
    }
  });

  it("writes manifest.json last, byte for byte the same across runs whatever order files finish in", async () => {
    const first = recording(driver);
    await sampleExport("exports/b1", first.driver, [0, 20]);
    const second = recording(driver);
    await sampleExport("exports/b2", second.driver, [20, 0]);
    expect(first.completed.at(-1)).toBe("exports/b1/manifest.json");
    expect(second.completed.at(-1)).toBe("exports/b2/manifest.json");
    expect(first.completed.slice(0, -1)).not.toEqual(second.completed.slice(0, -1).map((k) => k.replace("b2", "b1")));

    const bytes1 = await readFile(join(dir, "exports", "exports/b1/manifest.json"), "utf8");
    const bytes2 = await readFile(join(dir, "exports", "exports/b2/manifest.json"), "utf8");
    expect(bytes1).toBe(bytes2);
    const manifest = JSON.parse(bytes1);
    expect(Object.keys(manifest)).toEqual([
      "schemaVersion",
      "exportId",
      "format",
      "plugin",
      "dataset",
      "exportedAt",
      "itemCount",
      "annotationCount",
      "annotationsReceived",
      "dropped",
      "changed",
      "notes",
      "fileCount",
      "totalSize",
      "artifacts",
    ]);
    expect(manifest).toMatchObject({ schemaVersion: 1, ...fields, fileCount: 4 });
    expect(manifest.totalSize).toBe(manifest.artifacts.reduce((sum: number, a: { size: number }) => sum + a.size, 0));
    expect(bytes1.endsWith("}\n")).toBe(true);
    expect(bytes1).toContain('\n  "schemaVersion": 1,\n');
  });

  it("ignores extra properties on the fields, so the manifest stays fixed", async () => {
    const storage = createExportStorage(driver, "exports/c");
    const extra = {
      ...fields,
      plugin: { ...fields.plugin, formats: ["coco"] },
      surprise: true,
    } as ExportManifestFields;
    await storage.commit(extra);
    const manifest = JSON.parse(await readFile(join(dir, "exports", "exports/c/manifest.json"), "utf8"));
    expect(manifest.plugin).toEqual({ name: "coco", version: "1.0.0" });
    expect(manifest).not.toHaveProperty("surprise");
    expect(manifest).toMatchObject({ fileCount: 0, totalSize: 0, artifacts: [] });
  });

  it("refuses the same key twice, naming it, whichever way it is written", async () => {
    const storage = createExportStorage(driver, "exports/d");
    await storage.writeFile("a.csv", "x,y\n");
    await expect(storage.writeFile("a.csv", "again")).rejects.toSatisfy(isDuplicateArtifact);
    await expect(storage.writeJson("a.csv", {})).rejects.toThrow(/"a\.csv"/);
    await expect(storage.open("a.csv")).rejects.toSatisfy(isDuplicateArtifact);
    await expect(storage.copyMedia("images/cat.png", "a.csv")).rejects.toSatisfy(isDuplicateArtifact);
    // Also while the first write is still in flight.
    const writer = await storage.open("b.txt");
    await expect(storage.writeFile("b.txt", "x")).rejects.toSatisfy(isDuplicateArtifact);
    await writer.close();
    const { artifacts } = await storage.commit(fields);
    expect(artifacts.map((a) => a.key)).toEqual(["a.csv", "b.txt"]);
    expect(artifacts[0]?.contentType).toBe("text/csv");
  });

  it.each([
    ["in memory", "exports/many", undefined],
    ["spilled to disk in sorted runs", "exports/many-spilled", 16],
  ])(
    "streams manifest.json with the bytes JSON.stringify(manifest, null, 2) gives, for many files %s",
    async (_, prefix, memoryKeys) => {
      const storage = createExportStorage(driver, prefix, { memoryKeys });
      const names = ["z.txt", "a b/ü.json", 'q"uote.txt', "A.txt", "a-b/c.xml", "a/b.xml", "a0.csv", "日本/語.txt"];
      for (let i = 0; i < 1500; i++) names.push(`ann/${String((i * 7919) % 1500).padStart(5, "0")}.xml`);
      // Written concurrently, in no particular order.
      await Promise.all(names.map((name, i) => storage.writeFile(name, `body ${i} ${"x".repeat(i % 50)}`)));
      const notes = { ...fields, notes: ["a", 'with "quotes" \u2028'] };
      const result = await storage.commit(notes);
      const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const artifacts = sorted.map((key) => {
        const i = names.indexOf(key);
        const body = `body ${i} ${"x".repeat(i % 50)}`;
        return { key, size: Buffer.byteLength(body), sha256: sha256(body), contentType: guessContentType(key) };
      });
      const expected = `${JSON.stringify(
        {
          schemaVersion: 1,
          ...notes,
          fileCount: artifacts.length,
          totalSize: artifacts.reduce((sum, a) => sum + a.size, 0),
          artifacts,
        },
        null,
        2,
      )}\n`;
      expect(await readFile(join(dir, "exports", prefix, "manifest.json"), "utf8")).toBe(expected);
      expect(result.fileCount).toBe(names.length);
      expect(result.totalSize).toBe(artifacts.reduce((sum, a) => sum + a.size, 0));
      expect(result.artifacts).toHaveLength(COMMIT_ARTIFACT_LIMIT);
      expect(result.artifacts.map((a) => [a.key, Number(a.size), a.sha256, a.contentType])).toEqual(
        artifacts.slice(0, COMMIT_ARTIFACT_LIMIT).map((a) => [a.key, a.size, a.sha256, a.contentType]),
      );
    },
  );

  it("refuses a key written long before, once its record is on disk", async () => {
    const storage = createExportStorage(driver, "exports/d-spilled", { memoryKeys: 4 });
    const names = Array.from({ length: 40 }, (_, i) => `labels/${i}.txt`);
    for (const name of names) await storage.queueFile(name, name);
    await storage.flush();
    for (const name of names) await expect(storage.writeFile(name, "again")).rejects.toSatisfy(isDuplicateArtifact);
    await expect(storage.writeFile("LABELS/0.txt", "other case")).resolves.toBeUndefined();
    const written = [];
    for await (const artifact of storage.written()) written.push(artifact.key);
    expect(written).toEqual(["LABELS/0.txt", ...names].sort(compareKeys));
    expect((await storage.commit(fields)).fileCount).toBe(41);
    await storage.dispose();
  });

  it("releases the key of a failed write, so it can be written again", async () => {
    let fail = true;
    const flaky: StorageDriver = {
      ...driver,
      async put(key, body, options) {
        if (fail && key.endsWith("x.txt")) throw new Error("disk full");
        return driver.put(key, body, options);
      },
    };
    const storage = createExportStorage(flaky, "exports/retry");
    await expect(storage.writeFile("x.txt", "one")).rejects.toThrow("disk full");
    fail = false;
    await storage.writeFile("x.txt", "two");
    await expect(storage.writeFile("x.txt", "three")).rejects.toSatisfy(isDuplicateArtifact);
    const { artifacts, fileCount } = await storage.commit(fields);
    expect(fileCount).toBe(1);
    expect(artifacts.map((a) => [a.key, a.sha256])).toEqual([["x.txt", sha256("two")]]);
  });

  it("queueFile writes the same artifacts and manifest as writeFile, many at once", async () => {
    const names = Array.from({ length: 300 }, (_, i) => `labels/${i % 3}/${String(i).padStart(4, "0")}.txt`);
    const queued = createExportStorage(driver, "exports/queued");
    const awaited = createExportStorage(driver, "exports/awaited");
    for (const [i, name] of names.entries()) {
      await queued.queueFile(name, `line ${i}\n`, { contentType: "text/plain; charset=utf-8" });
      await awaited.writeFile(name, `line ${i}\n`, { contentType: "text/plain; charset=utf-8" });
    }
    const a = await queued.commit(fields);
    const b = await awaited.commit(fields);
    expect(a.fileCount).toBe(300);
    expect(a.artifacts.map((x) => [x.key, x.sha256, x.size])).toEqual(
      b.artifacts.map((x) => [x.key, x.sha256, x.size]),
    );
    const manifest = (name: string) => readFile(join(dir, "exports", name, "manifest.json"), "utf8");
    expect(await manifest("exports/queued")).toBe(await manifest("exports/awaited"));
    expect(await readFile(join(dir, "exports", "exports/queued/labels/2/0299.txt"), "utf8")).toBe("line 299\n");
  });

  it("queueFile refuses a duplicate at once, and a failed write is thrown by flush and commit", async () => {
    const failing: StorageDriver = {
      ...driver,
      async put(key, body, options) {
        if (key.endsWith("bad.txt")) throw new Error("disk full");
        return driver.put(key, body, options);
      },
    };
    const storage = createExportStorage(failing, "exports/queue-fail");
    await storage.queueFile("ok.txt", "ok");
    await expect(storage.queueFile("ok.txt", "again")).rejects.toSatisfy(isDuplicateArtifact);
    await storage.queueFile("bad.txt", "bad");
    await expect(storage.flush()).rejects.toThrow("disk full");
    await expect(storage.queueFile("later.txt", "x")).rejects.toThrow("disk full");
    await expect(storage.commit(fields)).rejects.toThrow("disk full");
  });

  it("refuses manifest.json and bad keys from the exporter", async () => {
    const storage = createExportStorage(driver, "exports/e");
    await expect(storage.writeFile("manifest.json", "{}")).rejects.toSatisfy(isInvalidStorageKey);
    await expect(storage.writeFile("../escape.txt", "x")).rejects.toSatisfy(isInvalidStorageKey);
    await expect(storage.open("/abs.txt")).rejects.toSatisfy(isInvalidStorageKey);
  });

  it("copyMedia returns false and writes nothing for missing media; accepts file:// keys", async () => {
    const storage = createExportStorage(driver, "exports/f", { mediaDriver: media });
    expect(await storage.copyMedia("images/missing.png", "images/missing.png")).toBe(false);
    expect(await driver.head("exports/f/images/missing.png")).toBeNull();
    expect(await storage.copyMedia("file://images/my%20cat.jpg", "images/my cat.jpg")).toBe(true);
    // The missing one did not claim its key.
    await storage.writeFile("images/missing.png", "placeholder");
    // No media source serves it: refused and reported, not fatal (media-sources.test.ts has the rest).
    const problems: unknown[] = [];
    expect(await storage.copyMedia("s3://bucket/x.png", "x.png", { onProblem: (p) => problems.push(p) })).toBe(false);
    expect(problems).toEqual([
      { uri: "s3://bucket/x.png", kind: "refused", reason: 'no media source serves bucket "bucket"' },
    ]);
    const { artifacts } = await storage.commit(fields);
    expect(artifacts.map((a) => [a.key, a.contentType])).toEqual([
      ["images/missing.png", "image/png"],
      ["images/my cat.jpg", "image/jpeg"],
    ]);
  });

  it("applies backpressure: write() waits for the driver, and close() reports the artifact", async () => {
    const storage = createExportStorage(driver, "exports/g");
    const writer = await storage.open("big.bin");
    const chunk = Buffer.alloc(256 * 1024, 7);
    const hash = createHash("sha256");
    for (let i = 0; i < 40; i++) {
      await writer.write(chunk);
      hash.update(chunk);
    }
    await writer.close();
    await writer.close();
    await expect(writer.write("late")).rejects.toThrow(/closed/);
    const { artifacts } = await storage.commit(fields);
    expect(artifacts).toMatchObject([{ key: "big.bin", size: 40n * 256n * 1024n, sha256: hash.digest("hex") }]);
  });

  it("refuses to commit while a writer is open, and to write after commit", async () => {
    const storage = createExportStorage(driver, "exports/h");
    const writer = await storage.open("open.txt");
    await writer.write("x");
    await expect(storage.commit(fields)).rejects.toThrow(/open\.txt/);
    await writer.close();
    await storage.commit(fields);
    await expect(storage.writeFile("late.txt", "x")).rejects.toThrow(/committed/);
    await expect(storage.commit(fields)).rejects.toThrow(/already committed/);
  });

  it("fails the writer when the export is aborted, leaving no file", async () => {
    const controller = new AbortController();
    const storage = createExportStorage(driver, "exports/i", { signal: controller.signal });
    const writer = await storage.open("partial.jsonl");
    await writer.write("first\n");
    controller.abort(new Error("canceled"));
    await expect(writer.close()).rejects.toThrow("canceled");
    await expect(writer.write("more\n")).rejects.toThrow();
    expect(await driver.head("exports/i/partial.jsonl")).toBeNull();
  });
});

describe("guessContentType", () => {
  it.each([
    ["a.json", "application/json"],
    ["a/b.JSONL", "application/x-ndjson"],
    ["x.csv", "text/csv"],
    ["notes.txt", "text/plain"],
    ["ann.xml", "application/xml"],
    ["data.yaml", "application/yaml"],
    ["out.zip", "application/zip"],
    ["p.png", "image/png"],
    ["p.jpeg", "image/jpeg"],
    ["noext", "application/octet-stream"],
    [".json", "application/octet-stream"],
    ["dir.json/file", "application/octet-stream"],
  ])("%s -> %s", (key, type) => {
    expect(guessContentType(key)).toBe(type);
  });
});
