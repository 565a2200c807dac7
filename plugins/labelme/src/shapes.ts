// One LabelMe shape as Labelport geometry, or the reason it cannot be one. Shape types are the ones
// labelme 3 to 5 write: rectangle, polygon (also when shape_type is missing, as labelme 3 wrote),
// line/linestrip, point/points, circle (two points: centre, then one on the rim), mask (two points
// bounding a base64 PNG of the box).
import type { MessageInitShape } from "@bufbuild/protobuf";
import { cropToImageMask } from "@labelport/sdk";
import { type AnnotationSchema, AnnotationType } from "@labelport/sdk/contracts";
import { decodePngMask } from "./png-mask.ts";

export type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;
type Geometry = Pick<AnnotationInit, "type" | "geometry">;

export interface ShapeResult {
  geometry?: Geometry;
  /** Why the shape is dropped. */
  dropped?: string;
  /** How the shape was changed on the way. */
  changed?: string;
}

export interface RawShape {
  shape_type?: unknown;
  points: number[][];
  mask?: unknown;
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

export function shapeGeometry(
  shape: RawShape,
  image: { width: number; height: number },
  circleVertices: number,
): ShapeResult {
  const points = shape.points;
  const flat = points.flatMap(([x, y]) => [x as number, y as number]);
  const type = shape.shape_type === undefined || shape.shape_type === null ? "polygon" : String(shape.shape_type);
  switch (type) {
    case "rectangle": {
      if (points.length < 2) return { dropped: "rectangle with fewer than 2 points" };
      const xs = points.map((p) => p[0] as number);
      const ys = points.map((p) => p[1] as number);
      const x = Math.min(...xs);
      const y = Math.min(...ys);
      return {
        geometry: {
          type: AnnotationType.BBOX,
          geometry: { case: "bbox", value: { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y } },
        },
      };
    }
    case "polygon":
      if (points.length < 3) return { dropped: "polygon with fewer than 3 points" };
      return { geometry: { type: AnnotationType.POLYGON, geometry: { case: "polygon", value: { points: flat } } } };
    case "line":
    case "linestrip":
      if (points.length < 2) return { dropped: `${type} with fewer than 2 points` };
      return { geometry: { type: AnnotationType.POLYLINE, geometry: { case: "polyline", value: { points: flat } } } };
    case "point":
    case "points": {
      if (points.length === 0) return { dropped: `${type} without coordinates` };
      const keypoints = points.map(([x, y]) => ({ x: x as number, y: y as number, visibility: 2 }));
      return { geometry: { type: AnnotationType.KEYPOINTS, geometry: { case: "keypoints", value: { keypoints } } } };
    }
    case "circle": {
      if (points.length !== 2) return { dropped: "circle without exactly 2 points" };
      const [[cx, cy], [px, py]] = points as [[number, number], [number, number]];
      const radius = Math.hypot(px - cx, py - cy);
      const polygon: number[] = [];
      for (let i = 0; i < circleVertices; i++) {
        const angle = (2 * Math.PI * i) / circleVertices;
        polygon.push(round3(cx + radius * Math.cos(angle)), round3(cy + radius * Math.sin(angle)));
      }
      return {
        geometry: { type: AnnotationType.POLYGON, geometry: { case: "polygon", value: { points: polygon } } },
        changed: `circle: stored as a ${circleVertices}-sided polygon`,
      };
    }
    case "mask":
      return maskGeometry(shape, image);
    default:
      return { dropped: `shape_type '${type}': not supported` };
  }
}

function maskGeometry(shape: RawShape, image: { width: number; height: number }): ShapeResult {
  if (typeof shape.mask !== "string" || shape.points.length < 1) return { dropped: "mask without PNG data" };
  if (!image.width || !image.height) return { dropped: "mask: image size unknown" };
  let bitmap: ReturnType<typeof decodePngMask>;
  try {
    bitmap = decodePngMask(Buffer.from(shape.mask, "base64"));
  } catch {
    return { dropped: "mask: not a readable PNG" };
  }
  const [left, top] = shape.points[0] as [number, number];
  const mask = cropToImageMask({ ...bitmap, left: Math.floor(left), top: Math.floor(top) }, image.width, image.height);
  return {
    geometry: {
      type: AnnotationType.MASK,
      geometry: { case: "mask", value: { width: mask.width, height: mask.height, counts: mask.counts } },
    },
    ...(mask.clipped > 0 ? { changed: "mask: clipped to the image" } : {}),
  };
}
