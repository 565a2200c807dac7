// Starts the real MongoDB and NATS servers once for the whole run (throw-away data under .data/).
import { rmSync } from "node:fs";
import { join } from "node:path";
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { ensureVersitygw } from "../scripts/stack/binaries.ts";
import { DATA_DIR, startStack } from "../scripts/stack/index.ts";

declare module "vitest" {
  export interface ProvidedContext {
    mongoUrl: string;
    natsUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const stateDir = join(DATA_DIR, "test-runs", String(process.pid));
  // Build the S3 server too while the stack starts, so no test waits for a cold `go install`.
  const [stack] = await Promise.all([startStack({ stateDir }), ensureVersitygw(DATA_DIR)]);
  project.provide("mongoUrl", stack.mongoUrl);
  project.provide("natsUrl", stack.natsUrl);
  return async () => {
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };
}
