// The --huge case: 10M annotations (about 1M images) through every export format, compared with
// the 1M case of the same run. Goals (issue 20, reported, never asserted): peak RSS of the plugin
// and of the orchestrator within 10% of the 1M case, and time linear within 10% (10M takes 9 to
// 11 times the 1M time).
import type { Row } from "./report.ts";

/** The huge case's size unless --huge-annotations says otherwise (a shorter run proves the harness). */
export const HUGE_ANNOTATIONS = 10_000_000;

export function hugeCase(annotations = HUGE_ANNOTATIONS) {
  const millions = annotations / 1_000_000;
  const name = Number.isInteger(millions) ? `images-${millions}m` : `images-${Math.round(annotations / 1000)}k`;
  return { kind: "images", name, annotations } as const;
}
const BASE_CASE = "images-1m";

/** Goals' tolerance: 10% on memory and on linearity. */
const TOLERANCE = 0.1;

/** The exports of the case, and the whole-ZIP download of one of them (the orchestrator's part). */
const isCompared = (r: Row) =>
  !r.format.startsWith("import:") && r.format !== "stream-items" && r.format !== "rest-export";

function change(from: number | null, to: number | null): string {
  if (from === null || to === null || from <= 0) return "n/a";
  const pct = ((to - from) / from) * 100;
  const flag = Math.abs(pct) <= TOLERANCE * 100 + 1e-9 ? "" : " (!)";
  return `${from.toFixed(0)} -> ${to.toFixed(0)} MB (${pct >= 0 ? "+" : ""}${pct.toFixed(0)}%)${flag}`;
}

/**
 * One line per export format of the huge case: seconds and annotations/s at 10M and at 1M, the
 * time ratio over the size ratio (1.00 is linear) and the peak RSS changes; undefined when the run
 * had no huge case.
 */
export function formatHugeComparison(rows: Row[], hugeCase: string): string | undefined {
  const huge = rows.filter((r) => r.case === hugeCase && isCompared(r));
  if (huge.length === 0) return undefined;
  const lines = [`--huge: ${hugeCase} against ${BASE_CASE} (goals: RSS within 10%, time linear within 10%)`];
  for (const row of huge) {
    const base = rows.find((r) => r.case === BASE_CASE && r.format === row.format);
    const failed = /failed/.test(row.note ?? "") || row.annotationsPerSec === 0;
    const head = `  ${row.format.padEnd(14)} ${failed ? "FAILED" : `${row.seconds.toFixed(1)} s, ${Math.round(row.annotationsPerSec / 1000)}k/s`}`;
    if (!base || base.seconds <= 0 || failed) {
      lines.push(`${head}${failed ? ` (${row.note ?? "no rate"})` : `; no ${BASE_CASE} row in this run`}`);
      continue;
    }
    const linearity = row.seconds / base.seconds / (row.annotations / base.annotations);
    const linearFlag = Math.abs(linearity - 1) <= TOLERANCE + 1e-9 ? "" : " (!)";
    lines.push(
      `${head} vs ${base.seconds.toFixed(1)} s, ${Math.round(base.annotationsPerSec / 1000)}k/s; ` +
        `time/size ${linearity.toFixed(2)}${linearFlag}; ` +
        `plugin ${change(base.peakRssMb.plugin, row.peakRssMb.plugin)}; ` +
        `orchestrator ${change(base.peakRssMb.orchestrator, row.peakRssMb.orchestrator)}`,
    );
  }
  return lines.join("\n");
}
