// One line of a YOLO label file, normalised to [0, 1]: `class cx cy w h` (detection),
// `class x1 y1 x2 y2 ...` (segmentation: Ultralytics takes a line with more than 6 values as a
// polygon), `class cx cy w h px py [v] ...` (pose, when data.yaml has kpt_shape), each with an
// optional trailing confidence as prediction tools write it.
import { ImportSourceError } from "@labelport/sdk";

export type LabelShape =
  | { kind: "box"; classIndex: number; cx: number; cy: number; w: number; h: number; confidence?: number }
  | { kind: "polygon"; classIndex: number; points: number[]; confidence?: number }
  | { kind: "pose"; classIndex: number; cx: number; cy: number; w: number; h: number };

/** The shape on a line, or null for a blank line; a line that is not YOLO is an ImportSourceError. */
export function parseLabelLine(line: string, where: string, kptShape?: readonly [number, number]): LabelShape | null {
  const tokens = line.trim().split(/\s+/);
  if (tokens.length === 1 && tokens[0] === "") return null;
  const values = tokens.map(Number);
  const classIndex = values[0] as number;
  if (tokens.length < 5 || values.some((v) => !Number.isFinite(v)) || !Number.isInteger(classIndex) || classIndex < 0) {
    throw new ImportSourceError(
      `${where}: "${line.trim().slice(0, 80)}" is not a YOLO label (class x_center y_center width height, or class x1 y1 x2 y2 ...)`,
    );
  }
  const [cx, cy, w, h] = values.slice(1, 5) as [number, number, number, number];
  if (kptShape) {
    const expected = 5 + kptShape[0] * kptShape[1];
    if (values.length !== expected && values.length !== expected + 1) {
      throw new ImportSourceError(
        `${where}: a pose label has ${expected} values (kpt_shape ${kptShape.join("x")}), not ${values.length}`,
      );
    }
    return { kind: "pose", classIndex, cx, cy, w, h };
  }
  if (values.length === 5) return { kind: "box", classIndex, cx, cy, w, h };
  if (values.length === 6) return { kind: "box", classIndex, cx, cy, w, h, confidence: values[5] as number };
  const points = values.slice(1);
  // Pairs of coordinates; an odd count ends with a confidence.
  const confidence = points.length % 2 === 1 ? points.pop() : undefined;
  return confidence === undefined
    ? { kind: "polygon", classIndex, points }
    : { kind: "polygon", classIndex, points, confidence };
}
