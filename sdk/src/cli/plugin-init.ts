// `labelport-plugin init <name> [dir]`: a new exporter package whose tests pass as written, so a
// plugin author starts from a working export and changes it (docs/plugins.md walks through it).
import { existsSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { isFormatName } from "../manifest.ts";
import { SDK_VERSION } from "../version.ts";

export interface InitPluginOptions {
  /** The plugin's name and its one format: lowercase letters, digits and `-`. */
  name: string;
  /** Where to write the package (default ./<name>); must be empty or absent. */
  dir?: string;
  /** The @labelport/sdk dependency spec (default ^<this SDK's version>), e.g. file:../labelport/sdk. */
  sdkSpec?: string;
}

export class InitPluginError extends Error {
  override name = "InitPluginError";
}

/** Writes the package and returns its directory. */
export async function initPlugin({ name, dir, sdkSpec }: InitPluginOptions): Promise<string> {
  if (!isFormatName(name)) {
    throw new InitPluginError(
      `plugin name ${JSON.stringify(name)}: use lowercase letters, digits and -, at most 64 (it names the format too)`,
    );
  }
  const target = resolve(dir ?? name);
  if (existsSync(target) && readdirSync(target).length > 0) {
    throw new InitPluginError(`${target} is not empty: give another directory (labelport-plugin init ${name} <dir>)`);
  }
  const files = scaffoldFiles(name, sdkSpec ?? `^${SDK_VERSION}`);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(target, path, ".."), { recursive: true });
    await writeFile(join(target, path), text);
  }
  return target;
}

/** The package's files by relative path. */
export function scaffoldFiles(name: string, sdkSpec: string): Record<string, string> {
  const className = `${name
    .split("-")
    .filter(Boolean)
    .map((part) => part[0]?.toUpperCase() + part.slice(1))
    .join("")
    .replace(/^(\d)/, "X$1")}Exporter`;
  const packageJson = {
    name: `labelport-plugin-${name}`,
    version: "0.1.0",
    description: `Labelport exporter plugin for the ${name} format`,
    private: true,
    // The SDK is ES modules only: a CommonJS package cannot import it.
    type: "module",
    exports: { ".": "./src/index.ts" },
    scripts: { test: "vitest run", start: "labelport-plugin run .", typecheck: "tsc --noEmit" },
    // tsx: the published SDK's labelport-plugin runs this TypeScript entry through it.
    dependencies: { "@labelport/sdk": sdkSpec, tsx: "^4.20.0" },
    devDependencies: { typescript: "^5.9.0", vitest: "^3.2.0", "@types/node": "^20.0.0" },
    engines: { node: ">=20" },
  };
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "NodeNext",
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      types: ["node"],
    },
    include: ["src"],
  };
  return {
    "package.json": `${JSON.stringify(packageJson, null, 2)}\n`,
    "tsconfig.json": `${JSON.stringify(tsconfig, null, 2)}\n`,
    ".gitignore": "node_modules/\n",
    // Its own config, so vitest does not pick up one from a folder above (a monorepo's).
    "vitest.config.ts": `import { defineConfig } from "vitest/config";

export default defineConfig({ test: { include: ["src/**/*.test.ts"], testTimeout: 60_000 } });
`,
    "src/index.ts": `// The ${name} exporter: one JSON line per item with its boxes (edit export() for your format).
import { BaseExporter, type ExportContext, z } from "@labelport/sdk";

// Every option needs a default: an export without options must work. Unknown keys are refused.
const options = z.strictObject({
  /** Also write the category names to categories.json. */
  categories: z.boolean().default(true),
});

type Options = z.output<typeof options>;

export default class ${className} extends BaseExporter<Options> {
  static override manifest = {
    name: "${name}",
    version: "0.1.0",
    formats: ["${name}"],
    // The @labelport/sdk versions this plugin works with; checked when it loads.
    sdk: "^${SDK_VERSION}",
    description: "One JSON line per item with its boxes",
  };
  readonly options = options;

  async export(ctx: ExportContext<Options>): Promise<void> {
    const out = await ctx.storage.open("items.jsonl");
    for await (const item of ctx.items()) {
      // Stop soon after a cancel: the conformance kit allows 2 s.
      ctx.signal.throwIfAborted();
      const boxes = item.annotations.flatMap((annotation) =>
        annotation.geometry.case === "bbox"
          ? [{ category: annotation.categoryId, ...annotation.geometry.value }]
          : [],
      );
      if (boxes.length < item.annotations.length) ctx.note("only boxes are exported; other shapes are left out");
      await out.write(\`\${JSON.stringify({ id: item.id, file: item.media?.fileName ?? "", boxes })}\\n\`);
      if (ctx.export.saveOriginalFile && item.media?.uri) {
        await ctx.storage.copyMedia(item.media.uri, \`images/\${item.id}-\${item.media.fileName}\`);
      }
      ctx.progress(1, item.annotations.length);
    }
    await out.close();
    if (ctx.options.categories) {
      await ctx.storage.writeJson("categories.json", ctx.dataset.categories.map((c) => ({ id: c.id, name: c.name })));
    }
  }
}
`,
    "src/index.test.ts": `import { runSampleExport, testExporter } from "@labelport/sdk/testing";
import { describe, expect, it } from "vitest";
import ${className} from "./index.ts";

// The contract every plugin runs: manifest, options, a real export twice (same bytes), original
// media, stopping within 2 s of a cancel, progress, writing only through ctx.storage, memory.
testExporter(${className});

describe("${name} export", () => {
  it("writes one line per item", async () => {
    const run = await runSampleExport(${className});
    try {
      const lines = (await run.text("items.jsonl")).trim().split("\\n");
      expect(lines).toHaveLength(Number(run.result.counts.itemCount));
      expect(await run.files()).toContain("categories.json");
    } finally {
      await run.cleanup();
    }
  });
});
`,
    "README.md": `# labelport-plugin-${name}

A Labelport exporter plugin for the \`${name}\` format,
made with \`labelport-plugin init ${name}\`. The plugin author's guide is docs/plugins.md in the
Labelport repository.

\`\`\`sh
npm install
npm test                      # the SDK's conformance kit and this format's own tests
NATS_URL=nats://plugin:<password>@127.0.0.1:4222 npm start   # serve exports of format ${name}
\`\`\`

\`npm start\` in a Labelport checkout prints the NATS URL (with the \`plugin\` user's password;
it is also in \`.data/stack/nats/plugin.url\`). Once the plugin prints \`serving ${name}\`, an export
with \`format: "${name}"\` runs here.
`,
  };
}

/** The lines `init` prints: where the package is and what to run next. */
export function nextSteps(dir: string, name: string): string {
  const shown = relative(process.cwd(), dir) || ".";
  return [
    `created ${dir}`,
    "",
    "next:",
    `  cd ${shown}`,
    "  npm install",
    "  npm test",
    `  NATS_URL=<the plugin URL npm start prints> npx labelport-plugin run .   # serves format ${name}`,
    "",
  ].join("\n");
}
