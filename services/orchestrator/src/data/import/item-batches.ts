// Lossless item lines (labelport-items), a batch at a time: an item with its annotations inline.
// The batch's items and their annotations are looked up together; each line then replaces (new
// items, `overwrite`) or joins (`merge`) what its item had, under the duplicate-id and
// missing-category policies, and the batch's documents are staged for the writer.
import type { Db } from "mongodb";
import { publicId } from "../ids.ts";
import type { AnnotationDoc, DatasetDoc, ItemDoc } from "../model.ts";
import { Collections } from "../model.ts";
import { keyframeCount } from "../tracks.ts";
import type { BatchWrites, LookupOptions } from "./batch-writes.ts";
import { duplicateItemMessage } from "./conflict-rules.ts";
import { parseItemLine } from "./item-line.ts";
import type { ImportOptions } from "./options.ts";
import type { RawRecord } from "./reader.ts";
import type { RunState } from "./run-state.ts";
import { addOp, emptyBatch, stage } from "./writer.ts";

const unique = <T>(values: Iterable<T>): T[] => [...new Set(values)];

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export class ItemBatches {
  /** The line each item was imported from, across batches (a later line is a duplicate). */
  private readonly itemLines = new Map<string, number>();
  /** The dataset's category ids, with the placeholders this import creates. */
  private readonly categoryIds: Set<number>;
  /** The placeholder categories this import creates (`missingDependencies: create`). */
  private readonly placeholderIds = new Set<number>();

  constructor(
    private readonly db: Db,
    private readonly dataset: DatasetDoc,
    private readonly options: ImportOptions,
    private readonly state: RunState,
    private readonly writes: BatchWrites,
  ) {
    this.categoryIds = new Set(dataset.categories.map((c) => c.id));
  }

  async import(records: RawRecord[]): Promise<void> {
    const { dataset, options, state, writes } = this;
    const parsed = await state.validate(
      records,
      (value) =>
        parseItemLine(value, {
          datasetId: dataset._id,
          now: state.now,
          requireKeyframes: options.validation.requireKeyframes,
        }),
      () => state.skipped.items++,
    );
    if (parsed.length === 0 || state.stopped) return;
    await writes.beforeLookups();
    const read = writes.readOptions();
    const itemIds = unique(parsed.map((p) => p.value.item._id));
    const annotationIds = unique(parsed.flatMap((p) => p.value.annotations.map((a) => a._id)));
    const { existingItems, existingAnnotations } = await this.lookUp(itemIds, annotationIds, read);
    // The item's annotations in the database and in this batch's work, by item id (a line looks
    // up its own item's, never scans all of them).
    const existingByItem = new Map<string, string[]>();
    for (const [id, a] of existingAnnotations) {
      if (a.datasetId === dataset._id) pushTo(existingByItem, a.itemId, id);
    }
    const workByItem = new Map<string, string[]>();
    const { duplicateIds, missingDependencies } = options.conflictResolution;
    const batch = emptyBatch();
    const itemWork = new Map<string, ItemDoc>();
    const annotationWork = new Map<string, AnnotationDoc | null>();
    const newCategories: number[] = [];
    for (const { line, value } of parsed) {
      const item = value.item;
      // Documents are keyed by stored ids; annotations name their item by its public id.
      const itemId = publicId(dataset._id, item._id);
      const existing = existingItems.get(item._id);
      const earlierLine = this.itemLines.get(item._id);
      const duplicate = earlierLine !== undefined || existing !== undefined;
      if (duplicate) {
        state.issues.conflicts.add({
          type: "duplicate_item_id",
          annotationId: itemId,
          message: duplicateItemMessage(earlierLine),
          line,
        });
        if (duplicateIds === "skip") {
          state.skipped.items++;
          state.skipped.annotations += value.annotations.length;
          state.accounting.skipped += value.annotations.length;
          continue;
        }
        if (duplicateIds === "fail") {
          state.accounting.drop("duplicate id", value.annotations.length);
          await state.stop(line, "conflict", `Duplicate item ID "${itemId}"`, "id");
          return;
        }
      }
      // Categories the dataset lacks.
      let kept = value.annotations;
      const unknown = unique(
        value.annotations
          .map((a) => a.categoryId)
          .filter((c): c is number => c !== undefined && !this.categoryIds.has(c)),
      );
      if (unknown.length > 0) {
        if (missingDependencies === "fail") {
          state.accounting.drop("missing category", value.annotations.length);
          await state.stop(line, "missing_dependency", `Category ${unknown[0]} not found`, "annotations");
          return;
        }
        if (missingDependencies === "skip") {
          kept = value.annotations.filter((a) => a.categoryId === undefined || this.categoryIds.has(a.categoryId));
          state.skipped.annotations += value.annotations.length - kept.length;
          // `skip` keeps the import going; the annotations are still lost, not left out as asked.
          state.accounting.drop("missing category", value.annotations.length - kept.length);
          for (const c of unknown) {
            state.warn(line, {
              type: "missing_dependency",
              message: `Category ${c} not found; its annotations were skipped`,
            });
          }
        } else {
          for (const c of unknown) {
            this.categoryIds.add(c);
            this.placeholderIds.add(c);
            newCategories.push(c);
            state.warn(line, { type: "missing_dependency", message: `Created placeholder category ${c}` });
          }
        }
      }
      // Annotation ids another item of the dataset (or an earlier line) already has: the same
      // duplicate-id policy as items; overwrite and merge move the annotation to this item.
      const taken = kept.filter((a) => {
        const other = annotationWork.has(a._id) ? annotationWork.get(a._id) : existingAnnotations.get(a._id);
        return other != null && other.itemId !== itemId;
      });
      if (taken.length > 0) {
        for (const a of taken) {
          const other = (annotationWork.get(a._id) ?? existingAnnotations.get(a._id)) as AnnotationDoc;
          state.issues.conflicts.add({
            type: "duplicate_id",
            annotationId: publicId(dataset._id, a._id),
            message: `annotation id already used by item "${other.itemId}"`,
            line,
          });
        }
        if (duplicateIds === "fail") {
          state.accounting.drop("duplicate id", value.annotations.length);
          await state.stop(
            line,
            "conflict",
            `Duplicate annotation ID "${publicId(dataset._id, taken[0]?._id ?? "")}"`,
            "annotations",
          );
          return;
        }
        if (duplicateIds === "skip") {
          const skip = new Set(taken.map((a) => a._id));
          kept = kept.filter((a) => !skip.has(a._id));
          state.skipped.annotations += taken.length;
          state.accounting.skipped += taken.length;
        }
      }
      this.itemLines.set(item._id, line);
      itemWork.set(item._id, item);
      // overwrite (and new items): the line's annotations replace the item's; merge keeps the others.
      const stored = existingByItem.get(itemId);
      const staged = workByItem.get(itemId);
      // A new item (the usual line) has no annotations to replace.
      if ((stored || staged) && (!duplicate || duplicateIds === "overwrite")) {
        const keptIds = new Set(kept.map((k) => k._id));
        for (const id of stored ?? []) {
          if (!keptIds.has(id)) annotationWork.set(id, null);
        }
        for (const id of staged ?? []) {
          const a = annotationWork.get(id);
          if (a && a.itemId === itemId && !keptIds.has(id)) annotationWork.set(id, null);
        }
      }
      for (const a of kept) {
        // Who made it: the line's maker, else whoever made the annotation it replaces, else the importer.
        a.createdBy ??= existingAnnotations.get(a._id)?.createdBy ?? state.rules.actor;
        annotationWork.set(a._id, a);
        pushTo(workByItem, a.itemId, a._id);
      }
      state.imported.items++;
      state.imported.annotations += kept.length;
      state.accounting.written += kept.length;
      const placeholders = kept.filter((a) => a.categoryId !== undefined && this.placeholderIds.has(a.categoryId));
      // Stored under a category that has only an id: its name and keypoints were not in the file.
      state.accounting.change("placeholder category", placeholders.length);
      for (const a of kept) {
        if (!a.boxSequence) continue;
        const n = keyframeCount(a.boxSequence.boxes);
        state.imported.totalKeyframes += n;
        if (n === 1) state.imported.singleKeyframeSequences++;
      }
    }
    if (writes.dry) return;
    if (newCategories.length > 0) {
      // The dataset document is updated in place: read it after every earlier update.
      await writes.settle();
      const current = await this.db.collection<DatasetDoc>(Collections.datasets).findOne({ _id: dataset._id }, read);
      if (current) {
        batch.befores.push({ collection: Collections.datasets, id: dataset._id, doc: current });
        const categories = [...current.categories, ...newCategories.map((id) => ({ id, name: `category ${id}` }))];
        const nextCategoryId = Math.max(current.nextCategoryId, ...newCategories.map((id) => id + 1));
        addOp(batch, Collections.datasets, {
          updateOne: { filter: { _id: dataset._id }, update: { $set: { categories, nextCategoryId } } },
        });
      }
    }
    // The lookups above saw every document this batch touches (and this import's earlier
    // batches), so `previous` tells new documents from existing ones.
    for (const [id, doc] of itemWork) {
      const previous = existingItems.get(id) ?? null;
      stage(batch, Collections.items, id, previous, doc);
    }
    for (const [id, doc] of annotationWork) {
      const previous = existingAnnotations.get(id) ?? null;
      stage(batch, Collections.annotations, id, previous, doc);
    }
    writes.start(batch);
  }

  /**
   * The batch's items, the annotations they have, and any other annotation with the lines' ids
   * (one that belongs to another item), with the batch in flight in their place.
   */
  private async lookUp(itemIds: string[], annotationIds: string[], read: LookupOptions) {
    const { dataset, writes } = this;
    const items = this.db.collection<ItemDoc>(Collections.items);
    const annotations = this.db.collection<AnnotationDoc>(Collections.annotations);
    const existingItems = new Map<string, ItemDoc>();
    for (const doc of await items.find({ _id: { $in: itemIds } }, read).toArray()) existingItems.set(doc._id, doc);
    writes.patch(Collections.items, existingItems, itemIds);
    const existingAnnotations = new Map<string, AnnotationDoc>();
    const wanted = new Set(itemIds.map((id) => publicId(dataset._id, id)));
    for (const doc of await annotations
      .find({ datasetId: dataset._id, itemId: { $in: [...wanted] } }, read)
      .toArray()) {
      existingAnnotations.set(doc._id, doc);
    }
    const flight = writes.inFlight(Collections.annotations);
    if (flight) {
      // The batch in flight decides which of its annotations these items have.
      for (const [id, doc] of flight) {
        existingAnnotations.delete(id);
        const a = doc as AnnotationDoc | null;
        if (a && a.datasetId === dataset._id && wanted.has(a.itemId)) existingAnnotations.set(id, a);
      }
    }
    const missingIds = annotationIds.filter((id) => !existingAnnotations.has(id));
    if (missingIds.length > 0) {
      for (const doc of await annotations.find({ _id: { $in: missingIds } }, read).toArray()) {
        existingAnnotations.set(doc._id, doc);
      }
      writes.patch(Collections.annotations, existingAnnotations, missingIds);
    }
    return { existingItems, existingAnnotations };
  }
}
