// Dataset versions: VersionService and the lookup other areas read versions through. Creating a
// version copies nothing: it takes the next `versionSeq` of the dataset (atomically with its
// category list, which the version keeps), and from then on writes archive what they change
// (versions-archive.ts); reads of the version merge the live documents with those records
// (versions-read.ts). Deleting a version collects the records no remaining version sees.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type Category,
  CreateVersionResponseSchema,
  type DatasetVersion,
  DatasetVersionSchema,
  DeleteVersionResponseSchema,
  GetVersionResponseSchema,
  ItemFilterSchema,
  ListVersionsResponseSchema,
  type VersionService,
} from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { assertDatasetAccess, principalOf } from "../auth.ts";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../errors.ts";
import { int32 } from "./bson-reader.ts";
import { categoryMessage, timestamp } from "./convert.ts";
import { isDuplicateKey, requireDataset } from "./datasets.ts";
import { compileFilter } from "./filters.ts";
import { uuidv7 } from "./ids.ts";
import { type CategoryDoc, Collections, type DatasetDoc, type VersionDoc } from "./model.ts";
import { decodePageToken, encodePageToken, pageSize } from "./paging.ts";
import { HISTORY_AT, HISTORY_OF } from "./versions-archive.ts";
import { diffVersions } from "./versions-diff.ts";
import { streamVersionBson } from "./versions-read.ts";

const MAX_NAME_LENGTH = 200;

/** A version as readers need it. */
export interface ResolvedVersion {
  id: string;
  name: string;
  datasetId: string;
  /** What reads of the version pass on (StreamQuery.version, versions-read.ts). */
  seq: number;
  createdAt: Date;
  categories: Category[];
  categoryDocs: CategoryDoc[];
}

/** How other areas (exports, stats) read versions; `Context.versions`. */
export interface VersionReads {
  /**
   * The version `idOrName` (its id, else its name) of dataset `datasetId` (id or name); NOT_FOUND
   * naming it when there is none.
   */
  resolve(datasetId: string, idOrName: string, field?: string): Promise<ResolvedVersion>;
}

const versionsOf = (db: Db) => db.collection<VersionDoc>(Collections.versions);

export async function findVersion(db: Db, datasetId: string, idOrName: string): Promise<VersionDoc | null> {
  if (idOrName === "") return null;
  return (
    (await versionsOf(db).findOne({ datasetId, _id: idOrName })) ??
    (await versionsOf(db).findOne({ datasetId, name: idOrName }))
  );
}

export async function requireVersion(
  db: Db,
  dataset: DatasetDoc,
  idOrName: string,
  field = "version_id",
): Promise<VersionDoc> {
  if (idOrName === "") throw invalidArgument(`${field}: is required`);
  const found = await findVersion(db, dataset._id, idOrName);
  if (!found) throw notFound(`${field}: version "${idOrName}" not found in dataset "${dataset.name}"`);
  return found;
}

export function resolvedVersion(doc: VersionDoc): ResolvedVersion {
  return {
    id: doc._id,
    name: doc.name,
    datasetId: doc.datasetId,
    seq: doc.seq,
    createdAt: doc.createdAt,
    categories: doc.categories.map(categoryMessage),
    categoryDocs: doc.categories,
  };
}

export function createVersionReads(db: Db): VersionReads {
  return {
    async resolve(datasetId, idOrName, field = "version_id") {
      const dataset = await requireDataset(db, datasetId);
      return resolvedVersion(await requireVersion(db, dataset, idOrName, field));
    },
  };
}

/**
 * Items, non-removed annotations and their stored bytes in the version, counted once through the
 * versioned read (exact whatever was written since) and kept with the version.
 */
export async function versionStats(db: Db, version: VersionDoc): Promise<NonNullable<VersionDoc["stats"]>> {
  if (version.stats) return version.stats;
  const compiled = compileFilter(version.datasetId, create(ItemFilterSchema, { allStatuses: true }));
  const stats = { items: 0, annotations: 0, bytes: 0 };
  const query = {
    datasetId: version.datasetId,
    filter: undefined,
    snapshot: version.createdAt,
    batchSize: 1000,
    limit: 0,
  };
  for await (const { item, annotations } of streamVersionBson(db, query, compiled, version)) {
    stats.items++;
    stats.bytes += int32(item.buf, item.at);
    for (const a of annotations) {
      stats.annotations++;
      stats.bytes += int32(a.buf, a.at);
    }
  }
  await versionsOf(db).updateOne({ _id: version._id }, { $set: { stats } });
  return stats;
}

/**
 * The counts of a version made a moment ago, by two plain aggregations on the live collections:
 * exact when, once they have run, no write has archived anything under the version's key (every
 * write archives before it writes). Undefined otherwise: the versioned count is then needed.
 */
async function freshStats(db: Db, version: VersionDoc): Promise<VersionDoc["stats"]> {
  const sum = (collection: string, match: object) =>
    db
      .collection(collection)
      .aggregate<{ n: number; bytes: number }>([
        { $match: { ...match, datasetId: version.datasetId } },
        { $group: { _id: null, n: { $sum: 1 }, bytes: { $sum: { $bsonSize: "$$ROOT" } } } },
      ])
      .toArray();
  // The versioned count's selection: every item, the annotations not removed.
  const [[items], [annotations]] = await Promise.all([
    sum(Collections.items, {}),
    sum(Collections.annotations, { removed: { $ne: true } }),
  ]);
  const since = { datasetId: version.datasetId, [HISTORY_AT]: { $gte: version.seq } };
  const [itemWrites, annotationWrites] = await Promise.all([
    db.collection(Collections.itemsHistory).findOne(since, { projection: { _id: 1 } }),
    db.collection(Collections.annotationsHistory).findOne(since, { projection: { _id: 1 } }),
  ]);
  if (itemWrites || annotationWrites) return undefined;
  return {
    items: items?.n ?? 0,
    annotations: annotations?.n ?? 0,
    bytes: (items?.bytes ?? 0) + (annotations?.bytes ?? 0),
  };
}

export async function versionMessage(db: Db, doc: VersionDoc): Promise<DatasetVersion> {
  const stats = await versionStats(db, doc);
  return create(DatasetVersionSchema, {
    id: doc._id,
    datasetId: doc.datasetId,
    name: doc.name,
    description: doc.description,
    itemCount: BigInt(stats.items),
    annotationCount: BigInt(stats.annotations),
    sizeBytes: BigInt(stats.bytes),
    createdBy: doc.createdBy,
    createTime: timestamp(doc.createdAt),
    parentId: doc.parentId ?? "",
    categories: doc.categories.map(categoryMessage),
  });
}

/**
 * Deletes the history records no remaining version of the dataset reads: record K of a document
 * is read by the versions with seq in (its previous record's key, K].
 */
export async function collectHistory(db: Db, datasetId: string): Promise<number> {
  const seqs = (
    await versionsOf(db)
      .find({ datasetId }, { projection: { seq: 1 } })
      .sort({ seq: 1 })
      .toArray()
  ).map((v) => v.seq);
  const needed = (previous: number, key: number) => seqs.some((s) => s > previous && s <= key);
  let deleted = 0;
  for (const history of [Collections.itemsHistory, Collections.annotationsHistory]) {
    const collection = db.collection<{ _id: string; _of: string; _at: number }>(history);
    if (seqs.length === 0) {
      deleted += (await collection.deleteMany({ datasetId })).deletedCount;
      continue;
    }
    const cursor = collection
      .find({ datasetId }, { projection: { [HISTORY_OF]: 1, [HISTORY_AT]: 1 } })
      .sort({ [HISTORY_OF]: 1, [HISTORY_AT]: 1 });
    let of: string | undefined;
    let previous = Number.NEGATIVE_INFINITY;
    let doomed: string[] = [];
    const flush = async () => {
      if (doomed.length > 0) deleted += (await collection.deleteMany({ _id: { $in: doomed } })).deletedCount;
      doomed = [];
    };
    for await (const record of cursor) {
      const stored = record._of;
      const key = record._at;
      if (stored !== of) {
        of = stored;
        previous = Number.NEGATIVE_INFINITY;
      }
      if (!needed(previous, key)) doomed.push(String(record._id));
      if (doomed.length >= 1000) await flush();
      previous = key;
    }
    await flush();
  }
  return deleted;
}

/** An import of the dataset running, or one that ended at or after `since`. */
async function importDuring(db: Db, datasetId: string, since?: Date): Promise<string | undefined> {
  const running = await db
    .collection(Collections.imports)
    .findOne(
      { datasetId, $or: [{ status: "running" }, ...(since ? [{ completedAt: { $gte: since } }] : [])] },
      { projection: { _id: 1 } },
    );
  return running ? String(running._id) : undefined;
}

export function createVersionService(db: Db): Partial<ServiceImpl<typeof VersionService>> {
  return {
    async createVersion(req, ctx) {
      const principal = principalOf(ctx);
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principal, dataset._id);
      const name = req.name.trim();
      if (name === "") throw invalidArgument("name: is required");
      if (name.length > MAX_NAME_LENGTH) throw invalidArgument(`name: must be at most ${MAX_NAME_LENGTH} characters`);
      if (await versionsOf(db).findOne({ datasetId: dataset._id, name })) {
        throw alreadyExists(`name: dataset "${dataset.name}" already has a version "${name}"`);
      }
      const busy = (id: string) =>
        failedPrecondition(
          `dataset "${dataset.name}" has an import running (${id}); create the version once it has ended`,
        );
      const before = await importDuring(db, dataset._id);
      if (before) throw busy(before);
      const checkedAt = new Date();
      const parent = await versionsOf(db).findOne(
        { datasetId: dataset._id },
        { sort: { seq: -1 }, projection: { _id: 1 } },
      );
      // The freeze: one update, atomic with the category list the version keeps.
      const bumped = await db
        .collection<DatasetDoc>(Collections.datasets)
        .findOneAndUpdate(
          { _id: dataset._id },
          { $inc: { versionSeq: 1, versionCount: 1 } },
          { returnDocument: "after" },
        );
      if (!bumped) throw notFound(`dataset_id: dataset "${req.datasetId}" not found`);
      const doc: VersionDoc = {
        _id: uuidv7(),
        datasetId: dataset._id,
        name,
        description: req.description,
        seq: bumped.versionSeq ?? 1,
        categories: bumped.categories,
        createdBy: principal.name,
        createdAt: new Date(),
        ...(parent ? { parentId: parent._id } : {}),
      };
      const undo = () =>
        db.collection<DatasetDoc>(Collections.datasets).updateOne({ _id: dataset._id }, { $inc: { versionCount: -1 } });
      try {
        await versionsOf(db).insertOne(doc);
      } catch (err) {
        await undo();
        if (isDuplicateKey(err)) throw alreadyExists(`name: dataset "${dataset.name}" already has a version "${name}"`);
        throw err;
      }
      // An import that wrote before the freeze and goes on after it would be half in the version.
      const during = await importDuring(db, dataset._id, checkedAt);
      if (during) {
        await versionsOf(db).deleteOne({ _id: doc._id });
        await undo();
        await collectHistory(db, dataset._id);
        throw busy(during);
      }
      const stats = await freshStats(db, doc);
      if (stats) {
        doc.stats = stats;
        await versionsOf(db).updateOne({ _id: doc._id }, { $set: { stats } });
      }
      return create(CreateVersionResponseSchema, { version: await versionMessage(db, doc) });
    },

    async listVersions(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      const size = pageSize(req.pageSize, 50, 1000);
      const after = decodePageToken(req.pageToken);
      const query: Record<string, unknown> = { datasetId: dataset._id };
      if (after !== undefined) {
        const seq = Number(after);
        if (!Number.isInteger(seq)) throw invalidArgument("page_token: is not a token this server gave");
        query.seq = { $lt: seq };
      }
      const docs = await versionsOf(db)
        .find(query)
        .sort({ seq: -1 })
        .limit(size + 1)
        .toArray();
      const page = docs.slice(0, size);
      const last = page[page.length - 1];
      return create(ListVersionsResponseSchema, {
        versions: await Promise.all(page.map((d) => versionMessage(db, d))),
        nextPageToken: docs.length > size && last ? encodePageToken(String(last.seq)) : "",
      });
    },

    async getVersion(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      const doc = await requireVersion(db, dataset, req.versionId);
      return create(GetVersionResponseSchema, { version: await versionMessage(db, doc) });
    },

    async deleteVersion(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      const doc = await requireVersion(db, dataset, req.versionId);
      const reading = await db
        .collection(Collections.exports)
        .findOne({ versionId: doc._id, status: { $in: ["queued", "running"] } }, { projection: { _id: 1 } });
      if (reading) {
        throw failedPrecondition(
          `version "${doc.name}" is being exported (export ${String(reading._id)}); delete it once the export has ended or was cancelled`,
        );
      }
      const { deletedCount } = await versionsOf(db).deleteOne({ _id: doc._id });
      if (deletedCount > 0) {
        await db
          .collection<DatasetDoc>(Collections.datasets)
          .updateOne({ _id: dataset._id }, { $inc: { versionCount: -1 } });
      }
      await collectHistory(db, dataset._id);
      return create(DeleteVersionResponseSchema, {});
    },

    async diffVersions(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      return diffVersions(db, dataset, req);
    },
  };
}
