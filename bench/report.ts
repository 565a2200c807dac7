// The results: one row per measurement (bench/results/latest.json), one printed table, and where
// each of issue 7's targets stands. Targets are reported, never asserted.

export interface PeerResult {
  name: string;
  seconds: number;
  peakRssMb: number;
}

export interface Row {
  case: string;
  /** An export format, or `import:<format>`, `stream-items`, `rest-export` (GET /api/export). */
  format: string;
  annotations: number;
  seconds: number;
  annotationsPerSec: number;
  peakRssMb: { plugin: number | null; orchestrator: number };
  peer: PeerResult | null;
  items?: number;
  itemsPerSec?: number;
  bytes?: number;
  mbPerSec?: number;
  linesPerSec?: number;
  ttfbMs?: number | null;
  /** rest-export: the median first byte of the same request repeated (kept totals). */
  ttfbRepeatMs?: number | null;
  /** Median first byte of selections (filters) no request had asked for. */
  ttfbNewSelectionMs?: number | null;
  /** Annotations in the export's own counts (formats leave out what they cannot hold). */
  exportedAnnotations?: number;
  /** Exports: request to job created, queued until claimed, running, completion to the caller seeing it. */
  phases?: { requestMs: number; queuedMs: number; runningMs: number; noticedMs: number } | undefined;
  /** CPU seconds each process spent in the measurement (which one was the limit). */
  cpuSeconds?: Record<string, number | undefined>;
  /** Imports: each file of the case. */
  files?: Array<{ bytes: number; lines: number; annotations: number; imported: number; seconds: number }>;
  /** Further peers of the same row (pycocotools loading our COCO). */
  otherPeers?: PeerResult[];
  note?: string;
}

const MB = 1024 * 1024;

export const rate = (count: number, seconds: number) => (seconds > 0 ? count / seconds : 0);
export const mbPerSec = (bytes: number, seconds: number) => (seconds > 0 ? bytes / MB / seconds : 0);

function fmt(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "n/a";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return n.toFixed(0);
}

function noteCell(r: Row): string {
  const note = r.note ?? (r.exportedAnnotations === 0 ? "the format wrote no annotations" : undefined);
  if (!note) return "";
  return `(${note.length > 60 ? `${note.slice(0, 57)}...` : note})`;
}

function cpuCell(cpu: Row["cpuSeconds"]): string {
  if (!cpu) return "";
  const one = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(1));
  return `${one(cpu.orchestrator)}/${cpu.plugin === undefined ? "-" : one(cpu.plugin)}/${one(cpu.mongod)}`;
}

export function formatTable(rows: Row[]): string {
  const header = [
    "case",
    "format",
    "annotations",
    "seconds",
    "ann/s",
    "MB/s",
    "plugin MB",
    "orch MB",
    "CPU s orch/plugin/mongod",
    "peer",
    "peer s",
    "peer MB",
    "x peer",
  ];
  const body = rows.map((r) => {
    const peer = r.peer;
    const extra = r.otherPeers?.map((p) => `${p.name} ${p.seconds.toFixed(2)} s/${p.peakRssMb.toFixed(0)} MB`) ?? [];
    let format = r.format;
    if (r.format === "stream-items" && r.itemsPerSec !== undefined) format += ` (${compact(r.itemsPerSec)} items/s)`;
    if (r.format.startsWith("import:") && r.linesPerSec !== undefined) format += ` (${compact(r.linesPerSec)} lines/s)`;
    if (r.format === "rest-export")
      format += ` (TTFB ${r.ttfbMs === null || r.ttfbMs === undefined ? "n/a" : `${r.ttfbMs.toFixed(0)} ms`}${r.ttfbRepeatMs === null || r.ttfbRepeatMs === undefined ? "" : `, again ${r.ttfbRepeatMs.toFixed(0)} ms`}${r.ttfbNewSelectionMs === null || r.ttfbNewSelectionMs === undefined ? "" : `, new filters ${r.ttfbNewSelectionMs.toFixed(0)} ms`})`;
    return [
      r.case,
      format,
      fmt(r.annotations),
      r.seconds > 0 ? r.seconds.toFixed(2) : "n/a",
      /^(export|import) failed/.test(r.note ?? "") ? "failed" : r.seconds > 0 ? compact(r.annotationsPerSec) : "n/a",
      r.mbPerSec === undefined ? "" : r.mbPerSec.toFixed(1),
      r.peakRssMb.plugin === null ? "" : r.peakRssMb.plugin.toFixed(0),
      r.peakRssMb.orchestrator > 0 ? r.peakRssMb.orchestrator.toFixed(0) : "",
      cpuCell(r.cpuSeconds),
      peer ? peer.name : noteCell(r),
      peer ? peer.seconds.toFixed(2) : "",
      peer ? peer.peakRssMb.toFixed(0) : "",
      peer && r.seconds > 0 ? `${(peer.seconds / r.seconds).toFixed(1)}x` : "",
      ...(extra.length > 0 ? [`+ ${extra.join("; ")}`] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? c.length;
        return i <= 1 || i === 9 ? c.padEnd(w) : c.padStart(w);
      })
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

export interface TargetLine {
  target: string;
  measured: string;
  status: "met" | "missed" | "n/a";
}

/** Where each target of issue 7 stands, from the rows of this run. */
export function evaluateTargets(rows: Row[], exportFormats: string[]): TargetLine[] {
  const out: TargetLine[] = [];
  const imageCases = [...new Set(rows.filter((r) => r.case.startsWith("images-")).map((r) => r.case))];
  const annotationsOf = (c: string) => rows.find((r) => r.case === c)?.annotations ?? 0;
  imageCases.sort((a, b) => annotationsOf(a) - annotationsOf(b));
  const largest = imageCases[imageCases.length - 1];
  const smallest = imageCases[0];
  const status = (ok: boolean | undefined): TargetLine["status"] => (ok === undefined ? "n/a" : ok ? "met" : "missed");

  const coco = rows.find((r) => r.case === "images-1m" && r.format === "coco");
  const cocoLargest = coco ?? rows.find((r) => r.case === largest && r.format === "coco");
  const scope = coco ? "1M" : cocoLargest ? `${cocoLargest.case} (no 1M case in this run)` : "";
  out.push({
    target: "COCO end to end >= 100k annotations/s (1M bbox/polygon case)",
    measured: cocoLargest ? `${compact(cocoLargest.annotationsPerSec)}/s at ${scope}` : "not run",
    status: status(coco ? coco.annotationsPerSec >= 100_000 : undefined),
  });
  const ratio = cocoLargest?.peer ? cocoLargest.peer.seconds / cocoLargest.seconds : undefined;
  out.push({
    target: "COCO >= 5x the pymongo + json.dump script",
    measured: ratio === undefined ? "no peer result" : `${ratio.toFixed(1)}x at ${scope}`,
    status: status(coco && ratio !== undefined ? ratio >= 5 : undefined),
  });
  for (const format of exportFormats) {
    const small = rows.find((r) => r.case === smallest && r.format === format);
    const big = rows.find((r) => r.case === largest && r.format === format);
    const bigPeak = big?.peakRssMb.plugin ?? undefined;
    const smallPeak = small?.peakRssMb.plugin ?? undefined;
    if (bigPeak === undefined || smallPeak === undefined) {
      const failure = [small, big].find((r) => r?.note)?.note;
      out.push({
        target: `plugin ${format}: peak RSS <= 256 MB and flat`,
        measured: failure ? failure.slice(0, 100) : "not run",
        status: "n/a",
      });
      continue;
    }
    const growth = bigPeak / smallPeak - 1;
    const maxPeak = Math.max(
      ...rows.filter((r) => r.format === format && r.peakRssMb.plugin !== null).map((r) => r.peakRssMb.plugin ?? 0),
    );
    // Issue 7's goal is up to 1M annotations; a run that reaches it (10M included) decides it.
    const final = annotationsOf(largest ?? "") >= 1_000_000;
    out.push({
      target: `plugin ${format}: peak RSS <= 256 MB, ${largest} within 20% of ${smallest}`,
      measured: `max ${maxPeak.toFixed(0)} MB; ${smallest} ${smallPeak.toFixed(0)} MB -> ${largest} ${bigPeak.toFixed(0)} MB (${growth >= 0 ? "+" : ""}${(growth * 100).toFixed(0)}%)${final ? "" : " [no case of 1M or more]"}`,
      status: maxPeak > 256 || growth > 0.2 ? "missed" : final ? "met" : "n/a",
    });
  }
  // Per file: the target is about one file of about 100 MB (the video annotation import's limit).
  const bigFiles = rows
    .filter((r) => r.format.startsWith("import:"))
    .flatMap((r) => (r.files ?? []).map((f) => ({ row: r, file: f })))
    .filter(({ file }) => file.bytes >= 90_000_000);
  if (bigFiles.length === 0) {
    out.push({
      target: "import >= 50k annotations/s for a 100 MB JSONL file",
      measured: "no file of ~100 MB in this run",
      status: "n/a",
    });
  }
  for (const { row, file } of bigFiles) {
    const perSec = rate(file.annotations, file.seconds);
    out.push({
      target: `import >= 50k annotations/s for a 100 MB JSONL file (${row.format.slice(7)})`,
      measured: `${compact(perSec)} annotations/s, ${compact(rate(file.lines, file.seconds))} lines/s, ${mbPerSec(file.bytes, file.seconds).toFixed(1)} MB/s (${row.case}, ${(file.bytes / 1e6).toFixed(0)} MB in ${file.seconds.toFixed(1)} s)`,
      status: status(perSec >= 50_000),
    });
  }
  const streams = rows.filter((r) => r.format === "stream-items" && r.case.startsWith("images-"));
  const biggestStream = streams.sort((a, b) => (b.items ?? 0) - (a.items ?? 0))[0];
  out.push({
    target: "StreamItems >= 100k items/s",
    measured: biggestStream
      ? `${compact(biggestStream.itemsPerSec ?? 0)} items/s, ${compact(biggestStream.annotationsPerSec)} annotations/s (${biggestStream.case})`
      : "not run",
    status: biggestStream ? status((biggestStream.itemsPerSec ?? 0) >= 100_000) : "n/a",
  });
  const rest = rows.find((r) => r.format === "rest-export");
  out.push({
    target: "GET /api/export time to first byte < 200 ms",
    measured:
      rest?.ttfbMs === null || rest?.ttfbMs === undefined
        ? `n/a${rest?.note ? ` (${rest.note})` : ""}`
        : `${rest.ttfbMs.toFixed(0)} ms (${rest.case})`,
    status: rest?.ttfbMs === null || rest?.ttfbMs === undefined ? "n/a" : status(rest.ttfbMs < 200),
  });
  out.push({
    target: "GET /api/export repeated, nothing written since: first byte <= 50 ms",
    measured:
      rest?.ttfbRepeatMs === null || rest?.ttfbRepeatMs === undefined
        ? "n/a"
        : `${rest.ttfbRepeatMs.toFixed(0)} ms (${rest.case}, median of 5)`,
    status: rest?.ttfbRepeatMs === null || rest?.ttfbRepeatMs === undefined ? "n/a" : status(rest.ttfbRepeatMs <= 50),
  });
  out.push({
    target: "GET /api/export, selections not asked before: first byte <= 50 ms",
    measured:
      rest?.ttfbNewSelectionMs === null || rest?.ttfbNewSelectionMs === undefined
        ? "n/a"
        : `${rest.ttfbNewSelectionMs.toFixed(0)} ms (${rest.case}, median of 5)`,
    status:
      rest?.ttfbNewSelectionMs === null || rest?.ttfbNewSelectionMs === undefined
        ? "n/a"
        : status(rest.ttfbNewSelectionMs <= 50),
  });
  return out;
}

export function formatTargets(lines: TargetLine[]): string {
  const w = Math.max(...lines.map((l) => l.target.length));
  return lines.map((l) => `${l.status.padEnd(6)}  ${l.target.padEnd(w)}  ${l.measured}`).join("\n");
}

/**
 * The import-formats case as one table: per importer format, the upload, what was written, the
 * end-to-end rate and each process's peak memory. Empty when the run had no such case.
 */
export function formatImportTable(rows: Row[]): string {
  const measured = rows.filter((r) => r.case.startsWith("import-formats") && r.format.startsWith("import:"));
  if (measured.length === 0) return "";
  const header = [
    "case",
    "format",
    "upload MB",
    "items",
    "annotations",
    "seconds",
    "ann/s",
    "orch MB",
    "plugin MB",
    "CPU s orch/plugin/mongod",
  ];
  const body = measured.map((r) => {
    const failed = /^import failed/.test(r.note ?? "");
    return [
      r.case,
      r.format.slice("import:".length),
      r.bytes === undefined ? "" : (r.bytes / 1e6).toFixed(1),
      fmt(r.items),
      fmt(r.annotations),
      r.seconds > 0 ? r.seconds.toFixed(2) : "n/a",
      failed ? "failed" : r.seconds > 0 ? compact(r.annotationsPerSec) : "n/a",
      r.peakRssMb.orchestrator > 0 ? r.peakRssMb.orchestrator.toFixed(0) : "",
      r.peakRssMb.plugin === null ? "" : r.peakRssMb.plugin.toFixed(0),
      cpuCell(r.cpuSeconds),
      r.note ? `(${r.note.length > 100 ? `${r.note.slice(0, 97)}...` : r.note})` : "",
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i <= 1 || i >= header.length ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? c.length)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}
