// ItemFilter -> MongoDB queries: one on items, one on annotations (the two sides of the merge join).
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { ItemFilter } from "@labelport/sdk/contracts";
import type { Filter } from "mongodb";
import { invalidArgument } from "../errors.ts";
import { storedId } from "./ids.ts";
import { type AnnotationDoc, annotationTypeName, type ItemDoc, itemStatusName } from "./model.ts";

export interface CompiledFilter {
  items: Filter<ItemDoc>;
  annotations: Filter<AnnotationDoc>;
  /** True when the item query selects on more than dataset (and snapshot) alone. */
  selectiveItems: boolean;
}

const LINK_KINDS = ["type", "object"] as const;

export function compileFilter(datasetId: string, filter: ItemFilter | undefined, snapshot?: Date): CompiledFilter {
  const items: Filter<ItemDoc> = { datasetId };
  const annotations: Filter<AnnotationDoc> = { datasetId };
  let selective = false;
  if (!filter?.allStatuses) {
    const statuses = (filter?.statuses.length ? filter.statuses : [3]).map((s, i) => {
      const name = itemStatusName[s as keyof typeof itemStatusName];
      if (name === undefined) throw invalidArgument(`filter.statuses[${i}]: unknown item status ${s}`);
      return name;
    });
    items.status = statuses.length === 1 ? (statuses[0] as ItemDoc["status"]) : { $in: statuses };
    selective = true;
  }
  if (filter) {
    if (filter.splits.length > 0) {
      items.split = { $in: filter.splits };
      selective = true;
    }
    if (filter.tags.length > 0) {
      items.tags = { $in: filter.tags };
      selective = true;
    }
    if (filter.itemIds.length > 0) {
      items._id = { $in: filter.itemIds.map((id) => storedId(datasetId, id)) };
      selective = true;
    }
    if (filter.updatedAfter || filter.updatedBefore) {
      const range: { $gt?: Date; $lt?: Date } = {};
      if (filter.updatedAfter) range.$gt = timestampDate(filter.updatedAfter);
      if (filter.updatedBefore) range.$lt = timestampDate(filter.updatedBefore);
      items.updatedAt = range;
      selective = true;
    }
    if (filter.categoryIds.length > 0) annotations.categoryId = { $in: filter.categoryIds };
    if (filter.annotationTypes.length > 0) {
      annotations.type = {
        $in: filter.annotationTypes.map((t, i) => {
          const name = annotationTypeName[t];
          if (name === undefined) throw invalidArgument(`filter.annotationTypes[${i}]: unknown annotation type ${t}`);
          return name;
        }),
      };
    }
    if (filter.personaIds.length > 0) annotations.personaId = { $in: filter.personaIds };
    // The assignment target's annotators: whoever made or last reviewed the annotation.
    if (filter.users.length > 0) {
      annotations.$or = [{ createdBy: { $in: filter.users } }, { reviewedBy: { $in: filter.users } }];
    }
    if (filter.linkKinds.length > 0) {
      const kinds = new Set<string>();
      filter.linkKinds.forEach((kind, i) => {
        if (!(LINK_KINDS as readonly string[]).includes(kind)) {
          throw invalidArgument(`filter.linkKinds[${i}]: must be one of ${LINK_KINDS.join(", ")} (got "${kind}")`);
        }
        kinds.add(kind);
      });
      if (kinds.size === 1) {
        const field = kinds.has("type") ? "link.typeAssignment" : "link.objectLink";
        (annotations as Record<string, unknown>)[field] = { $exists: true };
      } else {
        annotations.link = { $exists: true };
      }
    }
    if (!filter.includeRemoved) annotations.removed = { $ne: true };
  } else {
    annotations.removed = { $ne: true };
  }
  if (snapshot) {
    items.createdAt = { $lte: snapshot };
    annotations.createdAt = { $lte: snapshot };
  }
  return { items, annotations, selectiveItems: selective };
}
