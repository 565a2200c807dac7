// `npm start` as a user on a plain machine runs it: no Go on PATH, no .data/ yet.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "./support/process.ts";

const dataDir = mkdtempSync(join(tmpdir(), "labelport-cold-"));
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((resolve) => child?.once("exit", resolve));
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** PATH without any directory holding `go`, plus the tools the bootstrap does use. */
function pathWithoutGo(): string {
  const shims = join(dataDir, "shims");
  mkdirSync(shims);
  for (const tool of ["node", "npm", "python3"]) {
    symlinkSync(execFileSync("which", [tool], { encoding: "utf8" }).trim(), join(shims, tool));
  }
  const dirs = (process.env.PATH ?? "").split(delimiter).filter((dir) => dir && !existsSync(join(dir, "go")));
  return [shims, ...dirs].join(delimiter);
}

it("starts a healthy service from a cold data directory without Go, says what it runs, and stops on SIGTERM", async () => {
  const env: NodeJS.ProcessEnv = {
    PATH: pathWithoutGo(),
    HOME: process.env.HOME ?? "",
    LABELPORT_DATA_DIR: dataDir,
    PORT: "0",
  };
  expect(() => execFileSync("go", ["version"], { env, stdio: "ignore" })).toThrow();
  const started = Date.now();
  const proc = spawn(process.execPath, ["scripts/bootstrap.mjs", "start"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = proc;
  let output = "";
  proc.stdout?.on("data", (d) => {
    output += d;
  });
  proc.stderr?.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = output.match(/listening on (\S+)/);
      if (match?.[1]) resolve(match[1]);
    };
    proc.stdout?.on("data", check);
    exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  const coldStartMs = Date.now() - started;
  expect((await fetch(`${url}/healthz`)).status).toBe(200);
  expect(output).toContain(`web console                ${url}/`);
  expect(output).toMatch(/NATS +nats:\/\/127\.0\.0\.1:\d+ \(users orchestrator, plugin, trigger/);
  expect(output).not.toMatch(/nats:\/\/[^ ]*:[^ ]*@/); // no password on the screen
  expect(output).toMatch(
    /attach a plugin +NATS_URL="\$\(cat .*plugin\.url\)" node sdk\/bin\/labelport-plugin\.mjs run/,
  );
  expect(output).toContain(`exports                    local disk, ${join(dataDir, "storage")}`);
  expect(output).toMatch(/authentication +off, loopback only; to turn it on set API_KEYS=/);
  expect(existsSync(join(dataDir, "bin", "nats-server"))).toBe(true);
  console.log(`cold start without Go: ${coldStartMs} ms`);
  proc.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 300_000);
