// The fate of every annotation of an upload: received = written + merged + skipped + dropped.
// Skipped is what the caller asked to leave out (duplicate ids or overlapping frames with `skip`);
// dropped is every other annotation not stored, counted by a short stable reason, so that an
// import that loses annotations never reads as a clean one.

/** The outcome an import reports: nothing dropped, some dropped, or the import failed. */
export type ImportOutcomeName = "completed" | "completed_with_losses" | "failed";

export interface AnnotationAccountingEntry {
  received: number;
  written: number;
  merged: number;
  skipped: number;
  dropped: number;
  droppedByReason: Record<string, number>;
  /** Stored but changed on the way (counted in written or merged too). */
  changed: Record<string, number>;
}

/** What a conversion before the import (an importer plugin) already lost or changed. */
export interface ConversionAccounting {
  dropped: Record<string, number>;
  changed: Record<string, number>;
  notes: string[];
}

/** Notes kept per import; the rest are counted in one last note. */
export const MAX_NOTES = 100;

/** Reasons for lines refused by validation, by the issue type of their first error. */
const REASON_BY_ISSUE: Record<string, string> = {
  parse: "invalid JSON",
  sequence: "invalid bounding box sequence",
  strict_mode: "rejected in strict mode",
};

export function reasonOfIssue(type: string | undefined): string {
  return REASON_BY_ISSUE[type ?? ""] ?? "invalid annotation";
}

function add(counts: Map<string, number>, reason: string, n: number): void {
  if (n > 0) counts.set(reason, (counts.get(reason) ?? 0) + n);
}

export class Accounting {
  received = 0;
  written = 0;
  merged = 0;
  skipped = 0;
  private readonly droppedBy = new Map<string, number>();
  private readonly changedBy = new Map<string, number>();
  private readonly noteList: string[] = [];
  private notesOmitted = 0;

  /** Counts what a conversion before the import dropped and changed; its drops were received too. */
  addConversion(conversion: ConversionAccounting): void {
    for (const [reason, n] of Object.entries(conversion.dropped)) {
      this.received += n;
      add(this.droppedBy, reason, n);
    }
    for (const [reason, n] of Object.entries(conversion.changed)) add(this.changedBy, reason, n);
    for (const note of conversion.notes) this.note(note);
  }

  drop(reason: string, n = 1): void {
    add(this.droppedBy, reason, n);
  }

  change(reason: string, n = 1): void {
    add(this.changedBy, reason, n);
  }

  note(text: string): void {
    if (this.noteList.length < MAX_NOTES) this.noteList.push(text);
    else this.notesOmitted++;
  }

  get dropped(): number {
    let n = 0;
    for (const count of this.droppedBy.values()) n += count;
    return n;
  }

  /** Annotations read but never decided on, because the import stopped before their line. */
  dropUndecided(reason: string): void {
    add(this.droppedBy, reason, this.received - this.written - this.merged - this.skipped - this.dropped);
  }

  /**
   * A failed atomic import keeps nothing: what it would have written or merged is dropped with
   * it (preview reports the same, so it matches the commit).
   */
  rollBack(): void {
    add(this.droppedBy, "import rolled back", this.written + this.merged);
    this.written = 0;
    this.merged = 0;
    this.changedBy.clear();
  }

  get notes(): string[] {
    return this.notesOmitted > 0 ? [...this.noteList, `${this.notesOmitted} more notes not listed`] : this.noteList;
  }

  entry(): AnnotationAccountingEntry {
    return {
      received: this.received,
      written: this.written,
      merged: this.merged,
      skipped: this.skipped,
      dropped: this.dropped,
      droppedByReason: Object.fromEntries(this.droppedBy),
      changed: Object.fromEntries(this.changedBy),
    };
  }
}

export function outcomeName(success: boolean, accounting: AnnotationAccountingEntry): ImportOutcomeName {
  if (!success) return "failed";
  return accounting.dropped > 0 ? "completed_with_losses" : "completed";
}

export function emptyAccounting(): AnnotationAccountingEntry {
  return { received: 0, written: 0, merged: 0, skipped: 0, dropped: 0, droppedByReason: {}, changed: {} };
}
