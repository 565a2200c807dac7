// `npm run build -w @labelport/sdk`: the publishable package in dist-package/ (git-ignored; `npm
// pack sdk/dist-package`), or in the folder given as argument (tests build their own). The
// workspace runs the TypeScript sources; the package ships tsc's JavaScript and declarations under
// dist/, the bins, a README and a package.json of its own whose exports name the built files, with
// the same subpaths as the workspace's.
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const sdkDir = dirname(fileURLToPath(import.meta.url));

/** Published subpaths and their module under src/ (without extension). */
const PUBLISHED_ENTRIES = {
  ".": "index",
  "./client": "client/client",
  "./contracts": "contracts",
  "./grpc-contracts": "grpc-contracts",
  "./testing": "testing/index",
  "./runtime": "runtime/index",
  "./plugin-cli": "runtime/plugin-cli",
};

/** Workspace-only dependencies: tsx runs the sources, which the package does not ship. */
const WORKSPACE_ONLY_DEPENDENCIES = ["tsx"];

/**
 * tsc rewrites the sources' "./x.ts" imports to "./x.js" in JavaScript but keeps them in
 * declarations, which a consumer's tsconfig without allowImportingTsExtensions rejects.
 */
function rewriteDeclarationImports(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) rewriteDeclarationImports(path);
    else if (name.endsWith(".d.ts")) {
      const text = readFileSync(path, "utf8");
      writeFileSync(path, text.replace(/((?:from |import\()"\.{1,2}\/[^"]*)\.ts"/g, '$1.js"'));
    }
  }
}

function publishedManifest() {
  const workspace = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8"));
  const dependencies = Object.fromEntries(
    Object.entries(workspace.dependencies).filter(([name]) => !WORKSPACE_ONLY_DEPENDENCIES.includes(name)),
  );
  const exports = Object.fromEntries(
    Object.entries(PUBLISHED_ENTRIES).map(([subpath, module]) => [
      subpath,
      { types: `./dist/${module}.d.ts`, default: `./dist/${module}.js` },
    ]),
  );
  const vitest = JSON.parse(readFileSync(join(sdkDir, "../package.json"), "utf8")).devDependencies.vitest;
  return {
    name: workspace.name,
    version: workspace.version,
    description: workspace.description,
    license: workspace.license,
    type: "module",
    engines: workspace.engines,
    exports,
    types: "./dist/index.d.ts",
    bin: workspace.bin,
    files: ["dist", "bin", "README.md"],
    dependencies,
    peerDependencies: { vitest },
    peerDependenciesMeta: { vitest: { optional: true } },
  };
}

/** Builds the package into `stagingDir` (emptied first); returns it. */
export function build(stagingDir = join(sdkDir, "dist-package")) {
  const distDir = join(stagingDir, "dist");
  rmSync(stagingDir, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = join(sdkDir, "tsconfig.build.json");
  execFileSync(process.execPath, [tsc, "-p", project, "--outDir", distDir], { stdio: "inherit" });
  rewriteDeclarationImports(distDir);
  cpSync(join(sdkDir, "bin"), join(stagingDir, "bin"), { recursive: true });
  cpSync(join(sdkDir, "README.md"), join(stagingDir, "README.md"));
  writeFileSync(join(stagingDir, "package.json"), `${JSON.stringify(publishedManifest(), null, 2)}\n`);
  return stagingDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const stagingDir = build(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(`built ${stagingDir} (npm pack it to publish)\n`);
}
