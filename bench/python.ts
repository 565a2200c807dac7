// The Python peers: a venv at .data/bench-venv with bench/requirements.txt (installed once per
// requirements hash, as test/support/python.ts does for the test readers), and a runner that
// times a peer script and samples its memory the same way as our own processes.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./processes.ts";
import { sampleRss } from "./rss.ts";

const exec = promisify(execFile);

export const REQUIREMENTS = join(ROOT, "bench", "requirements.txt");
export const VENV_DIR = join(ROOT, ".data", "bench-venv");
export const venvPython = join(VENV_DIR, "bin", "python");
export const PEERS_DIR = join(ROOT, "bench", "peers");

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Creates the venv and installs the pinned peers unless the marker for these requirements exists. */
export async function ensureBenchPython(log: (line: string) => void): Promise<string> {
  const hash = createHash("sha256")
    .update(await readFile(REQUIREMENTS))
    .digest("hex")
    .slice(0, 16);
  const marker = join(VENV_DIR, `.requirements-${hash}`);
  if (await exists(marker)) return venvPython;
  log(`installing the Python peers into ${VENV_DIR} (pymongo, datumaro, pycocotools)...`);
  await mkdir(join(ROOT, ".data"), { recursive: true });
  if (!(await exists(venvPython))) await exec(process.env.LABELPORT_PYTHON ?? "python3", ["-m", "venv", VENV_DIR]);
  await exec(venvPython, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", REQUIREMENTS], {
    maxBuffer: 64 * 1024 * 1024,
    timeout: 20 * 60 * 1000,
  });
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return venvPython;
}

export interface PeerRun {
  /** The work's own time as the script measured it (after imports and interpreter start-up). */
  seconds: number;
  /** Spawn to exit, interpreter and imports included. */
  processSeconds: number;
  peakRssMb: number;
  /** The script's JSON report (its last stdout line). */
  report: Record<string, unknown>;
}

export class PeerFailedError extends Error {
  override name = "PeerFailedError";
}

/**
 * Runs `bench/peers/<script>` with `args`; the script prints one JSON line with at least
 * `seconds` and `maxRssKb` (getrusage). Killed after `timeoutMs`.
 */
export async function runPeer(script: string, args: string[], timeoutMs: number): Promise<PeerRun> {
  const started = performance.now();
  const child = spawn(venvPython, [join(PEERS_DIR, script), ...args], {
    cwd: ROOT,
    env: { ...process.env, PYTHONIOENCODING: "utf-8", PYTHONDONTWRITEBYTECODE: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const sampler = sampleRss(child.pid ?? -1, { fresh: true });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on("data", (d: Buffer) => {
    if (stderr.length < 1 << 20) stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const code = await new Promise<number | null>((done) => child.once("close", (c) => done(c)));
  clearTimeout(timer);
  const processSeconds = (performance.now() - started) / 1000;
  const sampledMb = sampler.stop();
  if (timedOut) throw new PeerFailedError(`${script} timed out after ${Math.round(timeoutMs / 1000)} s`);
  if (code !== 0) {
    const tail = stderr.trim().split("\n").slice(-3).join(" | ");
    throw new PeerFailedError(`${script} exited with ${code}: ${tail}`);
  }
  const last = stdout.trim().split("\n").pop() ?? "{}";
  const report = JSON.parse(last) as Record<string, unknown>;
  const maxRssMb = typeof report.maxRssKb === "number" ? report.maxRssKb / 1024 : 0;
  return {
    seconds: typeof report.seconds === "number" ? report.seconds : processSeconds,
    processSeconds,
    peakRssMb: Math.max(sampledMb, maxRssMb),
    report,
  };
}
