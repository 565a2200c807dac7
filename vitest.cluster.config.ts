// The cluster fault suite (`npm run test:cluster`): each file starts its own MongoDB replica set and
// NATS cluster, so it has no global setup; files run one at a time, as each stack is nine processes.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/cluster/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: "forks",
    fileParallelism: false,
  },
});
