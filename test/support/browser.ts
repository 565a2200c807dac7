// A real headless Chromium for end-to-end tests: Debian's `chromium` package driven by
// playwright-core (no browser download), installed with apt-get on first use and reused after.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

export const CHROMIUM_PATH = "/usr/bin/chromium";

/** The flags the console tests run Chromium with: headless, no network of its own, fresh profile. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
] as const;

// Another apt run (unattended upgrades, a second test run) may hold dpkg's or the lists' lock:
// apt waits for dpkg's lock itself; a lists lock, or a lock apt gave up on, is waited out here.
const LOCK_WAIT_S = 600;
const LOCKED =
  /Could not get lock|Unable to lock|Unable to acquire the dpkg frontend lock|is another process using it/i;

function apt(args: string[]): void {
  const deadline = Date.now() + LOCK_WAIT_S * 1000;
  for (;;) {
    const result = spawnSync("apt-get", ["-o", `DPkg::Lock::Timeout=${LOCK_WAIT_S}`, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.status === 0) return;
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
    if (LOCKED.test(output) && Date.now() < deadline) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5000);
      continue;
    }
    throw new Error(
      `apt-get ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}); ` +
        `install Chromium by hand with: apt-get update && apt-get install -y chromium\n` +
        output.trim().split("\n").slice(-15).join("\n"),
    );
  }
}

/**
 * The path of Debian's Chromium, installing it when missing (the tests and CI run as root).
 * Returns how long an install took, 0 when it was already there.
 */
export function ensureChromium(): { path: string; installMs: number } {
  if (existsSync(CHROMIUM_PATH)) return { path: CHROMIUM_PATH, installMs: 0 };
  const started = Date.now();
  apt(["update"]);
  apt(["install", "-y", "chromium"]);
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium but ${CHROMIUM_PATH} is missing`);
  return { path: CHROMIUM_PATH, installMs: Date.now() - started };
}

export interface TestBrowser {
  context: BrowserContext;
  /** Closes Chromium and removes its profile. Idempotent. */
  close(): Promise<void>;
}

/** Chromium with a fresh profile directory, a 1280x800 viewport and downloads accepted. */
export async function launchBrowser(): Promise<TestBrowser> {
  const { path } = ensureChromium();
  const profile = mkdtempSync(join(tmpdir(), "labelport-chromium-"));
  let context: BrowserContext;
  try {
    // launchPersistentContext is how playwright takes a --user-data-dir of our choosing.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: path,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    context,
    close() {
      closing ??= (async () => {
        await context.close().catch(() => undefined);
        rmSync(profile, { recursive: true, force: true });
      })();
      return closing;
    },
  };
}
