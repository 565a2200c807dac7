// Protobuf items and annotations -> MongoDB documents, with every problem named by its field path.
// Shared by UpsertItems, UpsertAnnotations and the lossless item import.
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Annotation, Item } from "@labelport/sdk/contracts";
import { invalidArgument } from "../errors.ts";
import { storedId, uuidv7 } from "./ids.ts";
import {
  type AnnotationDoc,
  type AnnotationTypeName,
  annotationTypeName,
  type BoxDoc,
  type GeometryDoc,
  type ItemDoc,
  itemKindName,
  itemStatusName,
  type LinkDoc,
  type MediaDoc,
} from "./model.ts";
import { checkSequence, deriveTrackFields } from "./tracks.ts";

export interface FieldProblem {
  field: string;
  message: string;
}

export const SPLITS = ["train", "val", "test"] as const;
const MAX_ID_LENGTH = 256;
// Ids end up in file names and URLs of exports: no control characters, no path separators.
const ID_PATTERN = /^[^\u0000-\u001f\u007f/\\]+$/;

export function checkId(id: string, field: string, problems: FieldProblem[]): boolean {
  if (id.length > MAX_ID_LENGTH) {
    problems.push({ field, message: `must be at most ${MAX_ID_LENGTH} characters` });
    return false;
  }
  if (!ID_PATTERN.test(id) || id === "." || id === "..") {
    problems.push({ field, message: "must not contain control characters or slashes" });
    return false;
  }
  return true;
}

export interface ConvertOptions {
  datasetId: string;
  now: Date;
  /** Known category ids; when set, an annotation naming another id is a problem. */
  categoryIds?: ReadonlySet<number>;
  /** Keep create/update times and version from the message (lossless import). */
  preserve?: boolean;
  requireKeyframes?: boolean;
}

const finite = (n: number) => Number.isFinite(n);

function timeOr(value: Item["createTime"], fallback: Date, preserve: boolean | undefined): Date {
  return preserve && value ? timestampDate(value) : fallback;
}

export function itemDoc(item: Item, options: ConvertOptions, path: string, problems: FieldProblem[]): ItemDoc {
  const id = item.id === "" ? uuidv7(options.now.getTime()) : item.id;
  checkId(id, `${path}.id`, problems);
  const kind = item.kind === 0 ? "image" : itemKindName[item.kind];
  if (kind === undefined) problems.push({ field: `${path}.kind`, message: `unknown item kind ${item.kind}` });
  const status = item.status === 0 ? "draft" : itemStatusName[item.status];
  if (status === undefined) problems.push({ field: `${path}.status`, message: `unknown item status ${item.status}` });
  if (item.split !== "" && !(SPLITS as readonly string[]).includes(item.split)) {
    problems.push({ field: `${path}.split`, message: `must be one of ${SPLITS.join(", ")} or empty` });
  }
  item.tags.forEach((tag, i) => {
    if (tag === "") problems.push({ field: `${path}.tags[${i}]`, message: "must not be empty" });
  });
  let media: MediaDoc | undefined;
  if (item.media) {
    const m = item.media;
    if (!finite(m.fps) || m.fps < 0)
      problems.push({ field: `${path}.media.fps`, message: "must be a finite number >= 0" });
    media = {};
    if (m.uri !== "") media.uri = m.uri;
    if (m.fileName !== "") media.fileName = m.fileName;
    if (m.width !== 0) media.width = m.width;
    if (m.height !== 0) media.height = m.height;
    if (m.frames !== 0) media.frames = m.frames;
    if (m.fps !== 0) media.fps = m.fps;
    if (m.depth !== 0) media.depth = m.depth;
  }
  const createdAt = timeOr(item.createTime, options.now, options.preserve);
  const doc: ItemDoc = {
    _id: storedId(options.datasetId, id),
    datasetId: options.datasetId,
    kind: kind ?? "image",
    status: status ?? "draft",
    tags: item.tags,
    createdAt,
    updatedAt: timeOr(item.updateTime, options.preserve ? createdAt : options.now, options.preserve),
    version: options.preserve && item.version > 0n ? Number(item.version) : 1,
  };
  if (item.split !== "") doc.split = item.split;
  if (media) doc.media = media;
  if (item.meta) doc.meta = item.meta;
  if (item.data) doc.data = item.data;
  return doc;
}

function geometryType(geometry: Annotation["geometry"]): AnnotationTypeName {
  switch (geometry.case) {
    case "bbox":
      return "bbox";
    case "polygon":
      return "polygon";
    case "polyline":
      return "polyline";
    case "keypoints":
      return "keypoints";
    case "boxSequence":
      return "track";
    case "mask":
      return "mask";
    default:
      return "classification";
  }
}

const geometryCaseOf: Record<AnnotationTypeName, Annotation["geometry"]["case"]> = {
  bbox: "bbox",
  polygon: "polygon",
  polyline: "polyline",
  keypoints: "keypoints",
  track: "boxSequence",
  mask: "mask",
  classification: undefined,
};

/**
 * `itemId` is the owning item for inline annotations (the message's own item id must be empty or
 * equal); otherwise the message must name one.
 */
export function annotationDoc(
  annotation: Annotation,
  options: ConvertOptions,
  path: string,
  problems: FieldProblem[],
  itemId?: string,
): AnnotationDoc {
  const id = annotation.id === "" ? uuidv7(options.now.getTime()) : annotation.id;
  checkId(id, `${path}.id`, problems);
  let owner = annotation.itemId;
  if (itemId !== undefined) {
    if (owner !== "" && owner !== itemId) {
      problems.push({ field: `${path}.itemId`, message: `must be empty or "${itemId}" (the item it is given with)` });
    }
    owner = itemId;
  } else if (owner === "") {
    problems.push({ field: `${path}.itemId`, message: "is required" });
  }
  const inferred = geometryType(annotation.geometry);
  let type: AnnotationTypeName = inferred;
  if (annotation.type !== 0) {
    const named = annotationTypeName[annotation.type];
    if (named === undefined) {
      problems.push({ field: `${path}.type`, message: `unknown annotation type ${annotation.type}` });
    } else if (geometryCaseOf[named] !== annotation.geometry.case) {
      problems.push({
        field: `${path}.type`,
        message:
          named === "classification"
            ? "a classification has no geometry"
            : `a ${named} annotation needs \`${geometryCaseOf[named]}\` geometry`,
      });
    } else {
      type = named;
    }
  }
  const { categoryId } = annotation;
  if (categoryId !== undefined && options.categoryIds && !options.categoryIds.has(categoryId)) {
    problems.push({ field: `${path}.categoryId`, message: `unknown category id ${categoryId} in this dataset` });
  }
  const doc: AnnotationDoc = {
    _id: storedId(options.datasetId, id),
    datasetId: options.datasetId,
    itemId: owner,
    type,
    removed: annotation.removed,
    createdAt: options.now,
    updatedAt: options.now,
  };
  if (annotation.personaId !== "") doc.personaId = annotation.personaId;
  if (categoryId !== undefined) doc.categoryId = categoryId;
  if (annotation.attributes) doc.attributes = annotation.attributes;
  // Who made and who reviewed it, when the writer says (else the caller: items.ts annotationUpsertOp).
  if (annotation.createdBy !== "") doc.createdBy = annotation.createdBy;
  if (annotation.reviewedBy !== "") {
    doc.reviewedBy = annotation.reviewedBy;
    doc.reviewTime = timeOr(annotation.reviewTime, options.now, annotation.reviewTime !== undefined);
  }
  if (options.preserve) {
    doc.createdAt = timeOr(annotation.createTime, options.now, true);
    doc.updatedAt = timeOr(annotation.updateTime, doc.createdAt, true);
  }
  const g = annotation.geometry;
  const gpath = `${path}.${g.case ?? ""}`;
  switch (g.case) {
    case "bbox": {
      const { x, y, width, height } = g.value;
      if (![x, y, width, height].every(finite)) problems.push({ field: gpath, message: "coordinates must be finite" });
      if (width < 0 || height < 0) problems.push({ field: gpath, message: "width and height must be >= 0" });
      doc.geometry = { bbox: { x, y, width, height } };
      break;
    }
    case "polygon":
    case "polyline": {
      const points = g.value.points;
      const min = g.case === "polygon" ? 3 : 2;
      if (points.length % 2 !== 0) {
        problems.push({ field: `${gpath}.points`, message: "must hold x,y pairs (an even count)" });
      } else if (points.length < min * 2) {
        problems.push({ field: `${gpath}.points`, message: `a ${g.case} needs at least ${min} points` });
      }
      if (!points.every(finite)) problems.push({ field: `${gpath}.points`, message: "must be finite numbers" });
      doc.geometry = { points } satisfies GeometryDoc;
      break;
    }
    case "keypoints": {
      const keypoints = g.value.keypoints.map((k, i) => {
        if (!finite(k.x) || !finite(k.y)) {
          problems.push({ field: `${gpath}.keypoints[${i}]`, message: "coordinates must be finite" });
        }
        if (k.visibility > 2) {
          problems.push({ field: `${gpath}.keypoints[${i}].visibility`, message: "must be 0, 1 or 2" });
        }
        return { x: k.x, y: k.y, visibility: k.visibility };
      });
      doc.geometry = { keypoints };
      break;
    }
    case "boxSequence": {
      const boxes: BoxDoc[] = g.value.boxes.map((b) => ({
        frameNumber: b.frameNumber,
        x: b.x,
        y: b.y,
        width: b.width,
        height: b.height,
        isKeyframe: b.isKeyframe,
        visible: b.visible,
      }));
      const sequence = { interpolationMode: g.value.interpolationMode || "linear", boxes };
      for (const problem of checkSequence(sequence, options.requireKeyframes ?? true)) {
        problems.push({ field: `${gpath}.${problem.field}`, message: problem.message });
      }
      if (!boxes.every((b) => [b.x, b.y, b.width, b.height].every(finite))) {
        problems.push({ field: `${gpath}.boxes`, message: "coordinates must be finite" });
      }
      doc.boxSequence = sequence;
      break;
    }
    case "mask": {
      const { width, height, counts } = g.value;
      if (width === 0 || height === 0) {
        problems.push({ field: gpath, message: "width and height must be at least 1" });
      }
      let covered = 0;
      for (const count of counts) covered += count;
      if (covered !== width * height) {
        problems.push({
          field: `${gpath}.counts`,
          message: `the runs must cover the ${width}x${height} mask (${width * height} pixels), they cover ${covered}`,
        });
      }
      doc.geometry = { mask: { width, height, counts } };
      break;
    }
    default:
      break;
  }
  const link = linkDoc(annotation.link);
  if (link) doc.link = link;
  return deriveTrackFields(doc);
}

function linkDoc(link: Annotation["link"]): LinkDoc | undefined {
  if (link.case === "typeAssignment") {
    return { typeAssignment: { typeId: link.value.typeId, typeName: link.value.typeName } };
  }
  if (link.case === "objectLink") {
    return { objectLink: { objectId: link.value.objectId, objectType: link.value.objectType } };
  }
  return undefined;
}

/** Throws InvalidArgument naming up to five problems. */
export function throwProblems(problems: readonly FieldProblem[]): void {
  if (problems.length === 0) return;
  const shown = problems
    .slice(0, 5)
    .map((p) => `${p.field}: ${p.message}`)
    .join("; ");
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : "";
  throw invalidArgument(`${shown}${more}`);
}
