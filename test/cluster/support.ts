// A Labelport stack on clusters: a 3-member MongoDB replica set, a 3-node NATS cluster with
// 3-replica streams, two orchestrator processes and plugin worker processes, all on loopback.
// Fault tests kill, pause and step down single nodes of it.
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toJsonString } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AnnotationType,
  DatasetService,
  type Export,
  ExportService,
  ExportStatus,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import {
  type MongoReplicaSet,
  type NatsCluster,
  startMongoReplicaSet,
  startNatsCluster,
} from "../../scripts/stack/cluster.ts";
import { DATA_DIR } from "../../scripts/stack/index.ts";
import { type PluginProcess, startPluginProcess } from "../support/plugin-process.ts";
import { type ChildOrchestrator, ROOT, startOrchestratorProcess } from "../support/process.ts";

export const ECHO_PLUGIN = join(ROOT, "test", "fixtures", "echo-plugin");

export interface ClusterStack {
  mongo: MongoReplicaSet;
  nats: NatsCluster;
  storageRoot: string;
  orchestrators: ChildOrchestrator[];
  workers: PluginProcess[];
  /** Clients of orchestrator `i` (default: the first that is still running). */
  exports(i?: number): Client<typeof ExportService>;
  datasets(i?: number): Client<typeof DatasetService>;
  url(i?: number): string;
  startOrchestrator(): Promise<ChildOrchestrator>;
  /** Starts a plugin worker process of the echo plugin, or of `plugin` (a path or package name). */
  startWorker(plugin?: string): Promise<PluginProcess>;
  close(): Promise<void>;
}

export async function startClusterStack({ orchestrators = 2, workers = 2 } = {}): Promise<ClusterStack> {
  const dir = join(DATA_DIR, "test-runs", `cluster-${randomUUID().slice(0, 8)}`);
  const [mongo, nats] = await Promise.all([
    startMongoReplicaSet({ dir: join(dir, "mongo"), dataDir: DATA_DIR }),
    startNatsCluster({ dir: join(dir, "nats"), dataDir: DATA_DIR }),
  ]);
  const storageRoot = mkdtempSync(join(tmpdir(), "labelport-cluster-"));
  const env = {
    MONGODB_URL: mongo.url,
    MONGODB_DB: "labelport",
    NATS_URL: nats.url,
    NATS_STREAM_REPLICAS: "3",
    STORAGE_LOCAL_ROOT: storageRoot,
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    // Both orchestrators sign download links alike, as behind one load balancer.
    SIGNING_SECRET: "cluster-test-signing-secret",
  };
  const running: ChildOrchestrator[] = [];
  const plugins: PluginProcess[] = [];
  const alive = (i?: number) => {
    const o =
      i === undefined ? running.find((r) => r.child.exitCode === null && r.child.signalCode === null) : running[i];
    if (!o) throw new Error("no orchestrator is running");
    return o;
  };
  const transport = (url: string) => createConnectTransport({ baseUrl: url, httpVersion: "1.1" });
  const stack: ClusterStack = {
    mongo,
    nats,
    storageRoot,
    orchestrators: running,
    workers: plugins,
    exports: (i) => createClient(ExportService, transport(alive(i).url)),
    datasets: (i) => createClient(DatasetService, transport(alive(i).url)),
    url: (i) => alive(i).url,
    async startOrchestrator() {
      const o = await startOrchestratorProcess(env, 120_000);
      running.push(o);
      return o;
    },
    async startWorker(plugin = ECHO_PLUGIN) {
      const w = await startPluginProcess(plugin, { NATS_URL: nats.urlFor("plugin"), ACK_WAIT_MS: "5000" });
      plugins.push(w);
      return w;
    },
    async close() {
      for (const p of [...plugins, ...running]) {
        p.child.kill("SIGCONT");
        p.child.kill("SIGKILL");
      }
      for (const n of [...mongo.members, ...nats.nodes]) n.resume();
      await Promise.all([mongo.stop(), nats.stop()]);
      rmSync(storageRoot, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < orchestrators; i++) await stack.startOrchestrator();
    for (let i = 0; i < workers; i++) await stack.startWorker();
    await waitFor(async () => (await stack.exports().listFormats({})).plugins.some((p) => p.formats.includes("echo")));
  } catch (err) {
    await stack.close();
    throw err;
  }
  return stack;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 60_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `count` approved images with two boxes each, as one lossless item JSONL upload. */
export function itemLines(count: number, prefix = "item"): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${String(i).padStart(6, "0")}`;
    const item = create(ItemSchema, {
      id,
      kind: ItemKind.IMAGE,
      status: ItemStatus.APPROVED,
      split: i % 5 === 0 ? "val" : "train",
      media: { uri: `media/${id}.jpg`, fileName: `${id}.jpg`, width: 640, height: 480 },
      annotations: [1, 2].map((n) => ({
        id: `${id}-a${n}`,
        type: AnnotationType.BBOX,
        categoryId: n,
        geometry: { case: "bbox" as const, value: { x: 10 * n, y: 20, width: 30, height: 40 } },
      })),
    });
    lines.push(toJsonString(ItemSchema, item));
  }
  return `${lines.join("\n")}\n`;
}

/** POST /api/import of item lines; resolves with the status and body, or the network error's message. */
export async function importItems(
  baseUrl: string,
  datasetId: string,
  text: string,
): Promise<{ status: number; body: Record<string, unknown> } | { error: string }> {
  const form = new FormData();
  form.set("file", new Blob([text]), "items.jsonl");
  try {
    const res = await fetch(`${baseUrl}/api/import?datasetId=${encodeURIComponent(datasetId)}&format=labelport-items`, {
      method: "POST",
      body: form,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Polls the export (through any running orchestrator) until it ends. */
export async function waitForEnd(stack: ClusterStack, exportId: string, timeoutMs = 180_000): Promise<Export> {
  let last: Export | undefined;
  await waitFor(
    async () => {
      last = (await stack.exports().getExport({ exportId })).export;
      return [ExportStatus.COMPLETED, ExportStatus.FAILED, ExportStatus.CANCELED].includes(last?.status ?? 0);
    },
    timeoutMs,
    `export ${exportId} to end`,
  );
  return last as Export;
}

/** Resolves when the export has processed at least `items` items. */
export async function waitForProgress(stack: ClusterStack, exportId: string, items: bigint): Promise<void> {
  let last: Export | undefined;
  await waitFor(
    async () => {
      last = (await stack.exports().getExport({ exportId })).export;
      return (last?.progress?.processedItems ?? 0n) >= items;
    },
    120_000,
    `export ${exportId} to reach ${items} items`,
  ).catch((err: Error) => {
    // Where it stuck: queued (no worker took it), running without progress, or ended.
    const state = `status ${ExportStatus[last?.status ?? 0]}, attempts ${last?.attempts}, ${last?.progress?.processedItems} items, "${last?.errorMessage}"`;
    throw new Error(`${err.message} (${state})`);
  });
}

export const artifactHashes = (e: Export | undefined) => e?.artifacts.map((a) => [a.key, a.sha256]);

/** Adds a fault's time to recover to .data/cluster-recovery.json (kept across test files) and prints it. */
export function recordRecovery(fault: string, ms: number): void {
  const file = join(DATA_DIR, "cluster-recovery.json");
  mkdirSync(DATA_DIR, { recursive: true });
  const recoveries = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, number>) : {};
  recoveries[fault] = ms;
  writeFileSync(file, `${JSON.stringify(recoveries, null, 2)}\n`);
  console.log(`recovery after ${fault}: ${ms} ms`);
}

/** A worker's JSON log lines about one export (a line still being written is skipped). */
export function workerLog(worker: PluginProcess, exportId: string): Record<string, unknown>[] {
  return worker
    .output()
    .split("\n")
    .filter((line) => line.includes(`"exportId":"${exportId}"`))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
