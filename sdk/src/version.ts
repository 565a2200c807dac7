// The SDK's own version (from its package.json): what plugin manifests' `sdk` ranges are checked against.
import { readFileSync } from "node:fs";

export const SDK_VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;
