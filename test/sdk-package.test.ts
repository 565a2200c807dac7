// @labelport/sdk as a plugin author gets it from npm: built (sdk/build.mjs), packed, installed from
// the tarball into an empty package outside the workspace, a plugin type-checked and compiled
// with tsc's default tsconfig, and run with plain node through the package's labelport-plugin bin
// against a live stack until an export of its format completes.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExportStatus } from "@labelport/sdk/contracts";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";
import { ROOT } from "./support/process.ts";

const SDK_DIR = join(ROOT, "sdk");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");

const PLUGIN_SOURCE = `import { BaseExporter, type ExportContext, z } from "@labelport/sdk";

const options = z.strictObject({ pretty: z.boolean().default(false) });
type Options = z.output<typeof options>;

export default class LabelmeExporter extends BaseExporter<Options> {
  static override manifest = { name: "labelme", version: "1.0.0", formats: ["labelme"], sdk: "^0.1.0" };
  readonly options = options;

  async export(ctx: ExportContext<Options>): Promise<void> {
    for await (const item of ctx.items()) {
      const shapes = item.annotations.map((a) => ({ label: a.categoryId, type: a.type }));
      await ctx.storage.writeJson(\`\${item.id}.json\`, { imagePath: item.media?.fileName, shapes });
      ctx.progress(1, item.annotations.length);
    }
  }
}
`;

let workDir: string;
let pluginDir: string;
let tarball: string;
let packedFiles: string[];

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `tsc --init` as a plugin author runs it (module nodenext, strict, skipLibCheck...), plus src -> dist. */
function defaultTsconfig(dir: string): void {
  run(process.execPath, [TSC, "--init"], dir);
  const path = join(dir, "tsconfig.json");
  const { config, error } = ts.parseConfigFileTextToJson(path, readFileSync(path, "utf8"));
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, "\n"));
  config.compilerOptions = { ...config.compilerOptions, rootDir: "src", outDir: "dist" };
  writeFileSync(path, JSON.stringify(config, null, 2));
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), "labelport-sdk-package-"));
  // Its own staging folder, so parallel runs never share sdk/dist-package.
  const stagingDir = join(workDir, "staging");
  run(process.execPath, [join(SDK_DIR, "build.mjs"), stagingDir], SDK_DIR);
  const [packed] = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", workDir], stagingDir)) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarball = join(workDir, packed?.filename ?? "");
  packedFiles = packed?.files.map((f) => f.path) ?? [];
  pluginDir = join(workDir, "labelme-exporter");
  mkdirSync(join(pluginDir, "src"), { recursive: true });
  writeFileSync(
    join(pluginDir, "package.json"),
    JSON.stringify({ name: "labelme-exporter", version: "1.0.0", type: "module", main: "dist/index.js" }),
  );
  writeFileSync(join(pluginDir, "src/index.ts"), PLUGIN_SOURCE);
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball, "@types/node@20", "tsx@4"], pluginDir);
  defaultTsconfig(pluginDir);
}, 240_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("the published @labelport/sdk package", () => {
  it("ships built JavaScript, declarations, the bins and a README, and no TypeScript sources", () => {
    const files = packedFiles;
    expect(files).toContain("README.md");
    expect(files).toContain("dist/index.js");
    expect(files).toContain("dist/index.d.ts");
    expect(files).toContain("bin/labelport-plugin.mjs");
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    const installed = JSON.parse(readFileSync(join(pluginDir, "node_modules/@labelport/sdk/package.json"), "utf8"));
    const workspace = JSON.parse(readFileSync(join(SDK_DIR, "package.json"), "utf8"));
    // The same subpaths as the workspace; vitest only for ./testing; tsx is the workspace's.
    expect(Object.keys(installed.exports).sort()).toEqual(Object.keys(workspace.exports).sort());
    expect(installed.peerDependenciesMeta.vitest.optional).toBe(true);
    expect(installed.dependencies.tsx).toBeUndefined();
    expect(installed.engines.node).toBe(">=20");
  });

  it("has a small root, with the runtime internals under ./runtime and the client under ./client", () => {
    const script = `
      const root = await import("@labelport/sdk");
      const runtime = await import("@labelport/sdk/runtime");
      const client = await import("@labelport/sdk/client");
      console.log(JSON.stringify({
        root: ["BaseExporter", "validateManifest", "z", "startWorker", "createStorage", "createLabelportClient"].filter((n) => n in root),
        runtime: typeof runtime.startWorker, client: typeof client.createLabelportClient,
      }));`;
    const names = JSON.parse(run(process.execPath, ["--input-type=module", "-e", script], pluginDir));
    expect(names).toEqual({ root: ["BaseExporter", "validateManifest", "z"], runtime: "function", client: "function" });
  });

  it("type-checks a plugin with tsc's default tsconfig", () => {
    expect(run(process.execPath, [TSC, "-p", pluginDir], pluginDir)).toBe("");
  }, 60_000);

  describe("with plain node against a live stack", () => {
    let stack: JobStack;
    let plugin: ChildProcess;
    let output = "";

    beforeAll(async () => {
      run(process.execPath, [TSC, "-p", pluginDir], pluginDir);
      stack = await startJobStack();
      plugin = spawn(process.execPath, [join(pluginDir, "node_modules/.bin/labelport-plugin"), "run", "."], {
        cwd: pluginDir,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NATS_URL: stack.nats.urlFor("plugin") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      plugin.stdout?.on("data", (d) => {
        output += d;
      });
      plugin.stderr?.on("data", (d) => {
        output += d;
      });
      for (let i = 0; i < 600 && !/serving/.test(output); i++) {
        if (plugin.exitCode !== null) throw new Error(`plugin exited with ${plugin.exitCode}:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(output).toMatch(/plugin labelme@1\.0\.0 serving labelme/);
    }, 120_000);

    afterAll(async () => {
      if (plugin && plugin.exitCode === null) {
        const exited = new Promise((resolve) => plugin.once("exit", resolve));
        plugin.kill("SIGTERM");
        await exited;
      }
      await stack?.close();
    });

    it("exports a dataset in the plugin's format", async () => {
      const datasetId = await seedDataset(stack, "sdk package", 5, "pkg");
      for (let i = 0; i < 600; i++) {
        const { plugins } = await stack.exports.listFormats({});
        if (plugins.some((p) => p.name === "labelme")) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const { export: created } = await stack.exports.createExport({ datasetId, format: "labelme" });
      let status: ExportStatus | undefined;
      for await (const { export: e } of stack.exports.watchExport({ exportId: created?.id ?? "" })) status = e?.status;
      expect(status, output).toBe(ExportStatus.COMPLETED);
    }, 120_000);

    it("runs a plugin whose entry is TypeScript through the plugin's own tsx", async () => {
      const tsPlugin = spawn(
        process.execPath,
        [join(pluginDir, "node_modules/.bin/labelport-plugin"), "run", "src/index.ts"],
        {
          cwd: pluginDir,
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NATS_URL: stack.nats.urlFor("plugin") },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let tsOutput = "";
      tsPlugin.stdout?.on("data", (d) => {
        tsOutput += d;
      });
      tsPlugin.stderr?.on("data", (d) => {
        tsOutput += d;
      });
      const exited = new Promise((resolve) => tsPlugin.once("exit", resolve));
      try {
        for (let i = 0; i < 600 && !/serving/.test(tsOutput) && tsPlugin.exitCode === null; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(tsOutput).toMatch(/plugin labelme@1\.0\.0 serving labelme/);
      } finally {
        tsPlugin.kill("SIGTERM");
        await exited;
      }
    }, 120_000);
  });
});
