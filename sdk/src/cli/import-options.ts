// `labelport import --options JSON`: the console's (REST) shape, {"conflictResolution":
// {"duplicateIds":"skip"}, "validation":{...}, "transaction":{"atomic":true}}, or the flat
// ImportOptions message shape, with enum values by name ("skip", "DUPLICATE_IDS_SKIP") or number.
// Unknown keys and values are usage errors naming the option and what it accepts.
import type { JsonObject, JsonValue, MessageInitShape } from "@bufbuild/protobuf";
import {
  DuplicateIds,
  type ImportOptionsSchema,
  MissingDependencies,
  OverlappingFrames,
} from "../gen/labelport/v1/import_service_pb.ts";
import { UsageError } from "./exit-codes.ts";

type ImportOptionsInit = MessageInitShape<typeof ImportOptionsSchema>;
type EnumObject = Record<string, string | number>;

const ENUM_OPTIONS: Record<string, { values: EnumObject; prefix: string }> = {
  duplicateIds: { values: DuplicateIds, prefix: "DUPLICATE_IDS_" },
  overlappingFrames: { values: OverlappingFrames, prefix: "OVERLAPPING_FRAMES_" },
  missingDependencies: { values: MissingDependencies, prefix: "MISSING_DEPENDENCIES_" },
};
const BOOLEAN_OPTIONS = ["strictMode", "requireKeyframes", "atomic"];

/** The REST shape's groups and the options in each. */
const GROUPS: Record<string, readonly string[]> = {
  conflictResolution: ["duplicateIds", "overlappingFrames", "missingDependencies"],
  validation: ["strictMode", "requireKeyframes"],
  transaction: ["atomic"],
};

const ALL_NAMES = Object.entries(GROUPS).flatMap(([group, names]) => names.map((n) => `${group}.${n}`));

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An enum's values by lower-case name, without the UNSPECIFIED zero value. */
function enumNames(values: EnumObject): Map<string, number> {
  return new Map(
    Object.entries(values)
      .filter((entry): entry is [string, number] => typeof entry[1] === "number" && entry[1] !== 0)
      .map(([name, value]) => [name.toLowerCase(), value]),
  );
}

function enumValue(flag: string, path: string, option: string, value: JsonValue): number {
  const { values, prefix } = ENUM_OPTIONS[option] as { values: EnumObject; prefix: string };
  const names = enumNames(values);
  if (typeof value === "number" && [...names.values()].includes(value)) return value;
  if (typeof value === "string") {
    const name = value.toLowerCase().replace(prefix.toLowerCase(), "");
    const found = names.get(name);
    if (found !== undefined) return found;
  }
  throw new UsageError(
    `${flag}: ${path}: expected one of ${[...names.keys()].join(", ")} (got ${JSON.stringify(value)})`,
  );
}

function setOption(flag: string, path: string, option: string, value: JsonValue, into: Record<string, unknown>) {
  if (option in ENUM_OPTIONS) {
    into[option] = enumValue(flag, path, option, value);
  } else if (BOOLEAN_OPTIONS.includes(option)) {
    if (typeof value !== "boolean")
      throw new UsageError(`${flag}: ${path}: expected true or false (got ${JSON.stringify(value)})`);
    into[option] = value;
  } else {
    throw new UsageError(`${flag}: unknown option "${path}" (expected ${ALL_NAMES.join(", ")})`);
  }
}

export function importOptionsFromJson(flag: string, json: JsonObject): ImportOptionsInit {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    const group = GROUPS[key];
    if (!group) {
      setOption(flag, key, key, value, options);
      continue;
    }
    if (!isObject(value)) throw new UsageError(`${flag}: ${key}: expected an object of ${group.join(", ")}`);
    for (const [option, inner] of Object.entries(value)) {
      const path = `${key}.${option}`;
      if (!group.includes(option))
        throw new UsageError(`${flag}: unknown option "${path}" (expected ${ALL_NAMES.join(", ")})`);
      setOption(flag, path, option, inner, options);
    }
  }
  return options as ImportOptionsInit;
}
