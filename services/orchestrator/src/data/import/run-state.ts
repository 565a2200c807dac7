// What one import run has done so far and whether it may go on: line counts, imported and skipped
// counts, the issue log, and the flags that end the run. Batches of either format record their
// lines' outcomes here, and the run's summary is read from it at the end.
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { ImportParseError } from "../../errors.ts";
import { Accounting, type ConversionAccounting, reasonOfIssue } from "./accounting.ts";
import type { LineIssue } from "./annotation-line.ts";
import type { BatchWrites } from "./batch-writes.ts";
import type { CountsEntry } from "./history.ts";
import { emptyCounts, IssueLog, issue } from "./issues.ts";
import type { RawRecord } from "./reader.ts";

/** Records validated between two turns of the event loop. */
const YIELD_EVERY = 64;

export interface RunRules {
  /** Any failed line fails the whole import, which then writes nothing. */
  atomic: boolean;
  /** Warnings fail their line. */
  strictMode: boolean;
  /** Issues carry the line's annotation id (video track lines); a lossless item line is named by its line alone. */
  namesAnnotations: boolean;
  /** The annotations a record of the file carries (one per video track line, those inline on an item line). */
  annotationsIn(value: unknown): number;
  /** The annotations of a line that is not JSON: one for a video track line, unknown for an item line. */
  unreadableLineAnnotations: number | undefined;
  /** Who imports (the caller's key name): the maker of annotations that name nobody. */
  actor: string;
}

export type LineParser<T> = (value: unknown) => { ok: true; value: T } | { ok: false; errors: LineIssue[] };

function idOf(value: unknown): string | undefined {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === "string" ? id : undefined;
}

export class RunState {
  readonly issues = new IssueLog();
  /** The fate of every annotation of the upload. */
  readonly accounting = new Accounting();
  /** Lines that could not be read, so their annotations could not be counted (item lines). */
  private uncountedLines = 0;
  readonly imported: CountsEntry = emptyCounts();
  readonly skipped: CountsEntry = emptyCounts();
  /** One time for every document the run creates or updates. */
  readonly now = new Date();
  totalLines = 0;
  processedLines = 0;
  /** A `fail` policy stopped the import at some line. */
  stopped = false;
  /** A non-atomic import whose file became unreadable at some line. */
  truncated = false;
  failed = false;
  fatalMessage: string | undefined;

  constructor(
    readonly rules: RunRules,
    private readonly writes: BatchWrites,
    conversion?: ConversionAccounting,
  ) {
    if (conversion) this.accounting.addConversion(conversion);
  }

  /** No further line is looked at. */
  get ended(): boolean {
    return this.stopped || this.truncated;
  }

  async lineFailed(line: number, errors: LineIssue[], annotationId?: string): Promise<void> {
    for (const e of errors) this.issues.errors.add(issue({ line, ...e, annotationId }));
    this.failed = true;
    if (this.rules.atomic) await this.writes.goDry();
  }

  /** A `fail` policy: stops the import at this line. */
  async stop(line: number, type: string, message: string, field?: string, annotationId?: string): Promise<void> {
    this.issues.errors.add(issue({ line, type, message, field, annotationId }));
    this.failed = true;
    this.stopped = true;
    this.fatalMessage = message.includes(`line ${line}`) ? message : `Line ${line}: ${message}`;
    this.accounting.note(`The import stopped at line ${line}; the lines after it were not imported`);
    if (this.rules.atomic) await this.writes.goDry();
  }

  warn(line: number, w: LineIssue, annotationId?: string): void {
    this.issues.warnings.add(issue({ line, ...w, annotationId }));
  }

  /**
   * Parses and validates a batch's records, strict mode included: the records that passed, with
   * their warnings logged. `onSkip` counts a line that failed.
   */
  async validate<T extends { warnings: LineIssue[] }>(
    records: RawRecord[],
    parse: LineParser<T>,
    onSkip: () => void,
  ): Promise<Array<{ line: number; value: T }>> {
    const out: Array<{ line: number; value: T }> = [];
    const { strictMode, namesAnnotations, annotationsIn } = this.rules;
    const { accounting } = this;
    let n = 0;
    for (const record of records) {
      if (this.ended) break;
      // Let the previous batch's write go on (its next command waits for the event loop).
      if (++n % YIELD_EVERY === 0) await yieldToLoop();
      this.totalLines++;
      this.processedLines++;
      if (record.error !== undefined) {
        await this.recordParseError(record, onSkip);
        continue;
      }
      const annotations = annotationsIn(record.value);
      accounting.received += annotations;
      const result = parse(record.value);
      const id = namesAnnotations ? idOf(record.value) : undefined;
      if (!result.ok) {
        onSkip();
        accounting.drop(reasonOfIssue(result.errors[0]?.type), annotations);
        await this.lineFailed(record.line, result.errors, id);
        continue;
      }
      if (strictMode && result.value.warnings.length > 0) {
        onSkip();
        accounting.drop(reasonOfIssue("strict_mode"), annotations);
        await this.lineFailed(
          record.line,
          result.value.warnings.map((w) => ({
            type: "strict_mode",
            ...(w.field ? { field: w.field } : {}),
            message: `${w.message} (rejected in strict mode)`,
          })),
          id,
        );
        continue;
      }
      for (const w of result.value.warnings) this.warn(record.line, w, id);
      out.push({ line: record.line, value: result.value });
    }
    return out;
  }

  /** Parse problems abort atomic imports (the import API's "Parse Error"); non-atomic ones skip the line. */
  private async recordParseError(record: RawRecord & { error: string }, onSkip: () => void): Promise<void> {
    if (this.rules.atomic) {
      this.issues.errors.add(issue({ line: record.line, type: "parse", message: record.error }));
      throw new ImportParseError(record.error, record.line);
    }
    if (record.fatal) {
      // The rest of the file cannot be read; the lines before it are still imported (non-atomic).
      this.issues.errors.add(issue({ line: record.line, type: "parse", message: record.error }));
      this.failed = true;
      this.truncated = true;
      this.fatalMessage = record.error;
      this.accounting.note(
        `The file could not be read from line ${record.line} on; annotations after it were not counted`,
      );
      return;
    }
    onSkip();
    const annotations = this.rules.unreadableLineAnnotations;
    if (annotations === undefined) {
      this.uncountedLines++;
    } else {
      this.accounting.received += annotations;
      this.accounting.drop(reasonOfIssue("parse"), annotations);
    }
    await this.lineFailed(record.line, [{ type: "parse", message: record.error }]);
  }

  /** Ends the accounting once the file was read, with what it could not count noted. */
  finishAccounting(): void {
    // Lines of the batch a `fail` policy stopped in were read but not decided on.
    if (this.stopped) this.accounting.dropUndecided("import stopped");
    const n = this.uncountedLines;
    if (n > 0) {
      this.accounting.note(
        `${n} line${n === 1 ? "" : "s"} could not be read as JSON; ${n === 1 ? "its" : "their"} annotations were not counted`,
      );
    }
  }
}
