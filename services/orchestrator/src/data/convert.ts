// MongoDB documents -> protobuf messages. This is the export hot path (StreamItems), so messages
// are built as object literals with every field set, which is what `create()` would produce,
// without its per-field reflection.
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type {
  Annotation,
  BoundingBoxSequence,
  Category,
  Dataset,
  Item,
  Media,
  SequenceBox,
  SkeletonEdge,
} from "@labelport/sdk/contracts";
import { publicId } from "./ids.ts";
import {
  type AnnotationDoc,
  annotationTypeOf,
  type BoxDoc,
  type CategoryDoc,
  type DatasetDoc,
  type ItemDoc,
  itemKindOf,
  itemStatusOf,
  type MediaDoc,
} from "./model.ts";

export function timestamp(date: Date): Timestamp {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { $typeName: "google.protobuf.Timestamp", seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

export function categoryMessage(doc: CategoryDoc): Category {
  return {
    $typeName: "labelport.v1.Category",
    id: doc.id,
    name: doc.name,
    supercategory: doc.supercategory ?? "",
    keypoints: doc.keypoints ?? [],
    skeleton: (doc.skeleton ?? []).map(
      ([fromKeypoint, toKeypoint]): SkeletonEdge => ({
        $typeName: "labelport.v1.SkeletonEdge",
        fromKeypoint,
        toKeypoint,
      }),
    ),
  };
}

export function datasetMessage(doc: DatasetDoc, counts?: { items: number; annotations: number }): Dataset {
  return {
    $typeName: "labelport.v1.Dataset",
    id: doc._id,
    name: doc.name,
    description: doc.description,
    categories: doc.categories.map(categoryMessage),
    createTime: timestamp(doc.createdAt),
    itemCount: BigInt(counts?.items ?? 0),
    annotationCount: BigInt(counts?.annotations ?? 0),
  };
}

function mediaMessage(doc: MediaDoc): Media {
  return {
    $typeName: "labelport.v1.Media",
    uri: doc.uri ?? "",
    fileName: doc.fileName ?? "",
    width: doc.width ?? 0,
    height: doc.height ?? 0,
    frames: doc.frames ?? 0,
    fps: doc.fps ?? 0,
    depth: doc.depth ?? 0,
  };
}

/** An item without annotations; pass them to fill `annotations`. */
export function itemMessage(doc: ItemDoc, annotations: Annotation[] = []): Item {
  return {
    $typeName: "labelport.v1.Item",
    id: publicId(doc.datasetId, doc._id),
    datasetId: doc.datasetId,
    kind: itemKindOf[doc.kind] ?? 0,
    status: itemStatusOf[doc.status] ?? 0,
    split: doc.split ?? "",
    media: doc.media === undefined ? undefined : mediaMessage(doc.media),
    meta: doc.meta,
    tags: doc.tags ?? [],
    data: doc.data,
    createTime: timestamp(doc.createdAt),
    updateTime: timestamp(doc.updatedAt),
    version: BigInt(doc.version ?? 0),
    annotations,
  };
}

function boxMessage(box: BoxDoc): SequenceBox {
  return {
    $typeName: "labelport.v1.SequenceBox",
    frameNumber: box.frameNumber,
    x: box.x,
    y: box.y,
    width: box.width,
    height: box.height,
    isKeyframe: box.isKeyframe,
    visible: box.visible,
  };
}

function geometryOf(doc: AnnotationDoc): Annotation["geometry"] {
  if (doc.boxSequence !== undefined) {
    const value: BoundingBoxSequence = {
      $typeName: "labelport.v1.BoundingBoxSequence",
      interpolationMode: doc.boxSequence.interpolationMode,
      boxes: doc.boxSequence.boxes.map(boxMessage),
    };
    return { case: "boxSequence", value };
  }
  const geometry = doc.geometry;
  if (geometry === undefined) return { case: undefined };
  if (geometry.bbox !== undefined) {
    const { x, y, width, height } = geometry.bbox;
    return { case: "bbox", value: { $typeName: "labelport.v1.BoundingBox", x, y, width, height } };
  }
  if (geometry.points !== undefined) {
    const value = { $typeName: "labelport.v1.PointList", points: geometry.points } as const;
    return doc.type === "polyline" ? { case: "polyline", value } : { case: "polygon", value };
  }
  if (geometry.keypoints !== undefined) {
    return {
      case: "keypoints",
      value: {
        $typeName: "labelport.v1.KeypointList",
        keypoints: geometry.keypoints.map((k) => ({
          $typeName: "labelport.v1.Keypoint",
          x: k.x,
          y: k.y,
          visibility: k.visibility,
        })),
      },
    };
  }
  if (geometry.mask !== undefined) {
    const { width, height, counts } = geometry.mask;
    return { case: "mask", value: { $typeName: "labelport.v1.Mask", width, height, counts } };
  }
  return { case: undefined };
}

function linkOf(doc: AnnotationDoc): Annotation["link"] {
  const link = doc.link;
  if (link?.typeAssignment !== undefined) {
    const { typeId, typeName } = link.typeAssignment;
    return { case: "typeAssignment", value: { $typeName: "labelport.v1.TypeAssignment", typeId, typeName } };
  }
  if (link?.objectLink !== undefined) {
    const { objectId, objectType } = link.objectLink;
    return { case: "objectLink", value: { $typeName: "labelport.v1.ObjectLink", objectId, objectType } };
  }
  return { case: undefined };
}

export function annotationMessage(doc: AnnotationDoc): Annotation {
  return {
    $typeName: "labelport.v1.Annotation",
    id: publicId(doc.datasetId, doc._id),
    datasetId: doc.datasetId,
    itemId: doc.itemId,
    personaId: doc.personaId ?? "",
    type: annotationTypeOf[doc.type] ?? 0,
    categoryId: doc.categoryId,
    attributes: doc.attributes,
    geometry: geometryOf(doc),
    link: linkOf(doc),
    removed: doc.removed ?? false,
    createdBy: doc.createdBy ?? "",
    reviewedBy: doc.reviewedBy ?? "",
    reviewTime: doc.reviewTime === undefined ? undefined : timestamp(doc.reviewTime),
    createTime: timestamp(doc.createdAt),
    updateTime: timestamp(doc.updatedAt),
  };
}
