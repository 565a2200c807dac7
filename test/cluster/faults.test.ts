// Labelport's promises on clusters: with a MongoDB replica set and a NATS cluster (3-replica
// streams) under it, killing, pausing or stepping down one node in the middle of an export or an
// atomic import loses nothing. Every acknowledged export completes once with byte-identical
// artifacts, an atomic import is applied whole or not at all, no job stays stuck. Each fault's
// time to recover is printed and kept in .data/cluster-recovery.json.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ExportStatus } from "@labelport/sdk/contracts";
import { MongoClient } from "mongodb";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsConnectOptions } from "../../sdk/src/runtime/nats-connection.ts";
import type { PluginProcess } from "../support/plugin-process.ts";
import {
  artifactHashes,
  type ClusterStack,
  importItems,
  itemLines,
  recordRecovery,
  startClusterStack,
  waitFor,
  waitForEnd,
  waitForProgress,
  workerLog,
} from "./support.ts";

const ITEMS = 200;
/** Per item: slow enough that a fault lands mid-export on any machine, fast enough for CI. */
const DELAY_MS = 40;

let stack: ClusterStack;
let datasetId = "";
let reference: string[][] | undefined;

beforeAll(async () => {
  stack = await startClusterStack();
  const { dataset } = await stack
    .datasets()
    .createDataset({ name: "cluster", categories: [{ name: "car" }, { name: "person" }] });
  datasetId = dataset?.id ?? "";
  const imported = await importItems(stack.url(), datasetId, itemLines(ITEMS));
  expect(imported).toMatchObject({ status: 200 });
  const { export: first } = await stack.exports().createExport({ datasetId, format: "echo", options: { delayMs: 0 } });
  const done = await waitForEnd(stack, first?.id ?? "");
  expect(done.status).toBe(ExportStatus.COMPLETED);
  reference = artifactHashes(done);
}, 600_000);

afterAll(async () => {
  await stack?.close();
});

/** Starts a slow export, waits until it is under way, applies `fault`, then checks the outcome. */
async function exportThrough(fault: () => Promise<void>, name: string): Promise<void> {
  const { export: created } = await stack
    .exports()
    .createExport({ datasetId, format: "echo", options: { delayMs: DELAY_MS } });
  const id = created?.id ?? "";
  await waitForProgress(stack, id, 20n);
  const before = (await stack.exports().getExport({ exportId: id })).export?.progress?.processedItems ?? 0n;
  const started = Date.now();
  await fault();
  // Recovered: the job moves again (or has finished) as seen through the API.
  await waitFor(
    async () => {
      const e = (await stack.exports().getExport({ exportId: id })).export;
      return e?.status === ExportStatus.COMPLETED || (e?.progress?.processedItems ?? 0n) > before;
    },
    120_000,
    `export to move again after ${name}`,
  );
  recordRecovery(name, Date.now() - started);
  const final = await waitForEnd(stack, id);
  expect(final.status, final.errorMessage).toBe(ExportStatus.COMPLETED);
  expect(artifactHashes(final)).toEqual(reference);
}

async function streamLeader(stream: string): Promise<string> {
  const nc = await connect({ ...natsConnectOptions(stack.nats.url), name: "cluster-test" });
  try {
    const info = await (await nc.jetstreamManager()).streams.info(stream);
    return info.cluster?.leader ?? "";
  } finally {
    await nc.close();
  }
}

describe("NATS cluster", () => {
  it("keeps the job streams on three replicas", async () => {
    const nc = await connect({ ...natsConnectOptions(stack.nats.url), name: "cluster-test" });
    try {
      const jsm = await nc.jetstreamManager();
      for (const name of ["LABELPORT_JOBS", "LABELPORT_EVENTS", "LABELPORT_EXPORTS"]) {
        expect((await jsm.streams.info(name)).config.num_replicas, name).toBe(3);
      }
    } finally {
      await nc.close();
    }
  });

  it("finishes an export when the node leading the jobs stream is killed", async () => {
    let killed = "";
    await exportThrough(async () => {
      killed = await streamLeader("LABELPORT_JOBS");
      const node = stack.nats.nodes.find((n) => n.name === killed);
      expect(node, `leader ${killed}`).toBeDefined();
      await node?.kill();
    }, "NATS jobs-stream leader killed");
    await stack.nats.nodes.find((n) => n.name === killed)?.start();
  });

  it("finishes an export while one NATS node is partitioned (SIGSTOP) past the timeouts", async () => {
    const paused = stack.nats.nodes[0];
    try {
      await exportThrough(async () => {
        paused?.pause();
      }, "NATS node paused");
    } finally {
      paused?.resume();
    }
  });
});

describe("MongoDB replica set", () => {
  it("finishes an export when the primary is killed", async () => {
    let killed = "";
    await exportThrough(async () => {
      const primary = await stack.mongo.primary();
      killed = primary.name;
      await primary.kill();
    }, "MongoDB primary killed during an export");
    await stack.mongo.members.find((m) => m.name === killed)?.start();
  });

  it("finishes an export when the primary steps down", async () => {
    await exportThrough(async () => {
      await stack.mongo.stepDown();
    }, "MongoDB primary stepped down during an export");
  });

  it("finishes an export while the primary is partitioned (SIGSTOP) past the election timeout", async () => {
    const primary = await stack.mongo.primary();
    try {
      await exportThrough(async () => primary.pause(), "MongoDB primary paused during an export");
    } finally {
      primary.resume();
    }
  });

  it("applies an atomic import whole or not at all when the primary is killed in the middle", async () => {
    // The upload's boxes name categories 1 and 2: without them every annotation would be dropped.
    const { dataset } = await stack
      .datasets()
      .createDataset({ name: "import under failover", categories: [{ name: "car" }, { name: "person" }] });
    const target = dataset?.id ?? "";
    const count = 4000;
    const started = Date.now();
    const importing = importItems(stack.url(), target, itemLines(count, "fo"));
    // Kill the primary once the import has begun writing (its history record exists).
    const client = new MongoClient(stack.mongo.url);
    try {
      await waitFor(
        async () => (await client.db("labelport").collection("imports").countDocuments({ datasetId: target })) > 0,
        60_000,
        "import to start",
      );
      const primary = await stack.mongo.primary();
      await primary.kill();
      const result = await importing;
      recordRecovery("MongoDB primary killed during an atomic import (request answered)", Date.now() - started);
      await primary.start();
      // Whatever the answer, the dataset ends with all of the upload or none of it, and the
      // history says which (recovery may finish an interrupted import's undo after a restart).
      await waitFor(
        async () => {
          const annotations = await client
            .db("labelport")
            .collection("annotations")
            .countDocuments({ datasetId: target });
          const items = await client.db("labelport").collection("items").countDocuments({ datasetId: target });
          return (annotations === 0 && items === 0) || (annotations === 2 * count && items === count);
        },
        120_000,
        "the import to be whole or absent",
      );
      const records = await client.db("labelport").collection("imports").find({ datasetId: target }).toArray();
      expect(records).toHaveLength(1);
      const items = await client.db("labelport").collection("items").countDocuments({ datasetId: target });
      if (items === count) expect(records[0]).toMatchObject({ success: true });
      else expect(records[0]).toMatchObject({ success: false });
      if ("status" in result && result.status === 200) expect(items).toBe(count);
    } finally {
      await client.close();
    }
  });
});

describe("two orchestrators", () => {
  it("finishes an export when the orchestrator that created it is killed", async () => {
    const first = stack.orchestrators[0];
    await exportThrough(async () => {
      first?.child.kill("SIGKILL");
      await first?.exited;
    }, "orchestrator killed (the other serves)");
    await stack.startOrchestrator();
  });
});

describe("plugin workers", () => {
  it("fences an attempt whose worker was paused past ack_wait: the newer attempt's files stand", async () => {
    const { export: created } = await stack
      .exports()
      .createExport({ datasetId, format: "echo", options: { delayMs: DELAY_MS } });
    const id = created?.id ?? "";
    await waitForProgress(stack, id, 20n);
    // The worker running the job now: the one that started its latest delivery (an earlier fault
    // may have moved the job once already).
    const latestDelivery = (w: { output(): string }) =>
      Math.max(
        -1,
        ...w
          .output()
          .split("\n")
          .filter((line) => line.includes(`"exportId":"${id}"`) && line.includes("export started"))
          .map((line) => {
            try {
              return Number((JSON.parse(line) as { delivery?: number }).delivery ?? 0);
            } catch {
              return -1; // a line still being written
            }
          }),
      );
    const first = [...stack.workers].sort((a, b) => latestDelivery(b) - latestDelivery(a))[0];
    expect(first && latestDelivery(first) >= 0, "the worker running the export").toBe(true);
    const attemptsBefore = (await stack.exports().getExport({ exportId: id })).export?.attempts ?? 0;
    const started = Date.now();
    first?.child.kill("SIGSTOP");
    try {
      // JetStream redelivers the job to the other worker once ack_wait (5 s) passes without in-progress acks.
      await waitFor(
        async () => ((await stack.exports().getExport({ exportId: id })).export?.attempts ?? 0) > attemptsBefore,
        120_000,
        "a newer attempt",
      );
      recordRecovery("plugin worker paused past ack_wait (second attempt claimed)", Date.now() - started);
    } finally {
      first?.child.kill("SIGCONT");
    }
    // Resumed, the first attempt learns it was superseded (or that its claim lapsed) and stops
    // without acking, reporting or touching storage.
    await waitFor(async () => /attempt superseded/.test(first?.output() ?? ""), 60_000, "the old attempt to stop");
    const final = await waitForEnd(stack, id);
    expect(final.status, final.errorMessage).toBe(ExportStatus.COMPLETED);
    expect(artifactHashes(final)).toEqual(reference);
    // What storage holds is exactly what the winning attempt's manifest lists.
    const dir = join(stack.storageRoot, "exports", id);
    const stored = readdirSync(dir).sort();
    expect(stored).toEqual([...final.artifacts.map((a) => a.key), final.manifestKey.split("/").at(-1)].sort());
    for (const artifact of final.artifacts) {
      const sha = createHash("sha256")
        .update(readFileSync(join(dir, artifact.key)))
        .digest("hex");
      expect(sha, artifact.key).toBe(artifact.sha256);
    }
  });
});

describe("split exports", () => {
  // A built-in format: every built-in exporter is a SplittableExporter (the echo plugin is not).
  const PLUGIN = "@labelport/plugin-yolo";
  const FORMAT = "yolo";
  /** Items of the split dataset: a label file each, so that every one of 4 shards runs for seconds. */
  const SPLIT_ITEMS = 20_000;
  const workers: PluginProcess[] = [];
  let splitDatasetId = "";
  let splitReference: string[][] | undefined;

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) workers.push(await stack.startWorker(PLUGIN));
    await waitFor(async () => (await stack.exports().listFormats({})).plugins.some((p) => p.formats.includes(FORMAT)));
    const { dataset } = await stack
      .datasets()
      .createDataset({ name: "split", categories: [{ name: "car" }, { name: "person" }] });
    splitDatasetId = dataset?.id ?? "";
    const imported = await importItems(stack.url(), splitDatasetId, itemLines(SPLIT_ITEMS, "split"));
    expect(imported).toMatchObject({ status: 200 });
    // One shard never splits: the reference is one pass.
    const { export: whole } = await stack
      .exports()
      .createExport({ datasetId: splitDatasetId, format: FORMAT, shards: 1 });
    const done = await waitForEnd(stack, whole?.id ?? "");
    expect(done.status, done.errorMessage).toBe(ExportStatus.COMPLETED);
    splitReference = artifactHashes(done);
  }, 600_000);

  const createSplitExport = async (shards: number) =>
    (await stack.exports().createExport({ datasetId: splitDatasetId, format: FORMAT, shards })).export?.id ?? "";

  /** The worker that coordinates the export: the one that logged its plan. */
  const coordinatorOf = (exportId: string, shards: number) =>
    workers.find((w) => workerLog(w, exportId).some((line) => line.msg === `split into ${shards} shards`));

  /** Shards the worker started for the export and has not reported done. */
  const runningShards = (worker: PluginProcess, exportId: string) => {
    const log = workerLog(worker, exportId);
    const done = new Set(log.filter((line) => line.msg === "done").map((line) => line.shard));
    return log.filter((line) => line.msg === "started" && !done.has(line.shard)).map((line) => Number(line.shard));
  };

  it("finishes a split export when a worker is killed in the middle of its shard", async () => {
    const id = await createSplitExport(4);
    // Kill the worker that runs a shard but does not coordinate: only its shard is lost.
    let victim: PluginProcess | undefined;
    let survivor: PluginProcess | undefined;
    await waitFor(
      async () => {
        survivor = coordinatorOf(id, 4);
        victim = workers.find((w) => w !== survivor);
        return survivor !== undefined && victim !== undefined && runningShards(victim, id).length > 0;
      },
      120_000,
      "a shard running on the worker that does not coordinate",
    );
    if (!victim || !survivor) throw new Error("unreachable: waitFor found both workers");
    const attemptsBefore = (await stack.exports().getExport({ exportId: id })).export?.attempts ?? 0;
    const started = Date.now();
    victim.child.kill("SIGKILL");
    await victim.exited;
    // Killed in the middle of a shard: the victim never reported it done.
    const [shard] = runningShards(victim, id);
    expect(shard, "the shard running on the killed worker").toBeDefined();
    // JetStream redelivers the unacked shard task once ack_wait (5 s) passes, to the worker left.
    const survivorLog = survivor;
    await waitFor(
      async () =>
        workerLog(survivorLog, id).some(
          (line) => line.msg === "started" && line.shard === shard && Number(line.delivery) > 1,
        ),
      120_000,
      `shard ${shard} to start again on the other worker`,
    );
    // Measured from the kill to the killed shard's restart on the other worker.
    recordRecovery("worker killed in a shard of a split export", Date.now() - started);
    const final = await waitForEnd(stack, id);
    expect(final.status, final.errorMessage).toBe(ExportStatus.COMPLETED);
    // The shard was retried alone: the export kept its attempt and its plan.
    expect(final.attempts).toBe(attemptsBefore);
    expect(workerLog(survivor, id).filter((line) => line.msg === "split into 4 shards")).toHaveLength(1);
    expect(artifactHashes(final)).toEqual(splitReference);
    // The next test needs two workers again.
    workers.splice(workers.indexOf(victim), 1, await stack.startWorker(PLUGIN));
  });

  it("finishes a split export when the NATS node leading the jobs stream is killed", async () => {
    const id = await createSplitExport(3);
    await waitFor(
      async () => coordinatorOf(id, 3) !== undefined && workers.some((w) => runningShards(w, id).length > 0),
      120_000,
      "a shard of the split export to run",
    );
    // The kill lands while progress flows (shard news summed by the coordinator), as in exportThrough.
    await waitForProgress(stack, id, 1n);
    const before = (await stack.exports().getExport({ exportId: id })).export?.progress?.processedItems ?? 0n;
    const killed = await streamLeader("LABELPORT_JOBS");
    const node = stack.nats.nodes.find((n) => n.name === killed);
    expect(node, `leader ${killed}`).toBeDefined();
    const started = Date.now();
    await node?.kill();
    // Recovered: the export moves again (or has finished) as seen through the API, as exportThrough measures.
    await waitFor(
      async () => {
        const e = (await stack.exports().getExport({ exportId: id })).export;
        return e?.status === ExportStatus.COMPLETED || (e?.progress?.processedItems ?? 0n) > before;
      },
      120_000,
      "the split export to move again after its jobs-stream leader was killed",
    );
    recordRecovery("NATS jobs-stream leader killed during a split export", Date.now() - started);
    const final = await waitForEnd(stack, id);
    expect(final.status, final.errorMessage).toBe(ExportStatus.COMPLETED);
    expect(artifactHashes(final)).toEqual(splitReference);
    await node?.start();
  });
});
