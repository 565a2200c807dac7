// Categories an importer found, merged into the dataset before its records are imported: a
// category the dataset has by name is reused (its id wins), a new one keeps its id from the upload
// when the dataset has that id free (so a lossless export imports into a fresh dataset with the
// same ids), else it gets the dataset's next id. Annotations are then renumbered where ids moved.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Category } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { aborted } from "../../errors.ts";
import { appendCategories } from "../datasets.ts";
import type { DatasetDoc } from "../model.ts";
import { Collections } from "../model.ts";
import { type SpooledFile, spool } from "./reader.ts";

export interface CategoryPlan {
  /** Upload id -> dataset id, for the ids that change. */
  remap: Map<number, number>;
  /** Categories the import adds, with their dataset ids. */
  created: Category[];
  notes: string[];
}

export function planCategories(dataset: DatasetDoc, incoming: readonly Category[]): CategoryPlan {
  const byName = new Map(dataset.categories.map((c) => [c.name, c]));
  const taken = new Set(dataset.categories.map((c) => c.id));
  const remap = new Map<number, number>();
  const created: Category[] = [];
  const notes: string[] = [];
  const fresh: Category[] = [];
  // Upload categories named like an earlier new one: they join it (resolved once its id is known).
  const sameAsFresh = new Map<number, Category>();
  for (const category of incoming) {
    const name = category.name.trim();
    const earlier = fresh.find((c) => c.name.trim() === name);
    if (earlier) {
      sameAsFresh.set(category.id, earlier);
      continue;
    }
    const existing = byName.get(name);
    if (existing) {
      if (existing.id !== category.id) remap.set(category.id, existing.id);
      if (!sameKeypoints(existing, category)) {
        notes.push(`category "${name}" keeps the dataset's keypoints and skeleton; the upload's differ`);
      }
      continue;
    }
    fresh.push(category);
  }
  // Ids free in the dataset are kept first, so a later category cannot take an id an earlier one had.
  for (const category of fresh) if (category.id > 0 && !taken.has(category.id)) taken.add(category.id);
  let next = Math.max(dataset.nextCategoryId, ...[...taken].map((id) => id + 1));
  const kept = new Set<number>();
  for (const category of fresh) {
    const keeps = category.id > 0 && !dataset.categories.some((c) => c.id === category.id) && !kept.has(category.id);
    const id = keeps ? category.id : next++;
    kept.add(id);
    if (id !== category.id) remap.set(category.id, id);
    created.push({ ...category, name: category.name.trim(), id });
  }
  for (const [uploadId, earlier] of sameAsFresh) {
    const finalId = remap.get(earlier.id) ?? earlier.id;
    if (finalId !== uploadId) remap.set(uploadId, finalId);
  }
  return { remap, created, notes };
}

function sameKeypoints(
  existing: { keypoints?: string[]; skeleton?: Array<[number, number]> },
  incoming: Category,
): boolean {
  const keypoints = existing.keypoints ?? [];
  const skeleton = existing.skeleton ?? [];
  if (incoming.keypoints.length === 0 && incoming.skeleton.length === 0) return true;
  return (
    JSON.stringify(keypoints) === JSON.stringify(incoming.keypoints) &&
    JSON.stringify(skeleton) === JSON.stringify(incoming.skeleton.map((e) => [e.fromKeypoint, e.toKeypoint]))
  );
}

/** Adds the plan's categories to the dataset (optimistically, as AddCategories does). */
export async function addPlannedCategories(db: Db, datasetId: string, plan: CategoryPlan): Promise<DatasetDoc> {
  const datasets = db.collection<DatasetDoc>(Collections.datasets);
  for (let attempt = 0; attempt < 5; attempt++) {
    const doc = await datasets.findOne({ _id: datasetId });
    if (!doc) throw aborted(`dataset ${datasetId} was deleted during the import`);
    if (plan.created.length === 0) return doc;
    const { categories, nextCategoryId } = appendCategories(doc.categories, doc.nextCategoryId, plan.created);
    const updated = await datasets.findOneAndUpdate(
      { _id: doc._id, nextCategoryId: doc.nextCategoryId, categories: { $size: doc.categories.length } },
      { $set: { categories, nextCategoryId } },
      { returnDocument: "after" },
    );
    if (updated) return updated;
  }
  throw aborted("categories changed concurrently; retry the import");
}

/** Takes back the categories an import added, when the import stored nothing. */
export async function removePlannedCategories(db: Db, datasetId: string, plan: CategoryPlan): Promise<void> {
  if (plan.created.length === 0) return;
  await db
    .collection<DatasetDoc>(Collections.datasets)
    .updateOne({ _id: datasetId }, { $pull: { categories: { id: { $in: plan.created.map((c) => c.id) } } } });
}

/** The records with annotation category ids renumbered by the plan (the same file when none move). */
export async function remapRecords(file: SpooledFile, plan: CategoryPlan): Promise<SpooledFile> {
  if (plan.remap.size === 0) return file;
  async function* lines(): AsyncGenerator<Uint8Array> {
    // Made where it is read: readline reads from the start and drops lines nobody iterates yet.
    const input = createInterface({ input: createReadStream(file.path), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of input) {
      if (line.trim() === "") continue;
      const item = JSON.parse(line) as { annotations?: Array<{ categoryId?: number }> };
      for (const annotation of item.annotations ?? []) {
        const moved = annotation.categoryId !== undefined ? plan.remap.get(annotation.categoryId) : undefined;
        if (moved !== undefined) annotation.categoryId = moved;
      }
      yield Buffer.from(`${JSON.stringify(item)}\n`);
    }
  }
  const remapped = await spool(lines(), Number.MAX_SAFE_INTEGER);
  await file.dispose();
  return remapped;
}
