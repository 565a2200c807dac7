// Boxes in VOC's pixel convention, and the bounding boxes of shapes VOC detection cannot hold.
//
// VOC boxes are 1-based, inclusive pixel indices. A Labelport box is continuous with its origin
// at the top-left corner of the image, so pixel k (1-based) spans [k-1, k): the left edge x maps
// to xmin = x + 1 and the right edge x2 to xmax = x2. Each edge is clipped to the image and
// rounded to the NEAREST whole pixel, so every corner stays within 0.5 px of the source (datumaro
// reads it back with coordinate_mode="voc-one-based": x = xmin - 1, width = xmax - xmin + 1).
import { maskBoundingBox, pointsBounds, type RleMask } from "@labelport/sdk";

// Floating-point noise must not count as a change.
const EPSILON = 1e-6;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface VocBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  /** The box touches or crosses the image border. */
  truncated: 0 | 1;
  /** An edge was outside the image and moved onto its border. */
  clipped: boolean;
  /** An edge was not on a whole pixel. */
  rounded: boolean;
  /** Narrower or lower than a pixel after rounding: widened to one pixel. */
  widened: boolean;
}

/** The edges [min, max] of one axis in whole pixels: min in [0, size-1], max in [min+1, size]. */
function axis(start: number, end: number, size: number) {
  const low = Math.min(Math.max(start, 0), size);
  const high = Math.min(Math.max(end, 0), size);
  const min = Math.min(Math.round(low), size - 1);
  const max = Math.max(Math.round(high), min + 1);
  return {
    min,
    max,
    clipped: Math.abs(low - start) > EPSILON || Math.abs(high - end) > EPSILON,
    rounded: Math.abs(low - min) > EPSILON || Math.abs(high - Math.round(high)) > EPSILON,
    widened: max !== Math.round(high),
    touches: start <= EPSILON || end >= size - EPSILON,
  };
}

/** The VOC box of a continuous box; null when nothing of it is inside the image. */
export function vocBox(box: Box, imageWidth: number, imageHeight: number): VocBox | null {
  const x2 = box.x + box.width;
  const y2 = box.y + box.height;
  if (box.width <= 0 || box.height <= 0 || x2 <= 0 || y2 <= 0 || box.x >= imageWidth || box.y >= imageHeight) {
    return null;
  }
  const h = axis(box.x, x2, imageWidth);
  const v = axis(box.y, y2, imageHeight);
  return {
    xmin: h.min + 1,
    ymin: v.min + 1,
    xmax: h.max,
    ymax: v.max,
    truncated: h.touches || v.touches ? 1 : 0,
    clipped: h.clipped || v.clipped,
    rounded: h.rounded || v.rounded,
    widened: h.widened || v.widened,
  };
}

/** Bounds of a polygon's points; null with fewer than 3 points. */
export function polygonBox(points: readonly number[]): Box | null {
  if (points.length < 6) return null;
  const bounds = pointsBounds(points);
  return bounds && { x: bounds[0], y: bounds[1], width: bounds[2], height: bounds[3] };
}

/** Bounds of the set pixels of a COCO RLE mask (a pixel covers [c, c+1) x [r, r+1)); null when none is set. */
export function maskBox(mask: RleMask): Box | null {
  const [x, y, width, height] = maskBoundingBox(mask);
  return width > 0 && height > 0 ? { x, y, width, height } : null;
}
