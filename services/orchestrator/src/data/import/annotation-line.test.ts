import { describe, expect, it } from "vitest";
import { annotationLineSchema, fieldPath, parseAnnotationLine } from "./annotation-line.ts";

const options = { requireKeyframes: false, now: new Date("2025-01-01T00:00:00Z"), datasetId: "d" };

function line(boxes: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "a-1",
    videoId: "v-1",
    annotationType: "type",
    typeAssignment: { typeId: "t" },
    boundingBoxSequence: { boxes },
    ...extra,
  };
}

describe("parseAnnotationLine", () => {
  it("reads boxes and reports their problems as the zod schema does (random lines)", () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const pick = <T>(values: T[]): T => values[Math.floor(random() * values.length)] as T;
    const values = [0, 3, 10, 1.5, -1, 4294967296, "1", true, false, null, undefined, {}];
    let valid = 0;
    for (let n = 0; n < 2000; n++) {
      const boxes = Array.from({ length: Math.floor(random() * 4) }, (_, i) => {
        const box: Record<string, unknown> = { frameNumber: i * 10, x: 1, y: 2, width: 3, height: 4 };
        for (const key of ["frameNumber", "x", "width", "isKeyframe", "visible", "extra"]) {
          if (random() < 0.15) box[key] = pick(values);
        }
        if (random() < 0.05) return pick([null, [], "box"]);
        return box;
      });
      const value = line(boxes, random() < 0.1 ? { videoId: 5 } : {});
      const result = parseAnnotationLine(value, options);
      const reference = annotationLineSchema.safeParse(value);
      if (!reference.success) {
        expect(result.ok, JSON.stringify(value)).toBe(false);
        if (!result.ok) {
          expect(result.errors, JSON.stringify(value)).toEqual(
            reference.error.issues.slice(0, 10).map((issue) => {
              const field = fieldPath(issue.path);
              return { type: "validation", field, message: `${field || "annotation"}: ${issue.message}` };
            }),
          );
        }
        continue;
      }
      if (!result.ok) continue; // sequence rules (ascending frames, ...) come after the schema
      valid++;
      expect(result.value.doc.boxSequence?.boxes, JSON.stringify(value)).toEqual(
        reference.data.boundingBoxSequence.boxes,
      );
    }
    expect(valid).toBeGreaterThan(100);
  });
});
