#!/usr/bin/env node
// `labelport-plugin run <package-or-path>` (src/runtime/plugin-cli.ts). A built-in plugin named by
// its package runs from the prebuilt bundle on plain node (plugin-bundle.mjs); any other plugin, a
// third-party TypeScript one included, runs with the SDK's sources through tsx.
import { pathToFileURL } from "node:url";
import { loadBuiltin } from "./plugin-bundle.mjs";

const argv = process.argv.slice(2);
const builtin = argv[0] === "run" && argv[1] ? await loadBuiltin(argv[1]) : undefined;
if (builtin) {
  builtin.runMain(argv, async () => builtin.exporter);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  process.argv[1] = new URL("../src/runtime/plugin-cli.ts", import.meta.url).pathname;
  await import(pathToFileURL(process.argv[1]).href);
}
