// Runs `labelport-plugin run <spec>` as a child process, as an operator would.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./process.ts";

export interface PluginProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

export async function startPluginProcess(spec: string, env: Record<string, string>): Promise<PluginProcess> {
  const child = spawn(process.execPath, [join(ROOT, "sdk/bin/labelport-plugin.mjs"), "run", spec], {
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
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`plugin did not start:\n${output}`)), 30_000);
    child.stdout?.on("data", () => {
      if (/serving/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`plugin exited with ${code}:\n${output}`));
    });
  });
  return { child, output: () => output, exited };
}
