#!/usr/bin/env node
// `labelport-plugin run <package-or-path>` (src/runtime/plugin-cli.ts). A plugin package that ships
// a prebuilt runtime (the built-in ones do) runs from it on plain node (prebuilt-runtime.mjs). Any
// other plugin runs with the SDK's built JavaScript when the SDK is the published package (dist/,
// see build.mjs), or with its sources through tsx in the workspace, a TypeScript plugin included.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadPrebuilt } from "./prebuilt-runtime.mjs";

const argv = process.argv.slice(2);
const prebuilt = argv[0] === "run" && argv[1] ? await loadPrebuilt(argv[1]) : undefined;
const built = new URL("../dist/runtime/plugin-cli.js", import.meta.url);
if (prebuilt) {
  prebuilt.runMain(argv, async () => ({ exporter: prebuilt.exporter, importers: prebuilt.importers ?? [] }));
} else if (existsSync(built)) {
  // A plugin whose entry is TypeScript (a scaffolded one) loads through tsx, which it depends on.
  if (argv[0] === "run" && argv[1] && entryIsTypeScript(argv[1])) {
    const { register } = await import("tsx/esm/api").catch(() => {
      throw new Error(`${argv[1]} has a TypeScript entry: add tsx to its dependencies (npm install tsx)`);
    });
    register();
  }
  const { runMain } = await import(built.href);
  runMain(argv);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  process.argv[1] = new URL("../src/runtime/plugin-cli.ts", import.meta.url).pathname;
  await import(pathToFileURL(process.argv[1]).href);
}

/** True when `spec` is a .ts file, or a folder whose package.json names a .ts entry. */
function entryIsTypeScript(spec) {
  if (spec.endsWith(".ts")) return true;
  const manifest = join(spec, "package.json");
  if (!existsSync(manifest)) return false;
  const { main, exports } = JSON.parse(readFileSync(manifest, "utf8"));
  const entry = typeof exports === "string" ? exports : (exports?.["."] ?? main ?? "");
  return typeof entry === "string" && entry.endsWith(".ts");
}
