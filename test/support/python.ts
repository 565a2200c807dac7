// Python readers for format tests: a venv at .data/venv with the pinned packages of
// test/requirements.txt (pycocotools, PyYAML, datumaro), installed once per requirements hash.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { access, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const REQUIREMENTS = join(repoRoot, "test", "requirements.txt");
export const VENV_DIR = join(repoRoot, ".data", "venv");
// A lock older than this belongs to a run that died mid-install.
const STALE_LOCK_MS = 15 * 60 * 1000;

export const venvPython = join(VENV_DIR, "bin", "python");

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function markerPath(venvDir: string, requirements: string): Promise<string> {
  const hash = createHash("sha256")
    .update(await readFile(requirements))
    .digest("hex")
    .slice(0, 16);
  return join(venvDir, `.requirements-${hash}`);
}

/**
 * Creates the venv and installs test/requirements.txt unless a marker with the requirements'
 * hash says it is done. Safe to call from parallel test files: a lock directory serialises the
 * install. Returns the venv's python.
 */
export function ensurePythonTools(): Promise<string> {
  return ensureVenv(VENV_DIR, REQUIREMENTS);
}

/** ensurePythonTools() for another venv and requirements file (e.g. the Python client's). */
export async function ensureVenv(venvDir: string, requirements: string): Promise<string> {
  const python = join(venvDir, "bin", "python");
  const lockDir = `${venvDir}.lock`;
  const marker = await markerPath(venvDir, requirements);
  if (await exists(marker)) return python;
  await mkdir(dirname(venvDir), { recursive: true });
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const age = Date.now() - (await stat(lockDir).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs;
      if (age > STALE_LOCK_MS) await rm(lockDir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 500));
      if (await exists(marker)) return python;
    }
  }
  try {
    if (await exists(marker)) return python;
    const system = process.env.LABELPORT_PYTHON ?? "python3";
    if (!(await exists(python))) await run(system, ["-m", "venv", venvDir]);
    await run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 15 * 60 * 1000,
    });
    await writeFile(marker, `${new Date().toISOString()}\n`);
    return python;
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** Runs `python -c script args...` in the venv and returns its stdout; rejects with stderr. */
export async function runPython(script: string, args: readonly string[] = []): Promise<string> {
  const python = await ensurePythonTools();
  try {
    const { stdout } = await run(python, ["-c", script, ...args], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 5 * 60 * 1000,
      env: { ...process.env, PYTHONIOENCODING: "utf-8", PYTHONDONTWRITEBYTECODE: "1" },
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`python failed: ${e.stderr || e.message}`);
  }
}

/** runPython() for scripts that print one JSON document. */
export async function runPythonJson<T = unknown>(script: string, args: readonly string[] = []): Promise<T> {
  return JSON.parse(await runPython(script, args)) as T;
}
