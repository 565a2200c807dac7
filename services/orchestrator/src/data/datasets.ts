// DatasetService: datasets and their category lists. Category ids are kept when given, otherwise
// assigned from `nextCategoryId`, and never renumbered.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  AddCategoriesResponseSchema,
  type Category,
  CreateDatasetResponseSchema,
  type DatasetService,
  DeleteCategoryResponseSchema,
  DeleteDatasetResponseSchema,
  GetDatasetResponseSchema,
  ListDatasetsResponseSchema,
  UpdateCategoryResponseSchema,
} from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { assertDatasetAccess, principalOf } from "../auth.ts";
import { aborted, alreadyExists, failedPrecondition, invalidArgument, notFound } from "../errors.ts";
import { forgetAnnotationWrites } from "./annotation-writes.ts";
import { datasetMessage } from "./convert.ts";
import { uuidv7 } from "./ids.ts";
import {
  type AnnotationDoc,
  type CategoryDoc,
  Collections,
  type DatasetDoc,
  type ItemDoc,
  type VersionDoc,
} from "./model.ts";
import { decodePageToken, encodePageToken, pageSize } from "./paging.ts";
import { type FieldProblem, throwProblems } from "./validate.ts";

export const DEFAULT_DATASET_NAME = "default";
const MAX_NAME_LENGTH = 200;

const datasets = (db: Db) => db.collection<DatasetDoc>(Collections.datasets);

/** A dataset by id or, failing that, by name; null for "" and for a dataset that does not exist. */
export async function findDataset(db: Db, idOrName: string): Promise<DatasetDoc | null> {
  if (idOrName === "") return null;
  return (await datasets(db).findOne({ _id: idOrName })) ?? (await datasets(db).findOne({ name: idOrName }));
}

/** A dataset by id or name; InvalidArgument when `idOrName` is empty, NotFound naming `field` when unknown. */
export async function requireDataset(db: Db, idOrName: string, field = "dataset_id"): Promise<DatasetDoc> {
  if (idOrName === "") throw invalidArgument(`${field}: is required`);
  const found = await findDataset(db, idOrName);
  if (!found) throw notFound(`${field}: dataset "${idOrName}" not found`);
  return found;
}

/**
 * The dataset an import goes to: the one `idOrName` names, else "default", created by the first
 * import without a dataset. A preview never creates it: it previews against an empty one.
 */
export async function importDataset(
  db: Db,
  idOrName: string,
  options: { preview: boolean; field: string },
): Promise<DatasetDoc> {
  if (idOrName !== "") return requireDataset(db, idOrName, options.field);
  if (!options.preview) return defaultDataset(db);
  const empty: DatasetDoc = {
    _id: uuidv7(),
    name: DEFAULT_DATASET_NAME,
    description: "",
    categories: [],
    nextCategoryId: 1,
    createdAt: new Date(),
  };
  return (await findDataset(db, DEFAULT_DATASET_NAME)) ?? empty;
}

/** The dataset named "default", created on first use (imports without a dataset go there). */
export async function defaultDataset(db: Db): Promise<DatasetDoc> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await datasets(db).findOne({ name: DEFAULT_DATASET_NAME });
    if (existing) return existing;
    const doc: DatasetDoc = {
      _id: uuidv7(),
      name: DEFAULT_DATASET_NAME,
      description: "Created on first use by an import without a dataset.",
      categories: [],
      nextCategoryId: 1,
      createdAt: new Date(),
    };
    try {
      await datasets(db).insertOne(doc);
      return doc;
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
    }
  }
  throw aborted("could not create the default dataset");
}

export function isDuplicateKey(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 11000;
}

function categoryDoc(category: Category, id: number): CategoryDoc {
  const doc: CategoryDoc = { id, name: category.name };
  if (category.supercategory !== "") doc.supercategory = category.supercategory;
  if (category.keypoints.length > 0) doc.keypoints = category.keypoints;
  if (category.skeleton.length > 0) doc.skeleton = category.skeleton.map((e) => [e.fromKeypoint, e.toKeypoint]);
  return doc;
}

/**
 * Appends `incoming` to `existing`: given ids are kept (and must be free), missing ones assigned
 * from `next` upwards. Returns the new list and next id, or throws naming the field.
 */
export function appendCategories(
  existing: readonly CategoryDoc[],
  next: number,
  incoming: readonly Category[],
): { categories: CategoryDoc[]; nextCategoryId: number } {
  const problems: FieldProblem[] = [];
  const ids = new Set(existing.map((c) => c.id));
  const names = new Set(existing.map((c) => c.name));
  let nextId = next;
  for (const c of incoming) if (c.id >= nextId) nextId = c.id + 1;
  const out = [...existing];
  incoming.forEach((category, i) => {
    const path = `categories[${i}]`;
    const name = category.name.trim();
    if (name === "") problems.push({ field: `${path}.name`, message: "is required" });
    else if (name.length > MAX_NAME_LENGTH) {
      problems.push({ field: `${path}.name`, message: `must be at most ${MAX_NAME_LENGTH} characters` });
    }
    if (names.has(name)) problems.push({ field: `${path}.name`, message: `category "${name}" already exists` });
    names.add(name);
    if (category.id !== 0 && ids.has(category.id)) {
      problems.push({ field: `${path}.id`, message: `category id ${category.id} is already taken` });
    }
    category.skeleton.forEach((edge, j) => {
      const n = category.keypoints.length;
      if (edge.fromKeypoint < 1 || edge.fromKeypoint > n || edge.toKeypoint < 1 || edge.toKeypoint > n) {
        problems.push({ field: `${path}.skeleton[${j}]`, message: `keypoint indices are 1-based, at most ${n}` });
      }
    });
    const id = category.id !== 0 ? category.id : nextId++;
    ids.add(id);
    out.push(categoryDoc({ ...category, name }, id));
  });
  if (problems.some((p) => p.message.includes("already"))) {
    const first = problems.find((p) => p.message.includes("already")) as FieldProblem;
    throw alreadyExists(`${first.field}: ${first.message}`);
  }
  throwProblems(problems);
  return { categories: out, nextCategoryId: nextId };
}

/** A category name as stored: trimmed, required, at most MAX_NAME_LENGTH characters. */
function categoryName(raw: string, field: string): string {
  const name = raw.trim();
  if (name === "") throw invalidArgument(`${field}: is required`);
  if (name.length > MAX_NAME_LENGTH) throw invalidArgument(`${field}: must be at most ${MAX_NAME_LENGTH} characters`);
  return name;
}

function requireCategory(doc: DatasetDoc, categoryId: number): CategoryDoc {
  const found = doc.categories.find((c) => c.id === categoryId);
  if (!found) {
    throw notFound(`category_id: dataset "${doc.name}" has no category ${categoryId}`);
  }
  return found;
}

/**
 * Replaces a dataset's category list with `change(doc)`, only if nobody changed the list since it
 * was read (retried a few times), as AddCategories does.
 */
async function changeCategories(
  db: Db,
  datasetId: string,
  change: (doc: DatasetDoc) => CategoryDoc[],
): Promise<DatasetDoc> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const doc = await requireDataset(db, datasetId);
    const categories = change(doc);
    const updated = await datasets(db).findOneAndUpdate(
      { _id: doc._id, categories: doc.categories },
      { $set: { categories } },
      { returnDocument: "after" },
    );
    if (updated) return updated;
  }
  throw aborted("categories changed concurrently; retry");
}

/** Item and (non-removed) annotation counts per dataset, with two grouped queries. */
export async function datasetCounts(
  db: Db,
  ids: readonly string[],
): Promise<Map<string, { items: number; annotations: number }>> {
  const counts = new Map(ids.map((id) => [id, { items: 0, annotations: 0 }]));
  if (ids.length === 0) return counts;
  const group = [{ $group: { _id: "$datasetId", n: { $sum: 1 } } }];
  const [items, annotations] = await Promise.all([
    db
      .collection<ItemDoc>(Collections.items)
      .aggregate<{ _id: string; n: number }>([{ $match: { datasetId: { $in: [...ids] } } }, ...group])
      .toArray(),
    db
      .collection<AnnotationDoc>(Collections.annotations)
      .aggregate<{ _id: string; n: number }>([
        { $match: { datasetId: { $in: [...ids] }, removed: { $ne: true } } },
        ...group,
      ])
      .toArray(),
  ]);
  for (const row of items) {
    const entry = counts.get(row._id);
    if (entry) entry.items = row.n;
  }
  for (const row of annotations) {
    const entry = counts.get(row._id);
    if (entry) entry.annotations = row.n;
  }
  return counts;
}

export function createDatasetService(db: Db): Partial<ServiceImpl<typeof DatasetService>> {
  return {
    async createDataset(req) {
      const name = req.name.trim();
      if (name === "") throw invalidArgument("name: is required");
      if (name.length > MAX_NAME_LENGTH) throw invalidArgument(`name: must be at most ${MAX_NAME_LENGTH} characters`);
      const { categories, nextCategoryId } = appendCategories([], 1, req.categories);
      const doc: DatasetDoc = {
        _id: uuidv7(),
        name,
        description: req.description,
        categories,
        nextCategoryId,
        createdAt: new Date(),
      };
      try {
        await datasets(db).insertOne(doc);
      } catch (err) {
        if (isDuplicateKey(err)) throw alreadyExists(`dataset "${name}" already exists`);
        throw err;
      }
      return create(CreateDatasetResponseSchema, { dataset: datasetMessage(doc) });
    },

    async getDataset(req, ctx) {
      const doc = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), doc._id);
      const counts = await datasetCounts(db, [doc._id]);
      return create(GetDatasetResponseSchema, { dataset: datasetMessage(doc, counts.get(doc._id)) });
    },

    async listDatasets(req, ctx) {
      const size = pageSize(req.pageSize, 50, 1000);
      const after = decodePageToken(req.pageToken);
      const principal = principalOf(ctx);
      const query: Record<string, unknown> = {};
      if (after !== undefined) query._id = { $gt: after };
      if (principal.datasetId !== undefined) query._id = { ...(query._id as object), $eq: principal.datasetId };
      const docs = await datasets(db)
        .find(query)
        .sort({ _id: 1 })
        .limit(size + 1)
        .toArray();
      const page = docs.slice(0, size);
      const counts = await datasetCounts(
        db,
        page.map((d) => d._id),
      );
      const last = page[page.length - 1];
      return create(ListDatasetsResponseSchema, {
        datasets: page.map((d) => datasetMessage(d, counts.get(d._id))),
        nextPageToken: docs.length > size && last ? encodePageToken(last._id) : "",
      });
    },

    async addCategories(req) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const doc = await requireDataset(db, req.datasetId);
        const { categories, nextCategoryId } = appendCategories(doc.categories, doc.nextCategoryId, req.categories);
        // Optimistic: applies only if nobody changed the list since it was read.
        const updated = await datasets(db).findOneAndUpdate(
          { _id: doc._id, nextCategoryId: doc.nextCategoryId, categories: { $size: doc.categories.length } },
          { $set: { categories, nextCategoryId } },
          { returnDocument: "after" },
        );
        if (updated) return create(AddCategoriesResponseSchema, { dataset: datasetMessage(updated) });
      }
      throw aborted("categories changed concurrently; retry");
    },

    async updateCategory(req) {
      const updated = await changeCategories(db, req.datasetId, (doc) => {
        const current = requireCategory(doc, req.categoryId);
        const next: CategoryDoc = { ...current };
        if (req.name !== undefined) {
          next.name = categoryName(req.name, "name");
          const clash = doc.categories.find((c) => c.id !== current.id && c.name === next.name);
          if (clash) throw alreadyExists(`name: category "${next.name}" already exists (id ${clash.id})`);
        }
        if (req.supercategory !== undefined) {
          const supercategory = req.supercategory.trim();
          if (supercategory.length > MAX_NAME_LENGTH) {
            throw invalidArgument(`supercategory: must be at most ${MAX_NAME_LENGTH} characters`);
          }
          if (supercategory === "") delete next.supercategory;
          else next.supercategory = supercategory;
        }
        return doc.categories.map((c) => (c.id === current.id ? next : c));
      });
      return create(UpdateCategoryResponseSchema, { dataset: datasetMessage(updated) });
    },

    async deleteCategory(req) {
      const doc = await requireDataset(db, req.datasetId);
      const category = requireCategory(doc, req.categoryId);
      const used = await db
        .collection<AnnotationDoc>(Collections.annotations)
        .countDocuments({ datasetId: doc._id, categoryId: category.id, removed: { $ne: true } });
      if (used > 0) {
        throw failedPrecondition(
          `category "${category.name}" is used by ${used} annotation${used === 1 ? "" : "s"}; ` +
            "delete or relabel them first",
        );
      }
      // Its id is not given out again: nextCategoryId stays where it is.
      const updated = await changeCategories(db, doc._id, (current) =>
        current.categories.filter((c) => c.id !== category.id),
      );
      return create(DeleteCategoryResponseSchema, { dataset: datasetMessage(updated) });
    },

    async deleteDataset(req) {
      const doc = await requireDataset(db, req.datasetId);
      const busy = await db
        .collection(Collections.exports)
        .findOne({ datasetId: doc._id, status: { $in: ["queued", "running"] } }, { projection: { _id: 1 } });
      if (busy) {
        throw failedPrecondition(`dataset "${doc.name}" has an export queued or running (${String(busy._id)})`);
      }
      // Versions exist to reproduce exports later: they are never deleted as a side effect.
      const versions = await db.collection<VersionDoc>(Collections.versions).find({ datasetId: doc._id }).toArray();
      if (versions.length > 0) {
        const names = versions.map((v) => `"${v.name}"`).join(", ");
        throw failedPrecondition(
          `dataset "${doc.name}" has ${versions.length} version${versions.length === 1 ? "" : "s"} (${names}); delete them first (DeleteVersion)`,
        );
      }
      // The dataset goes first, so nothing new can reach it while its children are removed.
      await datasets(db).deleteOne({ _id: doc._id });
      const [annotations, items] = await Promise.all([
        db.collection(Collections.annotations).deleteMany({ datasetId: doc._id }),
        db.collection(Collections.items).deleteMany({ datasetId: doc._id }),
        db.collection(Collections.imports).deleteMany({ datasetId: doc._id }),
        db.collection(Collections.personas).deleteMany({ datasetId: doc._id }),
        forgetAnnotationWrites(db, doc._id),
      ]);
      return create(DeleteDatasetResponseSchema, {
        deletedItems: BigInt(items.deletedCount),
        deletedAnnotations: BigInt(annotations.deletedCount),
      });
    },
  };
}
