// Runs the real orchestrator entry point as a child process (for crash, signal and config tests).
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface ChildOrchestrator {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnOrchestrator(env: Record<string, string>): {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "services/orchestrator/src/main.ts")], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** Starts the orchestrator process and resolves once it prints `listening on <url>`. */
export async function startOrchestratorProcess(
  env: Record<string, string>,
  timeoutMs = 30_000,
): Promise<ChildOrchestrator> {
  const proc = spawnOrchestrator(env);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no 'listening on' within ${timeoutMs} ms:\n${proc.output()}`)),
      timeoutMs,
    );
    const check = () => {
      const match = proc.output().match(/listening on (\S+)/);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    proc.child.stdout?.on("data", check);
    proc.exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`orchestrator exited with ${code}:\n${proc.output()}`));
    });
  });
  return { ...proc, url };
}
