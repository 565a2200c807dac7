// Runs the real `labelport` CLI binary (sdk/bin/labelport.mjs) as a user would, against a server.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./process.ts";

export const CLI = join(ROOT, "sdk", "bin", "labelport.mjs");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `labelport <args>` with LABELPORT_URL set to `url` and the API key given (none when omitted). */
export function runCli(args: string[], options: { url: string; apiKey?: string }): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, LABELPORT_URL: options.url };
    if (options.apiKey) env.LABELPORT_API_KEY = options.apiKey;
    else delete env.LABELPORT_API_KEY;
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

const shellQuote = (arg: string) => `'${arg.replaceAll("'", `'\\''`)}'`;

/**
 * `labelport <args>` on a pseudo-terminal (util-linux `script`), as a person at a terminal runs it:
 * stdout is a TTY, so colour applies unless `env` sets NO_COLOR. Output lines end in \r\n.
 */
export function runCliInTerminal(
  args: string[],
  options: { url: string; apiKey?: string; env?: NodeJS.ProcessEnv },
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...options.env,
      LABELPORT_URL: options.url,
      TERM: "xterm-256color",
    };
    if (options.apiKey) env.LABELPORT_API_KEY = options.apiKey;
    else delete env.LABELPORT_API_KEY;
    // Only what the caller asks for decides colour, not the test runner's environment.
    if (options.env?.NO_COLOR === undefined) delete env.NO_COLOR;
    delete env.FORCE_COLOR;
    delete env.NODE_DISABLE_COLORS;
    // Node gives a terminal under CI=true (as .ci/run sets it) only 2 colours: a person's terminal has no CI.
    delete env.CI;
    const command = [process.execPath, CLI, ...args].map(shellQuote).join(" ");
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}
