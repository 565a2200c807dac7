// The stack as clusters on loopback, from the same binaries as the single-node stack: a MongoDB
// replica set and a NATS cluster with JetStream. For fault tests and `LABELPORT_STACK=cluster`;
// each node can be killed, paused and started again on its own ports and data.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { connect } from "nats";
import { natsConnectOptions } from "../../sdk/src/runtime/nats-connection.ts";
import { ensureMongod, ensureNatsServer } from "./binaries.ts";
import { type NatsUserName, type NatsUsers, natsUrlFor, natsUsers, writeNatsConfig } from "./nats-auth.ts";
import { freePort, type ServerProcess, startServer, waitUntil } from "./processes.ts";

export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  /** The running process; replaced by `start()`. */
  readonly process: ServerProcess;
  /** SIGKILL: no shutdown, as a crashed machine. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: the node is there but answers nothing, as behind a partition. */
  pause(): void;
  resume(): void;
  /** Starts the node again on the same port and data (after `kill`). */
  start(): Promise<void>;
}

export interface ClusterOptions {
  /** Data directory of the cluster (one sub-directory per node). */
  dir: string;
  /** Where binaries are installed (.data). */
  dataDir: string;
  /** Nodes (default 3). */
  size?: number;
}

function node(name: string, port: number, launch: () => ServerProcess, ready: (p: ServerProcess) => Promise<void>) {
  let proc = launch();
  const self: ClusterNode = {
    name,
    port,
    get process() {
      return proc;
    },
    async kill() {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.child.once("close", () => resolve()));
      proc.child.kill("SIGCONT");
      proc.child.kill("SIGKILL");
      await exited;
    },
    pause() {
      proc.child.kill("SIGSTOP");
    },
    resume() {
      proc.child.kill("SIGCONT");
    },
    async start() {
      await self.kill();
      proc = launch();
      await ready(proc);
    },
  };
  return { self, ready: () => ready(proc) };
}

export interface MongoReplicaSet {
  /** `mongodb://host1,host2,host3/?replicaSet=rs0`. */
  readonly url: string;
  readonly members: ClusterNode[];
  /** The member that is primary now (waits for an election to finish). */
  primary(timeoutMs?: number): Promise<ClusterNode>;
  /** Asks the primary to step down (replSetStepDown), as an operator or a rolling upgrade does. */
  stepDown(seconds?: number): Promise<ClusterNode>;
  stop(): Promise<void>;
}

/**
 * A MongoDB replica set of `size` members. Elections are tuned for tests (2 s election timeout,
 * heartbeats every 500 ms); production keeps MongoDB's defaults (docs/deploy.md).
 */
export async function startMongoReplicaSet(options: ClusterOptions): Promise<MongoReplicaSet> {
  const bin = await ensureMongod(options.dataDir);
  const size = options.size ?? 3;
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const direct = (port: number) => `mongodb://127.0.0.1:${port}/?directConnection=true&serverSelectionTimeoutMS=2000`;
  const withClient = async <T>(port: number, use: (c: MongoClient) => Promise<T>): Promise<T> => {
    const client = new MongoClient(direct(port));
    try {
      return await use(client);
    } finally {
      await client.close();
    }
  };
  const members = ports.map((port, i) => {
    const dir = join(options.dir, `mongo-${i}`);
    const dbPath = join(dir, "db");
    mkdirSync(dbPath, { recursive: true });
    const launch = () =>
      startServer(
        "mongod",
        bin,
        [
          ...["--replSet", "rs0", "--bind_ip", "127.0.0.1", "--port", String(port), "--dbpath", dbPath],
          ...["--wiredTigerCacheSizeGB", "0.25", "--setParameter", "diagnosticDataCollectionEnabled=false"],
        ],
        dir,
      );
    return node(`mongo-${i}`, port, launch, (proc) =>
      waitUntil(`mongod ${i}`, proc, () =>
        withClient(port, async (c) => (await c.db("admin").command({ ping: 1 })).ok === 1),
      ),
    );
  });
  const nodes = members.map((m) => m.self);
  const stop = () => Promise.all(nodes.map((n) => n.process.stop())).then(() => undefined);
  try {
    await Promise.all(members.map((m) => m.ready()));
    await withClient(ports[0] as number, async (c) => {
      try {
        await c.db("admin").command({
          replSetInitiate: {
            _id: "rs0",
            members: ports.map((port, i) => ({ _id: i, host: `127.0.0.1:${port}` })),
            settings: { electionTimeoutMillis: 2000, heartbeatIntervalMillis: 500 },
          },
        });
      } catch (err) {
        if ((err as { code?: number }).code !== 23) throw err;
      }
    });
    const primary = async (timeoutMs = 60_000): Promise<ClusterNode> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const n of nodes) {
          const writable = await withClient(n.port, async (c) => {
            const hello = await c.db("admin").command({ hello: 1 });
            return hello.isWritablePrimary === true;
          }).catch(() => false);
          if (writable) return n;
        }
        if (Date.now() > deadline) throw new Error(`no MongoDB primary within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    await primary();
    // Every member caught up, so any of them can be elected when a test kills the primary.
    await waitUntilAllSecondariesReady(ports, withClient);
    return {
      url: `mongodb://${ports.map((p) => `127.0.0.1:${p}`).join(",")}/?replicaSet=rs0`,
      members: nodes,
      primary,
      async stepDown(seconds = 10) {
        const old = await primary();
        await withClient(old.port, (c) =>
          c.db("admin").command({ replSetStepDown: seconds, secondaryCatchUpPeriodSecs: 5 }),
        ).catch((err: { code?: number }) => {
          // The primary drops its connections as it steps down; the command's own answer may be lost.
          if (err.code !== undefined && err.code !== 91 && err.code !== 189) throw err;
        });
        return old;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function waitUntilAllSecondariesReady(
  ports: number[],
  withClient: <T>(port: number, use: (c: MongoClient) => Promise<T>) => Promise<T>,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const states = await withClient(ports[0] as number, async (c) => {
      const status = await c.db("admin").command({ replSetGetStatus: 1 });
      return (status.members as { stateStr: string }[]).map((m) => m.stateStr);
    }).catch(() => []);
    if (states.length === ports.length && states.every((s) => s === "PRIMARY" || s === "SECONDARY")) return;
    if (Date.now() > deadline) throw new Error(`replica set members not ready: ${states.join(", ")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface NatsCluster {
  /** The orchestrator's URL listing every node (clients fail over between them). */
  readonly url: string;
  readonly nodes: ClusterNode[];
  readonly users: NatsUsers;
  /** NATS_URL for one of the users, listing every node. */
  urlFor(user: NatsUserName): string;
  stop(): Promise<void>;
}

/**
 * A NATS cluster of `size` nodes with JetStream (file store per node) and the same users as the
 * single server. Streams get their replicas from the orchestrator's `NATS_STREAM_REPLICAS`.
 */
export async function startNatsCluster(options: ClusterOptions): Promise<NatsCluster> {
  const bin = await ensureNatsServer(options.dataDir);
  const size = options.size ?? 3;
  mkdirSync(options.dir, { recursive: true });
  const users = natsUsers(options.dir);
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const urlFor = (user: NatsUserName) =>
    ports.map((port) => natsUrlFor(`nats://127.0.0.1:${port}`, users[user])).join(",");
  const probe = async (port: number) => {
    const nc = await connect({
      ...natsConnectOptions(natsUrlFor(`nats://127.0.0.1:${port}`, users.orchestrator)),
      reconnect: false,
      timeout: 1000,
    });
    try {
      // Answers once the JetStream meta group has a leader.
      await (await nc.jetstreamManager()).getAccountInfo();
      return true;
    } finally {
      await nc.close();
    }
  };
  const nodes = ports.map((port, i) => {
    const dir = join(options.dir, `nats-${i}`);
    const storeDir = join(dir, "jetstream");
    mkdirSync(storeDir, { recursive: true });
    const config = writeNatsConfig(dir, users, {
      server_name: `nats-${i}`,
      jetstream: { store_dir: storeDir },
      cluster: {
        name: "labelport",
        listen: `127.0.0.1:${routePorts[i]}`,
        routes: routePorts.filter((_, j) => j !== i).map((p) => `nats-route://127.0.0.1:${p}`),
      },
    });
    const launch = () => startServer("nats-server", bin, ["-c", config, "-a", "127.0.0.1", "-p", String(port)], dir);
    return node(`nats-${i}`, port, launch, (proc) => waitUntil(`nats-server ${i}`, proc, () => probe(port), 60_000));
  });
  const all = nodes.map((n) => n.self);
  const stop = () => Promise.all(all.map((n) => n.process.stop())).then(() => undefined);
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    return { url: urlFor("orchestrator"), nodes: all, users, urlFor, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
