// The JSON line of a video annotation (a track), shared by the jsonl plugin and the
// orchestrator's /api/export route so both write the same bytes.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Annotation, Category, SequenceBox } from "./gen/labelport/v1/dataset_pb.ts";
import { interpolateBoxSequence, keyframes } from "./tracks.ts";

export interface VideoAnnotationBoxJson {
  frameNumber: number;
  x: number;
  y: number;
  width: number;
  height: number;
  isKeyframe: boolean;
  visible: boolean;
}

/** Field order is the video annotation API's: JSON.stringify keeps insertion order. */
export interface VideoAnnotationJson {
  id: string;
  videoId: string;
  personaId: string;
  annotationType: "type" | "object";
  typeAssignment?: { typeId: string; typeName: string };
  objectLink?: { objectId: string; objectType: string };
  boundingBoxSequence: { interpolationMode: string; boxes: VideoAnnotationBoxJson[] };
  createdAt?: string;
  updatedAt?: string;
}

export interface VideoAnnotationJsonOptions {
  /** Every frame between keyframes ("Fully Interpolated Mode"); default keyframes only. */
  includeInterpolated?: boolean;
  /**
   * Resolves the annotation's category for a track without an explicit link: it becomes
   * `annotationType: "type"` with `typeAssignment {typeId: <category id>, typeName: <name>}`.
   */
  category?: (id: number) => Category | undefined;
}

/** True for the annotations the video track export writes: the ones carrying a bounding-box sequence. */
export function isVideoAnnotation(annotation: Annotation): boolean {
  return annotation.geometry.case === "boxSequence";
}

export function toVideoAnnotationJson(
  annotation: Annotation,
  options: VideoAnnotationJsonOptions = {},
): VideoAnnotationJson {
  if (annotation.geometry.case !== "boxSequence") {
    throw new TypeError(`annotation ${annotation.id} has no bounding-box sequence`);
  }
  const sequence = annotation.geometry.value;
  const boxes = options.includeInterpolated ? interpolateBoxSequence(sequence) : keyframes(sequence);
  const createdAt = isoTime(annotation.createTime);
  const updatedAt = isoTime(annotation.updateTime ?? annotation.createTime);
  return {
    id: annotation.id,
    videoId: annotation.itemId,
    personaId: annotation.personaId,
    annotationType: annotation.link.case === "objectLink" ? "object" : "type",
    ...linkJson(annotation, options),
    boundingBoxSequence: {
      interpolationMode: sequence.interpolationMode || "linear",
      boxes: boxes.map(boxJson),
    },
    ...(createdAt === undefined ? {} : { createdAt }),
    ...(updatedAt === undefined ? {} : { updatedAt }),
  };
}

function linkJson(
  annotation: Annotation,
  options: VideoAnnotationJsonOptions,
): Pick<VideoAnnotationJson, "typeAssignment" | "objectLink"> {
  const { link } = annotation;
  if (link.case === "typeAssignment") {
    return { typeAssignment: { typeId: link.value.typeId, typeName: link.value.typeName } };
  }
  if (link.case === "objectLink") {
    return { objectLink: { objectId: link.value.objectId, objectType: link.value.objectType } };
  }
  if (annotation.categoryId === undefined) return {};
  const category = options.category?.(annotation.categoryId);
  return { typeAssignment: { typeId: String(annotation.categoryId), typeName: category?.name ?? "" } };
}

/** One line of annotations.jsonl, without the line break. */
export function videoAnnotationLine(annotation: Annotation, options: VideoAnnotationJsonOptions = {}): string {
  return JSON.stringify(toVideoAnnotationJson(annotation, options));
}

function boxJson(box: SequenceBox): VideoAnnotationBoxJson {
  return {
    frameNumber: box.frameNumber,
    x: box.x,
    y: box.y,
    width: box.width,
    height: box.height,
    isKeyframe: box.isKeyframe,
    visible: box.visible,
  };
}

/** RFC 3339 with milliseconds, as the video annotation API prints it ("2025-10-06T14:30:00.000Z"). */
export function isoTime(timestamp: Timestamp | undefined): string | undefined {
  return timestamp ? timestampDate(timestamp).toISOString() : undefined;
}
