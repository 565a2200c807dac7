import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["sdk/src/**/*.test.ts", "services/*/src/**/*.test.ts", "plugins/*/src/**/*.test.ts", "test/**/*.test.ts"],
    // The cluster suite has its own config (vitest.cluster.config.ts, `npm run test:cluster`).
    exclude: ["test/cluster/**", "**/node_modules/**"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
  },
});
