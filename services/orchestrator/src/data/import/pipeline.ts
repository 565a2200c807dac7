// The import pipeline shared by REST and ImportService: picks how an atomic import is made atomic
// (transaction, or the undo journal where transactions are missing or the file is too large for
// one), runs it, falls back from a transaction the server refuses to the journal, and keeps the
// history entry up to date from start (running) to end.
import type { Db, MongoClient } from "mongodb";
import type { Context } from "../../context.ts";
import { ImportDatabaseError, isImportEmptyFileError, isImportParseError } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { observeImport } from "../../telemetry/metrics.ts";
import { type AnnotationWrite, beginAnnotationWrite } from "../annotation-writes.ts";
import { uuidv7 } from "../ids.ts";
import type { DatasetDoc } from "../model.ts";
import { Collections } from "../model.ts";
import type { AnnotationAccountingEntry, ConversionAccounting, ImportOutcomeName } from "./accounting.ts";
import {
  type ConflictEntry,
  finishImport,
  type ImportDoc,
  type ImportOutcome,
  type ImportStatusName,
  type Instance,
  type IssueEntry,
  importsOf,
  type SummaryEntry,
} from "./history.ts";
import type { ImportOptions } from "./options.ts";
import type { UploadConverter } from "./plugin-conversion.ts";
import type { SpooledFile } from "./reader.ts";
import { type ImportFormat, ImportRun, type RunOutcome } from "./run.ts";
import { commitCertainlyFailed, transactionRefused } from "./transaction-errors.ts";
import { createWriter, type WriterMode } from "./writer.ts";

export interface ImportSettings {
  /** auto: transaction when the server has them and the file fits one, else journal. */
  atomicMode: "auto" | "transaction" | "journal";
  batchSize: number;
  maxFileBytes: number;
  maxLineBytes: number;
  maxDepth: number;
  /** Largest file imported in one transaction; unset = derived from the server's cache size. */
  transactionMaxBytes?: number;
  heartbeatMs: number;
  /** A running import whose heartbeat is older than this belongs to a dead process. */
  staleMs: number;
}

export interface Capabilities {
  transactions: boolean;
  transactionMaxBytes: number;
}

export interface ImportContext {
  db: Db;
  client: MongoClient;
  log: Logger;
  instance: Instance;
  settings: ImportSettings;
  capabilities(): Promise<Capabilities>;
  /** Start-up recovery; imports wait for it so they never race a journal replay. */
  ready: Promise<void>;
  /** Imports this process is running (recovery leaves them alone). */
  active: Set<string>;
  /** Converts uploads in other tools' formats with importer plugins (uploads.ts); absent in some tests. */
  converter?: UploadConverter;
  /** Formats importer plugins registered (running or not). */
  importFormats?: () => Promise<string[]>;
  /** Told the dataset once an import has ended that may have written to it (Context.prepareExport). */
  prepareExport?: Context["prepareExport"];
}

export interface ImportRequest {
  dataset: DatasetDoc;
  file: SpooledFile;
  fileName: string;
  format: ImportFormat;
  options: ImportOptions;
  actor: string;
  /**
   * What a conversion before the import (an importer plugin turning an upload into these
   * records) dropped and changed; its counts join the import's own accounting.
   */
  conversion?: ConversionAccounting;
  /** The upload as the user sent it, when `file` holds records converted from it (history shows it). */
  source?: { format: string; size: number; sha256: string };
}

export interface ImportResult {
  importId: string;
  success: boolean;
  status: ImportStatusName;
  /** completed (nothing dropped), completed_with_losses, or failed. */
  outcome: ImportOutcomeName;
  annotations: AnnotationAccountingEntry;
  notes: string[];
  summary: SummaryEntry;
  warnings: IssueEntry[];
  errors: IssueEntry[];
  conflicts: ConflictEntry[];
  omitted: { warnings: number; errors: number; conflicts: number };
  errorMessage?: string;
  mode: WriterMode;
  /** The upload's format (an importer's, when the records were converted from it). */
  format: string;
}

/** Server capabilities, asked once: transactions need a replica set or mongos. */
export function probeCapabilities(db: Db, settings: ImportSettings): () => Promise<Capabilities> {
  let probed: Promise<Capabilities> | undefined;
  return () => {
    probed ??= (async () => {
      const hello = await db.admin().command({ hello: 1 });
      const transactions =
        (typeof hello.setName === "string" || hello.msg === "isdbgrid") && hello.logicalSessionTimeoutMinutes != null;
      let transactionMaxBytes = settings.transactionMaxBytes ?? 16 * 1024 * 1024;
      if (settings.transactionMaxBytes === undefined) {
        try {
          const status = await db.admin().command({ serverStatus: 1, wiredTiger: 1 });
          const cache = Number(status.wiredTiger?.cache?.["maximum bytes configured"]);
          // A transaction's writes stay in the cache until commit; measured on a 1 GB cache,
          // files up to about 2% of it commit reliably.
          if (cache > 0) transactionMaxBytes = Math.min(64 * 1024 * 1024, Math.max(4 * 1024 * 1024, cache * 0.02));
        } catch {
          // serverStatus needs a privilege some deployments withhold: keep the default.
        }
      }
      return { transactions, transactionMaxBytes };
    })();
    probed.catch(() => {
      probed = undefined;
    });
    return probed;
  };
}

async function chooseMode(ctx: ImportContext, req: ImportRequest): Promise<WriterMode> {
  if (!req.options.transaction.atomic) return "direct";
  const caps = await ctx.capabilities();
  if (!caps.transactions || ctx.settings.atomicMode === "journal") return "journal";
  if (ctx.settings.atomicMode === "transaction") return "transaction";
  return req.file.size <= caps.transactionMaxBytes ? "transaction" : "journal";
}

function resultOf(importId: string, format: ImportFormat, mode: WriterMode, outcome: RunOutcome): ImportResult {
  const { issues } = outcome;
  const result: ImportResult = {
    importId,
    success: outcome.success,
    status: outcome.status,
    outcome: outcome.outcome,
    annotations: outcome.annotations,
    notes: outcome.notes,
    summary: outcome.summary,
    warnings: issues.warnings.items,
    errors: issues.errors.items,
    conflicts: issues.conflicts.items,
    omitted: {
      warnings: issues.warnings.omitted,
      errors: issues.errors.omitted,
      conflicts: issues.conflicts.omitted,
    },
    mode,
    format,
  };
  if (outcome.errorMessage !== undefined) result.errorMessage = outcome.errorMessage;
  return result;
}

function outcomeDoc(result: ImportResult): ImportOutcome {
  const counted = result.format === "labelport-items" ? "items" : "annotations";
  const outcome: ImportOutcome = {
    status: result.status,
    success: result.success,
    itemsImported: result.summary.importedItems[counted],
    itemsSkipped: result.summary.skippedItems[counted],
    summary: result.summary,
    warnings: result.warnings,
    errors: result.errors,
    conflicts: result.conflicts,
    warningCount: result.warnings.length + result.omitted.warnings,
    errorCount: result.errors.length + result.omitted.errors,
    conflictCount: result.conflicts.length + result.omitted.conflicts,
    mode: result.mode,
    processedLines: result.summary.processedLines,
    outcome: result.outcome,
    annotations: result.annotations,
    notes: result.notes,
    completedAt: new Date(),
  };
  if (result.errorMessage !== undefined) outcome.errorMessage = result.errorMessage;
  return outcome;
}

/** Previews an import: the whole pipeline, nothing written (not even history). */
export async function previewImport(ctx: ImportContext, req: ImportRequest): Promise<ImportResult> {
  const importId = uuidv7();
  const run = new ImportRun(
    ctx.db,
    createWriter("preview", ctx.client, ctx.db, importId),
    runInput(ctx, req, importId),
  );
  return resultOf(importId, req.format, "preview", await run.execute());
}

function runInput(ctx: ImportContext, req: ImportRequest, importId: string, onProgress?: (n: number) => void) {
  return {
    importId,
    dataset: req.dataset,
    path: req.file.path,
    format: req.format,
    options: req.options,
    actor: req.actor,
    batchSize: ctx.settings.batchSize,
    maxLineBytes: ctx.settings.maxLineBytes,
    maxDepth: ctx.settings.maxDepth,
    ...(onProgress ? { onProgress } : {}),
    ...(req.conversion ? { conversion: req.conversion } : {}),
  };
}

/** Runs an import and records it in history; throws the import errors of errors.ts. */
export async function runImport(ctx: ImportContext, req: ImportRequest): Promise<ImportResult> {
  await ctx.ready;
  const importId = uuidv7();
  const imports = importsOf(ctx.db);
  let mode = await chooseMode(ctx, req);
  const started = new Date();
  const doc: ImportDoc = {
    _id: importId,
    datasetId: req.dataset._id,
    fileName: req.fileName,
    fileSize: req.source?.size ?? req.file.size,
    sha256: req.source?.sha256 ?? req.file.sha256,
    format: req.source?.format ?? req.format,
    options: req.options,
    status: "running",
    success: false,
    itemsImported: 0,
    itemsSkipped: 0,
    warnings: [],
    errors: [],
    conflicts: [],
    warningCount: 0,
    errorCount: 0,
    conflictCount: 0,
    actor: req.actor,
    mode,
    processedLines: 0,
    owner: ctx.instance,
    heartbeatAt: started,
    createdAt: started,
  };
  // Registered before the entry exists, so a recovery sweep never mistakes it for an orphan.
  ctx.active.add(importId);
  try {
    await imports.insertOne(doc);
  } catch (err) {
    ctx.active.delete(importId);
    throw err;
  }
  let processed = 0;
  let lastProgress = 0;
  const onProgress = (n: number) => {
    processed = n;
    const now = Date.now();
    if (now - lastProgress < 250) return;
    lastProgress = now;
    ctx.log.debug({ importId, processedLines: n, mode }, "import progress");
  };
  // Marks the import's writes to the dataset's annotations, from before the first batch until it
  // has committed or been undone (data/annotation-writes.ts).
  let marked: AnnotationWrite | undefined;
  const heartbeat = setInterval(() => {
    imports
      .updateOne({ _id: importId, status: "running" }, { $set: { heartbeatAt: new Date(), processedLines: processed } })
      .catch((err: unknown) => ctx.log.warn({ err, importId }, "import heartbeat failed"));
    marked?.touch().catch((err: unknown) => ctx.log.warn({ err, importId }, "import heartbeat failed"));
  }, ctx.settings.heartbeatMs);
  heartbeat.unref();
  const log = ctx.log.child({ importId });
  log.info({ fileName: req.fileName, size: req.file.size, format: req.format, mode }, "import started");
  try {
    marked = await beginAnnotationWrite(ctx.db, req.dataset._id);
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await attemptImport(ctx, req, importId, mode, onProgress);
        observeImport(doc.format, result.outcome, doc.fileSize);
        log.info(
          { status: result.status, outcome: result.outcome, annotations: result.annotations },
          "import finished",
        );
        return result;
      } catch (err) {
        if (mode === "transaction" && transactionRefused(err) && attempt < 2) {
          const e = err as { code?: number; codeName?: string; message?: string };
          log.warn(
            { code: e.code, codeName: e.codeName, reason: e.message },
            "the transaction was refused; importing again with the undo journal",
          );
          mode = "journal";
          await imports.updateOne({ _id: importId }, { $set: { mode }, $unset: { lsid: "" } });
          continue;
        }
        throw err;
      }
    }
  } catch (err) {
    if (err instanceof OutcomeUnknownError) {
      // Left running: the recovery sweep reads the commit marker or replays the journal, then records it.
      log.error({ err: err.cause }, "import interrupted; recovery will finish or undo it");
      throw new ImportDatabaseError({ cause: err.cause });
    }
    const parse = isImportParseError(err) || isImportEmptyFileError(err);
    const failure = parse ? (err as Error) : new ImportDatabaseError({ cause: err });
    if (!parse) log.error({ err }, "import failed");
    await finishImport(ctx.db, importId, {
      status: "failed",
      outcome: "failed",
      success: false,
      itemsImported: 0,
      itemsSkipped: 0,
      warnings: [],
      errors: [
        { line: (err as { line?: number }).line ?? 0, type: parse ? "parse" : "database", message: failure.message },
      ],
      conflicts: [],
      warningCount: 0,
      errorCount: 1,
      conflictCount: 0,
      mode,
      processedLines: processed,
      errorMessage: parse ? failure.message : `Database transaction failed: ${(err as Error).message}`,
      completedAt: new Date(),
    }).catch((e: unknown) => log.error({ err: e }, "could not record the failed import"));
    observeImport(doc.format, "failed", doc.fileSize);
    throw failure;
  } finally {
    clearInterval(heartbeat);
    ctx.active.delete(importId);
    if (marked) {
      // An import left for recovery marks its undo again.
      await marked.end().catch((err: unknown) => log.warn({ err }, "could not mark the import's writes ended"));
      ctx.prepareExport?.(req.dataset._id, "now");
    }
  }
}

async function attemptImport(
  ctx: ImportContext,
  req: ImportRequest,
  importId: string,
  mode: WriterMode,
  onProgress: (n: number) => void,
): Promise<ImportResult> {
  const writer = createWriter(mode, ctx.client, ctx.db, importId);
  // From the transaction's commit on, only its marker knows whether it took effect.
  let committing = false;
  try {
    if (writer.lsid) await importsOf(ctx.db).updateOne({ _id: importId }, { $set: { lsid: writer.lsid } });
    const run = new ImportRun(ctx.db, writer, runInput(ctx, req, importId, onProgress));
    const outcome = await run.execute();
    const result = resultOf(importId, req.format, mode, outcome);
    const final = outcomeDoc(result);
    if (result.success && run.mustCommit) {
      if (mode === "transaction") {
        // The marker commits with the data: recovery finds it if we die before the history update.
        committing = true;
        await writer.commit({ outcome: final });
        await finishImport(ctx.db, importId, final);
        await ctx.db.collection(Collections.importCommits).deleteOne({ _id: importId as never });
      } else {
        // Journal: the history update is the commit point; the journal is dropped after it.
        await finishImport(ctx.db, importId, final);
        await writer.commit({});
      }
    } else {
      await writer.rollback();
      await finishImport(ctx.db, importId, final);
    }
    return result;
  } catch (err) {
    // A commit that certainly failed left nothing (the import may be retried in journal mode).
    if (committing && !commitCertainlyFailed(err)) throw new OutcomeUnknownError(err);
    try {
      await writer.rollback();
    } catch (e) {
      // E.g. the primary went away mid-import: the journal is still there for recovery to replay.
      ctx.log.error({ err: e, importId }, "rollback failed");
      throw new OutcomeUnknownError(err);
    }
    throw err;
  }
}

/**
 * The import may be partly applied (its rollback failed) or committed (its commit's answer was
 * lost): its history entry stays running for the recovery sweep, which can tell and finish it.
 */
class OutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super("the import's outcome is left to recovery", { cause });
  }
}

/** History entry for an import refused before the pipeline ran (no file, bad options, too large). */
export async function recordRejectedImport(
  ctx: Pick<ImportContext, "db" | "log">,
  entry: {
    fileName: string;
    fileSize: number;
    sha256: string;
    datasetId?: string;
    format: string;
    options: ImportOptions;
    actor: string;
    message: string;
  },
): Promise<void> {
  const now = new Date();
  const doc: ImportDoc = {
    _id: uuidv7(),
    fileName: entry.fileName,
    fileSize: entry.fileSize,
    sha256: entry.sha256,
    format: entry.format,
    options: entry.options,
    status: "failed",
    outcome: "failed",
    success: false,
    itemsImported: 0,
    itemsSkipped: 0,
    warnings: [],
    errors: [{ line: 0, type: "request", message: entry.message }],
    conflicts: [],
    warningCount: 0,
    errorCount: 1,
    conflictCount: 0,
    actor: entry.actor,
    errorMessage: entry.message,
    createdAt: now,
    completedAt: now,
  };
  if (entry.datasetId) doc.datasetId = entry.datasetId;
  await importsOf(ctx.db)
    .insertOne(doc)
    .catch((err: unknown) => ctx.log.error({ err }, "could not record the rejected import"));
}
