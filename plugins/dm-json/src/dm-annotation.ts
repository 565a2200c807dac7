// One DM Schema v1 annotation as a Labelport annotation. DM v1 keeps an annotation in two halves
// with the same id: `annotations[<media>][]` (id, tool, classification {class, ...attributes},
// isLocked, isVisible, isValid, isDrawCompleted, label) and `annotationsData[<media>][]` (id,
// coordinate). Synapse's own writers use `tool` and `coordinate`: bounding_box {x,y,width,height,
// rotation?}, polygon/polyline [{x,y,id}], keypoint {x,y}; the shorthand the export skill shows
// uses `type` and `data`: bbox [x,y,w,h], polygon/polyline/keypoint [[x,y],...], `classification`
// a plain class name. Both are read.
//
// The classification's attributes become the annotation's attributes; what only DM has (the tool
// code, the flags, the point ids, a box rotation, unknown fields; the data half's unknown fields
// under dm.dataFields; dm.layout when the file was not written as Synapse writes it) goes under
// attributes.dm, so the dm-json exporter (exporter.ts) writes the file back as it was.
import type { JsonObject, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import { DM_TOOL_KINDS } from "@labelport/sdk";
import type { AnnotationSchema } from "@labelport/sdk/contracts";
import { AnnotationType } from "@labelport/sdk/contracts";

export type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;

export type DmRecord = Record<string, JsonValue>;

/** A converted annotation (category by class name) or why it cannot be carried. */
export type DmConversion = { annotation: AnnotationInit; className: string } | { drop: string };

/** Fields of the two halves that the conversion reads; every other one is kept under attributes.dm. */
const READ_FIELDS = new Set(["id", "tool", "type", "classification", "coordinate", "data"]);

export function isRecord(value: unknown): value is DmRecord {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function convertDmAnnotation(meta: DmRecord, data: DmRecord | undefined): DmConversion {
  const tool = text(meta.tool) || text(meta.type) || text(data?.tool) || text(data?.type);
  const kind = DM_TOOL_KINDS[tool];
  if (!kind) return { drop: `${tool || "(no tool)"}: not supported` };
  const { className, attributes } = classificationOf(meta.classification);
  if (className === "") return { drop: `${tool}: no class` };
  const dm: JsonObject = { tool };
  for (const [key, value] of Object.entries(meta)) if (!READ_FIELDS.has(key)) dm[key] = value;
  // The data half's own fields apart, so a writer puts them back in that half.
  const dataFields: JsonObject = {};
  for (const [key, value] of Object.entries(data ?? {})) if (!READ_FIELDS.has(key)) dataFields[key] = value;
  if (Object.keys(dataFields).length > 0) dm.dataFields = dataFields;
  const coordinate = data?.coordinate ?? data?.data ?? meta.coordinate ?? meta.data;
  const layout = layoutOf(meta, data, coordinate);
  if (layout) dm.layout = layout;
  const type = {
    bbox: AnnotationType.BBOX,
    polygon: AnnotationType.POLYGON,
    polyline: AnnotationType.POLYLINE,
    keypoints: AnnotationType.KEYPOINTS,
    classification: AnnotationType.CLASSIFICATION,
  }[kind];
  const base = { type, attributes: { ...attributes, dm } };
  if (kind === "classification") return { annotation: base, className };
  if (coordinate === undefined || coordinate === null) return { drop: `${tool}: no coordinates` };
  const geometry = geometryOf(kind, coordinate, dm);
  if (typeof geometry === "string") return { drop: `${tool}: ${geometry}` };
  return { annotation: { ...base, geometry }, className };
}

/**
 * Where the read fields sat and how the coordinates were written, when not as Synapse writes them
 * (annotation half `id, tool, classification {...}`, data half `id, coordinate`, coordinates as
 * objects): the exporter writes the file back in the same shape. A classification given as a
 * bare class name is listed as `classification:text`; `data: []` means there was no data half.
 */
function layoutOf(
  meta: DmRecord,
  data: DmRecord | undefined,
  coordinate: JsonValue | undefined,
): JsonObject | undefined {
  const readKeys = (half: DmRecord) =>
    Object.keys(half)
      .filter((key) => READ_FIELDS.has(key))
      .map((key) => (key === "classification" && typeof half[key] === "string" ? "classification:text" : key));
  const annotation = readKeys(meta);
  const dataKeys = data ? readKeys(data) : [];
  const arrays = Array.isArray(coordinate) && coordinate.some((point) => !isRecord(point));
  const synapse =
    sameKeys(annotation, ["id", "tool", "classification"]) && sameKeys(dataKeys, data ? ["id", "coordinate"] : []);
  if (synapse && !arrays) return undefined;
  return { annotation, data: dataKeys, coordinates: arrays ? "arrays" : "objects" };
}

function sameKeys(keys: string[], expected: string[]): boolean {
  return keys.length === expected.length && expected.every((key) => keys.includes(key));
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** `{class, ...attributes}` (Synapse) or a bare class name (the shorthand). */
function classificationOf(value: JsonValue | undefined): { className: string; attributes: JsonObject } {
  if (typeof value === "string") return { className: value, attributes: {} };
  if (!isRecord(value)) return { className: "", attributes: {} };
  const { class: className, ...attributes } = value;
  return { className: typeof className === "string" ? className : "", attributes };
}

type Geometry = NonNullable<AnnotationInit["geometry"]>;

/** The geometry, or what is wrong with the coordinates. */
function geometryOf(
  kind: "bbox" | "polygon" | "polyline" | "keypoints",
  coordinate: JsonValue,
  dm: JsonObject,
): Geometry | string {
  if (kind === "bbox") {
    const box = Array.isArray(coordinate)
      ? { x: coordinate[0], y: coordinate[1], width: coordinate[2], height: coordinate[3] }
      : isRecord(coordinate)
        ? coordinate
        : {};
    const { x, y, width, height, rotation, ...rest } = box as Record<string, JsonValue | undefined>;
    if (![x, y, width, height].every(finite)) return "coordinates are not x, y, width, height";
    if (rotation !== undefined) dm.rotation = rotation;
    if (Object.keys(rest).length > 0) dm.coordinate = rest as JsonObject;
    return {
      case: "bbox",
      value: { x: x as number, y: y as number, width: width as number, height: height as number },
    };
  }
  const points = pointsOf(coordinate, dm);
  if (typeof points === "string") return points;
  if (kind === "keypoints") {
    if (points.length === 0) return "no points";
    return {
      case: "keypoints",
      value: { keypoints: points.map(([x, y, visibility]) => ({ x, y, visibility: visibility ?? 2 })) },
    };
  }
  const least = kind === "polygon" ? 3 : 2;
  if (points.length < least) return `fewer than ${least} points`;
  return { case: kind, value: { points: points.flatMap((point) => [point[0], point[1]]) } };
}

/**
 * Points from [{x,y,id}], [[x,y(,v)]] or a single {x,y} (a DM keypoint is one point); point ids go
 * to dm.pointIds.
 */
function pointsOf(coordinate: JsonValue, dm: JsonObject): Array<[number, number, number?]> | string {
  const list = Array.isArray(coordinate) ? coordinate : [coordinate];
  const points: Array<[number, number, number?]> = [];
  const ids: JsonValue[] = [];
  for (const point of list) {
    if (Array.isArray(point)) {
      const [x, y, v] = point;
      if (!finite(x) || !finite(y)) return "a point is not [x, y]";
      points.push(finite(v) ? [x, y, v] : [x, y]);
    } else if (isRecord(point) && finite(point.x) && finite(point.y)) {
      points.push(finite(point.visibility) ? [point.x, point.y, point.visibility] : [point.x, point.y]);
      if (point.id !== undefined) ids.push(point.id);
    } else {
      return "a point is not {x, y}";
    }
  }
  if (ids.length > 0) dm.pointIds = ids;
  return points;
}

function finite(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}
