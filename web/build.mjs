// Builds the web console into web/dist when it is missing or older than its sources. Plain
// JavaScript so scripts/bootstrap.mjs can run it before `npm start` / `npm test`; a no-op when fresh.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const webDir = import.meta.dirname;
const root = resolve(webDir, "..");
export const distDir = join(webDir, "dist");

/** What the bundle is made of: the console's own files and the generated contracts it imports. */
const sources = [
  join(webDir, "src"),
  join(webDir, "index.html"),
  join(webDir, "vite.config.ts"),
  join(webDir, "package.json"),
  join(root, "sdk", "src", "contracts.ts"),
  join(root, "sdk", "src", "gen"),
];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when web/dist/index.html exists and is newer than every source. */
export function webBuildIsFresh() {
  const index = join(distDir, "index.html");
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return sources.every((source) => newestMtime(source) <= built);
}

/**
 * Runs `vite build` when the bundle is stale. Builds into a temporary folder and swaps it in, so
 * a server reading web/dist never sees half a bundle. Returns whether it built.
 */
export function ensureWebBuild({ quiet = false } = {}) {
  if (webBuildIsFresh()) return false;
  const vite = join(root, "node_modules", "vite", "bin", "vite.js");
  if (!existsSync(vite)) throw new Error("cannot build the web console: vite is not installed (run npm install)");
  const staging = join(webDir, `.dist-${process.pid}-${Date.now()}`);
  if (!quiet) console.log("building the web console (vite build)...");
  const result = spawnSync(
    process.execPath,
    [vite, "build", "--outDir", staging, "--emptyOutDir", "--logLevel", "warn"],
    {
      cwd: webDir,
      stdio: quiet ? ["ignore", "pipe", "pipe"] : "inherit",
      encoding: "utf8",
    },
  );
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    const output = quiet ? `\n${result.stdout ?? ""}${result.stderr ?? ""}` : "";
    throw new Error(`vite build of the web console failed (exit ${result.status ?? result.signal})${output}`);
  }
  const old = `${staging}-old`;
  if (existsSync(distDir)) renameSync(distDir, old);
  renameSync(staging, distDir);
  rmSync(old, { recursive: true, force: true });
  return true;
}
