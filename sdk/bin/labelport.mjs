#!/usr/bin/env node
// The `labelport` CLI (src/cli/labelport.ts): the SDK's built JavaScript when the SDK is the
// published package (dist/, see build.mjs), its sources through tsx in the workspace.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";

const built = new URL("../dist/cli/labelport.js", import.meta.url);
if (!existsSync(built)) {
  const { register } = await import("tsx/esm/api");
  register();
}
// The CLI runs itself when it is the process's main module.
process.argv[1] = (existsSync(built) ? built : new URL("../src/cli/labelport.ts", import.meta.url)).pathname;
await import(pathToFileURL(process.argv[1]).href);
