#!/usr/bin/env node
// `labelport-plugin run <package-or-path>` (src/runtime/plugin-cli.ts). A plugin package that ships
// a prebuilt runtime (the built-in ones do) runs from it on plain node (prebuilt-runtime.mjs); any
// other plugin, a third-party TypeScript one included, runs with the SDK's sources through tsx.
import { pathToFileURL } from "node:url";
import { loadPrebuilt } from "./prebuilt-runtime.mjs";

const argv = process.argv.slice(2);
const prebuilt = argv[0] === "run" && argv[1] ? await loadPrebuilt(argv[1]) : undefined;
if (prebuilt) {
  prebuilt.runMain(argv, async () => prebuilt.exporter);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  process.argv[1] = new URL("../src/runtime/plugin-cli.ts", import.meta.url).pathname;
  await import(pathToFileURL(process.argv[1]).href);
}
