// The item model as formats see it: the lossless item JSON, annotation type names and geometry
// as plain JSON, shared by the exporter plugins and the orchestrator's REST exports.
import { fromJson, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { type Annotation, AnnotationType, type Item, ItemKind, ItemSchema } from "./gen/labelport/v1/dataset_pb.ts";
import { plainItemJson } from "./item-json-plain.ts";

/** The lossless Labelport item JSON (proto3 JSON of `Item`); `itemFromJson` reads it back. */
export function itemToJson(item: Item): JsonValue {
  return plainItemJson(item) ?? toJson(ItemSchema, item);
}

export function itemFromJson(json: JsonValue): Item {
  return fromJson(ItemSchema, json);
}

export type AnnotationTypeName = "bbox" | "polygon" | "polyline" | "keypoints" | "classification" | "track" | "mask";

const typeNames: Record<AnnotationType, AnnotationTypeName | ""> = {
  [AnnotationType.UNSPECIFIED]: "",
  [AnnotationType.BBOX]: "bbox",
  [AnnotationType.POLYGON]: "polygon",
  [AnnotationType.POLYLINE]: "polyline",
  [AnnotationType.KEYPOINTS]: "keypoints",
  [AnnotationType.CLASSIFICATION]: "classification",
  [AnnotationType.TRACK]: "track",
  [AnnotationType.MASK]: "mask",
};

/** The annotation's type; when unset, inferred from its geometry (none means classification). */
export function annotationTypeName(annotation: Annotation): AnnotationTypeName {
  const named = typeNames[annotation.type];
  if (named) return named;
  switch (annotation.geometry.case) {
    case "bbox":
    case "polygon":
    case "polyline":
    case "keypoints":
    case "mask":
      return annotation.geometry.case;
    case "boxSequence":
      return "track";
    default:
      return "classification";
  }
}

export function isVideoItem(item: Item): boolean {
  return item.kind === ItemKind.VIDEO;
}

/**
 * The geometry as plain JSON with every field present (proto3 JSON would drop zeros):
 * bbox {x,y,width,height}; polygon/polyline {points:[x1,y1,...]}; keypoints
 * {keypoints:[{x,y,visibility}]}; track {interpolationMode, boxes:[...]}; mask {width, height, counts}
 * (COCO's uncompressed RLE, see rle.ts); null for none.
 */
export function geometryJson(annotation: Annotation): JsonObject | null {
  const { geometry } = annotation;
  switch (geometry.case) {
    case "bbox": {
      const { x, y, width, height } = geometry.value;
      return { x, y, width, height };
    }
    case "polygon":
    case "polyline":
      return { points: [...geometry.value.points] };
    case "keypoints":
      return {
        keypoints: geometry.value.keypoints.map(({ x, y, visibility }) => ({ x, y, visibility })),
      };
    case "boxSequence":
      return {
        interpolationMode: geometry.value.interpolationMode || "linear",
        boxes: geometry.value.boxes.map(({ frameNumber, x, y, width, height, isKeyframe, visible }) => ({
          frameNumber,
          x,
          y,
          width,
          height,
          isKeyframe,
          visible,
        })),
      };
    case "mask": {
      const { width, height, counts } = geometry.value;
      return { width, height, counts: [...counts] };
    }
    default:
      return null;
  }
}

/** Axis-aligned bounds [x, y, width, height] of flattened x,y pairs; null when there are none. */
export function pointsBounds(points: readonly number[]): [number, number, number, number] | null {
  if (points.length < 2) return null;
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i] as number;
    const y = points[i + 1] as number;
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX, minY, maxX - minX, maxY - minY];
}

/** Shoelace area of a simple polygon given as flattened x,y pairs. */
export function polygonArea(points: readonly number[]): number {
  const n = Math.floor(points.length / 2);
  let twice = 0;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    twice += (points[2 * i] as number) * (points[2 * j + 1] as number);
    twice -= (points[2 * j] as number) * (points[2 * i + 1] as number);
  }
  return Math.abs(twice) / 2;
}
