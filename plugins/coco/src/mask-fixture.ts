// A small dataset with masks and iscrowd attributes for the COCO tests (the conformance kit's
// sample has no masks): masks drawn from pixel predicates, so tests know every pixel.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Annotation, RleMask } from "@labelport/sdk";
import {
  AnnotationSchema,
  AnnotationType,
  CategorySchema,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import type { SampleDataset } from "@labelport/sdk/testing";

export const WIDTH = 40;
export const HEIGHT = 30;

/** COCO's uncompressed RLE of the pixels where `set(x, y)` holds: column-major, 0s first. */
export function rleOf(width: number, height: number, set: (x: number, y: number) => boolean): RleMask {
  const counts: number[] = [];
  let value = false;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      if (set(x, y) !== value) {
        counts.push(run);
        value = !value;
        run = 0;
      }
      run++;
    }
  }
  counts.push(run);
  return { width, height, counts };
}

/** A rectangle [5, 15) x [3, 10): its run of 1s per column. */
export const RECTANGLE = rleOf(WIDTH, HEIGHT, (x, y) => x >= 5 && x < 15 && y >= 3 && y < 10);
/** A disk around (25, 15): runs of 1s that differ from column to column. */
export const DISK = rleOf(WIDTH, HEIGHT, (x, y) => (x - 25) ** 2 + (y - 15) ** 2 <= 36);
/** Set pixels at the bottom of one column and the top of the next: one run across two columns. */
export const WRAPPING = rleOf(WIDTH, HEIGHT, (x, y) => (x === 2 && y >= 28) || (x === 3 && y < 2));
export const FULL = rleOf(WIDTH, HEIGHT, () => true);
export const EMPTY = rleOf(WIDTH, HEIGHT, () => false);

const CREATED = Date.UTC(2025, 9, 6, 14, 30, 0);

function maskAnnotation(id: string, categoryId: number, mask: RleMask, attributes?: Record<string, number | boolean>) {
  return create(AnnotationSchema, {
    id,
    type: AnnotationType.MASK,
    categoryId,
    attributes,
    geometry: { case: "mask", value: { ...mask, counts: [...mask.counts] } },
  });
}

export function maskDataset(): SampleDataset {
  const image = (id: string, annotations: Annotation[]) =>
    create(ItemSchema, {
      id,
      datasetId: "ds-masks",
      kind: ItemKind.IMAGE,
      status: ItemStatus.APPROVED,
      split: "train",
      media: { uri: `media/${id}.png`, fileName: `${id}.png`, width: WIDTH, height: HEIGHT },
      createTime: timestampFromMs(CREATED),
      annotations,
    });
  const items = [
    image("img-1", [
      maskAnnotation("m-rectangle", 4, RECTANGLE),
      maskAnnotation("m-disk", 7, DISK, { iscrowd: 0 }),
      create(AnnotationSchema, {
        id: "p-crowd",
        type: AnnotationType.POLYGON,
        categoryId: 7,
        attributes: { iscrowd: true, occluded: true },
        geometry: { case: "polygon", value: { points: [1, 1, 9, 1, 9, 5] } },
      }),
      create(AnnotationSchema, {
        id: "p-plain",
        type: AnnotationType.POLYGON,
        categoryId: 4,
        geometry: { case: "polygon", value: { points: [20, 20, 30, 20, 30, 28, 20, 28] } },
      }),
      maskAnnotation(
        "m-other-size",
        4,
        rleOf(20, 20, (x) => x < 10),
      ),
      create(AnnotationSchema, {
        id: "l-line",
        type: AnnotationType.POLYLINE,
        categoryId: 4,
        geometry: { case: "polyline", value: { points: [0, 0, 5, 5] } },
      }),
      create(AnnotationSchema, { id: "c-label", type: AnnotationType.CLASSIFICATION, categoryId: 4 }),
    ]),
    image("img-2", [
      maskAnnotation("m-wrapping", 4, WRAPPING),
      maskAnnotation("m-full", 4, FULL, { iscrowd: 1 }),
      maskAnnotation("m-empty", 7, EMPTY),
    ]),
  ];
  return {
    dataset: {
      id: "ds-masks",
      name: "masks",
      categories: [
        create(CategorySchema, { id: 4, name: "blob", supercategory: "shape" }),
        create(CategorySchema, { id: 7, name: "crowd", supercategory: "shape" }),
      ],
    },
    items,
    media: new Map(items.map((item) => [item.media?.uri ?? "", new TextEncoder().encode(item.id)])),
  };
}
