import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { AnnotationSchema, AnnotationType, CategorySchema } from "./gen/labelport/v1/dataset_pb.ts";
import { isVideoAnnotation, toVideoAnnotationJson, videoAnnotationLine } from "./video-annotation-json.ts";

const documentedLine =
  '{"id":"550e8400-e29b-41d4-a716-446655440000","videoId":"abc123def456","personaId":"660e8400-e29b-41d4-a716-446655440001","annotationType":"type","typeAssignment":{"typeId":"entity-001","typeName":"Pitcher"},"boundingBoxSequence":{"interpolationMode":"linear","boxes":[{"frameNumber":0,"x":100,"y":100,"width":200,"height":150,"isKeyframe":true,"visible":true}]},"createdAt":"2025-10-06T14:30:00.000Z","updatedAt":"2025-10-06T14:30:00.000Z"}';

function track(init: Parameters<typeof create<typeof AnnotationSchema>>[1] = {}) {
  return create(AnnotationSchema, {
    id: "550e8400-e29b-41d4-a716-446655440000",
    itemId: "abc123def456",
    personaId: "660e8400-e29b-41d4-a716-446655440001",
    type: AnnotationType.TRACK,
    link: { case: "typeAssignment", value: { typeId: "entity-001", typeName: "Pitcher" } },
    geometry: {
      case: "boxSequence",
      value: {
        interpolationMode: "linear",
        boxes: [
          { frameNumber: 0, x: 100, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
          { frameNumber: 2, x: 110, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
        ],
      },
    },
    createTime: timestampFromMs(Date.UTC(2025, 9, 6, 14, 30)),
    updateTime: timestampFromMs(Date.UTC(2025, 9, 6, 14, 30)),
    ...init,
  });
}

describe("video annotation JSON", () => {
  it("writes the documented line byte for byte", () => {
    const annotation = track();
    if (annotation.geometry.case === "boxSequence") annotation.geometry.value.boxes.pop();
    expect(videoAnnotationLine(annotation)).toBe(documentedLine);
  });

  it("writes keyframes only by default and every frame when asked", () => {
    const keys = toVideoAnnotationJson(track()).boundingBoxSequence.boxes;
    expect(keys.map((b) => b.frameNumber)).toEqual([0, 2]);
    const all = toVideoAnnotationJson(track(), { includeInterpolated: true }).boundingBoxSequence.boxes;
    expect(all).toEqual([
      { frameNumber: 0, x: 100, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
      { frameNumber: 1, x: 105, y: 100, width: 200, height: 150, isKeyframe: false, visible: true },
      { frameNumber: 2, x: 110, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
    ]);
  });

  it("writes object links in the documented order", () => {
    const line = videoAnnotationLine(
      track({ link: { case: "objectLink", value: { objectId: "o-1", objectType: "entity" } } }),
    );
    expect(Object.keys(JSON.parse(line))).toEqual([
      "id",
      "videoId",
      "personaId",
      "annotationType",
      "objectLink",
      "boundingBoxSequence",
      "createdAt",
      "updatedAt",
    ]);
    expect(JSON.parse(line).annotationType).toBe("object");
  });

  it("links an unlinked track to its category", () => {
    const category = create(CategorySchema, { id: 4, name: "Pitcher" });
    const json = toVideoAnnotationJson(track({ link: { case: undefined }, categoryId: 4 }), {
      category: (id) => (id === 4 ? category : undefined),
    });
    expect(json.annotationType).toBe("type");
    expect(json.typeAssignment).toEqual({ typeId: "4", typeName: "Pitcher" });
  });

  it("recognises tracks and refuses other annotations", () => {
    expect(isVideoAnnotation(track())).toBe(true);
    const box = create(AnnotationSchema, { geometry: { case: "bbox", value: { x: 1 } } });
    expect(isVideoAnnotation(box)).toBe(false);
    expect(() => toVideoAnnotationJson(box)).toThrow(TypeError);
  });
});
