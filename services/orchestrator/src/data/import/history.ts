// Import history (`imports`): one document per import, written when it starts (status running,
// with an owner and heartbeat so a crashed process can be recognised) and completed at the end.
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import {
  type AnnotationAccounting,
  AnnotationAccountingSchema,
  DropCountSchema,
  type ImportConflict,
  ImportConflictSchema,
  type ImportIssue,
  ImportIssueSchema,
  type ImportRecord,
  ImportRecordSchema,
  ImportStatus,
} from "@labelport/sdk/contracts";
import type { Db, Document } from "mongodb";
import { timestamp } from "../convert.ts";
import { Collections } from "../model.ts";
import type { AnnotationAccountingEntry, ImportOutcomeName } from "./accounting.ts";
import { type ImportOptions, importOptionsMessage } from "./options.ts";

export type ImportStatusName = "running" | "completed" | "failed" | "rolled_back";

export interface IssueEntry {
  line: number;
  type: string;
  message: string;
  field?: string;
  annotationId?: string;
}

export interface ConflictEntry {
  type: string;
  annotationId: string;
  existingAnnotationId?: string;
  message: string;
  line: number;
}

export interface CountsEntry {
  annotations: number;
  totalKeyframes: number;
  singleKeyframeSequences: number;
  items: number;
}

export interface SummaryEntry {
  totalLines: number;
  processedLines: number;
  importedItems: CountsEntry;
  skippedItems: CountsEntry;
}

export interface ImportDoc {
  _id: string;
  datasetId?: string;
  fileName: string;
  fileSize: number;
  sha256: string;
  format: string;
  options: ImportOptions;
  status: ImportStatusName;
  success: boolean;
  itemsImported: number;
  itemsSkipped: number;
  summary?: SummaryEntry;
  warnings: IssueEntry[];
  errors: IssueEntry[];
  conflicts: ConflictEntry[];
  warningCount: number;
  errorCount: number;
  conflictCount: number;
  actor: string;
  errorMessage?: string;
  /** completed, completed_with_losses or failed; absent while running and on entries older than it. */
  outcome?: ImportOutcomeName;
  /** The fate of every annotation of the upload. */
  annotations?: AnnotationAccountingEntry;
  notes?: string[];
  mode?: string;
  processedLines?: number;
  owner?: { host: string; pid: number; instanceId: string };
  heartbeatAt?: Date;
  lsid?: Document;
  createdAt: Date;
  completedAt?: Date;
}

export const importsOf = (db: Db) => db.collection<ImportDoc>(Collections.imports);

export interface Instance {
  host: string;
  pid: number;
  instanceId: string;
}

export const thisHost = hostname();

/** The fields that finish an import (also stored with a transaction's commit marker). */
export type ImportOutcome = Pick<
  ImportDoc,
  | "status"
  | "success"
  | "itemsImported"
  | "itemsSkipped"
  | "summary"
  | "warnings"
  | "errors"
  | "conflicts"
  | "warningCount"
  | "errorCount"
  | "conflictCount"
  | "mode"
  | "processedLines"
  | "outcome"
  | "annotations"
  | "notes"
> & { errorMessage?: string; completedAt: Date };

export async function finishImport(db: Db, id: string, outcome: ImportOutcome): Promise<void> {
  const { errorMessage, ...rest } = outcome;
  await importsOf(db).updateOne(
    { _id: id },
    {
      $set: { ...rest, ...(errorMessage === undefined ? {} : { errorMessage }) },
      $unset: { owner: "", heartbeatAt: "", lsid: "" },
    },
  );
}

/** Newest first, with offset paging (the import history route's `limit`/`offset`). */
export async function listImports(
  db: Db,
  options: { limit: number; offset: number; datasetId?: string },
): Promise<{ imports: ImportDoc[]; total: number }> {
  const query = options.datasetId ? { datasetId: options.datasetId } : {};
  const [imports, total] = await Promise.all([
    importsOf(db)
      .find(query, { projection: { warnings: 0, errors: 0, conflicts: 0 } })
      .sort({ createdAt: -1, _id: -1 })
      .skip(options.offset)
      .limit(options.limit)
      .toArray(),
    importsOf(db).countDocuments(query),
  ]);
  return { imports, total };
}

/**
 * What an entry reports as its outcome: running while it runs; entries from before outcomes were
 * recorded, and imports that ended before their annotations were counted, by their success.
 */
export function outcomeOf(doc: ImportDoc): ImportOutcomeName | "running" {
  if (doc.outcome) return doc.outcome;
  if (doc.status === "running") return "running";
  return doc.success ? "completed" : "failed";
}

/**
 * A row of GET /api/import/history: the video annotation import's fields, then the outcome, the
 * format and the annotations' accounting (null where none was made: an import refused before it
 * read the file, or one recorded before imports were accounted).
 */
export function historyRow(doc: ImportDoc) {
  return {
    id: doc._id,
    filename: doc.fileName,
    success: doc.success,
    itemsImported: doc.itemsImported,
    itemsSkipped: doc.itemsSkipped,
    createdAt: doc.createdAt.toISOString(),
    status: outcomeOf(doc),
    format: doc.format,
    annotations: doc.annotations ?? null,
    notes: doc.notes ?? [],
  };
}

const dropCounts = (counts: Record<string, number>) =>
  Object.entries(counts).map(([reason, count]) => create(DropCountSchema, { reason, count: BigInt(count) }));

export function accountingMessage(entry: AnnotationAccountingEntry): AnnotationAccounting {
  return create(AnnotationAccountingSchema, {
    received: BigInt(entry.received),
    written: BigInt(entry.written),
    merged: BigInt(entry.merged),
    skipped: BigInt(entry.skipped),
    dropped: BigInt(entry.dropped),
    droppedByReason: dropCounts(entry.droppedByReason),
    changed: dropCounts(entry.changed),
  });
}

const statusOf: Record<ImportStatusName, ImportStatus> = {
  running: ImportStatus.RUNNING,
  completed: ImportStatus.COMPLETED,
  failed: ImportStatus.FAILED,
  rolled_back: ImportStatus.ROLLED_BACK,
};

export function issueMessage(issue: IssueEntry): ImportIssue {
  return create(ImportIssueSchema, {
    line: issue.line,
    type: issue.type,
    message: issue.message,
    field: issue.field ?? "",
    annotationId: issue.annotationId ?? "",
  });
}

export function conflictMessage(conflict: ConflictEntry): ImportConflict {
  return create(ImportConflictSchema, {
    type: conflict.type,
    annotationId: conflict.annotationId,
    existingAnnotationId: conflict.existingAnnotationId ?? "",
    message: conflict.message,
    line: conflict.line,
  });
}

export function importRecordMessage(doc: ImportDoc, withDetails: boolean): ImportRecord {
  return create(ImportRecordSchema, {
    id: doc._id,
    datasetId: doc.datasetId ?? "",
    fileName: doc.fileName,
    fileSize: BigInt(doc.fileSize),
    sha256: doc.sha256,
    options: importOptionsMessage(doc.options),
    status: statusOf[doc.status],
    success: doc.success,
    itemsImported: BigInt(doc.itemsImported),
    itemsSkipped: BigInt(doc.itemsSkipped),
    actor: doc.actor,
    errorMessage: doc.errorMessage ?? "",
    createTime: timestamp(doc.createdAt),
    ...(doc.completedAt ? { completeTime: timestamp(doc.completedAt) } : {}),
    warnings: withDetails ? (doc.warnings ?? []).map(issueMessage) : [],
    errors: withDetails ? (doc.errors ?? []).map(issueMessage) : [],
    conflicts: withDetails ? (doc.conflicts ?? []).map(conflictMessage) : [],
    outcome: outcomeOf(doc),
    ...(doc.annotations ? { annotations: accountingMessage(doc.annotations) } : {}),
    format: doc.format,
    notes: doc.notes ?? [],
  });
}
