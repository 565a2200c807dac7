// DiffVersions: the two sides streamed in item order (a version through versions-read.ts, the live
// dataset through the ordinary join), compared document by document on their stored bytes less
// the fields every rewrite touches (`updatedAt`, `version`): a re-upsert of the same content is no
// change. Counts cover everything; the per-item list stops at `max_changes`.
import { create } from "@bufbuild/protobuf";
import {
  type CategoryChangeCounts,
  CategoryChangeCountsSchema,
  ChangeCountsSchema,
  ChangeKind,
  type DiffVersionsRequest,
  type DiffVersionsResponse,
  DiffVersionsResponseSchema,
  type ItemChange,
  ItemChangeSchema,
  ItemFilterSchema,
} from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { int32, valueSize } from "./bson-reader.ts";
import { compileFilter } from "./filters.ts";
import { publicId } from "./ids.ts";
import type { AnnotationDoc, CategoryDoc, DatasetDoc, VersionDoc } from "./model.ts";
import { type ItemWithAnnotations, type RawDoc, type StreamQuery, streamItemBson } from "./stream.ts";
import { requireVersion, versionMessage } from "./versions.ts";
import { compareStrings, decodeRaw, idOf, streamVersionBson } from "./versions-read.ts";

const DEFAULT_CHANGES = 100;
const MAX_CHANGES = 1000;
const IGNORED = new Set(["updatedAt", "version"]);

/** The document's bytes without the elements a rewrite of the same content changes anyway. */
function contentOf(doc: RawDoc): Buffer {
  const { buf, at } = doc;
  const end = at + int32(buf, at) - 1;
  const parts: Buffer[] = [];
  let p = at + 4;
  while (p < end) {
    const start = p;
    const type = buf[p++] as number;
    const nameAt = p;
    while (buf[p] !== 0) p++;
    const name = buf.subarray(nameAt, p).toString("latin1");
    p++;
    p += valueSize(buf, type, p);
    if (!IGNORED.has(name)) parts.push(buf.subarray(start, p));
  }
  return Buffer.concat(parts);
}

interface Counts {
  added: number;
  removed: number;
  changed: number;
}

const zero = (): Counts => ({ added: 0, removed: 0, changed: 0 });

async function* side(
  db: Db,
  dataset: DatasetDoc,
  version: VersionDoc | undefined,
): AsyncGenerator<ItemWithAnnotations<RawDoc, RawDoc>> {
  const filter = create(ItemFilterSchema, { allStatuses: true, includeRemoved: true });
  const query: StreamQuery = { datasetId: dataset._id, filter, snapshot: new Date(), batchSize: 1000, limit: 0 };
  if (version) yield* streamVersionBson(db, query, compileFilter(dataset._id, filter), version);
  else yield* streamItemBson(db, query);
}

function categoryChanges(from: readonly CategoryDoc[], to: readonly CategoryDoc[]): Counts {
  const counts = zero();
  const before = new Map(from.map((c) => [c.id, JSON.stringify(c)]));
  const after = new Map(to.map((c) => [c.id, JSON.stringify(c)]));
  for (const [id, json] of after) {
    const old = before.get(id);
    if (old === undefined) counts.added++;
    else if (old !== json) counts.changed++;
  }
  for (const id of before.keys()) if (!after.has(id)) counts.removed++;
  return counts;
}

export async function diffVersions(
  db: Db,
  dataset: DatasetDoc,
  req: DiffVersionsRequest,
): Promise<DiffVersionsResponse> {
  const from = await requireVersion(db, dataset, req.fromVersionId, "from_version_id");
  const to = req.toVersionId === "" ? undefined : await requireVersion(db, dataset, req.toVersionId, "to_version_id");
  const maxChanges = req.maxChanges === 0 ? DEFAULT_CHANGES : Math.min(req.maxChanges, MAX_CHANGES);
  const toCategories = to ? to.categories : dataset.categories;
  const names = new Map<number, string>([...from.categories, ...toCategories].map((c) => [c.id, c.name]));
  const items = zero();
  const annotations = zero();
  const byCategory = new Map<number, Counts>();
  const changes: ItemChange[] = [];
  let truncated = false;
  const countCategory = (doc: RawDoc, kind: keyof Counts) => {
    const category = decodeRaw<AnnotationDoc>(doc).categoryId;
    if (category === undefined) return;
    const counts = byCategory.get(category) ?? zero();
    counts[kind]++;
    byCategory.set(category, counts);
  };

  const compare = (older: ItemWithAnnotations<RawDoc, RawDoc> | undefined, newer: typeof older) => {
    const stored = idOf((older ?? newer)?.item as RawDoc);
    const change = create(ItemChangeSchema, { itemId: publicId(dataset._id, stored) });
    if (!older) {
      change.item = ChangeKind.ADDED;
      items.added++;
    } else if (!newer) {
      change.item = ChangeKind.REMOVED;
      items.removed++;
    } else if (!contentOf(older.item).equals(contentOf(newer.item))) {
      change.item = ChangeKind.CHANGED;
      items.changed++;
    }
    const before = new Map((older?.annotations ?? []).map((a) => [idOf(a), a]));
    for (const a of newer?.annotations ?? []) {
      const id = idOf(a);
      const old = before.get(id);
      before.delete(id);
      if (!old) {
        annotations.added++;
        countCategory(a, "added");
        change.addedAnnotationIds.push(publicId(dataset._id, id));
      } else if (!contentOf(old).equals(contentOf(a))) {
        annotations.changed++;
        countCategory(a, "changed");
        change.changedAnnotationIds.push(publicId(dataset._id, id));
      }
    }
    for (const [id, old] of before) {
      annotations.removed++;
      countCategory(old, "removed");
      change.removedAnnotationIds.push(publicId(dataset._id, id));
    }
    const changed =
      change.item !== ChangeKind.UNSPECIFIED ||
      change.addedAnnotationIds.length + change.changedAnnotationIds.length + change.removedAnnotationIds.length > 0;
    if (!changed) return;
    if (changes.length < maxChanges) changes.push(change);
    else truncated = true;
  };

  const older = side(db, dataset, from)[Symbol.asyncIterator]();
  const newer = side(db, dataset, to)[Symbol.asyncIterator]();
  let a = await older.next();
  let b = await newer.next();
  while (!a.done || !b.done) {
    const order = a.done ? 1 : b.done ? -1 : compareStrings(idOf(a.value.item), idOf(b.value.item));
    if (order === 0) {
      compare(a.value as ItemWithAnnotations<RawDoc, RawDoc>, b.value as ItemWithAnnotations<RawDoc, RawDoc>);
      [a, b] = await Promise.all([older.next(), newer.next()]);
    } else if (order < 0) {
      compare(a.value as ItemWithAnnotations<RawDoc, RawDoc>, undefined);
      a = await older.next();
    } else {
      compare(undefined, b.value as ItemWithAnnotations<RawDoc, RawDoc>);
      b = await newer.next();
    }
  }

  const categoryCounts: CategoryChangeCounts[] = [...byCategory]
    .sort(([x], [y]) => x - y)
    .map(([id, counts]) =>
      create(CategoryChangeCountsSchema, {
        categoryId: id,
        categoryName: names.get(id) ?? "",
        annotations: create(ChangeCountsSchema, toCounts(counts)),
      }),
    );
  return create(DiffVersionsResponseSchema, {
    from: await versionMessage(db, from),
    ...(to ? { to: await versionMessage(db, to) } : {}),
    items: create(ChangeCountsSchema, toCounts(items)),
    annotations: create(ChangeCountsSchema, toCounts(annotations)),
    byCategory: categoryCounts,
    categories: create(ChangeCountsSchema, toCounts(categoryChanges(from.categories, toCategories))),
    changes,
    changesTruncated: truncated,
  });
}

function toCounts(c: Counts) {
  return { added: BigInt(c.added), removed: BigInt(c.removed), changed: BigInt(c.changed) };
}
