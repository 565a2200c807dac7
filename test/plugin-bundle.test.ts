// The built-in plugins' prebuilt runtime (plugins/builtin-bundle.mjs) as the SDK's bin finds it
// (sdk/bin/prebuilt-runtime.mjs): built from the one list of built-ins, rebuilt when a source
// changes, and serving a plugin process on plain node.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, utimesSync } from "node:fs";
import { join } from "node:path";
import type { ExporterClass } from "@labelport/sdk";
import { afterEach, describe, expect, inject, it } from "vitest";
import { ROOT } from "./support/process.ts";

const sdkDir = join(ROOT, "sdk");
const pluginsDir = join(ROOT, "plugins");
const currentFile = join(pluginsDir, "dist/plugin-runtime/current.json");
const builtins = JSON.parse(readFileSync(join(pluginsDir, "builtin.json"), "utf8")) as string[];

interface Prebuilt {
  runMain: unknown;
  exporter: ExporterClass;
}
const hookModule = join(sdkDir, "bin/prebuilt-runtime.mjs");
const { loadPrebuilt } = (await import(hookModule)) as { loadPrebuilt(spec: string): Promise<Prebuilt | undefined> };

describe("the built-in plugin bundle", () => {
  afterEach(() => {
    delete process.env.LABELPORT_PLUGIN_BUNDLE;
  });

  it("is the prebuilt runtime of the listed built-in plugins, and only of those", () => {
    const declaring = readdirSync(pluginsDir, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(pluginsDir, entry.name, "package.json")))
      .map((entry) => JSON.parse(readFileSync(join(pluginsDir, entry.name, "package.json"), "utf8")))
      .filter((pkg) => pkg.labelport?.prebuilt === "../builtin-bundle.mjs")
      .map((pkg) => pkg.name as string);
    expect(declaring.sort()).toEqual([...builtins].sort());
  });

  it("loads a built-in plugin by package name from the bundle", async () => {
    const builtin = await loadPrebuilt("@labelport/plugin-coco");
    expect(builtin?.exporter.manifest.name).toBe("coco");
    expect(typeof builtin?.runMain).toBe("function");
    const current = JSON.parse(readFileSync(currentFile, "utf8")) as { inputs: string[]; builtins: object };
    expect(current.inputs).toContain(join(sdkDir, "src/runtime/item-stream.ts"));
    expect(Object.keys(current.builtins)).toContain("@labelport/plugin-yolo");
    expect(Object.keys(current.builtins).sort()).toEqual([...builtins].sort());
  });

  it("rebuilds when a source is newer than the bundle", async () => {
    await loadPrebuilt("@labelport/plugin-jsonl");
    const before = JSON.parse(readFileSync(currentFile, "utf8")) as { dir: string; startedAt: number };
    const source = join(sdkDir, "src/runtime/item-decoder.ts");
    // Newer than that build, but older than the rebuild (a time in the future would leave the
    // rebuild stale too).
    const later = new Date(before.startedAt + 1);
    utimesSync(source, later, later);
    try {
      expect((await loadPrebuilt("@labelport/plugin-jsonl"))?.exporter.manifest.name).toBe("jsonl");
      const after = JSON.parse(readFileSync(currentFile, "utf8")) as { dir: string; startedAt: number };
      expect(after.dir).not.toBe(before.dir);
    } finally {
      const now = new Date();
      utimesSync(source, now, now);
    }
  });

  it("leaves other plugins to the sources (tsx)", async () => {
    expect(await loadPrebuilt(join(pluginsDir, "coco"))).toBeUndefined();
    expect(await loadPrebuilt("@labelport/plugin-nonexistent")).toBeUndefined();
    process.env.LABELPORT_PLUGIN_BUNDLE = "0";
    expect(await loadPrebuilt("@labelport/plugin-coco")).toBeUndefined();
  });

  it("serves a built-in plugin from the bundle", async () => {
    const child = spawn(process.execPath, [join(sdkDir, "bin/labelport-plugin.mjs"), "run", "@labelport/plugin-csv"], {
      cwd: ROOT,
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
