// Human output: aligned tables with a header, coloured only for a terminal that wants colour
// (never when piped, nor with NO_COLOR set: tty.WriteStream#hasColors reads the environment).
import type { WriteStream } from "node:tty";

export interface Style {
  bold(text: string): string;
  status(status: string): string;
}

const STATUS_COLOURS: Record<string, number> = {
  completed: 32,
  completed_with_losses: 33,
  running: 36,
  queued: 36,
  failed: 31,
  canceled: 90,
};

const sgr = (code: number, text: string) => `\u001b[${code}m${text}\u001b[0m`;

export function styleFor(out: NodeJS.WritableStream): Style {
  const tty = out as Partial<WriteStream>;
  const colours = tty.isTTY === true && typeof tty.hasColors === "function" && tty.hasColors();
  if (!colours) return { bold: (t) => t, status: (t) => t };
  return {
    bold: (t) => sgr(1, t),
    status: (t) => (STATUS_COLOURS[t] ? sgr(STATUS_COLOURS[t], t) : t),
  };
}

/**
 * Rows under an upper-case header, columns two spaces apart; the last column is not padded.
 * `styleCell` colours a cell after its width is measured, so escapes never skew the alignment.
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  style: Style,
  styleCell: (column: number, text: string) => string = (_, t) => t,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[], paint: (column: number, text: string) => string) =>
    cells
      .map((cell, i) => paint(i, cell) + (i === cells.length - 1 ? "" : " ".repeat((widths[i] ?? 0) - cell.length)))
      .join("  ");
  return [
    line(
      header.map((h) => h.toUpperCase()),
      (_, t) => style.bold(t),
    ),
    ...rows.map((r) => line(r, styleCell)),
  ].join("\n");
}
