// The local stack: MongoDB and NATS from MONGODB_URL / NATS_URL, from Docker via testcontainers,
// or from binaries the project installs itself under .data/. Used by `npm start` and `npm test`.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { NatsUserName } from "./nats-auth.ts";
import { startMongo, startNats } from "./servers.ts";

export const ROOT = resolve(import.meta.dirname, "../..");
export const DATA_DIR = process.env.LABELPORT_DATA_DIR ?? join(ROOT, ".data");

export interface Stack {
  mongoUrl: string;
  /** With the orchestrator's credentials when the stack started nats-server itself. */
  natsUrl: string;
  /** NATS_URL per user of a nats-server this stack started; undefined for NATS_URL or Docker. */
  natsUrlFor: ((user: NatsUserName) => string) | undefined;
  /** Where each came from, for the start-up log. */
  sources: { mongo: string; nats: string };
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Data directory for server state (`.data/stack` for npm start, a fresh one for tests). */
  stateDir: string;
  /** Fixed ports keep a persistent replica-set config valid across restarts. */
  ports?: { mongo?: number; nats?: number };
}

function dockerAnswers(): boolean {
  return Boolean(process.env.DOCKER_HOST) || existsSync("/var/run/docker.sock");
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const stops: Array<() => Promise<void>> = [];
  const fromEnv = { mongo: process.env.MONGODB_URL, nats: process.env.NATS_URL };
  const useDocker = (!fromEnv.mongo || !fromEnv.nats) && dockerAnswers() && (await dockerWorks());

  const mongo = fromEnv.mongo
    ? Promise.resolve({ url: fromEnv.mongo, source: "MONGODB_URL" })
    : useDocker
      ? startMongoContainer(stops)
      : startMongo({ dir: join(options.stateDir, "mongo"), dataDir: DATA_DIR, ...portOf(options.ports?.mongo) }).then(
          (s) => {
            stops.push(s.stop);
            return { url: s.url, source: `mongod 6.0.5 (${s.process.logFile})` };
          },
        );
  const nats = fromEnv.nats
    ? Promise.resolve({ url: fromEnv.nats, source: "NATS_URL" })
    : useDocker
      ? startNatsContainer(stops)
      : startNats({ dir: join(options.stateDir, "nats"), dataDir: DATA_DIR, ...portOf(options.ports?.nats) }).then(
          (s) => {
            stops.push(s.stop);
            return { url: s.url, urlFor: s.urlFor, source: `nats-server with users (${s.process.logFile})` };
          },
        );
  const stopAll = async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
  try {
    const [m, n] = await Promise.all([mongo, nats]);
    return {
      mongoUrl: m.url,
      natsUrl: n.url,
      natsUrlFor: "urlFor" in n ? (n.urlFor as (user: NatsUserName) => string) : undefined,
      sources: { mongo: m.source, nats: n.source },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function portOf(port: number | undefined): { port?: number } {
  return port === undefined ? {} : { port };
}

async function dockerWorks(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startMongoContainer(stops: Array<() => Promise<void>>) {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer("mongo:7")
    .withCommand(["--replSet", "rs0", "--bind_ip_all"])
    .withExposedPorts(27017)
    .withWaitStrategy(Wait.forLogMessage(/Waiting for connections/))
    .start();
  stops.push(async () => {
    await container.stop();
  });
  await container.exec([
    "mongosh",
    "--quiet",
    "--eval",
    "rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})",
  ]);
  const url = `mongodb://${container.getHost()}:${container.getMappedPort(27017)}/?directConnection=true`;
  return { url, source: "testcontainers mongo:7" };
}

async function startNatsContainer(stops: Array<() => Promise<void>>) {
  const { GenericContainer, Wait } = await import("testcontainers");
  const container = await new GenericContainer("nats:2")
    .withCommand(["-js"])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  stops.push(async () => {
    await container.stop();
  });
  return { url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`, source: "testcontainers nats:2" };
}
