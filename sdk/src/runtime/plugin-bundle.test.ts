import { spawn } from "node:child_process";
import { readFileSync, utimesSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import type { ExporterClass } from "../exporter.ts";

const sdkDir = resolve(import.meta.dirname, "../..");
const bin = join(sdkDir, "bin");
const currentFile = join(sdkDir, "dist/plugin-runtime/current.json");

interface Builtin {
  runMain: unknown;
  exporter: ExporterClass;
}
const bundleModule = join(bin, "plugin-bundle.mjs");
const { loadBuiltin } = (await import(bundleModule)) as { loadBuiltin(spec: string): Promise<Builtin | undefined> };

describe("the built-in plugin bundle", () => {
  afterEach(() => {
    delete process.env.LABELPORT_PLUGIN_BUNDLE;
  });

  it("loads a built-in plugin by package name from the bundle", async () => {
    const builtin = await loadBuiltin("@labelport/plugin-coco");
    expect(builtin?.exporter.manifest.name).toBe("coco");
    expect(typeof builtin?.runMain).toBe("function");
    const current = JSON.parse(readFileSync(currentFile, "utf8")) as { inputs: string[]; builtins: object };
    expect(current.inputs).toContain(join(sdkDir, "src/runtime/item-stream.ts"));
    expect(Object.keys(current.builtins)).toContain("@labelport/plugin-yolo");
  });

  it("rebuilds when a source is newer than the bundle", async () => {
    await loadBuiltin("@labelport/plugin-jsonl");
    const before = JSON.parse(readFileSync(currentFile, "utf8")) as { dir: string; startedAt: number };
    const source = join(sdkDir, "src/runtime/item-decoder.ts");
    // Newer than that build, but older than the rebuild (a time in the future would leave the
    // rebuild stale too).
    const later = new Date(before.startedAt + 1);
    utimesSync(source, later, later);
    try {
      expect((await loadBuiltin("@labelport/plugin-jsonl"))?.exporter.manifest.name).toBe("jsonl");
      const after = JSON.parse(readFileSync(currentFile, "utf8")) as { dir: string; startedAt: number };
      expect(after.dir).not.toBe(before.dir);
    } finally {
      const now = new Date();
      utimesSync(source, now, now);
    }
  });

  it("leaves other plugins to the sources (tsx)", async () => {
    expect(await loadBuiltin(join(sdkDir, "../plugins/coco"))).toBeUndefined();
    expect(await loadBuiltin("@labelport/plugin-nonexistent")).toBeUndefined();
    process.env.LABELPORT_PLUGIN_BUNDLE = "0";
    expect(await loadBuiltin("@labelport/plugin-coco")).toBeUndefined();
  });

  it("serves a built-in plugin from the bundle", async () => {
    const child = spawn(process.execPath, [join(bin, "labelport-plugin.mjs"), "run", "@labelport/plugin-csv"], {
      cwd: resolve(sdkDir, ".."),
      env: { PATH: process.env.PATH ?? "", NATS_URL: inject("natsUrl") },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    try {
      await expect.poll(() => output, { timeout: 30_000 }).toMatch(/plugin csv@\S+ serving csv/);
      // The bin says so when it falls back to the sources.
      expect(output).not.toMatch(/from its sources/);
    } finally {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    }
  });
});
