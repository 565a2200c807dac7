// `npm start` and `npm test` on a fresh clone: install npm packages when needed, then hand over.
// Plain JavaScript on purpose: it runs before any dependency is installed.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const mode = process.argv[2];

function ensurePackages() {
  const installed = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log("installing npm packages (npm ci)...");
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error("npm ci failed: see the output above (needs access to the npm registry)");
    process.exit(result.status ?? 1);
  }
}

function run(args, env = process.env) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: "inherit", env });
  if (result.signal) process.kill(process.pid, result.signal);
  return result.status ?? 1;
}

/** Builds the web console (web/dist) when missing or older than its sources; a no-op when fresh. */
async function ensureWebConsole() {
  const { ensureWebBuild } = await import("../web/build.mjs");
  try {
    ensureWebBuild();
  } catch (err) {
    // The API works without the console: say so and go on.
    console.error(`warning: ${err.message}; the console at / will say it is not built`);
  }
}

ensurePackages();
await ensureWebConsole();
const tsx = ["--import", "tsx"];
if (mode === "start") {
  process.exit(run([...tsx, "scripts/start.ts", ...process.argv.slice(3)]));
} else if (mode === "test") {
  const report = join(root, ".data", "vitest-report.json");
  const status = run([
    join(root, "node_modules", "vitest", "vitest.mjs"),
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${report}`,
    ...process.argv.slice(3),
  ]);
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (existsSync(report)) {
    const summary = JSON.parse(readFileSync(report, "utf8"));
    passed = summary.numPassedTests;
    skipped = summary.numPendingTests + summary.numTodoTests;
    // A file that fails to load has no tests to count: count it as one failure.
    failed =
      summary.numFailedTests +
      summary.testResults.filter((file) => file.status === "failed" && file.assertionResults.length === 0).length;
  }
  if (status !== 0 && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  process.exit(failed > 0 || status !== 0 ? 1 : 0);
} else {
  console.error("usage: node scripts/bootstrap.mjs start|test");
  process.exit(2);
}
