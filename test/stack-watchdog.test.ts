// A server of the local stack does not outlive the process that started it: a test run killed by a
// timeout, or `npm start` killed with SIGKILL, leaves no mongod or nats-server behind.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "./support/process.ts";

const dir = mkdtempSync(join(tmpdir(), "labelport-watchdog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it("stops a server once the process that started it is killed", async () => {
  const script = `import { startServer } from "./scripts/stack/processes.ts";
const server = startServer("sleeper", "sleep", ["600"], ${JSON.stringify(dir)});
console.log(server.child.pid);
setInterval(() => {}, 1000);`;
  const parent = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const serverPid = await new Promise<number>((resolve, reject) => {
    parent.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    parent.once("exit", () => reject(new Error("the parent exited before starting its server")));
  });
  expect(alive(serverPid)).toBe(true);
  parent.kill("SIGKILL");
  const deadline = Date.now() + 60_000;
  while (alive(serverPid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  expect(alive(serverPid), `server ${serverPid} still running a minute after its parent was killed`).toBe(false);
}, 90_000);
