// Import history (`imports`): one document per import, written when it starts (status running,
// with an owner and heartbeat so a crashed process can be recognised) and completed at the end.
import { hostname } from "node:os";
import { create } from "@bufbuild/protobuf";
import {
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

/** A row of GET /api/import/history, as the video annotation import documents it. */
export function historyRow(doc: ImportDoc) {
  return {
    id: doc._id,
    filename: doc.fileName,
    success: doc.success,
    itemsImported: doc.itemsImported,
    itemsSkipped: doc.itemsSkipped,
    createdAt: doc.createdAt.toISOString(),
  };
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
  });
}
