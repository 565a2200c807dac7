// Repository checks that are part of the suite: contracts lint clean, no breaking change against
// main, generated code current, lint and type check clean.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "./support/process.ts";

const exec = promisify(execFile);
const bin = (name: string) => join(ROOT, "node_modules", ".bin", name);
const run = (cmd: string, args: string[]) => exec(cmd, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 });

const tmp = mkdtempSync(join(tmpdir(), "labelport-gen-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  return out;
}

it("buf lint passes on the contracts", async () => {
  await run(bin("buf"), ["lint"]);
});

it("the contracts have no breaking change against main", async () => {
  const main = await run("git", ["rev-parse", "--verify", "--quiet", "refs/heads/main"]).catch(() => undefined);
  const against = main ? ".git#branch=main" : ".git#ref=HEAD";
  await run(bin("buf"), ["breaking", "--against", against]);
});

it("the committed generated code is what buf generates now", async () => {
  const template = JSON.stringify({
    version: "v2",
    plugins: [{ local: bin("protoc-gen-es"), out: tmp, opt: ["target=ts", "import_extension=ts"] }],
  });
  await run(bin("buf"), ["generate", "--template", template]);
  const fresh = files(tmp);
  const committed = files(join(ROOT, "sdk", "src", "gen"));
  expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
  for (const [path, text] of fresh) {
    expect(committed.get(path), `sdk/src/gen/${path} is stale: run npm run generate`).toBe(text);
  }
});

it("biome finds no lint or format errors", async () => {
  await run(bin("biome"), ["check", "."]);
});

it("the TypeScript type check passes", async () => {
  await run(bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]);
});
