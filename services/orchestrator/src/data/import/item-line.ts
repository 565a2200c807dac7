// One line of the lossless item JSONL (`labelport-items`): the protobuf JSON of an Item with its
// annotations inline, as the JSON exporters write it. Times and versions are kept as written.
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type Item, ItemSchema } from "@labelport/sdk/contracts";
import { publicId } from "../ids.ts";
import type { AnnotationDoc, ItemDoc } from "../model.ts";
import { keyframeCount } from "../tracks.ts";
import { annotationDoc, type FieldProblem, itemDoc } from "../validate.ts";
import type { LineIssue } from "./annotation-line.ts";
import { fastItemDocs } from "./item-docs.ts";
import { fastItem } from "./item-json.ts";

export interface ParsedItem {
  item: ItemDoc;
  annotations: AnnotationDoc[];
  keyframes: number;
  singleKeyframe: number;
  warnings: LineIssue[];
}

export function parseItemLine(
  value: unknown,
  options: { datasetId: string; now: Date; requireKeyframes: boolean },
): { ok: true; value: ParsedItem } | { ok: false; errors: LineIssue[] } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ type: "validation", message: "expected a JSON object (one item)" }] };
  }
  const docs = fastItemDocs(value, options);
  if (docs) return { ok: true, value: docs };
  let item: Item | undefined = fastItem(value);
  try {
    item ??= fromJson(ItemSchema, value as JsonValue);
  } catch (err) {
    const field = locate(ItemSchema, value, "");
    return {
      ok: false,
      errors: [{ type: "validation", field, message: `${field || "item"}: ${(err as Error).message}` }],
    };
  }
  const problems: FieldProblem[] = [];
  const convert = { ...options, preserve: true };
  const doc = itemDoc(item, convert, "", problems);
  const itemId = publicId(options.datasetId, doc._id);
  const annotations = item.annotations.map((a, i) => annotationDoc(a, convert, `annotations[${i}]`, problems, itemId));
  if (problems.length > 0) {
    return {
      ok: false,
      errors: problems.slice(0, 10).map((p) => {
        const field = p.field.replace(/^\./, "");
        const type = /keyframe|ascending|Duplicate frame|negative|interpolation|at least one box/.test(p.message)
          ? "sequence"
          : "validation";
        return { type, field, message: `${field}: ${p.message}` };
      }),
    };
  }
  let keyframes = 0;
  let singleKeyframe = 0;
  const warnings: LineIssue[] = [];
  annotations.forEach((a, i) => {
    if (!a.boxSequence) return;
    const n = keyframeCount(a.boxSequence.boxes);
    keyframes += n;
    if (n === 1) {
      singleKeyframe++;
      warnings.push({
        type: "single_keyframe",
        field: `annotations[${i}]`,
        message: `Annotation ${publicId(options.datasetId, a._id)} has only one keyframe`,
      });
    }
  });
  return { ok: true, value: { item: doc, annotations, keyframes, singleKeyframe, warnings } };
}

/** The path of the first field protobuf JSON decoding refuses, found by decoding field by field. */
function locate(desc: DescMessage, json: unknown, path: string): string {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return path;
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    const here = path ? `${path}.${key}` : key;
    if (!field) return here;
    try {
      fromJson(desc, { [key]: value } as JsonValue);
      continue;
    } catch {
      // this field is the one: descend into messages and lists of messages
    }
    if (field.fieldKind === "message") return locate(field.message, value, here);
    if (field.fieldKind === "list" && field.listKind === "message" && Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        try {
          fromJson(field.message, value[i] as JsonValue);
        } catch {
          return locate(field.message, value[i], `${here}[${i}]`);
        }
      }
    }
    return here;
  }
  return path;
}
