// ItemService: items and annotations (StreamItems lives in stream.ts, SplitItems in split-items.ts).
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  CountItemsResponseSchema,
  DeleteItemsResponseSchema,
  GetItemResponseSchema,
  type ItemService,
  ListItemsResponseSchema,
  UpsertAnnotationsResponseSchema,
  UpsertItemsResponseSchema,
} from "@labelport/sdk/contracts";
import { type AnyBulkWriteOperation, BSON, type ClientSession, type Db, type MongoClient } from "mongodb";
import { assertDatasetAccess, principalOf } from "../auth.ts";
import type { Context } from "../context.ts";
import { invalidArgument, notFound } from "../errors.ts";
import { markedAnnotationWrite } from "./annotation-writes.ts";
import { annotationMessage, itemMessage } from "./convert.ts";
import { requireDataset } from "./datasets.ts";
import { compileFilter } from "./filters.ts";
import { publicId, storedId } from "./ids.ts";
import { type AnnotationDoc, Collections, type ItemDoc } from "./model.ts";
import { decodePageToken, encodePageToken, pageSize } from "./paging.ts";
import { createSplitItems } from "./split-items.ts";
import { createItemStream } from "./stream.ts";
import { annotationDoc, type FieldProblem, itemDoc, throwProblems } from "./validate.ts";
import { requireVersion } from "./versions.ts";
import { archiveBeforeWrite } from "./versions-archive.ts";
import { versionCounts, versionItem, versionItemList } from "./versions-read.ts";

const MAX_BATCH = 10_000;
const WRITE_CHUNK = 1000;
/**
 * MongoDB refuses documents over 16 MiB, and an update carries its document inside the operation:
 * refuse anything that would not fit before writing a thing, naming the field.
 */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024 - 64 * 1024;

const ITEM_OPTIONAL = ["split", "media", "meta", "data"] as const;
const ANNOTATION_OPTIONAL = [
  "personaId",
  "categoryId",
  "attributes",
  "geometry",
  "boxSequence",
  "frameRange",
  "trackKey",
  "trackStats",
  "link",
] as const;

/** Insert-or-update keeping `createdAt` of an existing item and bumping its version. */
export function itemUpsertOp(doc: ItemDoc, preserve = false): AnyBulkWriteOperation<ItemDoc> {
  const { _id, createdAt, version, ...fields } = doc;
  const unset: Record<string, ""> = {};
  for (const key of ITEM_OPTIONAL) if (doc[key] === undefined) unset[key] = "";
  if (preserve) {
    return { replaceOne: { filter: { _id }, replacement: doc, upsert: true } };
  }
  return {
    updateOne: {
      filter: { _id },
      update: {
        $set: fields,
        ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}),
        $setOnInsert: { createdAt },
        $inc: { version: 1 },
      },
      upsert: true,
    },
  };
}

/**
 * Insert-or-replace keeping `createdAt` of an existing annotation. `creator` (the caller) is its
 * `createdBy` when the annotation names nobody, set on insert only: editing an annotation does not
 * make the editor its maker.
 */
export function annotationUpsertOp(
  doc: AnnotationDoc,
  preserve = false,
  creator?: string,
): AnyBulkWriteOperation<AnnotationDoc> {
  if (preserve) return { replaceOne: { filter: { _id: doc._id }, replacement: doc, upsert: true } };
  const { _id, createdAt, ...fields } = doc;
  const onInsert = doc.createdBy === undefined && creator ? { createdAt, createdBy: creator } : { createdAt };
  const unset: Record<string, ""> = {};
  for (const key of ANNOTATION_OPTIONAL) if (doc[key] === undefined) unset[key] = "";
  return {
    updateOne: {
      filter: { _id },
      update: {
        $set: fields,
        ...(Object.keys(unset).length > 0 ? { $unset: unset } : {}),
        $setOnInsert: onInsert,
      },
      upsert: true,
    },
  };
}

async function bulkInChunks<T extends { _id: string }>(
  db: Db,
  collection: string,
  ops: AnyBulkWriteOperation<T>[],
  session?: ClientSession,
): Promise<void> {
  for (let i = 0; i < ops.length; i += WRITE_CHUNK) {
    await db
      .collection<T>(collection)
      .bulkWrite(ops.slice(i, i + WRITE_CHUNK), session ? { ordered: true, session } : { ordered: true });
  }
}

function checkStoredSize(doc: object, field: string, problems: FieldProblem[]): void {
  const bytes = BSON.calculateObjectSize(doc as BSON.Document);
  if (bytes > MAX_DOCUMENT_BYTES) {
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    problems.push({
      field,
      message: `is ${mib(bytes)} once stored; one document may hold at most ${mib(MAX_DOCUMENT_BYTES)} (split long tracks or move large data to media)`,
    });
  }
}

/**
 * Runs `write` in one transaction where the server has them (replica set or mongos), so a request
 * is stored whole or not at all; on a standalone server the writes run as they are, after every
 * check that can refuse them has passed.
 */
async function atomically(
  client: MongoClient,
  transactions: () => Promise<boolean>,
  write: (session?: ClientSession) => Promise<void>,
): Promise<void> {
  if (!(await transactions())) return write();
  await client.withSession((session) =>
    session.withTransaction(() => write(session), { writeConcern: { w: "majority" } }),
  );
}

export interface ItemServiceOptions {
  db: Db;
  client: MongoClient;
  /** Whether the server runs multi-document transactions (upserts are atomic with them). */
  transactions: () => Promise<boolean>;
  prepareExport?: Context["prepareExport"];
}

export function createItemService(options: ItemServiceOptions): Partial<ServiceImpl<typeof ItemService>> {
  const { db, client, transactions } = options;
  const items = db.collection<ItemDoc>(Collections.items);
  const annotations = db.collection<AnnotationDoc>(Collections.annotations);
  /** A marked write (annotation-writes.ts), after which the dataset's next export is prepared. */
  const annotationWrite = async <T>(datasetId: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await markedAnnotationWrite(db, datasetId, write);
    } finally {
      options.prepareExport?.(datasetId, "soon");
    }
  };

  return {
    async upsertItems(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      if (req.items.length > MAX_BATCH) throw invalidArgument(`items: at most ${MAX_BATCH} per request`);
      const now = new Date();
      const problems: FieldProblem[] = [];
      const options = { datasetId: dataset._id, now, categoryIds: new Set(dataset.categories.map((c) => c.id)) };
      const itemDocs: ItemDoc[] = [];
      const replaced = new Map<string, AnnotationDoc[]>();
      const seenItems = new Set<string>();
      const seenAnnotations = new Set<string>();
      req.items.forEach((item, i) => {
        const doc = itemDoc(item, options, `items[${i}]`, problems);
        const id = publicId(dataset._id, doc._id);
        checkStoredSize(doc, `items[${i}]`, problems);
        if (seenItems.has(doc._id)) problems.push({ field: `items[${i}].id`, message: `duplicate id "${id}"` });
        seenItems.add(doc._id);
        itemDocs.push(doc);
        if (item.annotations.length > 0) {
          replaced.set(
            id,
            item.annotations.map((a, j) => {
              const path = `items[${i}].annotations[${j}]`;
              const ann = annotationDoc(a, options, path, problems, id);
              checkStoredSize(ann, path, problems);
              if (seenAnnotations.has(ann._id)) {
                problems.push({ field: `${path}.id`, message: `duplicate id "${publicId(dataset._id, ann._id)}"` });
              }
              seenAnnotations.add(ann._id);
              return ann;
            }),
          );
        }
      });
      throwProblems(problems);
      const annotationOps: AnyBulkWriteOperation<AnnotationDoc>[] = [];
      let annotationCount = 0;
      for (const [itemId, docs] of replaced) {
        annotationOps.push({
          deleteMany: { filter: { datasetId: dataset._id, itemId, _id: { $nin: docs.map((d) => d._id) } } },
        });
        for (const doc of docs) annotationOps.push(annotationUpsertOp(doc, false, principalOf(ctx).name));
        annotationCount += docs.length;
      }
      const write = async () => {
        // Versions keep what this changes (outside the transaction: see versions-archive.ts).
        await archiveBeforeWrite(db, dataset._id, Collections.items, { ids: itemDocs.map((d) => d._id) });
        if (replaced.size > 0) {
          await archiveBeforeWrite(db, dataset._id, Collections.annotations, {
            filter: { itemId: { $in: [...replaced.keys()] } },
          });
          await archiveBeforeWrite(db, dataset._id, Collections.annotations, {
            ids: [...replaced.values()].flatMap((docs) => docs.map((d) => d._id)),
          });
        }
        // An item and its annotations are one write: a failure leaves neither half-updated.
        await atomically(client, transactions, async (session) => {
          await bulkInChunks(
            db,
            Collections.items,
            itemDocs.map((d) => itemUpsertOp(d)),
            session,
          );
          await bulkInChunks(db, Collections.annotations, annotationOps, session);
        });
      };
      if (replaced.size > 0) await annotationWrite(dataset._id, write);
      else await write();
      return create(UpsertItemsResponseSchema, {
        upsertedItems: BigInt(itemDocs.length),
        upsertedAnnotations: BigInt(annotationCount),
      });
    },

    async upsertAnnotations(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      if (req.annotations.length > MAX_BATCH) throw invalidArgument(`annotations: at most ${MAX_BATCH} per request`);
      const now = new Date();
      const problems: FieldProblem[] = [];
      const options = { datasetId: dataset._id, now, categoryIds: new Set(dataset.categories.map((c) => c.id)) };
      const seen = new Set<string>();
      const docs = req.annotations.map((a, i) => {
        const doc = annotationDoc(a, options, `annotations[${i}]`, problems);
        checkStoredSize(doc, `annotations[${i}]`, problems);
        if (seen.has(doc._id)) {
          problems.push({ field: `annotations[${i}].id`, message: `duplicate id "${publicId(dataset._id, doc._id)}"` });
        }
        seen.add(doc._id);
        return doc;
      });
      throwProblems(problems);
      const itemIds = [...new Set(docs.map((d) => d.itemId))];
      const found = new Set(
        (
          await items
            .find(
              { datasetId: dataset._id, _id: { $in: itemIds.map((id) => storedId(dataset._id, id)) } },
              { projection: { _id: 1 } },
            )
            .toArray()
        ).map((d) => publicId(dataset._id, d._id)),
      );
      docs.forEach((doc, i) => {
        if (!found.has(doc.itemId)) {
          problems.push({
            field: `annotations[${i}].itemId`,
            message: `item "${doc.itemId}" not found in this dataset`,
          });
        }
      });
      throwProblems(problems);
      await annotationWrite(dataset._id, async () => {
        await archiveBeforeWrite(db, dataset._id, Collections.annotations, { ids: docs.map((d) => d._id) });
        await atomically(client, transactions, (session) =>
          bulkInChunks(
            db,
            Collections.annotations,
            docs.map((d) => annotationUpsertOp(d, false, principalOf(ctx).name)),
            session,
          ),
        );
      });
      return create(UpsertAnnotationsResponseSchema, { upsertedAnnotations: BigInt(docs.length) });
    },

    async getItem(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      if (req.versionId !== "") {
        const version = await requireVersion(db, dataset, req.versionId);
        const found = await versionItem(db, dataset._id, version, req.itemId);
        if (!found)
          throw notFound(`item "${req.itemId}" not found in version "${version.name}" of dataset "${dataset.name}"`);
        return create(GetItemResponseSchema, {
          item: itemMessage(found.item, found.annotations.map(annotationMessage)),
        });
      }
      const doc = await items.findOne({ _id: storedId(dataset._id, req.itemId), datasetId: dataset._id });
      if (!doc) throw notFound(`item "${req.itemId}" not found in dataset "${dataset.name}"`);
      const anns = await annotations.find({ datasetId: dataset._id, itemId: req.itemId }).sort({ _id: 1 }).toArray();
      return create(GetItemResponseSchema, { item: itemMessage(doc, anns.map(annotationMessage)) });
    },

    async listItems(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      const size = pageSize(req.pageSize, 100, 1000);
      const after = decodePageToken(req.pageToken);
      const { items: query } = compileFilter(dataset._id, req.filter);
      if (req.versionId !== "") {
        const version = await requireVersion(db, dataset, req.versionId);
        const listed = await versionItemList(db, dataset._id, version, query, after, size);
        return create(ListItemsResponseSchema, {
          items: listed.items.map((d) => itemMessage(d)),
          nextPageToken: listed.nextId === undefined ? "" : encodePageToken(listed.nextId),
        });
      }
      if (after !== undefined) {
        query._id = { ...(typeof query._id === "object" ? query._id : {}), $gt: storedId(dataset._id, after) };
      }
      const docs = await items
        .find(query)
        .sort({ _id: 1 })
        .limit(size + 1)
        .toArray();
      const page = docs.slice(0, size);
      const last = page[page.length - 1];
      return create(ListItemsResponseSchema, {
        items: page.map((d) => itemMessage(d)),
        nextPageToken: docs.length > size && last ? encodePageToken(publicId(dataset._id, last._id)) : "",
      });
    },

    async countItems(req, ctx) {
      const dataset = await requireDataset(db, req.datasetId);
      assertDatasetAccess(principalOf(ctx), dataset._id);
      const compiled = compileFilter(dataset._id, req.filter);
      if (req.versionId !== "") {
        const version = await requireVersion(db, dataset, req.versionId);
        const counts = await versionCounts(db, dataset._id, version, compiled);
        return create(CountItemsResponseSchema, {
          itemCount: BigInt(counts.items),
          annotationCount: BigInt(counts.annotations),
        });
      }
      const itemCount = await items.countDocuments(compiled.items);
      let annotationCount = 0;
      if (!compiled.selectiveItems) {
        annotationCount = await annotations.countDocuments(compiled.annotations);
      } else {
        // Annotations of the selected items only: walk their ids in pages, count each page.
        let after: string | undefined;
        for (;;) {
          const query = { ...compiled.items };
          if (after !== undefined) query._id = { ...(typeof query._id === "object" ? query._id : {}), $gt: after };
          const ids = (
            await items
              .find(query, { projection: { _id: 1 } })
              .sort({ _id: 1 })
              .limit(5000)
              .toArray()
          ).map((d) => d._id);
          if (ids.length === 0) break;
          annotationCount += await annotations.countDocuments({
            ...compiled.annotations,
            itemId: { $in: ids.map((id) => publicId(dataset._id, id)) },
          });
          after = ids[ids.length - 1];
          if (ids.length < 5000) break;
        }
      }
      return create(CountItemsResponseSchema, {
        itemCount: BigInt(itemCount),
        annotationCount: BigInt(annotationCount),
      });
    },

    async deleteItems(req) {
      const dataset = await requireDataset(db, req.datasetId);
      if (req.itemIds.length === 0) throw invalidArgument("item_ids: at least one id is required");
      if (req.itemIds.length > MAX_BATCH) throw invalidArgument(`item_ids: at most ${MAX_BATCH} per request`);
      const [anns, its] = await annotationWrite(dataset._id, async () => {
        await archiveBeforeWrite(db, dataset._id, Collections.annotations, {
          filter: { itemId: { $in: req.itemIds } },
        });
        await archiveBeforeWrite(db, dataset._id, Collections.items, {
          filter: { _id: { $in: req.itemIds.map((id) => storedId(dataset._id, id)) } },
        });
        // Both have ended, a failed one too, before the write is marked ended.
        const [deletedAnnotations, deletedItems] = await Promise.allSettled([
          annotations.deleteMany({ datasetId: dataset._id, itemId: { $in: req.itemIds } }),
          items.deleteMany({
            datasetId: dataset._id,
            _id: { $in: req.itemIds.map((id) => storedId(dataset._id, id)) },
          }),
        ]);
        if (deletedAnnotations.status === "rejected") throw deletedAnnotations.reason;
        if (deletedItems.status === "rejected") throw deletedItems.reason;
        return [deletedAnnotations.value, deletedItems.value] as const;
      });
      return create(DeleteItemsResponseSchema, {
        deletedItems: BigInt(its.deletedCount),
        deletedAnnotations: BigInt(anns.deletedCount),
      });
    },

    streamItems: createItemStream(db),
    splitItems: createSplitItems(db),
  };
}
