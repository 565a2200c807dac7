// Validates an export's format options against the JSON Schema its plugin published.
import type { JsonObject } from "@bufbuild/protobuf";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { invalidArgument } from "../errors.ts";

const ajv = new Ajv2020({ allErrors: true, strict: false, useDefaults: false });
const compiled = new Map<string, ValidateFunction>();

/** Throws InvalidArgument naming every bad option; `cacheKey` is plugin name@version. */
export function validateOptions(cacheKey: string, schema: JsonObject, options: JsonObject): void {
  let validate = compiled.get(cacheKey);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(cacheKey, validate);
  }
  if (validate(options)) return;
  const problems = (validate.errors ?? []).map((e) => {
    const field = `options${e.instancePath.replaceAll("/", ".")}`;
    if (e.keyword === "additionalProperties") {
      return `${field}: unknown option "${(e.params as { additionalProperty: string }).additionalProperty}"`;
    }
    if (e.keyword === "enum") {
      return `${field}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
    }
    return `${field}: ${e.message}`;
  });
  throw invalidArgument(`invalid export options: ${problems.join("; ")}`);
}
