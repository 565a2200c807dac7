// Batch boundaries never change an import's result: the lookups of a batch run while the previous
// batch is still being written (journal and non-atomic imports), so an import cut into batches of
// two lines, where every batch touches what the one before wrote, must end exactly like the same
// import in one batch; and an atomic one that fails must leave nothing behind.
import type { Db } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicId } from "../services/orchestrator/src/data/ids.ts";
import { jsonl, upload, videoAnnotation } from "../services/orchestrator/src/data/testing.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

const TIME = "2025-10-06T14:30:00Z";

function item(id: string, annotations: Array<{ id: string; x: number }>, tags: string[] = []) {
  return {
    id,
    kind: "ITEM_KIND_IMAGE",
    status: "ITEM_STATUS_APPROVED",
    tags,
    createTime: TIME,
    updateTime: TIME,
    annotations: annotations.map((a) => ({
      id: a.id,
      type: "ANNOTATION_TYPE_BBOX",
      bbox: { x: a.x, y: 1, width: 2, height: 3 },
      createTime: TIME,
      updateTime: TIME,
    })),
  };
}

// Items and annotations that repeat in consecutive lines (so in consecutive batches of two).
const seedItems = [item("p-1", [{ id: "pa-1", x: 1 }]), item("p-2", [{ id: "pa-2", x: 2 }])];
const itemLines = [
  item("i-1", [
    { id: "a-1", x: 1 },
    { id: "a-2", x: 2 },
  ]),
  item("i-2", [{ id: "a-3", x: 3 }]),
  // i-1 again: a-1 goes, a-2 changes, a-4 is new.
  item(
    "i-1",
    [
      { id: "a-2", x: 20 },
      { id: "a-4", x: 4 },
    ],
    ["again"],
  ),
  // a-3 moves from i-2 to i-3; a pre-existing item is overwritten.
  item("i-3", [{ id: "a-3", x: 30 }]),
  item("p-1", [{ id: "pa-9", x: 9 }]),
  item("i-2", [{ id: "a-5", x: 5 }]),
  item("i-3", []),
  item("p-2", [{ id: "pa-2", x: 22 }]),
];

const trackLines = [
  videoAnnotation({ id: "t-1", videoId: "v-1", personaId: "pp", frames: [0, 10] }),
  videoAnnotation({ id: "t-2", videoId: "v-1", personaId: "pp", frames: [5, 20] }),
  videoAnnotation({ id: "t-1", videoId: "v-1", personaId: "pp", frames: [30, 40] }),
  videoAnnotation({ id: "t-3", videoId: "v-2", personaId: "pp", frames: [0, 10] }),
  videoAnnotation({ id: "t-4", videoId: "v-2", personaId: "pp", frames: [8, 12] }),
  videoAnnotation({ id: "t-3", videoId: "v-2", personaId: "pp", frames: [50, 60] }),
  videoAnnotation({ id: "t-5", videoId: "v-2", personaId: "pp", frames: [55, 70] }),
];

/** Items, annotations, personas and categories, without the times an import sets to "now" (and dataset ids). */
async function state(db: Db): Promise<unknown> {
  const out: Record<string, unknown[]> = {};
  for (const name of ["items", "annotations", "personas"]) {
    const docs = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
    out[name] = docs.map(({ createdAt: _c, updatedAt: _u, datasetId, _id, ...rest }) => ({
      // Stored item and annotation ids carry the dataset's (data/ids.ts); personas' do not.
      _id: name === "personas" ? _id : publicId(datasetId, String(_id)),
      ...rest,
    }));
  }
  out.categories = (await db.collection("datasets").find({}).sort({ name: 1 }).toArray()).map((d) => d.categories);
  return out;
}

/** Runs the same imports into a fresh dataset `b` and returns the end state. */
async function run(orchestrator: TestOrchestrator, atomic: boolean): Promise<{ state: unknown; bodies: unknown[] }> {
  const url = orchestrator.url;
  const bodies: unknown[] = [];
  const post = async (path: string, text: string, fields: Record<string, string>) => {
    const res = await upload(`${url}${path}`, text, fields);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { importId: _i, mode: _m, ...body } = res.body;
    bodies.push(body);
    return body;
  };
  await fetch(`${url}/labelport.v1.DatasetService/CreateDataset`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "b" }),
  });
  const options = (conflictResolution: object) =>
    JSON.stringify({ conflictResolution, ...(atomic ? {} : { transaction: { atomic: false } }) });
  await post("/api/import?datasetId=b&format=labelport-items", jsonl(seedItems), {});
  await post("/api/import?datasetId=b&format=labelport-items", jsonl(itemLines), {
    options: options({ duplicateIds: "overwrite" }),
  });
  await post("/api/import?datasetId=b&format=labelport-items", jsonl(itemLines.slice(0, 4)), {
    options: options({ duplicateIds: "merge" }),
  });
  await post("/api/import?datasetId=b", jsonl(trackLines), {
    options: options({ duplicateIds: "merge", overlappingFrames: "merge", missingDependencies: "create" }),
  });
  await post("/api/import?datasetId=b", jsonl(trackLines.map((l) => ({ ...l, id: `o-${l.id}` }))), {
    options: options({ duplicateIds: "overwrite", overlappingFrames: "overwrite", missingDependencies: "create" }),
  });
  return { state: await state(orchestrator.database.db), bodies };
}

let oneBatch: TestOrchestrator;
let journal: TestOrchestrator;
let direct: TestOrchestrator;

beforeAll(async () => {
  oneBatch = await startTestOrchestrator({ LABELPORT_IMPORT_ATOMIC_MODE: "journal" });
  journal = await startTestOrchestrator({ LABELPORT_IMPORT_ATOMIC_MODE: "journal", LABELPORT_IMPORT_BATCH_SIZE: "2" });
  direct = await startTestOrchestrator({ LABELPORT_IMPORT_BATCH_SIZE: "2" });
});
afterAll(async () => {
  await Promise.all([oneBatch?.close(), journal?.close(), direct?.close()]);
});

describe("imports in batches of two lines", () => {
  it("end as the same imports in one batch (journal and non-atomic)", async () => {
    const expected = await run(oneBatch, true);
    expect(await run(journal, true)).toEqual(expected);
    expect(await run(direct, false)).toEqual(expected);
  });

  it("undo everything when an atomic import fails at its last line", async () => {
    const db = journal.database.db;
    const snapshot = async () => {
      const docs = [];
      for (const name of ["items", "annotations", "personas", "datasets", "import_journal"]) {
        docs.push(await db.collection(name).find({}).sort({ _id: 1 }).toArray());
      }
      return JSON.stringify(docs);
    };
    const before = await snapshot();
    const lines = [...itemLines, item("i-9", [{ id: "pa-1", x: 1 }]), { id: "bad", kind: "ITEM_KIND_NOPE" }];
    const res = await upload(`${journal.url}/api/import?datasetId=b&format=labelport-items`, jsonl(lines), {
      options: JSON.stringify({ conflictResolution: { duplicateIds: "overwrite" } }),
    });
    expect(res.body).toMatchObject({ success: false, message: "1 line failed validation; nothing was imported" });
    const record = await db.collection("imports").findOne({ _id: res.body.importId as never });
    expect(record).toMatchObject({ mode: "journal", status: "rolled_back" });
    expect(await snapshot()).toBe(before);
  });
});
