// The undo-journal fallback, forced (our test server supports transactions): an atomic import that
// fails is undone exactly, a successful one leaves no journal, and recovery replays the journal of
// an import whose process died.
import { randomUUID } from "node:crypto";
import { ItemStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storedId } from "../services/orchestrator/src/data/ids.ts";
import { ownerIsDead } from "../services/orchestrator/src/data/import/recovery.ts";
import { recoverImports } from "../services/orchestrator/src/data/index.ts";
import {
  type DataClients,
  dataClients,
  fingerprint,
  jsonl,
  upload,
  videoAnnotation,
} from "../services/orchestrator/src/data/testing.ts";
import { createLogger } from "../services/orchestrator/src/logger.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

let orchestrator: TestOrchestrator;
let api: DataClients;
/** The stored `_id`s of two annotations of dataset "j". */
let ok7: string;
let halfWritten: string;

beforeAll(async () => {
  orchestrator = await startTestOrchestrator({ LABELPORT_IMPORT_ATOMIC_MODE: "journal" });
  api = dataClients(orchestrator.url);
  const { dataset } = await api.datasets.createDataset({ name: "j" });
  ok7 = storedId(dataset?.id ?? "", "ok-7");
  halfWritten = storedId(dataset?.id ?? "", "half-written");
  await api.items.upsertItems({
    datasetId: "j",
    items: Array.from({ length: 10 }, (_, i) => ({ id: `v-${i}`, kind: 2, status: ItemStatus.APPROVED })),
  });
});
afterAll(async () => {
  await orchestrator?.close();
});

describe("journal mode", () => {
  it("applies in batches and drops the journal on success", async () => {
    const lines = Array.from({ length: 2500 }, (_, i) =>
      videoAnnotation({
        id: `ok-${i}`,
        videoId: `v-${i % 10}`,
        personaId: undefined,
        typeAssignment: { typeId: `t${i}`, typeName: "" },
      }),
    );
    const res = await upload(`${orchestrator.url}/api/import?datasetId=j`, jsonl(lines));
    expect(res.body).toMatchObject({ success: true, summary: { importedItems: { annotations: 2500 } } });
    const record = await orchestrator.database.db.collection("imports").findOne({ _id: res.body.importId as never });
    expect(record).toMatchObject({ mode: "journal", status: "completed" });
    expect(await orchestrator.database.db.collection("import_journal").countDocuments()).toBe(0);
  });

  it("undoes inserts, overwrites and merges of a failed atomic import exactly", async () => {
    const db = orchestrator.database.db;
    const hashOf = async () => {
      const fp = await fingerprint(db);
      const { imports: _, ...counts } = fp.counts;
      // The history grows; hash every other collection.
      const docs = [];
      for (const name of ["annotations", "items", "personas", "datasets", "import_journal"]) {
        docs.push(await db.collection(name).find({}).sort({ _id: 1 }).toArray());
      }
      return { counts, docs: JSON.stringify(docs) };
    };
    const before = await hashOf();
    const lines = [
      ...Array.from({ length: 1500 }, (_, i) =>
        videoAnnotation({ id: `ok-${i}`, videoId: `v-${i % 10}`, personaId: "new-persona", frames: [1000, 1010] }),
      ),
      videoAnnotation({ id: "brand-new", videoId: "new-video", frames: [3, 4] }),
      ...Array.from({ length: 1000 }, (_, i) =>
        videoAnnotation({ id: `fresh-${i}`, videoId: "v-1", frames: [i * 3, i * 3 + 1] }),
      ),
      videoAnnotation({ id: "broken", videoId: "v-1", frames: [9, 3] }),
    ];
    const res = await upload(`${orchestrator.url}/api/import?datasetId=j`, jsonl(lines), {
      options: JSON.stringify({ conflictResolution: { duplicateIds: "overwrite", missingDependencies: "create" } }),
    });
    expect(res.body).toMatchObject({ success: false, errors: [{ line: 2502 }] });
    expect(await hashOf()).toEqual(before);
    const record = await db.collection("imports").findOne({ _id: res.body.importId as never });
    expect(record).toMatchObject({ mode: "journal", status: "rolled_back", success: false });
  });

  it("recovery replays the journal of an import whose process died", async () => {
    const db = orchestrator.database.db;
    const importId = randomUUID();
    const existing = await db.collection("annotations").findOne({ _id: ok7 as never });
    expect(existing).not.toBeNull();
    // What a dead process left: a running entry, a journal, and half-applied writes.
    await db.collection("imports").insertOne({
      _id: importId as never,
      status: "running",
      options: { transaction: { atomic: true } },
      mode: "journal",
      owner: { host: "some-other-host", pid: 1, instanceId: "dead" },
      heartbeatAt: new Date(Date.now() - 3_600_000),
      createdAt: new Date(),
      fileName: "x.jsonl",
      success: false,
      itemsImported: 0,
      itemsSkipped: 0,
    });
    await db.collection("import_journal").insertOne({
      importId,
      seq: 0,
      entries: [
        { collection: "annotations", id: ok7, doc: existing },
        { collection: "annotations", id: halfWritten, doc: null },
      ],
    });
    await db.collection("annotations").updateOne({ _id: ok7 as never }, { $set: { personaId: "changed" } });
    await db.collection("annotations").insertOne({ _id: halfWritten as never, datasetId: "x" });
    const result = await recoverImports({ database: orchestrator.database, log: createLogger("silent") });
    expect(result).toEqual({ completed: 0, rolledBack: 1 });
    expect(await db.collection("annotations").findOne({ _id: ok7 as never })).toEqual(existing);
    expect(await db.collection("annotations").findOne({ _id: halfWritten as never })).toBeNull();
    expect(await db.collection("imports").findOne({ _id: importId as never })).toMatchObject({
      status: "rolled_back",
      success: false,
    });
    expect(await db.collection("import_journal").countDocuments({ importId })).toBe(0);
  });

  it("recognises dead owners", () => {
    const instance = { host: "h", pid: process.pid, instanceId: "me" };
    const doc = (owner: object, age: number) =>
      ({ owner, heartbeatAt: new Date(Date.now() - age) }) as Parameters<typeof ownerIsDead>[0];
    expect(ownerIsDead(doc({ ...instance }, 999_999), instance, 60_000)).toBe(false);
    expect(ownerIsDead(doc({ host: "elsewhere", pid: 1, instanceId: "x" }, 1000), instance, 60_000)).toBe(false);
    expect(ownerIsDead(doc({ host: "elsewhere", pid: 1, instanceId: "x" }, 61_000), instance, 60_000)).toBe(true);
  });
});
