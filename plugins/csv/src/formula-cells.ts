// Undoes the exporter's CSV-injection guard (neutralizeFormula in index.ts): the ' it puts before
// a cell a spreadsheet would run as a formula, and after a `;` or tab inside a cell where a
// spreadsheet splitting at those would start one. Where the guard is ambiguous (a value that
// already had a ' in such a place), the ' is taken as the guard's.

/** A cell a spreadsheet would evaluate (the exporter's test). */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@]/;
/** A guard ' after a `;` or tab; the lookahead also skips the guards of later separators. */
const GUARD_AFTER_SEPARATOR = /([;\t])'(?=[\s"']*[=+\-@])/g;

/** The value the exporter neutralised into `cell`. */
export function restoreFormula(cell: string): string {
  const inner = cell.startsWith("'") && FORMULA_START.test(cell.slice(1)) ? cell.slice(1) : cell;
  return inner.includes("'") ? inner.replace(GUARD_AFTER_SEPARATOR, "$1") : inner;
}
