// The common `labelport-items` line (an image item whose annotations are boxes, polygons,
// polylines or classifications, with none of the rarer fields) straight from its JSON to the
// documents `itemDoc` and `annotationDoc` would store, without building the Item message first:
// that message and its conversion were a third of the import's CPU time and much of its garbage.
// Anything else, and any value the validation might refuse, returns undefined and takes the
// message path (item-json.ts, then fromJson), which also words the errors; item-docs.test.ts
// checks that both paths store the same documents, key order included.

import { fromJson } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema, timestampMs } from "@bufbuild/protobuf/wkt";
import { AnnotationType, ItemKind, ItemStatus } from "@labelport/sdk/contracts";
import { storedId } from "../ids.ts";
import {
  type AnnotationDoc,
  type AnnotationTypeName,
  annotationTypeName,
  type ItemDoc,
  type ItemKindName,
  type ItemStatusName,
  itemKindName,
  itemStatusName,
  type MediaDoc,
} from "../model.ts";
import { checkId, type FieldProblem, SPLITS } from "../validate.ts";
import type { ParsedItem } from "./item-line.ts";

type Json = Record<string, unknown>;

/** JSON enum names to stored names, UNSPECIFIED as `itemDoc` defaults it. */
function storedNames<N extends string>(
  values: Record<string, string | number>,
  prefix: string,
  names: Record<number, N | undefined>,
  unspecified: N | undefined,
): Map<string, N> {
  const out = new Map<string, N>();
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== "number") continue;
    const stored = value === 0 ? unspecified : names[value];
    if (stored !== undefined) out.set(`${prefix}${name}`, stored);
  }
  return out;
}

const KINDS = storedNames<ItemKindName>(ItemKind, "ITEM_KIND_", itemKindName, "image");
const STATUSES = storedNames<ItemStatusName>(ItemStatus, "ITEM_STATUS_", itemStatusName, "draft");
/** Annotation types this path takes, by JSON name (UNSPECIFIED: the geometry decides). */
const TYPES = storedNames<AnnotationTypeName | "">(AnnotationType, "ANNOTATION_TYPE_", annotationTypeName, "");

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
/** Protobuf refuses strings with lone surrogates (not UTF-8); Node 20 has the check built in. */
const isString = (v: unknown): v is string =>
  typeof v === "string" && (v as string & { isWellFormed(): boolean }).isWellFormed();
const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;
const SPLIT_NAMES: ReadonlySet<string> = new Set(SPLITS);
const VERSION = /^(0|[1-9][0-9]{0,14})$/;

/** Milliseconds of a JSON timestamp by its text (an import's lines mostly repeat a few). */
const times = new Map<string, number>();

function timeOf(v: unknown): Date | undefined {
  if (typeof v !== "string") return undefined;
  let ms = times.get(v);
  if (ms === undefined) {
    let ts: Timestamp;
    try {
      ts = fromJson(TimestampSchema, v);
    } catch {
      return undefined;
    }
    ms = timestampMs(ts);
    if (times.size >= 10_000) times.clear();
    times.set(v, ms);
  }
  return new Date(ms);
}

/** A valid id as `checkId` accepts it (the message path words the problem). */
function validId(v: unknown): v is string {
  if (!isString(v) || v === "") return false;
  const problems: FieldProblem[] = [];
  return checkId(v, "", problems);
}

export interface ItemLineOptions {
  datasetId: string;
  now: Date;
}

/** The documents of the line, or undefined when the message path must decide. */
export function fastItemDocs(json: unknown, options: ItemLineOptions): ParsedItem | undefined {
  if (!isObject(json)) return undefined;
  let id: string | undefined;
  let kind: ItemKindName = "image";
  let status: ItemStatusName = "draft";
  let split = "";
  let tags: string[] = [];
  let media: MediaDoc | undefined;
  let createdAt: Date | undefined;
  let updatedAt: Date | undefined;
  let version = 1;
  let annotationsJson: unknown[] = [];
  for (const key in json) {
    const v = json[key];
    switch (key) {
      case "id":
        if (!validId(v)) return undefined;
        id = v;
        break;
      case "datasetId":
        // The message's own dataset id is not stored: the import's dataset is.
        if (!isString(v)) return undefined;
        break;
      case "kind": {
        const name = KINDS.get(v as string);
        if (name === undefined) return undefined;
        kind = name;
        break;
      }
      case "status": {
        const name = STATUSES.get(v as string);
        if (name === undefined) return undefined;
        status = name;
        break;
      }
      case "split":
        if (typeof v !== "string" || (v !== "" && !SPLIT_NAMES.has(v))) return undefined;
        split = v;
        break;
      case "tags":
        if (!Array.isArray(v) || !v.every((tag) => isString(tag) && tag !== "")) return undefined;
        tags = v as string[];
        break;
      case "media":
        media = mediaDoc(v);
        if (!media) return undefined;
        break;
      case "createTime":
        createdAt = timeOf(v);
        if (!createdAt) return undefined;
        break;
      case "updateTime":
        updatedAt = timeOf(v);
        if (!updatedAt) return undefined;
        break;
      case "version":
        // int64 as protobuf JSON writes it: a decimal string (or a safe integer).
        if (typeof v === "string" && VERSION.test(v)) version = Number(v);
        else if (Number.isSafeInteger(v) && (v as number) >= 0) version = v as number;
        else return undefined;
        if (version === 0) version = 1;
        break;
      case "annotations":
        if (!Array.isArray(v)) return undefined;
        annotationsJson = v;
        break;
      default:
        return undefined;
    }
  }
  if (id === undefined) return undefined;
  const { datasetId, now } = options;
  createdAt ??= now;
  const item: ItemDoc = {
    _id: storedId(datasetId, id),
    datasetId,
    kind,
    status,
    tags,
    createdAt,
    updatedAt: updatedAt ?? createdAt,
    version,
  };
  if (split !== "") item.split = split;
  if (media) item.media = media;
  const annotations: AnnotationDoc[] = [];
  for (const a of annotationsJson) {
    const doc = annotationDoc(a, id, options);
    if (!doc) return undefined;
    annotations.push(doc);
  }
  return { item, annotations, keyframes: 0, singleKeyframe: 0, warnings: [] };
}

function mediaDoc(json: unknown): MediaDoc | undefined {
  if (!isObject(json)) return undefined;
  let uri = "";
  let fileName = "";
  let width = 0;
  let height = 0;
  let frames = 0;
  let fps = 0;
  let depth = 0;
  for (const key in json) {
    const v = json[key];
    switch (key) {
      case "uri":
        if (!isString(v)) return undefined;
        uri = v;
        break;
      case "fileName":
        if (!isString(v)) return undefined;
        fileName = v;
        break;
      case "width":
        if (!isUint32(v)) return undefined;
        width = v;
        break;
      case "height":
        if (!isUint32(v)) return undefined;
        height = v;
        break;
      case "frames":
        if (!isUint32(v)) return undefined;
        frames = v;
        break;
      case "fps":
        if (typeof v !== "number" || v < 0) return undefined;
        fps = v;
        break;
      case "depth":
        if (!isUint32(v)) return undefined;
        depth = v;
        break;
      default:
        return undefined;
    }
  }
  // `itemDoc` keeps the fields that are not zero, in this order.
  const media: MediaDoc = {};
  if (uri !== "") media.uri = uri;
  if (fileName !== "") media.fileName = fileName;
  if (width !== 0) media.width = width;
  if (height !== 0) media.height = height;
  if (frames !== 0) media.frames = frames;
  if (fps !== 0) media.fps = fps;
  if (depth !== 0) media.depth = depth;
  return media;
}

/** Points of a polygon or polyline `annotationDoc` accepts: x,y pairs, at least `min` of them. */
function pointsOf(json: unknown, min: number): number[] | undefined {
  if (!isObject(json)) return undefined;
  let points: number[] = [];
  for (const key in json) {
    const v = json[key];
    if (key !== "points" || !Array.isArray(v) || !v.every((p) => typeof p === "number")) return undefined;
    points = v as number[];
  }
  return points.length % 2 === 0 && points.length >= min * 2 ? points : undefined;
}

function annotationDoc(json: unknown, itemId: string, options: ItemLineOptions): AnnotationDoc | undefined {
  if (!isObject(json)) return undefined;
  let id: string | undefined;
  let personaId = "";
  let named: AnnotationTypeName | "" = "";
  let categoryId: number | undefined;
  let removed = false;
  let createdAt: Date | undefined;
  let updatedAt: Date | undefined;
  let geometry: AnnotationDoc["geometry"];
  let inferred: AnnotationTypeName = "classification";
  for (const key in json) {
    const v = json[key];
    switch (key) {
      case "id":
        if (!validId(v)) return undefined;
        id = v;
        break;
      case "datasetId":
        if (!isString(v)) return undefined;
        break;
      case "itemId":
        // Inline annotations belong to their item: empty or the item's own id.
        if (v !== "" && v !== itemId) return undefined;
        break;
      case "personaId":
        if (!isString(v)) return undefined;
        personaId = v;
        break;
      case "type": {
        const name = TYPES.get(v as string);
        if (name === undefined) return undefined;
        named = name;
        break;
      }
      case "categoryId":
        if (!isUint32(v)) return undefined;
        categoryId = v;
        break;
      case "removed":
        if (typeof v !== "boolean") return undefined;
        removed = v;
        break;
      case "createTime":
        createdAt = timeOf(v);
        if (!createdAt) return undefined;
        break;
      case "updateTime":
        updatedAt = timeOf(v);
        if (!updatedAt) return undefined;
        break;
      case "bbox": {
        if (geometry || !isObject(v)) return undefined;
        const bbox = { x: 0, y: 0, width: 0, height: 0 };
        for (const k in v) {
          const n = v[k];
          if ((k !== "x" && k !== "y" && k !== "width" && k !== "height") || typeof n !== "number") return undefined;
          bbox[k] = n;
        }
        if (bbox.width < 0 || bbox.height < 0) return undefined;
        geometry = { bbox };
        inferred = "bbox";
        break;
      }
      case "polygon":
      case "polyline": {
        if (geometry) return undefined;
        const points = pointsOf(v, key === "polygon" ? 3 : 2);
        if (!points) return undefined;
        geometry = { points };
        inferred = key;
        break;
      }
      default:
        return undefined;
    }
  }
  // A type must agree with the geometry; keypoints, masks and tracks take the message path.
  if (id === undefined || (named !== "" && named !== inferred)) return undefined;
  const { datasetId, now } = options;
  const created = createdAt ?? now;
  // In `annotationDoc`'s key order.
  const doc: AnnotationDoc = {
    _id: storedId(datasetId, id),
    datasetId,
    itemId,
    type: inferred,
    removed,
    createdAt: created,
    updatedAt: updatedAt ?? created,
  };
  if (personaId !== "") doc.personaId = personaId;
  if (categoryId !== undefined) doc.categoryId = categoryId;
  if (geometry) doc.geometry = geometry;
  return doc;
}
