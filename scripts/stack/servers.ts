// Starts real MongoDB, NATS (JetStream) and S3-compatible servers on loopback.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { connect } from "nats";
import { natsConnectOptions } from "../../sdk/src/runtime/nats-connection.ts";
import { ensureMongod, ensureNatsServer, ensureVersitygw } from "./binaries.ts";
import { type NatsUserName, type NatsUsers, natsUrlFor, natsUsers, writeNatsConfig } from "./nats-auth.ts";
import { freePort, type ServerProcess, startServer, waitUntil } from "./processes.ts";

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly process: ServerProcess;
  stop(): Promise<void>;
}

export interface ServerOptions {
  /** Data directory for this server (created). */
  dir: string;
  /** Where binaries are installed (.data). */
  dataDir: string;
  port?: number;
}

/** mongod as a single-node replica set, so transactions and change streams work. */
export async function startMongo(options: ServerOptions): Promise<RunningServer> {
  const bin = await ensureMongod(options.dataDir);
  const port = options.port ?? (await freePort());
  const dbPath = join(options.dir, "db");
  mkdirSync(dbPath, { recursive: true });
  const proc = startServer(
    "mongod",
    bin,
    [
      "--replSet",
      "rs0",
      "--bind_ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--dbpath",
      dbPath,
      "--wiredTigerCacheSizeGB",
      "1",
      "--setParameter",
      "diagnosticDataCollectionEnabled=false",
    ],
    options.dir,
  );
  const direct = `mongodb://127.0.0.1:${port}/?directConnection=true&serverSelectionTimeoutMS=2000`;
  const ping = async (check: (client: MongoClient) => Promise<boolean>) => {
    const client = new MongoClient(direct);
    try {
      return await check(client);
    } finally {
      await client.close();
    }
  };
  await waitUntil("mongod", proc, () => ping(async (c) => (await c.db("admin").command({ ping: 1 })).ok === 1));
  await ping(async (c) => {
    try {
      await c
        .db("admin")
        .command({ replSetInitiate: { _id: "rs0", members: [{ _id: 0, host: `127.0.0.1:${port}` }] } });
    } catch (err) {
      // Code 23: AlreadyInitialized, from an earlier run on the same data directory.
      if ((err as { code?: number }).code !== 23) throw err;
    }
    return true;
  });
  await waitUntil("mongod primary", proc, () =>
    ping(async (c) => (await c.db("admin").command({ hello: 1 })).isWritablePrimary === true),
  );
  return {
    url: `mongodb://127.0.0.1:${port}/?replicaSet=rs0`,
    port,
    process: proc,
    stop: () => proc.stop(),
  };
}

export interface RunningNats extends RunningServer {
  /** The orchestrator's URL: `nats://orchestrator:<password>@127.0.0.1:<port>`. */
  readonly url: string;
  /** The server without credentials (refused by it). */
  readonly bareUrl: string;
  readonly users: NatsUsers;
  /** NATS_URL for one of the users. */
  urlFor(user: NatsUserName): string;
}

/**
 * nats-server with JetStream, file store under the data directory, and users with passwords
 * (generated on first start, kept in the directory; see nats-auth.ts).
 */
export async function startNats(options: ServerOptions): Promise<RunningNats> {
  const bin = await ensureNatsServer(options.dataDir);
  const port = options.port ?? (await freePort());
  const storeDir = join(options.dir, "jetstream");
  mkdirSync(storeDir, { recursive: true });
  const users = natsUsers(options.dir);
  const configFile = writeNatsConfig(options.dir, users);
  const proc = startServer(
    "nats-server",
    bin,
    ["-c", configFile, "-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", String(port)],
    options.dir,
  );
  const bareUrl = `nats://127.0.0.1:${port}`;
  const urlFor = (user: NatsUserName) => natsUrlFor(bareUrl, users[user]);
  const url = urlFor("orchestrator");
  await waitUntil("nats-server", proc, async () => {
    const nc = await connect({ ...natsConnectOptions(url), reconnect: false, timeout: 1000 });
    try {
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  });
  return { url, bareUrl, users, urlFor, port, process: proc, stop: () => proc.stop() };
}

export interface RunningS3 extends RunningServer {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

/** versitygw (Apache-2.0 S3 gateway) over a POSIX directory: a real S3 API on loopback. */
export async function startS3(options: ServerOptions): Promise<RunningS3> {
  const bin = await ensureVersitygw(options.dataDir);
  const port = options.port ?? (await freePort());
  const root = join(options.dir, "s3");
  mkdirSync(root, { recursive: true });
  const accessKeyId = "labelport";
  const secretAccessKey = "labelport-secret";
  const proc = startServer(
    "versitygw",
    bin,
    ["--access", accessKeyId, "--secret", secretAccessKey, "--port", `127.0.0.1:${port}`, "posix", root],
    options.dir,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitUntil("versitygw", proc, async () => {
    const res = await fetch(url);
    return res.status > 0;
  });
  return { url, port, process: proc, stop: () => proc.stop(), accessKeyId, secretAccessKey, region: "us-east-1" };
}
