// Small helpers for the local stack: free ports, child servers with logs, waiting for readiness.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port"));
      });
    });
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts a server binary with stdout/stderr in `<dir>/<name>.log`; fails fast if it exits early. */
export function startServer(name: string, bin: string, args: string[], dir: string): ServerProcess {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid !== undefined) watchOver(child.pid);
  // Two pipes into one log: neither may end it, or the other's last write fails.
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  let exited: Promise<void> | undefined;
  const exit = new Promise<void>((resolve) => child.once("close", () => resolve()));
  child.once("close", () => log.end());
  return {
    child,
    logFile,
    stop(graceMs = 5000) {
      if (exited) return exited;
      if (child.exitCode !== null || child.signalCode !== null) {
        exited = Promise.resolve();
        return exited;
      }
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      exited = exit.then(() => clearTimeout(timer));
      return exited;
    },
  };
}

/**
 * A server outlives a parent that is killed (SIGKILL, a test run's timeout) and would hold its port,
 * its data and a core. A shell loop beside it, detached and tiny, stops it once this process is
 * gone: SIGTERM, then SIGKILL after 5 s; it ends by itself when the server exits first.
 */
const WATCHDOG = `while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
if kill -0 "$2" 2>/dev/null; then kill -TERM "$2"; sleep 5; kill -KILL "$2" 2>/dev/null; fi`;

function watchOver(pid: number): void {
  const watchdog = spawn("sh", ["-c", WATCHDOG, "labelport-watchdog", String(process.pid), String(pid)], {
    detached: true,
    stdio: "ignore",
  });
  watchdog.on("error", () => undefined);
  watchdog.unref();
}

/** Polls `probe` until it resolves true; rejects with the server's log tail if the process dies. */
export async function waitUntil(
  what: string,
  server: ServerProcess,
  probe: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      throw new Error(`${what} exited with code ${server.child.exitCode}; see ${server.logFile}`);
    }
    if (await probe().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms; see ${server.logFile}`);
}

/** Runs a command to completion, rejecting with its output when it fails. */
export async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("error", (err) => reject(new Error(`${cmd} could not start: ${err.message}`)));
    child.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} failed (${code}):\n${out.slice(-2000)}`)),
    );
  });
}
