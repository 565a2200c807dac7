// The Python client (clients/python): its generated code is what grpcio-tools generates from
// proto/ now, it installs with pip, and its pytest suite passes against a live orchestrator with
// API keys and coco and echo exporters attached.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, expect, it } from "vitest";
import EchoExporter from "./fixtures/echo-plugin/index.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { ROOT } from "./support/process.ts";
import { ensureVenv } from "./support/python.ts";

const exec = promisify(execFile);
const CLIENT_DIR = join(ROOT, "clients", "python");
const GENERATED_DIR = join(CLIENT_DIR, "src", "labelport", "v1");
const KEYS = { admin: "py-admin-key-0123", editor: "py-editor-key-0123", viewer: "py-viewer-key-0123" };
const API_KEYS = Object.entries(KEYS)
  .map(([role, key]) => `${role}:${role}:${key}`)
  .join(",");

const scratch = mkdtempSync(join(tmpdir(), "labelport-python-client-"));
const storageRoot = join(scratch, "storage");
let python: string;
let stack: JobStack;
let nats: NatsConnection;
const workers: Worker[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  // grpcio-tools (which brings grpcio and protobuf), pytest and hatchling, once per requirements hash.
  python = await ensureVenv(join(ROOT, ".data", "venv-python-client"), join(CLIENT_DIR, "requirements-dev.txt"));
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot, API_KEYS }, KEYS.admin);
  nats = await connect(natsConnectOptions(stack.nats.url));
  workers.push(await startWorker({ nats, exporter: (await import("@labelport/plugin-coco")).default, log: quiet }));
  // One delivery: a failing job fails at once instead of after retries with backoff.
  workers.push(await startWorker({ nats, exporter: EchoExporter, maxDeliver: 1, log: quiet }));
  const deadline = Date.now() + 20_000;
  while ((await stack.exports.listFormats({})).plugins.length < 2) {
    if (Date.now() > deadline) throw new Error("plugins did not register");
    await sleep(100);
  }
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function generatedFiles(dir: string): Map<string, string> {
  const names = readdirSync(dir).filter((name) => /_pb2(_grpc)?\.pyi?$/.test(name));
  return new Map(names.map((name) => [name, readFileSync(join(dir, name), "utf8")]));
}

it("the committed Python code is what clients/python/tools/generate.py generates now", async () => {
  const out = join(scratch, "gen");
  await exec(python, [join(CLIENT_DIR, "tools", "generate.py"), out]);
  const fresh = generatedFiles(join(out, "labelport", "v1"));
  const committed = generatedFiles(GENERATED_DIR);
  expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
  for (const [name, text] of fresh) {
    expect(committed.get(name), `clients/python/src/labelport/v1/${name} is stale: run tools/generate.py`).toBe(text);
  }
});

it("pip installs clients/python and its pytest suite passes against the live service", async () => {
  // A private target directory: parallel runs never reinstall into each other's site-packages.
  const target = join(scratch, "site");
  await exec(
    python,
    ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps", "--no-build-isolation"].concat([
      "--target",
      target,
      CLIENT_DIR,
    ]),
    { maxBuffer: 16 * 1024 * 1024 },
  );
  const result = await exec(
    python,
    ["-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", scratch, join(CLIENT_DIR, "tests")],
    {
      cwd: scratch,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        ...process.env,
        PYTHONPATH: target,
        PYTHONDONTWRITEBYTECODE: "1",
        LABELPORT_URL: stack.orchestrator.url,
        LABELPORT_API_KEY: KEYS.admin,
        LABELPORT_EDITOR_KEY: KEYS.editor,
        LABELPORT_VIEWER_KEY: KEYS.viewer,
      },
    },
  ).catch((err: { code?: number; stdout?: string; stderr?: string }) => err);
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  console.log(output.trim().split("\n").at(-1));
  expect("code" in result ? result.code : 0, output).toBe(0);
}, 180_000);
