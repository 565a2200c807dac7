// Warnings, errors and conflicts of one import: kept in order up to a cap, counted beyond it.
import type { ConflictEntry, CountsEntry, IssueEntry } from "./history.ts";

export const MAX_ISSUES = 1000;

class Capped<T> {
  readonly items: T[] = [];
  count = 0;
  constructor(private readonly cap: number) {}
  add(item: T): void {
    this.count++;
    if (this.items.length < this.cap) this.items.push(item);
  }
  get omitted(): number {
    return this.count - this.items.length;
  }
}

export class IssueLog {
  readonly warnings: Capped<IssueEntry>;
  readonly errors: Capped<IssueEntry>;
  readonly conflicts: Capped<ConflictEntry>;

  constructor(cap = MAX_ISSUES) {
    this.warnings = new Capped(cap);
    this.errors = new Capped(cap);
    this.conflicts = new Capped(cap);
  }
}

export function emptyCounts(): CountsEntry {
  return { annotations: 0, totalKeyframes: 0, singleKeyframeSequences: 0, items: 0 };
}

/** Drops undefined optional fields so stored and returned entries have no `undefined` keys. */
export function issue(entry: {
  line: number;
  type: string;
  message: string;
  field?: string | undefined;
  annotationId?: string | undefined;
}): IssueEntry {
  const out: IssueEntry = { line: entry.line, type: entry.type, message: entry.message };
  if (entry.field) out.field = entry.field;
  if (entry.annotationId) out.annotationId = entry.annotationId;
  return out;
}
