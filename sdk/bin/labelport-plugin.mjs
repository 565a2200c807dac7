#!/usr/bin/env node
// Runs the TypeScript CLI through tsx (the SDK ships its sources).
import { register } from "tsx/esm/api";

register();
const { pathToFileURL } = await import("node:url");
process.argv[1] = new URL("../src/runtime/plugin-cli.ts", import.meta.url).pathname;
await import(pathToFileURL(process.argv[1]).href);
