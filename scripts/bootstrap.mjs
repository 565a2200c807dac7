// `npm start` and `npm test` on a fresh clone: install npm packages when needed, then hand over.
// Plain JavaScript on purpose: it runs before any dependency is installed.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const mode = process.argv[2];

/**
 * True when node_modules holds what package-lock.json asks for. Compared by content, not mtime:
 * a copied or restored node_modules is current when npm's own record of it (the hidden lockfile)
 * lists the same package versions as the lockfile.
 */
function packagesCurrent(lockText) {
  const marker = join(root, "node_modules", ".labelport-lock.sha256");
  const digest = createHash("sha256").update(lockText).digest("hex");
  if (existsSync(marker) && readFileSync(marker, "utf8") === digest) return true;
  const hidden = join(root, "node_modules", ".package-lock.json");
  if (!existsSync(hidden)) return false;
  try {
    const wanted = JSON.parse(lockText).packages ?? {};
    const installed = JSON.parse(readFileSync(hidden, "utf8")).packages ?? {};
    for (const [path, entry] of Object.entries(wanted)) {
      if (path === "") continue;
      const have = installed[path];
      // Optional packages for other platforms are never installed.
      if (!have) {
        if (entry.optional) continue;
        return false;
      }
      if (have.version !== entry.version) return false;
    }
    if (Object.keys(installed).some((path) => !(path in wanted))) return false;
  } catch {
    return false;
  }
  writeFileSync(marker, digest);
  return true;
}

function ensurePackages() {
  const lockText = readFileSync(join(root, "package-lock.json"), "utf8");
  if (packagesCurrent(lockText)) return;
  console.log("installing npm packages (npm ci)...");
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) {
    console.error("npm ci failed: see the output above (needs access to the npm registry)");
    process.exit(result.status ?? 1);
  }
  writeFileSync(
    join(root, "node_modules", ".labelport-lock.sha256"),
    createHash("sha256").update(lockText).digest("hex"),
  );
}

/**
 * Runs node with `args` and resolves with its exit status. A signal sent to this process (by a
 * service manager, or `kill <pid>`) is passed on, so the child shuts down the stack it started.
 */
function run(args, env = process.env) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: "inherit", env });
  const forward = (signal) => child.kill(signal);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, forward);
  return new Promise((resolve) => {
    child.once("error", (err) => {
      console.error(`could not start node: ${err.message}`);
      resolve(1);
    });
    child.once("exit", (code, signal) => resolve(signal ? 128 + (osConstants.signals[signal] ?? 0) : (code ?? 1)));
  });
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
  process.exit(await run([...tsx, "scripts/start.ts", ...process.argv.slice(3)]));
} else if (mode === "test") {
  const report = join(root, ".data", "vitest-report.json");
  const status = await run([
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
