// One video annotation (a JSON line or array element) -> an annotation document, with zod
// validation; every problem names the field by its path.
import { z } from "zod";
import { storedId, uuidv7 } from "../ids.ts";
import type { AnnotationDoc, BoxDoc, LinkDoc } from "../model.ts";
import { checkSequence, deriveTrackFields, keyframeCount } from "../tracks.ts";
import { checkId, type FieldProblem } from "../validate.ts";

const id = z.string().min(1, "must not be empty").max(256, "must be at most 256 characters");

const boxSchema = z.object({
  frameNumber: z.number().int().min(0).max(0xffffffff),
  x: z.number(),
  y: z.number(),
  width: z.number(),
  height: z.number(),
  isKeyframe: z.boolean().default(true),
  visible: z.boolean().default(true),
});

export const annotationLineSchema = z.object({
  id: id.optional(),
  videoId: id,
  personaId: z.string().max(256).nullish(),
  annotationType: z.enum(["type", "object"]),
  typeAssignment: z.object({ typeId: id, typeName: z.string().max(1000).default("") }).nullish(),
  objectLink: z.object({ objectId: id, objectType: z.string().max(1000).default("") }).nullish(),
  boundingBoxSequence: z.object({
    interpolationMode: z.string().default("linear"),
    boxes: z.array(boxSchema),
  }),
  createdAt: z.iso.datetime({ offset: true }).optional(),
  updatedAt: z.iso.datetime({ offset: true }).optional(),
});

/**
 * The same line with its boxes left unchecked: `fastBoxes` checks them (zod walking every box of
 * long tracks was a third of a line's cost), and when one is unusual the full schema runs instead,
 * with its messages.
 */
const lineWithCheckedBoxes = annotationLineSchema.extend({
  boundingBoxSequence: z.object({
    interpolationMode: z.string().default("linear"),
    boxes: z.array(z.unknown()),
  }),
});

const isUint32 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff;

/** The boxes as `boxSchema` outputs them, or undefined when one is not plainly valid. */
function fastBoxes(value: Record<string, unknown>): BoxDoc[] | undefined {
  const sequence = value.boundingBoxSequence as { boxes?: unknown } | null | undefined;
  const boxes = typeof sequence === "object" && sequence !== null ? sequence.boxes : undefined;
  if (!Array.isArray(boxes)) return undefined;
  const out: BoxDoc[] = [];
  for (const b of boxes as unknown[]) {
    if (typeof b !== "object" || b === null || Array.isArray(b)) return undefined;
    const { frameNumber, x, y, width, height, isKeyframe, visible } = b as Record<string, unknown>;
    if (
      !isUint32(frameNumber) ||
      typeof x !== "number" ||
      typeof y !== "number" ||
      typeof width !== "number" ||
      typeof height !== "number" ||
      (isKeyframe !== undefined && typeof isKeyframe !== "boolean") ||
      (visible !== undefined && typeof visible !== "boolean")
    ) {
      return undefined;
    }
    out.push({ frameNumber, x, y, width, height, isKeyframe: isKeyframe ?? true, visible: visible ?? true });
  }
  return out;
}

const KNOWN = {
  top: new Set(Object.keys(annotationLineSchema.shape)),
  sequence: new Set(["interpolationMode", "boxes"]),
  box: new Set(Object.keys(boxSchema.shape)),
  typeAssignment: new Set(["typeId", "typeName"]),
  objectLink: new Set(["objectId", "objectType"]),
};

export interface LineIssue {
  type: string;
  message: string;
  field?: string;
}

export interface ParsedAnnotation {
  doc: AnnotationDoc;
  keyframes: number;
  /** The line gave `createdAt` (an overwrite keeps the existing one otherwise). */
  createdAtGiven: boolean;
  warnings: LineIssue[];
}

export interface LineCheckOptions {
  requireKeyframes: boolean;
  now: Date;
  datasetId: string;
}

/** `a.b.3.c` -> `a.b[3].c`. */
export function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

/** Validates one record; returns the document or the errors (never both). */
export function parseAnnotationLine(
  value: unknown,
  options: LineCheckOptions,
): { ok: true; value: ParsedAnnotation } | { ok: false; errors: LineIssue[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ type: "validation", message: "expected a JSON object (one annotation)" }] };
  }
  const checked = fastBoxes(value as Record<string, unknown>);
  const result = checked ? lineWithCheckedBoxes.safeParse(value) : annotationLineSchema.safeParse(value);
  if (!result.success) {
    return {
      ok: false,
      errors: result.error.issues.slice(0, 10).map((issue) => {
        const field = fieldPath(issue.path);
        return { type: "validation", field, message: `${field || "annotation"}: ${issue.message}` };
      }),
    };
  }
  const line = result.data;
  const errors: LineIssue[] = [];
  const problems: FieldProblem[] = [];
  if (line.id !== undefined) checkId(line.id, "id", problems);
  checkId(line.videoId, "videoId", problems);
  for (const p of problems) errors.push({ type: "validation", field: p.field, message: `${p.field}: ${p.message}` });
  let link: LinkDoc | undefined;
  if (line.annotationType === "type") {
    if (!line.typeAssignment) {
      errors.push({
        type: "validation",
        field: "typeAssignment",
        message: 'typeAssignment: required when annotationType is "type"',
      });
    } else link = { typeAssignment: { typeId: line.typeAssignment.typeId, typeName: line.typeAssignment.typeName } };
    if (line.objectLink) {
      errors.push({
        type: "validation",
        field: "objectLink",
        message: 'objectLink: not allowed when annotationType is "type"',
      });
    }
  } else {
    if (!line.objectLink) {
      errors.push({
        type: "validation",
        field: "objectLink",
        message: 'objectLink: required when annotationType is "object"',
      });
    } else link = { objectLink: { objectId: line.objectLink.objectId, objectType: line.objectLink.objectType } };
    if (line.typeAssignment) {
      errors.push({
        type: "validation",
        field: "typeAssignment",
        message: 'typeAssignment: not allowed when annotationType is "object"',
      });
    }
  }
  const boxes: BoxDoc[] = checked ?? (line.boundingBoxSequence.boxes as BoxDoc[]);
  const sequence = { interpolationMode: line.boundingBoxSequence.interpolationMode, boxes };
  for (const problem of checkSequence(sequence, options.requireKeyframes)) {
    const field = `boundingBoxSequence.${problem.field}`;
    errors.push({ type: "sequence", field, message: problem.message });
  }
  if (errors.length > 0) return { ok: false, errors };

  const warnings: LineIssue[] = [];
  const keyframes = keyframeCount(boxes);
  if (keyframes === 1) {
    warnings.push({ type: "single_keyframe", message: "Annotation has only one keyframe" });
  }
  if (!line.personaId) {
    warnings.push({ type: "missing_persona", field: "personaId", message: "Missing persona reference" });
  }
  for (const field of unknownFields(value as Record<string, unknown>)) {
    warnings.push({ type: "unknown_field", field, message: `Unknown field "${field}" ignored` });
  }
  const createdAt = line.createdAt ? new Date(line.createdAt) : options.now;
  const doc: AnnotationDoc = {
    _id: storedId(options.datasetId, line.id ?? uuidv7(options.now.getTime())),
    datasetId: options.datasetId,
    itemId: line.videoId,
    type: "track",
    boxSequence: sequence,
    removed: false,
    createdAt,
    updatedAt: line.updatedAt ? new Date(line.updatedAt) : line.createdAt ? createdAt : options.now,
  };
  if (line.personaId) doc.personaId = line.personaId;
  if (link) doc.link = link;
  deriveTrackFields(doc);
  return { ok: true, value: { doc, keyframes, warnings, createdAtGiven: line.createdAt !== undefined } };
}

function unknownFields(value: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const key of Object.keys(value)) if (!KNOWN.top.has(key)) out.push(key);
  for (const name of ["typeAssignment", "objectLink"] as const) {
    const nested = value[name];
    if (nested && typeof nested === "object") {
      for (const key of Object.keys(nested)) if (!KNOWN[name].has(key)) out.push(`${name}.${key}`);
    }
  }
  const sequence = value.boundingBoxSequence as Record<string, unknown>;
  for (const key of Object.keys(sequence)) if (!KNOWN.sequence.has(key)) out.push(`boundingBoxSequence.${key}`);
  const boxes = sequence.boxes as Array<Record<string, unknown>>;
  for (let i = 0; i < boxes.length && out.length < 10; i++) {
    for (const key in boxes[i]) if (!KNOWN.box.has(key)) out.push(`boundingBoxSequence.boxes[${i}].${key}`);
  }
  return out;
}
