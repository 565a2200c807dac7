// `toJson(ItemSchema, item)` written out by hand for the fields Item has: the exporters that write
// item JSON (json-snapshot, jsonl) and every importer (run-import.ts) spend much of their CPU in
// the reflective encoder otherwise (a message walk per field, a Date per timestamp). The output
// is the same JSON, key for key and in the same order (field numbers, as protobuf-es writes);
// item-json.test.ts holds it to the reflective encoder, field list included, so a field added to
// the schema fails the test until it is written here. Anything the hand-written path does not
// cover exactly (an unknown enum number, a timestamp out of range, a non-finite number in a
// Struct, which the reflective encoder refuses) returns undefined, and the caller uses toJson.
import type { DescEnum, JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type Annotation,
  AnnotationTypeSchema,
  type Item,
  ItemKindSchema,
  ItemStatusSchema,
  type Media,
} from "./gen/labelport/v1/dataset_pb.ts";

/** The fields written below, by message: item-json.test.ts checks them against the schema. */
export const PLAIN_JSON_FIELDS = {
  Item: [
    "id",
    "datasetId",
    "kind",
    "status",
    "split",
    "media",
    "meta",
    "tags",
    "data",
    "createTime",
    "updateTime",
    "version",
    "annotations",
  ],
  Media: ["uri", "fileName", "width", "height", "frames", "fps", "depth"],
  Annotation: [
    "id",
    "datasetId",
    "itemId",
    "personaId",
    "type",
    "categoryId",
    "attributes",
    "bbox",
    "polygon",
    "polyline",
    "keypoints",
    "boxSequence",
    "typeAssignment",
    "objectLink",
    "removed",
    "createTime",
    "updateTime",
    "mask",
    "createdBy",
    "reviewedBy",
    "reviewTime",
  ],
  BoundingBox: ["x", "y", "width", "height"],
  PointList: ["points"],
  KeypointList: ["keypoints"],
  Keypoint: ["x", "y", "visibility"],
  BoundingBoxSequence: ["interpolationMode", "boxes"],
  SequenceBox: ["frameNumber", "x", "y", "width", "height", "isKeyframe", "visible"],
  Mask: ["width", "height", "counts"],
  TypeAssignment: ["typeId", "typeName"],
  ObjectLink: ["objectId", "objectType"],
} as const;

/** Thrown inside to leave for the reflective encoder; never escapes `plainItemJson`. */
class NotPlain extends Error {}
const notPlain = new NotPlain();

/** The value's name as the schema spells it (what toJson writes); an unknown number is left to toJson. */
function enumName(schema: DescEnum, value: number): string {
  const name = schema.value[value]?.name;
  if (name === undefined) throw notPlain;
  return name;
}

/** A double as proto3 JSON: NaN and the infinities are strings. */
function double(value: number): number | string {
  if (Number.isFinite(value)) return value;
  return Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
}

const setDouble = (value: number) => !Object.is(value, 0);

const MIN_SECONDS = Date.parse("0001-01-01T00:00:00Z") / 1000;
const MAX_SECONDS = Date.parse("9999-12-31T23:59:59Z") / 1000;
let lastSeconds: bigint | undefined;
let lastNanos = -1;
let lastTime = "";

/** RFC 3339 as protobuf-es writes it (0, 3, 6 or 9 fraction digits); the last one is remembered. */
function timestamp(value: Timestamp): string {
  if (value.seconds === lastSeconds && value.nanos === lastNanos) return lastTime;
  const seconds = Number(value.seconds);
  const { nanos } = value;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) throw notPlain;
  let zone = "Z";
  if (nanos > 0) {
    const digits = (nanos + 1_000_000_000).toString().substring(1);
    zone = digits.endsWith("000000")
      ? `.${digits.substring(0, 3)}Z`
      : digits.endsWith("000")
        ? `.${digits.substring(0, 6)}Z`
        : `.${digits}Z`;
  }
  lastSeconds = value.seconds;
  lastNanos = nanos;
  lastTime = new Date(seconds * 1000).toISOString().replace(".000Z", zone);
  return lastTime;
}

/** The Struct as it is (the reflective encoder copies it), unless it holds what JSON cannot. */
function struct(value: JsonObject): JsonObject {
  checkJson(value);
  return value;
}

function checkJson(value: JsonValue | undefined): void {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw notPlain;
  } else if (Array.isArray(value)) {
    for (const element of value) checkJson(element);
  } else if (value !== null && typeof value === "object") {
    for (const key in value) checkJson(value[key]);
  } else if (value === undefined) {
    throw notPlain;
  }
}

function media(value: Media): JsonObject {
  const json: JsonObject = {};
  if (value.uri !== "") json.uri = value.uri;
  if (value.fileName !== "") json.fileName = value.fileName;
  if (value.width !== 0) json.width = value.width;
  if (value.height !== 0) json.height = value.height;
  if (value.frames !== 0) json.frames = value.frames;
  if (setDouble(value.fps)) json.fps = double(value.fps);
  if (value.depth !== 0) json.depth = value.depth;
  return json;
}

function doubles(values: readonly number[]): (number | string)[] {
  const out = new Array<number | string>(values.length);
  for (let i = 0; i < values.length; i++) out[i] = double(values[i] as number);
  return out;
}

function geometry(annotation: Annotation): [string, JsonObject] | undefined {
  const { geometry } = annotation;
  switch (geometry.case) {
    case "bbox": {
      const { x, y, width, height } = geometry.value;
      const json: JsonObject = {};
      if (setDouble(x)) json.x = double(x);
      if (setDouble(y)) json.y = double(y);
      if (setDouble(width)) json.width = double(width);
      if (setDouble(height)) json.height = double(height);
      return ["bbox", json];
    }
    case "polygon":
    case "polyline":
      return [geometry.case, geometry.value.points.length > 0 ? { points: doubles(geometry.value.points) } : {}];
    case "keypoints": {
      const keypoints = geometry.value.keypoints.map(({ x, y, visibility }) => {
        const json: JsonObject = {};
        if (setDouble(x)) json.x = double(x);
        if (setDouble(y)) json.y = double(y);
        if (visibility !== 0) json.visibility = visibility;
        return json;
      });
      return ["keypoints", keypoints.length > 0 ? { keypoints } : {}];
    }
    case "boxSequence": {
      const json: JsonObject = {};
      if (geometry.value.interpolationMode !== "") json.interpolationMode = geometry.value.interpolationMode;
      if (geometry.value.boxes.length > 0) {
        json.boxes = geometry.value.boxes.map((box) => {
          const out: JsonObject = {};
          if (box.frameNumber !== 0) out.frameNumber = box.frameNumber;
          if (setDouble(box.x)) out.x = double(box.x);
          if (setDouble(box.y)) out.y = double(box.y);
          if (setDouble(box.width)) out.width = double(box.width);
          if (setDouble(box.height)) out.height = double(box.height);
          if (box.isKeyframe) out.isKeyframe = true;
          if (box.visible) out.visible = true;
          return out;
        });
      }
      return ["boxSequence", json];
    }
    case "mask": {
      const { width, height, counts } = geometry.value;
      const json: JsonObject = {};
      if (width !== 0) json.width = width;
      if (height !== 0) json.height = height;
      if (counts.length > 0) json.counts = [...counts];
      return ["mask", json];
    }
    case undefined:
      return undefined;
    default:
      throw notPlain;
  }
}

function annotationJson(annotation: Annotation): JsonObject {
  const json: JsonObject = {};
  if (annotation.id !== "") json.id = annotation.id;
  if (annotation.datasetId !== "") json.datasetId = annotation.datasetId;
  if (annotation.itemId !== "") json.itemId = annotation.itemId;
  if (annotation.personaId !== "") json.personaId = annotation.personaId;
  if (annotation.type !== 0) json.type = enumName(AnnotationTypeSchema, annotation.type);
  if (annotation.categoryId !== undefined) json.categoryId = annotation.categoryId;
  if (annotation.attributes !== undefined) json.attributes = struct(annotation.attributes);
  // Field numbers order the keys: bbox..boxSequence (8-12), the link (13-14), then mask (18).
  const shape = geometry(annotation);
  if (shape && shape[0] !== "mask") json[shape[0]] = shape[1];
  const { link } = annotation;
  if (link.case === "typeAssignment") {
    const { typeId, typeName } = link.value;
    json.typeAssignment = { ...(typeId !== "" ? { typeId } : {}), ...(typeName !== "" ? { typeName } : {}) };
  } else if (link.case === "objectLink") {
    const { objectId, objectType } = link.value;
    json.objectLink = { ...(objectId !== "" ? { objectId } : {}), ...(objectType !== "" ? { objectType } : {}) };
  } else if (link.case !== undefined) {
    throw notPlain;
  }
  if (annotation.removed) json.removed = true;
  if (annotation.createTime) json.createTime = timestamp(annotation.createTime);
  if (annotation.updateTime) json.updateTime = timestamp(annotation.updateTime);
  if (shape && shape[0] === "mask") json.mask = shape[1];
  if (annotation.createdBy !== "") json.createdBy = annotation.createdBy;
  if (annotation.reviewedBy !== "") json.reviewedBy = annotation.reviewedBy;
  if (annotation.reviewTime) json.reviewTime = timestamp(annotation.reviewTime);
  return json;
}

/** The item's proto3 JSON, or undefined when only the reflective encoder words it exactly. */
export function plainItemJson(item: Item): JsonObject | undefined {
  try {
    const json: JsonObject = {};
    if (item.id !== "") json.id = item.id;
    if (item.datasetId !== "") json.datasetId = item.datasetId;
    if (item.kind !== 0) json.kind = enumName(ItemKindSchema, item.kind);
    if (item.status !== 0) json.status = enumName(ItemStatusSchema, item.status);
    if (item.split !== "") json.split = item.split;
    if (item.media) json.media = media(item.media);
    if (item.meta !== undefined) json.meta = struct(item.meta);
    if (item.tags.length > 0) json.tags = [...item.tags];
    if (item.data !== undefined) json.data = struct(item.data);
    if (item.createTime) json.createTime = timestamp(item.createTime);
    if (item.updateTime) json.updateTime = timestamp(item.updateTime);
    if (item.version !== 0n) json.version = item.version.toString();
    if (item.annotations.length > 0) json.annotations = item.annotations.map(annotationJson);
    return json;
  } catch (err) {
    if (err === notPlain) return undefined;
    throw err;
  }
}
