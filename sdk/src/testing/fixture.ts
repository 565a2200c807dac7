// The conformance kit's sample dataset: one of each annotation kind, a video track, non-ASCII
// names, train/val/unset splits and an empty item, plus a generator of many items for the
// memory check. Plugin tests reuse it so every format is checked on the same data.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ExportDataset } from "../exporter.ts";
import {
  type Annotation,
  AnnotationSchema,
  AnnotationType,
  CategorySchema,
  type Item,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "../gen/labelport/v1/dataset_pb.ts";

export interface SampleDataset {
  dataset: ExportDataset;
  /** In id order, as StreamItems delivers them. */
  items: Item[];
  /** Original media by `media.uri`, to be put in the media storage for save_original_file. */
  media: Map<string, Uint8Array>;
}

export const SAMPLE_DATASET_ID = "ds-sample";
const CREATED = Date.UTC(2025, 9, 6, 14, 30, 0);

/** Category ids are deliberately sparse (1, 2, 3, 5, 9): formats must map through ids. */
export function sampleCategories() {
  return [
    create(CategorySchema, {
      id: 1,
      name: "person",
      supercategory: "living",
      keypoints: ["nose", "left_eye", "right_eye"],
      skeleton: [
        { fromKeypoint: 1, toKeypoint: 2 },
        { fromKeypoint: 1, toKeypoint: 3 },
      ],
    }),
    create(CategorySchema, { id: 2, name: "car", supercategory: "vehicle" }),
    create(CategorySchema, { id: 3, name: "自転車", supercategory: "vehicle" }),
    create(CategorySchema, { id: 5, name: "road", supercategory: "" }),
    create(CategorySchema, { id: 9, name: 'sign & <signal> "stop", red', supercategory: "" }),
  ];
}

type AnnotationInit = MessageInitShape<typeof AnnotationSchema>;
type ItemInit = MessageInitShape<typeof ItemSchema>;

function annotation(itemId: string, n: number, init: AnnotationInit): Annotation {
  return create(AnnotationSchema, {
    id: `${itemId}-a${String(n).padStart(2, "0")}`,
    datasetId: SAMPLE_DATASET_ID,
    itemId,
    personaId: "660e8400-e29b-41d4-a716-446655440001",
    createTime: timestampFromMs(CREATED + n * 1000),
    updateTime: timestampFromMs(CREATED + n * 2000),
    ...init,
  });
}

function item(id: string, init: ItemInit): Item {
  return create(ItemSchema, {
    id,
    datasetId: SAMPLE_DATASET_ID,
    kind: ItemKind.IMAGE,
    status: ItemStatus.APPROVED,
    createTime: timestampFromMs(CREATED),
    updateTime: timestampFromMs(CREATED + 60_000),
    version: 1n,
    ...init,
  });
}

/** Small deterministic bytes standing in for an image or a video. */
function mediaBytes(uri: string): Uint8Array {
  return new TextEncoder().encode(`labelport sample media ${uri}\n`);
}

export function sampleDataset(): SampleDataset {
  const items: Item[] = [
    item("item-01", {
      split: "train",
      media: { uri: "media/item-01.jpg", fileName: "street 01.jpg", width: 640, height: 480 },
      meta: { category: "1. 자연", group: "B82026Z", tags: ["b", "a"], review_tags: ["c", "a"] },
      tags: ["x"],
      data: { assignmentId: "job-123", annotations: { image_1: [{ id: "abc123", type: "bbox" }] } },
      annotations: [
        annotation("item-01", 1, {
          type: AnnotationType.BBOX,
          categoryId: 2,
          attributes: { difficult: true, color: "red" },
          geometry: { case: "bbox", value: { x: 10, y: 20, width: 100, height: 50 } },
        }),
        annotation("item-01", 2, {
          type: AnnotationType.BBOX,
          categoryId: 1,
          // Runs past the right and bottom edges: clipped by YOLO, truncated in VOC.
          geometry: { case: "bbox", value: { x: 600, y: 400, width: 100, height: 100.5 } },
        }),
        annotation("item-01", 3, {
          type: AnnotationType.POLYGON,
          categoryId: 5,
          geometry: { case: "polygon", value: { points: [0, 300, 200, 300, 200, 480, 0, 480] } },
        }),
        annotation("item-01", 4, {
          type: AnnotationType.KEYPOINTS,
          categoryId: 1,
          geometry: {
            case: "keypoints",
            value: {
              keypoints: [
                { x: 300, y: 100, visibility: 2 },
                { x: 290, y: 90, visibility: 2 },
                { x: 0, y: 0, visibility: 0 },
              ],
            },
          },
        }),
      ],
    }),
    item("item-02", {
      split: "val",
      media: { uri: "media/item-02.png", fileName: "자전거 사진.png", width: 320, height: 240 },
      meta: { category: "2. 도시" },
      annotations: [
        annotation("item-02", 1, {
          type: AnnotationType.BBOX,
          categoryId: 3,
          geometry: { case: "bbox", value: { x: 12.5, y: 30.25, width: 80, height: 60.75 } },
        }),
        annotation("item-02", 2, {
          type: AnnotationType.POLYLINE,
          categoryId: 5,
          geometry: { case: "polyline", value: { points: [0, 200, 160, 180, 320, 200] } },
        }),
        annotation("item-02", 3, { type: AnnotationType.CLASSIFICATION, categoryId: 2 }),
      ],
    }),
    // Unsplit, no annotations, and the same file stem as item-01 (de-duplicated).
    item("item-03", {
      media: { uri: "media/item-03.jpg", fileName: "street 01.jpg", width: 640, height: 480 },
    }),
    item("item-04", {
      split: "train",
      media: { uri: "media/item-04.png", fileName: "=formula.png", width: 100, height: 100 },
      meta: { category: "1. 자연" },
      annotations: [
        annotation("item-04", 1, {
          type: AnnotationType.BBOX,
          categoryId: 9,
          attributes: { note: '=HYPERLINK("http://x")', difficult: false },
          geometry: { case: "bbox", value: { x: 0, y: 0, width: 40, height: 30 } },
        }),
        annotation("item-04", 2, {
          type: AnnotationType.POLYGON,
          categoryId: 3,
          geometry: { case: "polygon", value: { points: [50, 50, 90, 50, 70, 90] } },
        }),
      ],
    }),
    item("item-05", {
      kind: ItemKind.VIDEO,
      split: "val",
      media: { uri: "media/item-05.mp4", fileName: "clip.mp4", width: 1920, height: 1080, frames: 30, fps: 29.97 },
      annotations: [
        annotation("item-05", 1, {
          type: AnnotationType.TRACK,
          categoryId: 1,
          link: { case: "typeAssignment", value: { typeId: "entity-001", typeName: "Pitcher" } },
          geometry: {
            case: "boxSequence",
            value: {
              interpolationMode: "linear",
              boxes: [
                { frameNumber: 0, x: 100, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
                { frameNumber: 4, x: 140, y: 120, width: 200, height: 150, isKeyframe: true, visible: false },
                { frameNumber: 6, x: 160, y: 100, width: 220, height: 170, isKeyframe: true, visible: true },
              ],
            },
          },
        }),
        annotation("item-05", 2, {
          type: AnnotationType.TRACK,
          categoryId: 2,
          link: { case: "objectLink", value: { objectId: "object-7", objectType: "entity" } },
          geometry: {
            case: "boxSequence",
            value: {
              interpolationMode: "linear",
              boxes: [{ frameNumber: 3, x: 5, y: 6, width: 7, height: 8, isKeyframe: true, visible: true }],
            },
          },
        }),
      ],
    }),
    // No media size: formats that normalise by the image size skip it and say so.
    item("item-06", {
      split: "train",
      media: { uri: "media/item-06.jpg", fileName: "unsized.jpg" },
      annotations: [
        annotation("item-06", 1, {
          type: AnnotationType.BBOX,
          categoryId: 2,
          geometry: { case: "bbox", value: { x: 1, y: 2, width: 3, height: 4 } },
        }),
      ],
    }),
  ];
  const media = new Map<string, Uint8Array>();
  for (const it of items) if (it.media?.uri) media.set(it.media.uri, mediaBytes(it.media.uri));
  return {
    dataset: { id: SAMPLE_DATASET_ID, name: "sample 데이터", categories: sampleCategories() },
    items,
    media,
  };
}

/**
 * `count` image items with a few annotations each, made one at a time (nothing is kept), for
 * checking that an exporter's memory does not grow with the dataset. Bulky on purpose (a few KB
 * an item) so that an exporter holding on to items shows up clearly.
 */
export async function* generateItems(count: number): AsyncGenerator<Item> {
  const splits = ["train", "val", "test", ""];
  for (let i = 0; i < count; i++) {
    const id = `gen-${String(i).padStart(8, "0")}`;
    const annotations: Annotation[] = [];
    for (let n = 0; n < 4; n++) {
      annotations.push(
        annotation(id, n, {
          type: AnnotationType.BBOX,
          categoryId: n % 2 === 0 ? 2 : 3,
          attributes: { note: `generated annotation ${n} of ${id} `.repeat(8) },
          geometry: { case: "bbox", value: { x: 10 + n, y: 20 + n, width: 30, height: 40 } },
        }),
      );
    }
    annotations.push(
      annotation(id, 4, {
        type: AnnotationType.POLYGON,
        categoryId: 5,
        geometry: { case: "polygon", value: { points: [0, 0, 50, 0, 50, 50, 0, 50, 10, 10, 5, 5] } },
      }),
    );
    yield item(id, {
      split: splits[i % splits.length] as string,
      media: { uri: `media/${id}.jpg`, fileName: `${id}.jpg`, width: 640, height: 480 },
      meta: { category: i % 3 === 0 ? "1. 자연" : "2. 도시", description: "x".repeat(512) },
      data: { payload: "y".repeat(1024) },
      annotations,
    });
  }
}
