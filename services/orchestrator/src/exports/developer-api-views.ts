// The developer exports API's JSON in and out (the shapes it documents): the create body, query
// parameters, and the views of an export and of its log lines.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type ItemFilterSchema, ItemStatus } from "@labelport/sdk/contracts";
import type { DatasetDoc } from "../data/model.ts";
import { invalidArgument } from "../errors.ts";
import type { LogLineDoc } from "./logs.ts";
import { type DropCountDoc, type ExportDoc, filterOf, type JobStatus, receivedAnnotationsOf } from "./repository.ts";

export type ItemFilterInit = MessageInitShape<typeof ItemFilterSchema>;

export type PublicStatus = "pending" | "processing" | "completed" | "failed";

/** The developer exports API's four statuses; a canceled job is "failed" with error_message "canceled". */
export const publicStatus: Record<JobStatus, PublicStatus> = {
  queued: "pending",
  running: "processing",
  completed: "completed",
  failed: "failed",
  canceled: "failed",
};

export const jobStatusesOf: Record<PublicStatus, JobStatus[]> = {
  pending: ["queued"],
  processing: ["running"],
  completed: ["completed"],
  failed: ["failed", "canceled"],
};

/** `status_filter` values; "complete"/"completed" are the hosted exports' name for approved items. */
const itemStatuses: Record<string, ItemStatus> = {
  complete: ItemStatus.APPROVED,
  completed: ItemStatus.APPROVED,
  approved: ItemStatus.APPROVED,
  draft: ItemStatus.DRAFT,
  in_review: ItemStatus.IN_REVIEW,
  rejected: ItemStatus.REJECTED,
};

const CREATE_FIELDS = [
  "dataset_name",
  "name",
  "include_images",
  "class_filter",
  "status_filter",
  "include_removed",
  "format",
  "version",
] as const;

export interface CreateBody {
  datasetName: string;
  name: string;
  includeImages: boolean;
  classFilter: string[];
  statusFilter: string;
  includeRemoved: boolean;
  format: string | undefined;
  /** A dataset version (id or name) to export instead of the live dataset. */
  version: string;
}

/** ISO 8601 in UTC to the second, as the developer exports API shows them: 2024-01-15T10:30:00Z. */
export const isoSeconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

export function errorMessageOf(doc: ExportDoc): string {
  if (doc.status === "canceled") return "canceled";
  return doc.errorMessage || "failed";
}

/**
 * The list entry: the developer exports API's fields plus format, file_count and error_message (check
 * values). Counts describe the delivered ZIP: image_count and annotation_count what its files hold,
 * file_size its bytes; annotations_received and annotations_dropped (by reason) say what did not fit
 * the format, annotations_changed what was written changed (rounded, clipped).
 */
export function summaryView(doc: ExportDoc) {
  const status = publicStatus[doc.status];
  return {
    id: doc._id,
    name: doc.name,
    dataset_name: doc.datasetName,
    // The dataset version exported; absent for the live dataset (the API's own fields stay as they were).
    ...(doc.versionName ? { version: doc.versionName } : {}),
    format: doc.format,
    status,
    image_count: doc.counts.itemCount,
    annotation_count: doc.counts.annotationCount,
    annotations_received: receivedAnnotationsOf(doc),
    annotations_dropped: byReason(doc.counts.dropped),
    annotations_changed: byReason(doc.counts.changed),
    file_count: doc.counts.fileCount,
    // Artifacts' total only when the ZIP could not be measured (its files are gone from storage).
    file_size: doc.zipSize ?? doc.fileSize,
    created_at: isoSeconds(doc.createdAt),
    completed_at: doc.completedAt ? isoSeconds(doc.completedAt) : null,
    error_message: status === "failed" ? errorMessageOf(doc) : null,
  };
}

/** GET one export: the list entry plus what it was asked for and the format's notes. */
export function detailView(doc: ExportDoc, dataset: DatasetDoc | null) {
  const filter = filterOf(doc);
  const names = new Map((dataset?.categories ?? []).map((c) => [c.id, c.name]));
  return {
    ...summaryView(doc),
    include_images: doc.saveOriginalFile,
    class_filter: filter.categoryIds.length > 0 ? filter.categoryIds.map((id) => names.get(id) ?? String(id)) : null,
    status_filter: filter.allStatuses
      ? "all"
      : filter.statuses.length > 0
        ? filter.statuses.map((s) => ItemStatus[s].toLowerCase()).join(",")
        : "approved",
    include_removed: filter.includeRemoved,
    notes: doc.formatNotes,
  };
}

function byReason(counts: readonly DropCountDoc[] | undefined): Record<string, number> {
  return Object.fromEntries((counts ?? []).map((d) => [d.reason, d.count]));
}

export function logLineView(line: LogLineDoc) {
  return {
    time: line.time.toISOString(),
    level: line.level,
    source: line.source,
    message: line.message,
    ...(line.fields ? { fields: line.fields } : {}),
  };
}

/** `status_filter`: one status or several comma-separated, or "all"; absent means approved only. */
export function itemStatusFilter(value: string): ItemFilterInit {
  const wanted = value
    .split(",")
    .map((s) =>
      s
        .trim()
        .toLowerCase()
        .replace(/[\s-]+/g, "_"),
    )
    .filter(Boolean);
  if (wanted.length === 0) return {};
  if (wanted.includes("all")) return { allStatuses: true };
  const statuses = new Set<ItemStatus>();
  for (const name of wanted) {
    const status = Object.hasOwn(itemStatuses, name) ? itemStatuses[name] : undefined;
    if (status === undefined) {
      throw invalidArgument(
        `status_filter: unknown status "${name}"; use complete (approved), draft, in_review, rejected or all`,
      );
    }
    statuses.add(status);
  }
  return { statuses: [...statuses] };
}

/** `class_filter` names to the dataset's category ids; an unknown class is named in the error. */
export function categoryIds(dataset: DatasetDoc, classes: string[]): number[] {
  const byName = new Map((dataset.categories ?? []).map((c) => [c.name, c.id]));
  const ids = new Set<number>();
  for (const name of classes) {
    const id = byName.get(name);
    if (id === undefined) {
      const known = [...byName.keys()];
      throw invalidArgument(
        `class_filter: unknown class "${name}" in dataset "${dataset.name}" (classes: ${known.join(", ") || "none"})`,
      );
    }
    ids.add(id);
  }
  return [...ids];
}

export function parseCreateBody(raw: unknown): CreateBody {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalidArgument("request body: expected a JSON object with dataset_name and name");
  }
  const body = raw as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!(CREATE_FIELDS as readonly string[]).includes(key)) {
      throw invalidArgument(`${key}: unknown field; expected ${CREATE_FIELDS.join(", ")}`);
    }
  }
  const text = (key: string, required: boolean): string | undefined => {
    const value = body[key];
    if (value === undefined || value === null) {
      if (required) throw invalidArgument(`${key}: required`);
      return undefined;
    }
    if (typeof value !== "string") throw invalidArgument(`${key}: expected a string, got ${JSON.stringify(value)}`);
    if (required && value.trim() === "") throw invalidArgument(`${key}: required`);
    return value;
  };
  const flag = (key: string): boolean => {
    const value = body[key] ?? false;
    if (typeof value !== "boolean")
      throw invalidArgument(`${key}: expected true or false, got ${JSON.stringify(value)}`);
    return value;
  };
  // The name's rules are CreateExport's (exports/service.ts), which every way in goes through.
  const name = (text("name", true) ?? "").trim();
  const classFilter = body.class_filter ?? [];
  if (!Array.isArray(classFilter) || classFilter.some((c) => typeof c !== "string")) {
    throw invalidArgument("class_filter: expected an array of class names");
  }
  return {
    datasetName: text("dataset_name", true) ?? "",
    name,
    includeImages: flag("include_images"),
    classFilter: classFilter as string[],
    statusFilter: text("status_filter", false) ?? "",
    includeRemoved: flag("include_removed"),
    format: text("format", false) || undefined,
    version: text("version", false) ?? "",
  };
}

export function intParam(value: string | null, name: string, min: number, max: number): number | undefined {
  if (value === null || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalidArgument(`${name}: expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export function boolParam(value: string | null, name: string): boolean {
  if (value === null || value === "" || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw invalidArgument(`${name}: expected true or false, got "${value}"`);
}
