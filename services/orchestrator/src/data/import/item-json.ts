// A fast reader of the common `labelport-items` line: plain JSON of an Item whose fields all have
// their usual JSON types (camelCase names, enum names, bbox, point-list or mask geometry) becomes the
// Item message without protobuf's reflective JSON decoding, which dominated the import's CPU time.
// Anything else (snake_case names, nulls, numbers as strings, structs, links, other geometry, any
// value protobuf would refuse) returns undefined and takes the full `fromJson` path, which also
// names the field of an error; item-json.test.ts checks both paths agree.
import { create, fromJson } from "@bufbuild/protobuf";
import { type Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";
import {
  type Annotation,
  AnnotationSchema,
  AnnotationType,
  BoundingBoxSchema,
  type Item,
  ItemKind,
  ItemSchema,
  ItemStatus,
  MaskSchema,
  type Media,
  MediaSchema,
  PointListSchema,
} from "@labelport/sdk/contracts";

type Json = Record<string, unknown>;

const ITEM_KINDS = enumNames(ItemKind, "ITEM_KIND_");
const ITEM_STATUSES = enumNames(ItemStatus, "ITEM_STATUS_");
const ANNOTATION_TYPES = enumNames(AnnotationType, "ANNOTATION_TYPE_");

function enumNames(values: Record<string, string | number>, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === "number") out.set(`${prefix}${name}`, value);
  }
  return out;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
/** Protobuf refuses strings with lone surrogates (not UTF-8); Node 20 has the check built in. */
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();
const isString = (v: unknown): v is string => typeof v === "string" && wellFormed(v);
const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

// Fresh messages by copying one made by `create` (ten times cheaper than `create`, and still every
// field of the schema with its default); nested objects are never shared between copies.
const ANNOTATION = create(AnnotationSchema);
const BOUNDING_BOX = create(BoundingBoxSchema);
const MEDIA = create(MediaSchema);
const newAnnotation = (): Annotation => ({ ...ANNOTATION, geometry: { case: undefined }, link: { case: undefined } });

/** Parsed timestamps by their text: an import's lines mostly repeat a few. */
const timestamps = new Map<string, Timestamp>();

function timestamp(v: unknown): Timestamp | undefined {
  if (typeof v !== "string") return undefined;
  let ts = timestamps.get(v);
  if (ts) return ts;
  try {
    ts = fromJson(TimestampSchema, v);
  } catch {
    return undefined;
  }
  if (timestamps.size >= 10_000) timestamps.clear();
  timestamps.set(v, ts);
  return ts;
}

/** The value decoded, or undefined when `fromJson` must decide. */
export function fastItem(json: unknown): Item | undefined {
  if (!isObject(json)) return undefined;
  const item = create(ItemSchema);
  for (const key in json) {
    const v = json[key];
    switch (key) {
      case "id":
        if (!isString(v)) return undefined;
        item.id = v;
        break;
      case "datasetId":
        if (!isString(v)) return undefined;
        item.datasetId = v;
        break;
      case "kind": {
        const n = ITEM_KINDS.get(v as string);
        if (n === undefined) return undefined;
        item.kind = n;
        break;
      }
      case "status": {
        const n = ITEM_STATUSES.get(v as string);
        if (n === undefined) return undefined;
        item.status = n;
        break;
      }
      case "split":
        if (!isString(v)) return undefined;
        item.split = v;
        break;
      case "tags":
        if (!Array.isArray(v) || !v.every(isString)) return undefined;
        item.tags = v as string[];
        break;
      case "media": {
        const media = fastMedia(v);
        if (!media) return undefined;
        item.media = media;
        break;
      }
      case "createTime": {
        const ts = timestamp(v);
        if (!ts) return undefined;
        item.createTime = ts;
        break;
      }
      case "updateTime": {
        const ts = timestamp(v);
        if (!ts) return undefined;
        item.updateTime = ts;
        break;
      }
      case "version":
        // int64 as protobuf JSON writes it: a decimal string (or a safe integer).
        if (typeof v === "string" && /^(0|[1-9][0-9]{0,14})$/.test(v)) item.version = BigInt(v);
        else if (Number.isSafeInteger(v)) item.version = BigInt(v as number);
        else return undefined;
        break;
      case "annotations": {
        if (!Array.isArray(v)) return undefined;
        const annotations: Annotation[] = [];
        for (const a of v) {
          const annotation = fastAnnotation(a);
          if (!annotation) return undefined;
          annotations.push(annotation);
        }
        item.annotations = annotations;
        break;
      }
      default:
        return undefined;
    }
  }
  return item;
}

function fastMedia(json: unknown): Media | undefined {
  if (!isObject(json)) return undefined;
  const media: Media = { ...MEDIA };
  for (const key in json) {
    const v = json[key];
    switch (key) {
      case "uri":
      case "fileName":
        if (!isString(v)) return undefined;
        media[key] = v;
        break;
      case "width":
      case "height":
      case "frames":
      case "depth":
        if (!isUint32(v)) return undefined;
        media[key] = v;
        break;
      case "fps":
        if (typeof v !== "number") return undefined;
        media.fps = v;
        break;
      default:
        return undefined;
    }
  }
  return media;
}

function fastAnnotation(json: unknown): Annotation | undefined {
  if (!isObject(json)) return undefined;
  const annotation = newAnnotation();
  for (const key in json) {
    const v = json[key];
    switch (key) {
      case "id":
      case "datasetId":
      case "itemId":
      case "personaId":
        if (!isString(v)) return undefined;
        annotation[key] = v;
        break;
      case "type": {
        const n = ANNOTATION_TYPES.get(v as string);
        if (n === undefined) return undefined;
        annotation.type = n;
        break;
      }
      case "categoryId":
        if (!isUint32(v)) return undefined;
        annotation.categoryId = v;
        break;
      case "removed":
        if (typeof v !== "boolean") return undefined;
        annotation.removed = v;
        break;
      case "createTime": {
        const ts = timestamp(v);
        if (!ts) return undefined;
        annotation.createTime = ts;
        break;
      }
      case "updateTime": {
        const ts = timestamp(v);
        if (!ts) return undefined;
        annotation.updateTime = ts;
        break;
      }
      case "bbox": {
        if (annotation.geometry.case !== undefined || !isObject(v)) return undefined;
        const bbox = { ...BOUNDING_BOX };
        for (const k in v) {
          const n = v[k];
          if ((k !== "x" && k !== "y" && k !== "width" && k !== "height") || typeof n !== "number") return undefined;
          bbox[k] = n;
        }
        annotation.geometry = { case: "bbox", value: bbox };
        break;
      }
      case "polygon":
      case "polyline": {
        if (annotation.geometry.case !== undefined || !isObject(v)) return undefined;
        const list = create(PointListSchema);
        for (const k in v) {
          const points = v[k];
          if (k !== "points" || !Array.isArray(points) || !points.every((p) => typeof p === "number")) {
            return undefined;
          }
          list.points = points as number[];
        }
        annotation.geometry = key === "polygon" ? { case: "polygon", value: list } : { case: "polyline", value: list };
        break;
      }
      case "mask": {
        if (annotation.geometry.case !== undefined || !isObject(v)) return undefined;
        const mask = create(MaskSchema);
        for (const k in v) {
          const n = v[k];
          if (k === "width" || k === "height") {
            if (!isUint32(n)) return undefined;
            mask[k] = n;
          } else if (k === "counts" && Array.isArray(n) && n.every(isUint32)) {
            mask.counts = n as number[];
          } else {
            return undefined;
          }
        }
        annotation.geometry = { case: "mask", value: mask };
        break;
      }
      default:
        return undefined;
    }
  }
  return annotation;
}
