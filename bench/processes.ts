// The measured processes: the orchestrator and one plugin process per format, each its own child
// (so /proc shows each one's memory), logging to files in the run's state directory.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");

/** Format -> built-in plugin package; each built-in is named after the format it serves. */
export const PLUGINS: Record<string, string> = Object.fromEntries(
  (JSON.parse(readFileSync(join(ROOT, "plugins", "builtin.json"), "utf8")) as string[]).map((name) => [
    name.replace("@labelport/plugin-", ""),
    name,
  ]),
);

export interface Child {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

interface SpawnOptions {
  name: string;
  args: string[];
  env: Record<string, string>;
  logDir: string;
  /** Resolves with the match once a line of stdout matches. */
  ready: RegExp;
  timeoutMs?: number;
}

async function spawnReady(options: SpawnOptions): Promise<{ child: Child; match: RegExpExecArray }> {
  mkdirSync(options.logDir, { recursive: true });
  const logFile = join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(process.execPath, options.args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.pipe(log, { end: false });
  child.stderr?.pipe(log, { end: false });
  const closed = new Promise<void>((done) => child.once("close", () => done()));
  closed.then(() => log.end());
  let stopping: Promise<void> | undefined;
  const handle: Child = {
    name: options.name,
    child,
    pid: child.pid ?? -1,
    logFile,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
          await closed;
          clearTimeout(timer);
        }
      })();
      return stopping;
    },
  };
  let seen = "";
  const match = await new Promise<RegExpExecArray>((done, fail) => {
    const timer = setTimeout(() => {
      void handle.stop(1000);
      fail(new Error(`${options.name} not ready in ${options.timeoutMs ?? 60_000} ms; see ${logFile}`));
    }, options.timeoutMs ?? 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (seen.length < 64 * 1024) seen += chunk.toString();
      const found = options.ready.exec(seen);
      if (found) {
        clearTimeout(timer);
        done(found);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${options.name} exited with code ${code} before it was ready; see ${logFile}`));
    });
  });
  return { child: handle, match };
}

/**
 * Node flags that write CPU profiles into `<dir>/<name>/` when the process exits: one per thread
 * (tsx's loader runs in a worker thread), so each process gets a folder of its own.
 */
export function profileFlags(dir: string | undefined, name: string): string[] {
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${join(dir, name)}`] : [];
}

export async function startOrchestratorChild(options: {
  mongoUrl: string;
  natsUrl: string;
  db: string;
  port: number;
  storageRoot: string;
  dataDir: string;
  logDir: string;
  profileDir?: string | undefined;
  profileName?: string;
}): Promise<Child & { url: string }> {
  const { child, match } = await spawnReady({
    name: "orchestrator",
    args: [
      ...profileFlags(options.profileDir, options.profileName ?? "orchestrator"),
      "--import",
      "tsx",
      join(ROOT, "services/orchestrator/src/main.ts"),
    ],
    env: {
      MONGODB_URL: options.mongoUrl,
      NATS_URL: options.natsUrl,
      MONGODB_DB: options.db,
      PORT: String(options.port),
      STORAGE_LOCAL_ROOT: options.storageRoot,
      DATA_DIR: options.dataDir,
      LOG_LEVEL: "warn",
    },
    logDir: options.logDir,
    ready: /listening on (\S+)/,
  });
  return Object.assign(child, { url: match[1] as string });
}

export async function startPluginChild(options: {
  format: string;
  natsUrl: string;
  logDir: string;
  profileDir?: string | undefined;
  profileName?: string;
  /** More environment (the media-copy case's LABELPORT_MEDIA_SOURCES and the credentials it names). */
  env?: Record<string, string>;
  /** The process's name and log file's stem (default `plugin-<format>`): two of one format need two. */
  name?: string;
}): Promise<Child> {
  const spec = PLUGINS[options.format];
  if (!spec) throw new Error(`no built-in plugin for format ${options.format}`);
  const { child } = await spawnReady({
    name: options.name ?? `plugin-${options.format}`,
    args: [
      ...profileFlags(options.profileDir, options.profileName ?? `plugin-${options.format}`),
      join(ROOT, "sdk/bin/labelport-plugin.mjs"),
      "run",
      spec,
    ],
    env: { NATS_URL: options.natsUrl, ...options.env },
    logDir: options.logDir,
    ready: /serving/,
  });
  return child;
}
