// How an export job's state reads and looks, the same in the job list and on the job page: the
// status badge, the progress bar with an accessible name, and times in the user's own locale.
import { type Export, ExportStatus } from "@labelport/sdk/contracts";
import { count, h } from "./dom.ts";
import { formatName } from "./export-formats.ts";

export const ACTIVE = [ExportStatus.QUEUED, ExportStatus.RUNNING];

export const STATUS_NAMES: Record<ExportStatus, string> = {
  [ExportStatus.UNSPECIFIED]: "unknown",
  [ExportStatus.QUEUED]: "queued",
  [ExportStatus.RUNNING]: "running",
  [ExportStatus.COMPLETED]: "completed",
  [ExportStatus.FAILED]: "failed",
  [ExportStatus.CANCELED]: "canceled",
};

/** Annotations received but not written (the format could not carry them), summed over reasons. */
export const droppedOf = (e: Export) => (e.counts?.dropped ?? []).reduce((n, d) => n + d.count, 0n);

/** Completed, but the files lack annotations the format could not carry. */
export const hasLosses = (e: Export) => e.status === ExportStatus.COMPLETED && droppedOf(e) > 0n;

/** Canceled before any worker took it: nothing ran, so nothing should look as if it did. */
export const canceledBeforeStart = (e: Export) => e.status === ExportStatus.CANCELED && !e.startTime;

/** What people call the job: its name, else its dataset and format. */
export const exportLabel = (e: Export) => e.name || `${e.datasetName || e.datasetId} ${formatName(e.format)}`;

export function statusBadge(e: Export): HTMLElement {
  if (hasLosses(e)) return h("span", { class: "status status-losses" }, "completed with losses");
  const name = STATUS_NAMES[e.status] ?? "unknown";
  return h("span", { class: `status status-${name}` }, name);
}

/** A protobuf Timestamp in the user's locale and time zone. */
export function localTime(ts: { seconds: bigint; nanos: number } | undefined): string {
  if (!ts) return "";
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "medium",
  });
}

/**
 * The job's bar and the line under it. `estimate` is the item count of the job's filter, for
 * plugins that report no total. The bar is named "Export <name>: 42%" so a screen reader can tell
 * one job's bar from another's; a job that is over never shows a moving (indeterminate) bar.
 */
export function progressOf(e: Export, estimate = 0): HTMLElement {
  const label = exportLabel(e);
  if (e.status === ExportStatus.COMPLETED) {
    const items = Number(e.counts?.itemCount ?? e.progress?.processedItems ?? 0n);
    // What the files hold; "of N" when the format could not carry all N annotations received.
    const written = count(e.counts?.annotationCount ?? 0n);
    const annotations =
      droppedOf(e) > 0n
        ? `${written} of ${count(e.counts?.receivedAnnotations ?? 0n)} annotations`
        : `${written} annotations`;
    return h(
      "div",
      { class: "progress" },
      h("progress", { max: 1, value: 1, "aria-label": `Export ${label}: 100%` }),
      h("span", { class: "small" }, `${count(items)} items, ${annotations}`),
    );
  }
  const total = Number(e.progress?.totalItems ?? 0n) || estimate;
  const done = Number(e.progress?.processedItems ?? 0n);
  const active = ACTIVE.includes(e.status);
  let bar: HTMLProgressElement;
  let caption: string;
  if (total > 0) {
    const percent = Math.floor((100 * Math.min(done, total)) / total);
    bar = h("progress", { max: total, value: Math.min(done, total), "aria-label": `Export ${label}: ${percent}%` });
    caption = `${count(done)} / ${count(total)} items`;
  } else if (active) {
    bar = h("progress", { "aria-label": `Export ${label}: ${STATUS_NAMES[e.status]}` });
    caption = done > 0 ? `${count(done)} items` : "";
  } else {
    // A value makes the bar determinate: a stopped job's bar stands still.
    bar = h("progress", { max: 1, value: 0, "aria-label": `Export ${label}: ${STATUS_NAMES[e.status]}` });
    caption = done > 0 ? `${count(done)} items` : "";
  }
  if (canceledBeforeStart(e)) caption = "Canceled before it started";
  if (!active) bar.classList.add("stopped");
  return h("div", { class: "progress" }, bar, h("span", { class: "small" }, caption));
}
