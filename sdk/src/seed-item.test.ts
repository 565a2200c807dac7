import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AnnotationSchema, AnnotationType, CategorySchema, ItemSchema } from "./gen/labelport/v1/dataset_pb.ts";
import { seedItem } from "./seed-item.ts";

const categories = [create(CategorySchema, { id: 1, name: "car" }), create(CategorySchema, { id: 2, name: "road" })];

const item = create(ItemSchema, {
  id: "1. 자연__B82026Z_0001",
  media: { uri: "media/ds/B82026Z_0001.jpg", fileName: "B82026Z_0001.jpg", width: 1920, height: 1080 },
  meta: { category: "1. 자연", group: "B82026Z", task: { id: 678, tags: ["night"] } },
  tags: ["checked"],
  data: { assignmentId: 4711, relations: {} },
  annotations: [
    create(AnnotationSchema, {
      id: "1. 자연__B82026Z_0001:Ab3",
      itemId: "1. 자연__B82026Z_0001",
      type: AnnotationType.BBOX,
      categoryId: 1,
      attributes: { color: "red", dm: { tool: "bounding_box", isLocked: false } },
      geometry: { case: "bbox", value: { x: 1, y: 2, width: 3, height: 4 } },
    }),
    create(AnnotationSchema, {
      id: "a2",
      type: AnnotationType.POLYGON,
      categoryId: 2,
      geometry: { case: "polygon", value: { points: [0, 0, 4, 0, 4, 4] } },
    }),
    create(AnnotationSchema, {
      id: "m1",
      type: AnnotationType.MASK,
      categoryId: 2,
      geometry: { case: "mask", value: { width: 1, height: 1, counts: [0, 1] } },
    }),
  ],
});

describe("seedItem", () => {
  it("gives a plugin seed 002's item: id, files, DM v1 data, task, tags, data_unit.meta", () => {
    const view = seedItem(item, categories);
    const file = {
      path_original: "media/ds/B82026Z_0001.jpg",
      file_name: "B82026Z_0001.jpg",
      width: 1920,
      height: 1080,
    };
    expect(view.id).toBe(item.id);
    expect(view.files).toEqual({ image_1: file });
    expect(view.file).toBe(view.files);
    expect(view.task).toEqual({ id: 678, tags: ["night"] });
    expect(view.tags).toEqual(["checked"]);
    expect(view.data_unit).toEqual({
      meta: { category: "1. 자연", group: "B82026Z" },
      files: { image_1: { path_original: "media/ds/B82026Z_0001.jpg" } },
    });
    expect(view.data).toEqual({
      assignmentId: 4711,
      relations: {},
      annotations: {
        image_1: [
          { id: "Ab3", tool: "bounding_box", isLocked: false, classification: { class: "car", color: "red" } },
          { id: "a2", tool: "polygon", classification: { class: "road" } },
        ],
      },
      annotationsData: {
        image_1: [
          { id: "Ab3", coordinate: { x: 1, y: 2, width: 3, height: 4 } },
          {
            id: "a2",
            coordinate: [
              { x: 0, y: 0 },
              { x: 4, y: 0 },
              { x: 4, y: 4 },
            ],
          },
        ],
      },
    });
    expect(view.dropped).toEqual(["mask: DM Schema v1 has no mask the dm-json importer reads"]);
  });

  it("has a null task and no meta when the item has none", () => {
    const view = seedItem(create(ItemSchema, { id: "x" }), categories);
    expect(view.task).toBeNull();
    expect(view.data_unit.meta).toEqual({});
    expect(view.data).toEqual({ annotations: { image_1: [] }, annotationsData: { image_1: [] } });
  });
});
