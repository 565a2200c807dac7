// Options of the video annotation import: the JSON form field (every key optional, defaults filled,
// unknown keys and bad values refused naming the option) and the protobuf ImportOptions of
// ImportService.
import { create } from "@bufbuild/protobuf";
import {
  DuplicateIds,
  type ImportOptions as ImportOptionsMessage,
  ImportOptionsSchema,
  MissingDependencies,
  OverlappingFrames,
} from "@labelport/sdk/contracts";
import { z } from "zod";
import { invalidArgument } from "../../errors.ts";

export const DUPLICATE_IDS = ["skip", "overwrite", "merge", "fail"] as const;
export const OVERLAPPING_FRAMES = ["skip", "merge", "overwrite", "fail"] as const;
export const MISSING_DEPENDENCIES = ["skip", "create", "fail"] as const;

const optionsSchema = z.strictObject({
  conflictResolution: z
    .strictObject({
      duplicateIds: z.enum(DUPLICATE_IDS).default("skip"),
      overlappingFrames: z.enum(OVERLAPPING_FRAMES).default("merge"),
      missingDependencies: z.enum(MISSING_DEPENDENCIES).default("skip"),
    })
    .prefault({}),
  validation: z
    .strictObject({
      strictMode: z.boolean().default(false),
      requireKeyframes: z.boolean().default(true),
    })
    .prefault({}),
  transaction: z.strictObject({ atomic: z.boolean().default(true) }).prefault({}),
});

export type ImportOptions = z.output<typeof optionsSchema>;

export const defaultImportOptions: ImportOptions = optionsSchema.parse({});

/** Parses the `options` form field; throws InvalidArgument naming the option. */
export function parseImportOptions(text: string | undefined): ImportOptions {
  if (text === undefined || text.trim() === "") return defaultImportOptions;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`Invalid options: not valid JSON (${(err as Error).message})`);
  }
  return validateImportOptions(raw);
}

export function validateImportOptions(raw: unknown): ImportOptions {
  const result = optionsSchema.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw invalidArgument("Invalid options");
  const path = issue.path.map(String);
  const name = path.join(".");
  if (issue.code === "unrecognized_keys") {
    const key = [...path, issue.keys[0] ?? ""].join(".");
    throw invalidArgument(`Unknown option "${key}"`);
  }
  if (name === "") throw invalidArgument("Invalid options: expected a JSON object");
  const got = valueAt(raw, path);
  if (issue.code === "invalid_value") {
    throw invalidArgument(
      `Invalid option "${name}": expected one of ${issue.values.map(String).join(", ")} (got ${JSON.stringify(got)})`,
    );
  }
  if (issue.code === "invalid_type") {
    const expected = issue.expected === "object" ? "an object" : `a ${issue.expected}`;
    throw invalidArgument(`Invalid option "${name}": expected ${expected} (got ${JSON.stringify(got)})`);
  }
  throw invalidArgument(`Invalid option "${name}": ${issue.message}`);
}

function valueAt(raw: unknown, path: string[]): unknown {
  let value = raw;
  for (const key of path) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

const duplicateIdsOf: Record<DuplicateIds, ImportOptions["conflictResolution"]["duplicateIds"] | undefined> = {
  [DuplicateIds.UNSPECIFIED]: undefined,
  [DuplicateIds.SKIP]: "skip",
  [DuplicateIds.OVERWRITE]: "overwrite",
  [DuplicateIds.MERGE]: "merge",
  [DuplicateIds.FAIL]: "fail",
};
const overlappingOf: Record<OverlappingFrames, ImportOptions["conflictResolution"]["overlappingFrames"] | undefined> = {
  [OverlappingFrames.UNSPECIFIED]: undefined,
  [OverlappingFrames.SKIP]: "skip",
  [OverlappingFrames.MERGE]: "merge",
  [OverlappingFrames.OVERWRITE]: "overwrite",
  [OverlappingFrames.FAIL]: "fail",
};
const missingOf: Record<MissingDependencies, ImportOptions["conflictResolution"]["missingDependencies"] | undefined> = {
  [MissingDependencies.UNSPECIFIED]: undefined,
  [MissingDependencies.SKIP]: "skip",
  [MissingDependencies.CREATE]: "create",
  [MissingDependencies.FAIL]: "fail",
};

function enumValue<T>(table: Record<number, T | undefined>, value: number, field: string): T | undefined {
  if (!(value in table)) throw invalidArgument(`Invalid option "${field}": unknown value ${value}`);
  return table[value];
}

export function importOptionsFromMessage(message: ImportOptionsMessage | undefined): ImportOptions {
  const d = defaultImportOptions;
  if (!message) return d;
  return {
    conflictResolution: {
      duplicateIds:
        enumValue(duplicateIdsOf, message.duplicateIds, "duplicate_ids") ?? d.conflictResolution.duplicateIds,
      overlappingFrames:
        enumValue(overlappingOf, message.overlappingFrames, "overlapping_frames") ??
        d.conflictResolution.overlappingFrames,
      missingDependencies:
        enumValue(missingOf, message.missingDependencies, "missing_dependencies") ??
        d.conflictResolution.missingDependencies,
    },
    validation: {
      strictMode: message.strictMode ?? d.validation.strictMode,
      requireKeyframes: message.requireKeyframes ?? d.validation.requireKeyframes,
    },
    transaction: { atomic: message.atomic ?? d.transaction.atomic },
  };
}

const reverse = <T extends string>(table: Record<number, T | undefined>, value: T): number =>
  Number(Object.entries(table).find(([, v]) => v === value)?.[0] ?? 0);

export function importOptionsMessage(options: ImportOptions): ImportOptionsMessage {
  return create(ImportOptionsSchema, {
    duplicateIds: reverse(duplicateIdsOf, options.conflictResolution.duplicateIds),
    overlappingFrames: reverse(overlappingOf, options.conflictResolution.overlappingFrames),
    missingDependencies: reverse(missingOf, options.conflictResolution.missingDependencies),
    strictMode: options.validation.strictMode,
    requireKeyframes: options.validation.requireKeyframes,
    atomic: options.transaction.atomic,
  });
}
