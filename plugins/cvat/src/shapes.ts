// One CVAT shape element as Labelport geometry, or the reason it cannot be one. Boxes are
// xtl/ytl/xbr/ybr (a rotated box becomes the polygon of its corners, exactly); polygons, polylines
// and points are "x,y;x,y"; masks are CVAT's RLE (runs of 0s and 1s, 0s first, row by row over the
// mask's own left/top/width/height box) turned into COCO's column-major RLE over the image;
// ellipses become polygons (changed); skeletons become keypoints in the order of their sub-labels.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { cropToImageMask } from "@labelport/sdk";
import { type AnnotationSchema, AnnotationType } from "@labelport/sdk/contracts";
import type { CvatShape } from "./cvat-xml.ts";

export type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;
type Geometry = Pick<AnnotationInit, "type" | "geometry">;

export interface ShapeResult {
  geometry?: Geometry;
  dropped?: string;
  changed?: string;
}

/** Vertices of the polygon an ellipse becomes. */
export const ELLIPSE_VERTICES = 32;

/** Largest mask box decoded (a 16384 x 16384 image): the bitmap is allocated before the runs are read. */
const MAX_MASK_PIXELS = 16384 * 16384;

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** A number attribute of the element; an Error names it when it is missing or not a number. */
export function numberAttr(shape: CvatShape, name: string): number {
  const text = shape.attrs[name];
  const value = text === undefined || text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) {
    throw new Error(`<${shape.element}> at line ${shape.line}: ${name}="${text ?? ""}" is not a number`);
  }
  return value;
}

/** "x1,y1;x2,y2;..." as [x1, y1, x2, y2, ...]; an Error names the element when it is not that. */
export function parsePoints(shape: CvatShape): number[] {
  const text = (shape.attrs.points ?? "").trim();
  if (!text) return [];
  const flat: number[] = [];
  for (const pair of text.split(";")) {
    const [x, y, extra] = pair.split(",");
    const px = Number(x);
    const py = Number(y);
    if (extra !== undefined || x?.trim() === "" || y === undefined || !Number.isFinite(px) || !Number.isFinite(py)) {
      throw new Error(`<${shape.element}> at line ${shape.line}: points="${text.slice(0, 60)}" is not "x,y;x,y;..."`);
    }
    flat.push(px, py);
  }
  return flat;
}

export function shapeGeometry(
  shape: CvatShape,
  image: { width: number; height: number },
  keypointNames: readonly string[] | undefined,
): ShapeResult {
  switch (shape.element) {
    case "box":
      return boxGeometry(shape);
    case "polygon": {
      const points = parsePoints(shape);
      if (points.length < 6) return { dropped: "polygon with fewer than 3 points" };
      return { geometry: { type: AnnotationType.POLYGON, geometry: { case: "polygon", value: { points } } } };
    }
    case "polyline": {
      const points = parsePoints(shape);
      if (points.length < 4) return { dropped: "polyline with fewer than 2 points" };
      return { geometry: { type: AnnotationType.POLYLINE, geometry: { case: "polyline", value: { points } } } };
    }
    case "points": {
      const points = parsePoints(shape);
      if (points.length === 0) return { dropped: "points without coordinates" };
      const visibility = shape.attrs.occluded === "1" ? 1 : 2;
      const keypoints = [];
      for (let i = 0; i < points.length; i += 2) {
        keypoints.push({ x: points[i] as number, y: points[i + 1] as number, visibility });
      }
      return { geometry: { type: AnnotationType.KEYPOINTS, geometry: { case: "keypoints", value: { keypoints } } } };
    }
    case "mask":
      return maskGeometry(shape, image);
    case "ellipse":
      return ellipseGeometry(shape);
    case "skeleton":
      return skeletonGeometry(shape, keypointNames);
    case "tag":
      return { geometry: { type: AnnotationType.CLASSIFICATION } };
    default:
      return { dropped: `${shape.element}: not supported` };
  }
}

function boxGeometry(shape: CvatShape): ShapeResult {
  const xtl = numberAttr(shape, "xtl");
  const ytl = numberAttr(shape, "ytl");
  const xbr = numberAttr(shape, "xbr");
  const ybr = numberAttr(shape, "ybr");
  const rotation = shape.attrs.rotation === undefined ? 0 : numberAttr(shape, "rotation");
  if (rotation % 360 === 0) {
    return {
      geometry: {
        type: AnnotationType.BBOX,
        geometry: { case: "bbox", value: { x: xtl, y: ytl, width: xbr - xtl, height: ybr - ytl } },
      },
    };
  }
  // CVAT turns the box clockwise (y points down) by `rotation` degrees about its centre.
  const cx = (xtl + xbr) / 2;
  const cy = (ytl + ybr) / 2;
  const angle = (rotation * Math.PI) / 180;
  const points: number[] = [];
  for (const [x, y] of [
    [xtl, ytl],
    [xbr, ytl],
    [xbr, ybr],
    [xtl, ybr],
  ] as const) {
    const dx = x - cx;
    const dy = y - cy;
    points.push(
      round3(cx + dx * Math.cos(angle) - dy * Math.sin(angle)),
      round3(cy + dx * Math.sin(angle) + dy * Math.cos(angle)),
    );
  }
  return {
    geometry: { type: AnnotationType.POLYGON, geometry: { case: "polygon", value: { points } } },
    changed: "box: rotated, stored as the polygon of its corners",
  };
}

function ellipseGeometry(shape: CvatShape): ShapeResult {
  const cx = numberAttr(shape, "cx");
  const cy = numberAttr(shape, "cy");
  const rx = numberAttr(shape, "rx");
  const ry = numberAttr(shape, "ry");
  const rotation = shape.attrs.rotation === undefined ? 0 : (numberAttr(shape, "rotation") * Math.PI) / 180;
  const points: number[] = [];
  for (let i = 0; i < ELLIPSE_VERTICES; i++) {
    const t = (2 * Math.PI * i) / ELLIPSE_VERTICES;
    const dx = rx * Math.cos(t);
    const dy = ry * Math.sin(t);
    points.push(
      round3(cx + dx * Math.cos(rotation) - dy * Math.sin(rotation)),
      round3(cy + dx * Math.sin(rotation) + dy * Math.cos(rotation)),
    );
  }
  return {
    geometry: { type: AnnotationType.POLYGON, geometry: { case: "polygon", value: { points } } },
    changed: `ellipse: stored as a ${ELLIPSE_VERTICES}-sided polygon`,
  };
}

/** CVAT's mask RLE: counts separated by commas (datumaro adds spaces), 0s first, row-major in the box. */
export function decodeCvatRle(shape: CvatShape): { bits: Uint8Array; width: number; height: number } {
  const width = numberAttr(shape, "width");
  const height = numberAttr(shape, "height");
  if (
    !Number.isInteger(width) ||
    !Number.isInteger(height) ||
    width < 0 ||
    height < 0 ||
    width * height > MAX_MASK_PIXELS
  ) {
    throw new Error(
      `<mask> at line ${shape.line}: a ${width}x${height} box is not a mask box (at most ${MAX_MASK_PIXELS} pixels)`,
    );
  }
  const bits = new Uint8Array(width * height);
  let position = 0;
  let value = 0;
  for (const part of (shape.attrs.rle ?? "").split(",")) {
    const run = Number(part);
    if (part.trim() === "" || !Number.isInteger(run) || run < 0 || position + run > bits.length) {
      throw new Error(`<mask> at line ${shape.line}: rle is not runs that fit its ${width}x${height} box`);
    }
    if (value) bits.fill(1, position, position + run);
    position += run;
    value ^= 1;
  }
  return { bits, width, height };
}

function maskGeometry(shape: CvatShape, image: { width: number; height: number }): ShapeResult {
  if (!image.width || !image.height) return { dropped: "mask: image size unknown" };
  const crop = decodeCvatRle(shape);
  const mask = cropToImageMask(
    { ...crop, left: Math.floor(numberAttr(shape, "left")), top: Math.floor(numberAttr(shape, "top")) },
    image.width,
    image.height,
  );
  return {
    geometry: {
      type: AnnotationType.MASK,
      geometry: { case: "mask", value: { width: mask.width, height: mask.height, counts: mask.counts } },
    },
    ...(mask.clipped > 0 ? { changed: "mask: clipped to the image" } : {}),
  };
}

/**
 * A skeleton's <points label="..."> children as keypoints in the order of the skeleton's
 * sub-labels (outside: 0, occluded: 1, else 2); sub-labels without a point are 0 at (0, 0).
 */
function skeletonGeometry(shape: CvatShape, names: readonly string[] | undefined): ShapeResult {
  if (!names || names.length === 0) return { dropped: "skeleton without sub-labels in <meta>" };
  const byName = new Map(shape.children.filter((c) => c.element === "points").map((c) => [c.attrs.label ?? "", c]));
  const keypoints = names.map((name) => {
    const point = byName.get(name);
    if (!point) return { x: 0, y: 0, visibility: 0 };
    const [x = 0, y = 0] = parsePoints(point);
    const visibility = point.attrs.outside === "1" ? 0 : point.attrs.occluded === "1" ? 1 : 2;
    return { x, y, visibility };
  });
  return { geometry: { type: AnnotationType.KEYPOINTS, geometry: { case: "keypoints", value: { keypoints } } } };
}
