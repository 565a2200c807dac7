// Seed 002's export targets on Labelport's model (CreateExportRequest.target):
// - ground_truth: a dataset version (version_id, required), with the seed's `category`
//   (train/validation/test) as `filter.splits`. Labelport stores that split as "val" (as the
//   dm-json importer stores Synapse's "valid"/"validation" folders), so "validation" and "valid"
//   select it too.
// - assignment: annotation work per annotator: `filter.users` (who made or last reviewed an
//   annotation), `statuses`, `tags`, `updated_after/before`.
// - task: items with their task metadata (`meta.task`, given to plugins as seed 002's `task`).
// Every target reads items in any review state unless `filter.statuses` says otherwise: the seed
// exports work as it stands, while a plain export keeps Labelport's approved-only default.
import { clone, create } from "@bufbuild/protobuf";
import { type CreateExportRequest, type ItemFilter, ItemFilterSchema } from "@labelport/sdk/contracts";
import { invalidArgument } from "../errors.ts";

export const EXPORT_TARGETS = ["ground_truth", "assignment", "task"] as const;

/** Seed 002's split names as Labelport stores them. */
const SPLIT_NAMES: Record<string, string> = { validation: "val", valid: "val" };

/** The filter the job stores for the request's target; throws INVALID_ARGUMENT naming the field. */
export function targetFilter(request: CreateExportRequest, hasVersion: boolean): ItemFilter | undefined {
  const { target, filter } = request;
  if (target === "") return filter;
  if (!(EXPORT_TARGETS as readonly string[]).includes(target)) {
    throw invalidArgument(`target: must be one of ${EXPORT_TARGETS.join(", ")} or empty (got "${target}")`);
  }
  if (target === "ground_truth" && !hasVersion) {
    throw invalidArgument(
      'version_id: required for target "ground_truth" (the dataset version to export, by id or name; `labelport versions list <dataset>` lists them)',
    );
  }
  const selected = filter ? clone(ItemFilterSchema, filter) : create(ItemFilterSchema);
  if (selected.statuses.length === 0) selected.allStatuses = true;
  if (target === "ground_truth") selected.splits = storedSplits(selected.splits);
  return selected;
}

/** The splits as stored ("validation" -> "val"), each once. */
export function storedSplits(splits: readonly string[]): string[] {
  return [...new Set(splits.map((split) => SPLIT_NAMES[split] ?? split))];
}
