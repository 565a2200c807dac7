// Item and annotation ids are unique per dataset, not per database: two datasets of one server may
// each hold item "a" and annotation "a:1", the same lossless file imports into both, and the
// start-up migration moves the ids of an older database to their scoped form with every API
// showing the same data after it.
import { randomUUID } from "node:crypto";
import { type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLogger, loadConfig, startOrchestrator } from "@labelport/orchestrator";
import { AnnotationType, type Item, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import type { Db, Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { migrateSchema } from "../services/orchestrator/src/data/id-migration.ts";
import { publicId, storedId } from "../services/orchestrator/src/data/ids.ts";
import {
  type DataClients,
  dataClients,
  fingerprint,
  jsonl,
  upload,
  videoAnnotation,
} from "../services/orchestrator/src/data/testing.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

const CATEGORIES = [
  { id: 1, name: "car" },
  { id: 2, name: "person", keypoints: ["nose", "eye"], skeleton: [{ fromKeypoint: 1, toKeypoint: 2 }] },
];

/** Items "a".."e" with annotations "<id>:1" (a box) and "<id>:2" (a track on videos). */
function sampleItems(tag: string): MessageInitShape<typeof ItemSchema>[] {
  return ["a", "b", "c", "d", "e"].map((id, i) => ({
    id,
    kind: i % 2 ? 2 : 1,
    status: ItemStatus.APPROVED,
    tags: [tag],
    annotations: [
      {
        id: `${id}:1`,
        categoryId: 1,
        geometry: { case: "bbox" as const, value: { x: i, y: 2, width: 3, height: 4 } },
        attributes: { tag },
      },
      ...(i % 2
        ? [
            {
              id: `${id}:2`,
              personaId: "p-1",
              type: AnnotationType.TRACK,
              geometry: {
                case: "boxSequence" as const,
                value: {
                  interpolationMode: "linear",
                  boxes: [
                    { frameNumber: 0, x: 1, y: 1, width: 5, height: 5, isKeyframe: true, visible: true },
                    { frameNumber: 10, x: 3, y: 3, width: 5, height: 5, isKeyframe: true, visible: true },
                  ],
                },
              },
              link: { case: "typeAssignment" as const, value: { typeId: "t-1", typeName: "Pitcher" } },
            },
          ]
        : []),
    ],
  }));
}

async function streamAll(api: DataClients, datasetId: string): Promise<Item[]> {
  const out: Item[] = [];
  for await (const res of api.items.streamItems({
    datasetId,
    batchSize: 2,
    filter: { allStatuses: true, includeRemoved: true },
  })) {
    out.push(...res.items);
  }
  return out;
}

/** Items as protobuf JSON with the dataset id (part of every message) replaced. */
function normalized(items: Item[], datasetId: string): unknown {
  return JSON.parse(JSON.stringify(items.map((item) => toJson(ItemSchema, item))).replaceAll(datasetId, "<dataset>"));
}

const itemsJsonl = (items: Item[]) => items.map((item) => `${JSON.stringify(toJson(ItemSchema, item))}\n`).join("");

async function codeOf(promise: Promise<unknown>): Promise<[Code | undefined, string]> {
  try {
    await promise;
    return [undefined, ""];
  } catch (err) {
    const e = ConnectError.from(err);
    return [e.code, e.rawMessage];
  }
}

describe("ids scoped per dataset", () => {
  let orchestrator: TestOrchestrator;
  let api: DataClients;
  let json: DataClients;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    orchestrator = await startTestOrchestrator();
    api = dataClients(orchestrator.url);
    json = dataClients(orchestrator.url, "connect-json");
    for (const name of ["first", "second", "third"]) {
      const { dataset } = await api.datasets.createDataset({ name, categories: CATEGORIES });
      ids[name] = dataset?.id ?? "";
    }
    await api.items.upsertItems({ datasetId: "first", items: sampleItems("first") });
  });
  afterAll(async () => {
    await orchestrator?.close();
  });

  it("imports the same item JSONL into two datasets of one server, both complete and exporting the same items", async () => {
    const source = await streamAll(api, "first");
    expect(source.map((i) => i.id)).toEqual(["a", "b", "c", "d", "e"]);
    const text = itemsJsonl(source);
    for (const name of ["second", "third"]) {
      const res = await upload(
        `${orchestrator.url}/api/import?datasetId=${name}&format=labelport-items`,
        text,
        {},
        "items.jsonl",
      );
      expect(res.body, JSON.stringify(res.body)).toMatchObject({
        success: true,
        errors: [],
        conflicts: [],
        summary: { importedItems: { items: 5, annotations: 7 } },
      });
    }
    for (const name of ["second", "third"]) {
      const copy = await streamAll(api, name);
      expect(normalized(copy, ids[name] ?? "")).toEqual(normalized(source, ids.first ?? ""));
      // The JSON form (decoded documents, not the BSON transcoder) says the same.
      expect(normalized(await streamAll(json, name), ids[name] ?? "")).toEqual(normalized(source, ids.first ?? ""));
    }
  });

  it("keeps duplicate ids a conflict within a dataset", async () => {
    const text = itemsJsonl(await streamAll(api, "first"));
    const again = await upload(`${orchestrator.url}/api/import?datasetId=second&format=labelport-items`, text);
    expect(again.body).toMatchObject({
      success: true,
      summary: { importedItems: { items: 0 }, skippedItems: { items: 5 } },
    });
    expect((again.body.conflicts as Array<{ type: string; annotationId: string }>).map((c) => c.annotationId)).toEqual([
      "a",
      "b",
      "c",
      "d",
      "e",
    ]);
    const [code, message] = await codeOf(
      api.items.upsertItems({ datasetId: "second", items: [{ id: "a" }, { id: "a" }] }),
    );
    expect(code).toBe(Code.InvalidArgument);
    expect(message).toContain('duplicate id "a"');

    // Video annotation lines: the same ids in two datasets are no conflict, twice in one they are.
    const lines = jsonl([videoAnnotation({ id: "v:1", videoId: "b", personaId: "p-9", frames: [40, 50] })]);
    const options = { options: JSON.stringify({ conflictResolution: { missingDependencies: "create" } }) };
    for (const name of ["second", "third"]) {
      const res = await upload(`${orchestrator.url}/api/import?datasetId=${name}`, lines, options);
      expect(res.body, JSON.stringify(res.body)).toMatchObject({ success: true, conflicts: [] });
    }
    const twice = await upload(`${orchestrator.url}/api/import?datasetId=third`, lines, options);
    expect(twice.body).toMatchObject({
      conflicts: [{ type: "duplicate_id", annotationId: "v:1", message: "Annotation ID already exists in database" }],
    });
    // Overlaps name the other track by its public id.
    const overlap = jsonl([
      videoAnnotation({
        id: "v:2",
        videoId: "b",
        personaId: "p-1",
        typeAssignment: { typeId: "t-1", typeName: "Pitcher" },
        frames: [5, 8],
      }),
    ]);
    const overlapping = await upload(`${orchestrator.url}/api/import?datasetId=third`, overlap, {
      options: JSON.stringify({ conflictResolution: { missingDependencies: "create", overlappingFrames: "skip" } }),
    });
    expect(overlapping.body).toMatchObject({
      conflicts: [{ type: "overlapping_frames", annotationId: "v:2", existingAnnotationId: "b:2" }],
    });
  });

  it("treats an annotation id another item of the dataset has as a duplicate, under the same policy", async () => {
    // Item "z" is new, but its annotation "a:1" belongs to item "a" of this dataset.
    const line = `${JSON.stringify({
      id: "z",
      kind: "ITEM_KIND_IMAGE",
      status: "ITEM_STATUS_APPROVED",
      annotations: [
        { id: "a:1", categoryId: 1, bbox: { x: 9, y: 9, width: 1, height: 1 } },
        { id: "z:1", categoryId: 1, bbox: { x: 1, y: 1, width: 1, height: 1 } },
      ],
    })}\n`;
    const skipped = await upload(`${orchestrator.url}/api/import?datasetId=second&format=labelport-items`, line);
    expect(skipped.body).toMatchObject({
      status: "completed",
      annotations: { received: 2, written: 1, skipped: 1, dropped: 0 },
      conflicts: [{ type: "duplicate_id", annotationId: "a:1", message: 'annotation id already used by item "a"' }],
    });
    const a = (await api.items.getItem({ datasetId: "second", itemId: "a" })).item;
    expect(a?.annotations.map((x) => x.id)).toContain("a:1");
    const failed = await upload(`${orchestrator.url}/api/import?datasetId=second&format=labelport-items`, line, {
      options: JSON.stringify({ conflictResolution: { duplicateIds: "fail" } }),
    });
    expect(failed.body).toMatchObject({ success: false, status: "failed" });
    await api.items.deleteItems({ datasetId: "second", itemIds: ["z"] });
  });

  it("upserts, reads, pages, counts and deletes the same id in two datasets independently", async () => {
    for (const name of ["second", "third"]) {
      await api.items.upsertItems({
        datasetId: name,
        items: [{ id: "a", kind: 1, status: ItemStatus.APPROVED, tags: [name], annotations: [{ id: "a:1" }] }],
      });
    }
    for (const name of ["second", "third"]) {
      const { item } = await api.items.getItem({ datasetId: name, itemId: "a" });
      expect(item?.tags).toEqual([name]);
      expect(item?.datasetId).toBe(ids[name]);
      expect(item?.annotations.map((a) => [a.id, a.itemId])).toEqual([["a:1", "a"]]);
    }
    // UpsertAnnotations names items and annotations by their public ids too.
    await api.items.upsertAnnotations({ datasetId: "third", annotations: [{ id: "a:9", itemId: "a", categoryId: 1 }] });
    const [missing, why] = await codeOf(
      api.items.upsertAnnotations({ datasetId: "third", annotations: [{ id: "x:1", itemId: "nope" }] }),
    );
    expect([missing, why]).toEqual([Code.InvalidArgument, expect.stringContaining('item "nope" not found')]);

    const paged: string[] = [];
    let pageToken = "";
    do {
      const page = await api.items.listItems({
        datasetId: "second",
        pageSize: 2,
        pageToken,
        filter: { allStatuses: true },
      });
      paged.push(...page.items.map((i) => i.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(paged).toEqual(["a", "b", "c", "d", "e"]);
    const streamed: string[] = [];
    for await (const res of api.items.streamItems({
      datasetId: "second",
      afterId: "b",
      filter: { itemIds: ["a", "c", "e"] },
    })) {
      streamed.push(...res.items.map((i) => i.id));
    }
    expect(streamed).toEqual(["c", "e"]);
    const counted = await api.items.countItems({ datasetId: "third", filter: { itemIds: ["a", "b"] } });
    // a: "a:1", "a:9"; b: "b:1", "b:2" and the video line "v:1".
    expect([counted.itemCount, counted.annotationCount]).toEqual([2n, 5n]);

    const deleted = await api.items.deleteItems({ datasetId: "second", itemIds: ["a"] });
    expect([deleted.deletedItems, deleted.deletedAnnotations]).toEqual([1n, 1n]);
    expect((await codeOf(api.items.getItem({ datasetId: "second", itemId: "a" })))[0]).toBe(Code.NotFound);
    const { item } = await api.items.getItem({ datasetId: "third", itemId: "a" });
    expect(item?.annotations.map((a) => a.id)).toEqual(["a:1", "a:9"]);
  });

  it("deleting one dataset leaves the other whole", async () => {
    const before = normalized(await streamAll(api, "third"), ids.third ?? "");
    const counts = (await api.datasets.getDataset({ datasetId: "third" })).dataset;
    await api.datasets.deleteDataset({ datasetId: "second" });
    expect(normalized(await streamAll(api, "third"), ids.third ?? "")).toEqual(before);
    const after = (await api.datasets.getDataset({ datasetId: "third" })).dataset;
    expect([after?.itemCount, after?.annotationCount]).toEqual([counts?.itemCount, counts?.annotationCount]);
    const db = orchestrator.database.db;
    expect(await db.collection("items").countDocuments({ datasetId: ids.second })).toBe(0);
    expect(await db.collection("annotations").countDocuments({ datasetId: ids.second })).toBe(0);
  });
});

/** Starts an orchestrator on an existing database (the migration runs at its start). */
async function startOn(dbName: string) {
  const config = loadConfig({
    MONGODB_URL: inject("mongoUrl"),
    NATS_URL: inject("natsUrl"),
    MONGODB_DB: dbName,
    PORT: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
  });
  return startOrchestrator(config, createLogger(config.LOG_LEVEL));
}

/** Everything a client sees of a dataset, through every API that reads items. */
async function views(url: string, name: string, datasetId: string): Promise<unknown> {
  const api = dataClients(url);
  const json = dataClients(url, "connect-json");
  const pages: string[][] = [];
  let pageToken = "";
  do {
    const page = await api.items.listItems({ datasetId: name, pageSize: 2, pageToken, filter: { allStatuses: true } });
    pages.push(page.items.map((i) => i.id));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  const tracks = await fetch(`${url}/api/export?datasetId=${encodeURIComponent(name)}`);
  const view = {
    binary: normalized(await streamAll(api, name), datasetId),
    json: normalized(await streamAll(json, name), datasetId),
    item: toJson(ItemSchema, (await api.items.getItem({ datasetId: name, itemId: "b" })).item as Item),
    pages,
    counts: await api.items.countItems({ datasetId: name, filter: { itemIds: ["b", "d"] } }),
    dataset: (await api.datasets.getDataset({ datasetId: name })).dataset?.annotationCount,
    tracks: { status: tracks.status, body: await tracks.text() },
  };
  return JSON.parse(JSON.stringify(view, (_, v) => (typeof v === "bigint" ? String(v) : v)));
}

/** An item or annotation document: string ids. */
type StoredDoc = Document & { _id: string };

/** Rewrites a dataset's documents as versions before scoped ids stored them: `_id` is the public id. */
async function makeLegacy(db: Db, datasetId: string): Promise<void> {
  for (const name of ["items", "annotations"]) {
    const collection = db.collection<StoredDoc>(name);
    const docs = await collection.find({ datasetId }).toArray();
    await collection.deleteMany({ datasetId });
    await collection.insertMany(docs.map((doc) => ({ ...doc, _id: publicId(datasetId, String(doc._id)) })));
  }
}

describe("the start-up migration of older databases", () => {
  const dbName = `t_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
  let orchestrator: Awaited<ReturnType<typeof startOn>> | undefined;
  afterAll(async () => {
    await orchestrator?.database.db.dropDatabase().catch(() => undefined);
    await orchestrator?.close();
  });

  it("moves every item, annotation and journal entry to scoped ids, and every API sees the same data", async () => {
    const old = await startOn(dbName);
    const api = dataClients(old.url);
    const datasets: Record<string, string> = {};
    for (const name of ["one", "two"]) {
      const { dataset } = await api.datasets.createDataset({ name, categories: CATEGORIES });
      datasets[name] = dataset?.id ?? "";
      await api.items.upsertItems({ datasetId: name, items: sampleItems(name) });
    }
    // More than one migration batch in one dataset.
    await api.items.upsertItems({
      datasetId: "one",
      items: Array.from({ length: 1200 }, (_, i) => ({ id: `bulk-${String(i).padStart(4, "0")}`, annotations: [{}] })),
    });
    const before = {
      one: await views(old.url, "one", datasets.one ?? ""),
      two: await views(old.url, "two", datasets.two ?? ""),
    };
    const db = old.database.db;
    const one = datasets.one ?? "";
    // Only dataset one is older; "two" was written scoped (a crash after its migration).
    await makeLegacy(db, one);
    // A crash midway: some documents were copied to their new id and not yet deleted.
    const copied = await db.collection<StoredDoc>("items").find({ datasetId: one }).limit(3).toArray();
    await db
      .collection<StoredDoc>("items")
      .insertMany(copied.map((d) => ({ ...d, _id: storedId(one, String(d._id)) })));
    // An import a dead process left running, journaled with the old ids.
    const importId = randomUUID();
    const itemA = await db.collection<Document>("items").findOne({ _id: "a" as never });
    await db.collection<Document>("imports").insertOne({
      _id: importId as never,
      datasetId: one,
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
      entries: [{ collection: "items", id: "a", doc: itemA }],
      created: [{ collection: "annotations", ids: ["half-written"] }],
    });
    await db.collection<Document>("items").updateOne({ _id: "a" as never }, { $set: { tags: ["changed"] } });
    await db
      .collection<Document>("annotations")
      .insertOne({ _id: "half-written" as never, datasetId: one, itemId: "a" });
    await db.collection("meta").deleteMany({});
    await old.close();

    orchestrator = await startOn(dbName);
    const migrated = orchestrator.database.db;
    // Recovery runs beside the server: wait for it to roll the import back.
    for (let i = 0; i < 600; i++) {
      const entry = await migrated.collection<Document>("imports").findOne({ _id: importId as never });
      if (entry?.status !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await migrated.collection<Document>("imports").findOne({ _id: importId as never })).toMatchObject({
      status: "rolled_back",
    });
    expect(await migrated.collection("meta").findOne({ _id: "schema" as never })).toMatchObject({ version: 2 });
    for (const name of ["items", "annotations"]) {
      const legacy = await migrated
        .collection(name)
        .countDocuments({ _id: { $not: { $regex: `^(${one}|${datasets.two})/` } } as never });
      expect(legacy, name).toBe(0);
    }
    expect(await views(orchestrator.url, "one", one)).toEqual(before.one);
    expect(await views(orchestrator.url, "two", datasets.two ?? "")).toEqual(before.two);

    // Idempotent: a second run (say, the version record was lost) changes nothing.
    const settled = await fingerprint(migrated);
    await migrated.collection("meta").deleteMany({});
    await migrateSchema(migrated, createLogger("silent"));
    expect(await fingerprint(migrated)).toEqual(settled);
  });
});
