// DM Schema v1 (Synapse / DataMaker, seed 002) written from Labelport items: the two halves of
// each annotation (`annotations[<media>]`: id, tool, flags, classification; `annotationsData
// [<media>]`: id, coordinate) and the payload `{annotations, annotationsData, ...item.data}`.
// What the dm-json importer kept under attributes.dm (the tool code, flags, point ids, rotation,
// the data half's fields, and dm.layout when a file used the shorthand's `type`/`data` arrays)
// goes back where it came from, so an imported file is written back as it was.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Annotation, Item } from "./gen/labelport/v1/dataset_pb.ts";
import { annotationTypeName } from "./item-json.ts";

function isRecord(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** DM tool codes Labelport annotation kinds are written as, when the annotation has no DM tool of its own. */
const TOOLS: Record<string, string> = {
  bbox: "bounding_box",
  polygon: "polygon",
  polyline: "polyline",
  keypoints: "keypoint",
  classification: "classification",
};
/** The kind each DM tool code (and shorthand type) holds: the dm-json importer reads them so too. */
export const DM_TOOL_KINDS: Record<string, "bbox" | "polygon" | "polyline" | "keypoints" | "classification"> = {
  bounding_box: "bbox",
  bbox: "bbox",
  polygon: "polygon",
  polyline: "polyline",
  keypoint: "keypoints",
  keypoints: "keypoints",
  classification: "classification",
};

/** The two halves of one DM annotation and its class. */
export interface DmHalves {
  className: string;
  annotation: JsonObject;
  data: JsonObject | undefined;
}

/** The DM media key of the item: `image_<n>` when the importer split a file with several images, else image_1. */
export function dmMediaKey(item: Item): string {
  return /__(image_\d+)$/.exec(item.id)?.[1] ?? "image_1";
}

export function dmPayload(item: Item, media: string, halves: DmHalves[]): JsonObject {
  const data = (item.data ?? {}) as JsonObject;
  const annotationsData = halves.flatMap((h) => (h.data ? [h.data] : []));
  return {
    ...data,
    annotations: { [media]: halves.map((h) => h.annotation) },
    annotationsData: { [media]: annotationsData },
  };
}

/** The DM annotation id: the importer's `<item id>:<DM id>[~n]` gives back the DM id. */
function dmId(item: Item, annotation: Annotation, fromDm: boolean): string {
  const prefix = `${item.id}:`;
  if (!fromDm || !annotation.id.startsWith(prefix)) return annotation.id;
  return annotation.id.slice(prefix.length).replace(/~\d+$/, "");
}

export function dmHalves(
  item: Item,
  annotation: Annotation,
  className: string | undefined,
): DmHalves | { drop: string } {
  const kind = annotationTypeName(annotation);
  if (className === undefined) return { drop: `${kind}: no category, or one the dataset does not have` };
  const { dm: rawDm, ...classAttributes } = (annotation.attributes ?? {}) as JsonObject;
  const dm = isRecord(rawDm) ? rawDm : {};
  const {
    tool: dmTool,
    layout: rawLayout,
    dataFields,
    rotation,
    pointIds,
    coordinate: coordinateRest,
    ...annotationFields
  } = dm;
  // A DM tool only while the annotation is still of the kind the tool holds (an edit may change it).
  const tool = typeof dmTool === "string" && DM_TOOL_KINDS[dmTool] === kind ? dmTool : TOOLS[kind];
  if (!tool) return { drop: `${kind}: DM Schema v1 has no ${kind} the dm-json importer reads` };
  const layout = isRecord(rawLayout) ? rawLayout : undefined;
  const arrays = layout?.coordinates === "arrays";
  const coordinate = coordinateOf(annotation, tool, arrays, { rotation, pointIds, coordinateRest });
  const id = dmId(item, annotation, isRecord(rawDm));
  const classification: JsonValue = { class: className, ...classAttributes };
  const value = (key: string): JsonValue | undefined => {
    if (key === "id") return id;
    if (key === "tool" || key === "type") return tool;
    if (key === "classification") return classification;
    if (key === "classification:text") return Object.keys(classAttributes).length === 0 ? className : classification;
    return coordinate;
  };
  const half = (keys: readonly string[], rest: JsonObject): JsonObject => {
    const out: JsonObject = {};
    for (const key of keys) {
      const v = value(key);
      if (v !== undefined) out[key === "classification:text" ? "classification" : key] = v;
    }
    return { ...out, ...rest };
  };
  const rest = isRecord(dataFields) ? dataFields : {};
  if (layout) {
    const dataKeys = Array.isArray(layout.data) ? layout.data.map(String) : [];
    const annotationKeys = Array.isArray(layout.annotation) ? layout.annotation.map(String) : [];
    return {
      className,
      annotation: half(annotationKeys, annotationFields),
      data: dataKeys.length > 0 ? half(dataKeys, rest) : undefined,
    };
  }
  // Synapse's own shape: id, tool, flags, classification; coordinates in the data half.
  const data =
    coordinate === undefined && Object.keys(rest).length === 0 ? undefined : half(["id", "coordinate"], rest);
  return { className, annotation: half(["id", "tool"], { ...annotationFields, classification }), data };
}

interface DmGeometryExtras {
  rotation: JsonValue | undefined;
  pointIds: JsonValue | undefined;
  coordinateRest: JsonValue | undefined;
}

/** The annotation's coordinates as DM writes them: objects (Synapse) or arrays (the shorthand). */
function coordinateOf(annotation: Annotation, tool: string, arrays: boolean, extras: DmGeometryExtras) {
  const g = annotation.geometry;
  switch (g.case) {
    case "bbox": {
      const { x, y, width, height } = g.value;
      if (arrays) return [x, y, width, height];
      const rest = isRecord(extras.coordinateRest) ? extras.coordinateRest : {};
      return { x, y, width, height, ...(extras.rotation !== undefined ? { rotation: extras.rotation } : {}), ...rest };
    }
    case "polygon":
    case "polyline": {
      const points: JsonValue[] = [];
      const ids = Array.isArray(extras.pointIds) && extras.pointIds.length * 2 === g.value.points.length;
      for (let i = 0; i + 1 < g.value.points.length; i += 2) {
        const [x, y] = [g.value.points[i] as number, g.value.points[i + 1] as number];
        const id = ids ? (extras.pointIds as JsonValue[])[i / 2] : undefined;
        points.push(arrays ? [x, y] : { x, y, ...(id !== undefined ? { id } : {}) });
      }
      return points;
    }
    case "keypoints": {
      const points = g.value.keypoints.map(({ x, y, visibility }): JsonValue => {
        if (arrays) return visibility === 2 ? [x, y] : [x, y, visibility];
        return visibility === 2 ? { x, y } : { x, y, visibility };
      });
      // Synapse's keypoint tool is one point, written as {x, y}.
      return !arrays && tool === "keypoint" && points.length === 1 ? (points[0] as JsonValue) : points;
    }
    default:
      return undefined;
  }
}

/** The item's whole DM v1 payload, and why any annotation was left out (no category, a mask). */
export function dmPayloadOf(
  item: Item,
  categoryNames: ReadonlyMap<number, string>,
): { payload: JsonObject; dropped: string[] } {
  const halves: DmHalves[] = [];
  const dropped: string[] = [];
  for (const annotation of item.annotations) {
    const result = dmHalves(item, annotation, categoryNames.get(annotation.categoryId ?? 0));
    if ("drop" in result) dropped.push(result.drop);
    else halves.push(result);
  }
  return { payload: dmPayload(item, dmMediaKey(item), halves), dropped };
}
