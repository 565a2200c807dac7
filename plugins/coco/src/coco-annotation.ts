// One COCO annotation object as Labelport annotations. A COCO object may carry several shapes at
// once (person_keypoints: a segmentation, a box and keypoints); each becomes its own annotation,
// and when there is more than one they share `group_id` (the COCO id), as LabelMe and CVAT group
// shapes of one object. What our exporter derives again on the way out (bbox of a polygon or
// mask, area of what it writes, iscrowd 1 for masks and 0 otherwise, num_keypoints) is not kept;
// what it could not derive is kept as an attribute, so nothing of the file is lost.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { decodeRleString, maskArea, pointsBounds, polygonArea } from "@labelport/sdk";
import { type AnnotationSchema, AnnotationType } from "@labelport/sdk/contracts";

export type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;
type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
type Attributes = { [key: string]: JsonValue };

/** The annotations of one COCO object, with the changes made on the way; or why none is kept. */
export type ConvertedAnnotation = { annotations: AnnotationInit[]; changed: string[] } | { drop: string };

export const CHANGED_MULTIPART = "polygon with several parts: one polygon per part, grouped by group_id";
export const CHANGED_SHORT_PART = "polygon part with fewer than 3 points: left out";
export const CHANGED_VISIBILITY = "keypoint visibility outside 0-2: set to 2";

/** The COCO object's own id as text ("" when it has none). */
export function cocoAnnotationId(record: Record<string, unknown>): string {
  const { id } = record;
  return typeof id === "number" || (typeof id === "string" && id !== "") ? String(id) : "";
}

function isNumberList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => typeof n === "number" && Number.isFinite(n));
}

/**
 * Converts `record` (already known to name an image and a known category) into annotations with
 * ids `${idBase}`, `${idBase}:2`..., and `${idBase}:keypoints`.
 */
export function convertCocoAnnotation(
  record: Record<string, unknown>,
  idBase: string,
  categoryId: number,
): ConvertedAnnotation {
  const changed: string[] = [];
  const shapes: AnnotationInit[] = [];
  const { segmentation, bbox, keypoints } = record;

  let keypointGeometry: AnnotationInit | undefined;
  const labelled: number[] = [];
  if (Array.isArray(keypoints) && keypoints.length > 0) {
    if (!isNumberList(keypoints) || keypoints.length % 3 !== 0) return { drop: "keypoints: not triples of numbers" };
    const points = [];
    for (let i = 0; i < keypoints.length; i += 3) {
      const x = keypoints[i] as number;
      const y = keypoints[i + 1] as number;
      let visibility = keypoints[i + 2] as number;
      if (visibility !== 0 && visibility !== 1 && visibility !== 2) {
        visibility = visibility > 0 ? 2 : 0;
        changed.push(CHANGED_VISIBILITY);
      }
      points.push({ x, y, visibility });
      if (visibility > 0) labelled.push(x, y);
    }
    keypointGeometry = {
      type: AnnotationType.KEYPOINTS,
      geometry: { case: "keypoints", value: { keypoints: points } },
    };
  }

  let derivedArea: number | undefined;
  let defaultCrowd = 0;
  if (segmentation && typeof segmentation === "object" && !Array.isArray(segmentation)) {
    const mask = rleMask(segmentation as Record<string, unknown>);
    if (typeof mask === "string") return { drop: mask };
    shapes.push({ type: AnnotationType.MASK, geometry: { case: "mask", value: mask } });
    derivedArea = maskArea(mask);
    defaultCrowd = 1;
  } else if (Array.isArray(segmentation) && segmentation.length > 0) {
    // Some writers put one polygon as a flat list instead of a list of polygons.
    const parts = isNumberList(segmentation) ? [segmentation] : segmentation;
    for (const part of parts) {
      if (!isNumberList(part)) return { drop: "segmentation: not polygons of numbers" };
      if (part.length < 6) {
        changed.push(CHANGED_SHORT_PART);
        continue;
      }
      shapes.push({ type: AnnotationType.POLYGON, geometry: { case: "polygon", value: { points: part } } });
    }
    if (shapes.length > 1) for (const _ of shapes) changed.push(CHANGED_MULTIPART);
    if (shapes.length === 1)
      derivedArea = polygonArea((shapes[0] as { geometry: { value: { points: number[] } } }).geometry.value.points);
  }

  let keypointBox: [number, number, number, number] | undefined;
  if (shapes.length === 0 && bbox !== undefined && bbox !== null) {
    if (!isNumberList(bbox) || bbox.length !== 4) return { drop: "bbox: not 4 numbers" };
    const [x, y, width, height] = bbox as [number, number, number, number];
    if (width < 0 || height < 0) return { drop: "bbox: negative width or height" };
    const keypointBounds = pointsBounds(labelled) ?? [0, 0, 0, 0];
    // Our exporter writes a keypoints object's bbox as the bounds of its labelled points, or as its
    // `bbox` attribute: a person's box stays with its keypoints, one object as in the file.
    const derived = keypointGeometry && keypointBounds.every((v, i) => v === bbox[i]);
    if (keypointGeometry && !derived) {
      keypointBox = [x, y, width, height];
      derivedArea = width * height;
    } else if (!derived) {
      shapes.push({ type: AnnotationType.BBOX, geometry: { case: "bbox", value: { x, y, width, height } } });
      derivedArea = width * height;
    }
  }
  if (keypointGeometry) {
    if (shapes.length === 0) {
      const bounds = pointsBounds(labelled) ?? [0, 0, 0, 0];
      derivedArea = bounds[2] * bounds[3];
    }
    shapes.push(keypointGeometry);
  }
  // datumaro's coco_labels (and image-level labels elsewhere): a category without a shape.
  if (shapes.length === 0) shapes.push({ type: AnnotationType.CLASSIFICATION });

  // Attributes other tools (CVAT, datumaro) write into the object, then what COCO itself holds.
  const primary: Attributes = {};
  if (record.attributes && typeof record.attributes === "object" && !Array.isArray(record.attributes)) {
    Object.assign(primary, record.attributes as Attributes);
  }
  const crowd = typeof record.iscrowd === "boolean" ? Number(record.iscrowd) : record.iscrowd;
  if (typeof crowd === "number" && crowd !== defaultCrowd) primary.iscrowd = crowd;
  if (keypointBox) primary.bbox = keypointBox;
  if (typeof record.area === "number" && !sameNumber(record.area, derivedArea)) primary.area = record.area;
  const cocoId = cocoAnnotationId(record);
  const group: JsonValue | undefined =
    shapes.length > 1 && cocoId !== "" ? (typeof record.id === "number" ? record.id : cocoId) : undefined;
  const annotations = shapes.map((shape, n) => {
    const attributes: Attributes = n === 0 ? { ...primary } : {};
    if (group !== undefined) attributes.group_id = group;
    if (shape.type === AnnotationType.KEYPOINTS && typeof record.num_keypoints === "number") {
      const counted = (shape.geometry as { value: { keypoints: { visibility: number }[] } }).value.keypoints.filter(
        (k) => k.visibility > 0,
      ).length;
      if (record.num_keypoints !== counted) attributes.num_keypoints = record.num_keypoints;
    }
    const id =
      shape.type === AnnotationType.KEYPOINTS && n > 0 ? `${idBase}:keypoints` : n > 0 ? `${idBase}:${n + 1}` : idBase;
    return { ...shape, id, categoryId, ...(Object.keys(attributes).length > 0 ? { attributes } : {}) };
  });
  return { annotations, changed };
}

function sameNumber(a: number, b: number | undefined): boolean {
  return b !== undefined && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
}

/** COCO RLE `{size: [height, width], counts}` (runs as a list, or pycocotools' compressed string). */
function rleMask(rle: Record<string, unknown>): { width: number; height: number; counts: number[] } | string {
  const { size, counts } = rle;
  if (!isNumberList(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n >= 0)) {
    return "rle: size is not [height, width]";
  }
  const [height, width] = size as [number, number];
  let runs: number[];
  if (typeof counts === "string") {
    try {
      runs = decodeRleString(counts);
    } catch {
      return "rle: counts is not a valid compressed RLE string";
    }
  } else if (isNumberList(counts) && counts.every((n) => Number.isInteger(n) && n >= 0)) {
    runs = counts;
  } else {
    return "rle: counts is neither a list of runs nor a string";
  }
  let total = 0;
  for (const run of runs) total += run;
  if (total !== width * height) return "rle: runs do not cover height x width pixels";
  return { width, height, counts: runs };
}
