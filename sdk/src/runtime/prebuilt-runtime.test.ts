// bin/prebuilt-runtime.mjs: a plugin package's own prebuilt runtime, found through its package.json
// and nothing else (the SDK knows no plugin), and the sources whenever that does not work out.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";

const hookModule = resolve(import.meta.dirname, "../../bin/prebuilt-runtime.mjs");
const { loadPrebuilt } = (await import(hookModule)) as {
  loadPrebuilt(spec: string, cwd?: string): Promise<unknown>;
};

const project = mkdtempSync(join(tmpdir(), "labelport-prebuilt-"));

/** node_modules/<name> in the project: an index.js entry and, when given, a prebuilt runtime. */
function plugin(name: string, runtime?: string): string {
  const dir = join(project, "node_modules", name);
  mkdirSync(dir, { recursive: true });
  const pkg = {
    name,
    type: "module",
    exports: { ".": "./index.js" },
    ...(runtime ? { labelport: { prebuilt: "./runtime.mjs" } } : {}),
  };
  writeFileSync(join(dir, "package.json"), JSON.stringify(pkg));
  writeFileSync(join(dir, "index.js"), "export default class {}\n");
  if (runtime) writeFileSync(join(dir, "runtime.mjs"), runtime);
  return realpathSync(join(dir, "index.js"));
}

describe("a plugin's prebuilt runtime", () => {
  afterEach(() => {
    delete process.env.LABELPORT_PLUGIN_BUNDLE;
  });
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("is loaded from the module the package names, given the entry the sources would run", async () => {
    const entry = plugin(
      "@acme/exporter-fast",
      "export async function load(spec, entry) { return { runMain: 'runMain', exporter: { spec, entry } }; }\n",
    );
    expect(await loadPrebuilt("@acme/exporter-fast", project)).toEqual({
      runMain: "runMain",
      exporter: { spec: "@acme/exporter-fast", entry },
    });
    process.env.LABELPORT_PLUGIN_BUNDLE = "0";
    expect(await loadPrebuilt("@acme/exporter-fast", project)).toBeUndefined();
  });

  it("leaves to the sources a path, a package without one, a missing package and a failing runtime", async () => {
    plugin("@acme/exporter-plain");
    plugin("@acme/exporter-broken", "export async function load() { throw new Error('cannot build'); }\n");
    expect(await loadPrebuilt(join(project, "node_modules/@acme/exporter-plain"), project)).toBeUndefined();
    expect(await loadPrebuilt("@acme/exporter-plain", project)).toBeUndefined();
    expect(await loadPrebuilt("@acme/exporter-missing", project)).toBeUndefined();
    expect(await loadPrebuilt("@acme/exporter-broken", project)).toBeUndefined();
  });
});
