// One pass of an import over a spooled file: records are read a batch at a time and handed to the
// batches of their format (annotation-batches.ts for video track lines, item-batches.ts for
// lossless items), which validate them, look up what they depend on and conflict with per batch
// with `$in` queries (never per line), decide each record in file order under the conflict rules
// and hand the batch's writes to the writer in bulk (batch-writes.ts). Preview runs the same code
// with a writer that writes nothing; an in-memory overlay of what this import has done so far
// (overlay.ts) keeps preview and import decisions identical.
import type { Db } from "mongodb";
import { ImportEmptyFileError } from "../../errors.ts";
import type { DatasetDoc } from "../model.ts";
import {
  type AnnotationAccountingEntry,
  type ConversionAccounting,
  type ImportOutcomeName,
  outcomeName,
} from "./accounting.ts";
import { AnnotationBatches } from "./annotation-batches.ts";
import { BatchWrites } from "./batch-writes.ts";
import type { ImportStatusName, SummaryEntry } from "./history.ts";
import { emptyCounts, type IssueLog } from "./issues.ts";
import { ItemBatches } from "./item-batches.ts";
import type { ImportOptions } from "./options.ts";
import { readRecords } from "./reader.ts";
import { RunState } from "./run-state.ts";
import type { ImportWriter } from "./writer.ts";

export type ImportFormat = "jsonl" | "json" | "labelport-items";
export const IMPORT_FORMATS: readonly ImportFormat[] = ["jsonl", "json", "labelport-items"];

export interface RunInput {
  importId: string;
  dataset: DatasetDoc;
  path: string;
  format: ImportFormat;
  options: ImportOptions;
  batchSize: number;
  maxLineBytes?: number;
  maxDepth?: number;
  /** Called after each batch with the records processed so far. */
  onProgress?: (processedLines: number) => void;
  /** What a conversion before this import (an importer plugin) dropped and changed. */
  conversion?: ConversionAccounting;
  /** The caller's key name (RunRules.actor). */
  actor: string;
}

export interface RunOutcome {
  status: ImportStatusName;
  success: boolean;
  summary: SummaryEntry;
  issues: IssueLog;
  errorMessage?: string;
  /** True when an atomic import's writes were undone. */
  rolledBack: boolean;
  outcome: ImportOutcomeName;
  annotations: AnnotationAccountingEntry;
  notes: string[];
}

/** The annotations inline on a lossless item line. */
function itemLineAnnotations(value: unknown): number {
  const annotations = (value as { annotations?: unknown } | null)?.annotations;
  return Array.isArray(annotations) ? annotations.length : 0;
}

export class ImportRun {
  private readonly writes: BatchWrites;
  private readonly state: RunState;
  private readonly batches: AnnotationBatches | ItemBatches;
  private readonly atomic: boolean;

  constructor(
    db: Db,
    private readonly writer: ImportWriter,
    private readonly input: RunInput,
  ) {
    const { dataset, options, format } = input;
    const items = format === "labelport-items";
    this.atomic = options.transaction.atomic;
    this.writes = new BatchWrites(writer);
    this.state = new RunState(
      {
        atomic: this.atomic,
        strictMode: options.validation.strictMode,
        namesAnnotations: !items,
        annotationsIn: items ? itemLineAnnotations : () => 1,
        unreadableLineAnnotations: items ? undefined : 1,
        actor: input.actor,
      },
      this.writes,
      input.conversion,
    );
    this.batches =
      format === "labelport-items"
        ? new ItemBatches(db, dataset, options, this.state, this.writes)
        : new AnnotationBatches(db, dataset, options, this.state, this.writes);
  }

  async execute(): Promise<RunOutcome> {
    const { input, state, writes } = this;
    const recordFormat = input.format === "json" ? "json" : "jsonl";
    try {
      for await (const records of readRecords(input.path, recordFormat, input.batchSize, {
        ...(input.maxLineBytes ? { maxLineBytes: input.maxLineBytes } : {}),
        ...(input.maxDepth ? { maxDepth: input.maxDepth } : {}),
      })) {
        await this.batches.import(records);
        input.onProgress?.(state.processedLines);
        if (state.ended) break;
      }
      await writes.settle();
    } catch (err) {
      await writes.goDry();
      throw err;
    }
    if (state.totalLines === 0 && !state.ended) {
      await writes.goDry();
      throw new ImportEmptyFileError();
    }
    const success = !state.ended && (!state.failed || !this.atomic);
    if (!success && this.atomic) await writes.goDry();
    return this.outcome(success);
  }

  /** Whether the writer still has to be committed (the caller does it with the history). */
  get mustCommit(): boolean {
    return !this.writes.dry;
  }

  private outcome(success: boolean): RunOutcome {
    const { state, writes } = this;
    const preview = this.writer.mode === "preview";
    let status: ImportStatusName;
    if (preview) status = success ? "completed" : "failed";
    else if (success) status = "completed";
    else status = writes.rolledBack ? "rolled_back" : "failed";
    const summary: SummaryEntry = {
      totalLines: state.totalLines,
      processedLines: state.processedLines,
      importedItems: state.imported,
      skippedItems: state.skipped,
    };
    state.finishAccounting();
    // Nothing of an atomic import that failed is kept; a preview's accounting says so too, so it
    // matches the commit's (its summary stays the seed's preview counts).
    if (!success && this.atomic) state.accounting.rollBack();
    if (!success && this.atomic && !preview) {
      summary.importedItems = emptyCounts();
      summary.skippedItems = {
        ...emptyCounts(),
        annotations: state.imported.annotations + state.skipped.annotations,
        items: state.imported.items + state.skipped.items,
      };
    }
    const annotations = state.accounting.entry();
    const outcome: RunOutcome = {
      status,
      success,
      summary,
      issues: state.issues,
      rolledBack: writes.rolledBack,
      outcome: outcomeName(success, annotations),
      annotations,
      notes: state.accounting.notes,
    };
    if (!success) outcome.errorMessage = state.fatalMessage ?? this.failureMessage();
    return outcome;
  }

  private failureMessage(): string {
    const { errors } = this.state.issues;
    if (this.state.stopped) return errors.items[errors.items.length - 1]?.message ?? "Import aborted";
    const n = errors.count;
    return `${n} line${n === 1 ? "" : "s"} failed validation; ${this.atomic ? "nothing was imported" : "the rest was imported"}`;
  }
}
