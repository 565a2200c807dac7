// One export job's page (#/exports/<id>): status and progress, counts with reasons, what was
// selected and how, the plugin's notes, the files with their own download links, and the job's
// log, followed live (GetExportLogs with follow) until the job ends or the page is left.
import { type DropCount, type Export, type ExportLogLine, ExportStatus } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx } from "./context.ts";
import { bytes, count, h, humanize, render } from "./dom.ts";
import { describeFilter } from "./export-filter.ts";
import { formatChoiceLabel } from "./export-formats.ts";
import { ACTIVE, droppedOf, exportLabel, localTime, progressOf, statusBadge } from "./export-status.ts";

export interface ExportActions {
  download(e: Export, artifactKey?: string): Promise<void>;
  cancel(e: Export): Promise<Export | undefined>;
  /** True when deleted. */
  remove(e: Export): Promise<boolean>;
}

export interface ExportDetail {
  element: HTMLElement;
  /** Stops following the job (the page was left). */
  stop(): void;
}

const RETRY_MS = 2000;

function reasons(title: string, list: readonly DropCount[]) {
  if (list.length === 0) return null;
  return h(
    "div",
    null,
    h("h4", null, title),
    h(
      "ul",
      { class: "loss-reasons" },
      list.map((d) => h("li", null, `${d.reason} (${count(d.count)})`)),
    ),
  );
}

function logLine(line: ExportLogLine): HTMLElement {
  return h(
    "li",
    { class: `log-${line.level}` },
    h("time", { class: "muted" }, localTime(line.time)),
    " ",
    h("span", { class: "log-level" }, line.level),
    " ",
    h("span", { class: "muted" }, line.source === "plugin" ? "plugin" : "server"),
    " ",
    h("span", { class: "log-message" }, line.message),
  );
}

/** `back`: the job list's address, with the filters it had. */
export function exportDetail(ctx: Ctx, exportId: string, actions: ExportActions, back: string): ExportDetail {
  const head = h("div", { class: "export-head" });
  const body = h("div", { class: "export-body" });
  const logList = h("ol", { class: "log", id: "export-log" });
  const logState = h("p", { class: "muted small", id: "export-log-state", "aria-live": "polite" });
  const element = h(
    "section",
    { class: "export-detail", id: "export-detail" },
    h("p", null, h("a", { href: back, class: "back" }, "← All exports")),
    head,
    body,
    h("h3", { id: "export-log-title" }, "Log"),
    logState,
    // A log region: new lines are announced politely; it scrolls on its own, so it takes focus.
    h("div", { class: "log-wrap", role: "log", "aria-labelledby": "export-log-title", tabindex: 0 }, logList),
  );
  const stopper = new AbortController();
  let exp: Export | undefined;
  let categories: Awaited<ReturnType<Ctx["datasets"]>>[number]["categories"] = [];

  function fill(e: Export) {
    exp = e;
    element.dataset.status =
      e.status === ExportStatus.COMPLETED ? "completed" : ACTIVE.includes(e.status) ? "active" : "ended";
    const editor = ctx.session.can("editor");
    const admin = ctx.session.can("admin");
    const label = exportLabel(e);
    render(
      head,
      h("h2", { id: "export-title" }, label),
      h(
        "div",
        { class: "export-status" },
        statusBadge(e),
        e.attempts > 1 ? h("span", { class: "small muted" }, ` attempt ${e.attempts}`) : null,
      ),
      progressOf(e),
      e.errorMessage ? h("p", { class: "error job-error", role: "alert" }, e.errorMessage) : null,
      h(
        "div",
        { class: "actions" },
        e.status === ExportStatus.COMPLETED
          ? h(
              "button",
              {
                type: "button",
                class: "primary",
                "aria-label": `Download export ${label}`,
                onclick: () => void actions.download(e),
              },
              "Download",
            )
          : null,
        ACTIVE.includes(e.status) && editor
          ? h(
              "button",
              {
                type: "button",
                "aria-label": `Cancel export ${label}`,
                onclick: async () => {
                  const canceled = await actions.cancel(e);
                  if (canceled) fill(canceled);
                },
              },
              "Cancel",
            )
          : null,
        admin
          ? h(
              "button",
              {
                type: "button",
                class: "danger",
                "aria-label": `Delete export ${label}`,
                onclick: async () => {
                  if (await actions.remove(e)) location.hash = back;
                },
              },
              "Delete",
            )
          : null,
      ),
    );
    const c = e.counts;
    const received = c?.receivedAnnotations ?? 0n;
    const options = Object.entries(e.options ?? {});
    render(
      body,
      h(
        "div",
        { class: "detail-grid" },
        h(
          "div",
          { class: "panel" },
          h("h3", null, "Job"),
          h(
            "dl",
            { class: "counts", id: "export-facts" },
            h("dt", null, "Dataset"),
            h("dd", null, e.datasetName || e.datasetId),
            e.versionName ? [h("dt", null, "Version"), h("dd", null, e.versionName)] : null,
            h("dt", null, "Format"),
            h("dd", null, formatChoiceLabel(e.format)),
            e.target ? [h("dt", null, "Target"), h("dd", null, humanize(e.target))] : null,
            h("dt", null, "Plugin"),
            h("dd", null, e.pluginName ? `${e.pluginName} ${e.pluginVersion}` : "not started"),
            h("dt", null, "Created"),
            h("dd", null, localTime(e.createTime), e.createdBy ? ` by ${e.createdBy}` : ""),
            e.startTime ? [h("dt", null, "Started"), h("dd", null, localTime(e.startTime))] : null,
            e.completeTime ? [h("dt", null, "Ended"), h("dd", null, localTime(e.completeTime))] : null,
            e.expireTime ? [h("dt", null, "Files kept until"), h("dd", null, localTime(e.expireTime))] : null,
            h("dt", null, "Export id"),
            h("dd", null, h("code", null, e.id)),
          ),
        ),
        h(
          "div",
          { class: "panel" },
          h("h3", null, "What it exports"),
          h(
            "ul",
            { class: "plain", id: "export-filter-words" },
            describeFilter(e.filter, categories).map((s) => h("li", null, s)),
          ),
          h(
            "ul",
            { class: "plain" },
            h("li", null, e.saveOriginalFile ? "With the original media files" : "Annotations only, no media files"),
          ),
          options.length > 0
            ? h(
                "dl",
                { class: "counts", id: "export-option-values" },
                options.map(([key, value]) => [
                  h("dt", null, humanize(key)),
                  h(
                    "dd",
                    null,
                    typeof value === "boolean"
                      ? value
                        ? "yes"
                        : "no"
                      : typeof value === "string"
                        ? value
                        : JSON.stringify(value),
                  ),
                ]),
              )
            : null,
        ),
        h(
          "div",
          { class: "panel" },
          h("h3", null, "Counts"),
          h(
            "dl",
            { class: "counts", id: "export-counts" },
            h("dt", null, "Items"),
            h("dd", null, count(c?.itemCount ?? e.progress?.processedItems ?? 0n)),
            h("dt", null, "Annotations received"),
            h("dd", null, count(received)),
            h("dt", null, "Written"),
            h("dd", null, count(c?.annotationCount ?? 0n)),
            h("dt", null, "Dropped"),
            h("dd", { class: droppedOf(e) > 0n ? "dropped" : undefined }, count(droppedOf(e))),
            h("dt", null, "Changed"),
            h("dd", null, count((c?.changed ?? []).reduce((n, d) => n + d.count, 0n))),
          ),
          reasons("Dropped, by reason", c?.dropped ?? []),
          reasons("Changed on the way, by reason", c?.changed ?? []),
        ),
      ),
      e.formatNotes.length > 0
        ? h(
            "div",
            { class: "panel", id: "export-notes" },
            h("h3", null, "Notes from the plugin"),
            h(
              "ul",
              null,
              e.formatNotes.map((n) => h("li", null, n)),
            ),
          )
        : null,
      files(e),
    );
  }

  function files(e: Export): HTMLElement | null {
    if (e.status !== ExportStatus.COMPLETED) return null;
    return h(
      "div",
      { class: "files" },
      h("h3", { id: "export-files-title" }, `Files (${count(e.artifacts.length)}, ${bytes(e.fileSize)})`),
      h(
        "div",
        { class: "table-wrap", role: "region", "aria-labelledby": "export-files-title", tabindex: 0 },
        h(
          "table",
          { id: "export-files", class: "stack" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col" }, "File"),
              h("th", { scope: "col", class: "num" }, "Size"),
              h("th", { scope: "col" }, "SHA-256"),
              h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
            ),
          ),
          h(
            "tbody",
            null,
            e.artifacts.map((a) =>
              h(
                "tr",
                { "data-key": a.key },
                h("td", { "data-label": "File" }, h("code", null, a.key)),
                h("td", { class: "num nowrap", "data-label": "Size" }, bytes(a.size)),
                h("td", { "data-label": "SHA-256" }, h("code", { class: "hash", title: a.sha256 }, a.sha256)),
                h(
                  "td",
                  { class: "row-actions" },
                  h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `Download file ${a.key}`,
                      onclick: () => void actions.download(e, a.key),
                    },
                    "Download",
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  /** WatchExport until the job ends; a broken stream is picked up again while the page is open. */
  async function watch() {
    while (!stopper.signal.aborted) {
      try {
        for await (const res of ctx.api.exports.watchExport({ exportId }, { signal: stopper.signal })) {
          if (res.export) fill(res.export);
        }
      } catch {
        // aborted, or the stream broke: try again below
      }
      if (!exp || !ACTIVE.includes(exp.status)) return;
      await new Promise((r) => window.setTimeout(r, RETRY_MS));
    }
  }

  /** The log so far, then (while the job runs) each new line as it is written. */
  async function follow() {
    let since: ExportLogLine["time"];
    while (!stopper.signal.aborted) {
      const live = exp ? ACTIVE.includes(exp.status) : true;
      render(logState, live ? "Following the log while the job runs…" : "");
      try {
        const stream = ctx.api.exports.getExportLogs(
          { exportId, follow: live, ...(since ? { sinceTime: since } : {}) },
          { signal: stopper.signal },
        );
        for await (const res of stream) {
          for (const line of res.lines) {
            logList.append(logLine(line));
            since = line.time;
          }
        }
        if (logList.childElementCount === 0) logList.append(h("li", { class: "muted" }, "No log lines."));
        render(logState, "The job has ended; this is its whole log.");
        return;
      } catch (err) {
        if (stopper.signal.aborted) return;
        render(logState, h("span", { class: "error" }, `Log stream interrupted: ${messageOf(err)}. Retrying…`));
        await new Promise((r) => window.setTimeout(r, RETRY_MS));
      }
    }
  }

  (async () => {
    try {
      const [{ export: got }, datasets] = await Promise.all([
        ctx.api.exports.getExport({ exportId }),
        ctx.datasets().catch(() => []),
      ]);
      if (!got) return;
      categories = datasets.find((d) => d.id === got.datasetId)?.categories ?? [];
      fill(got);
      void follow();
      if (ACTIVE.includes(got.status)) void watch();
    } catch (err) {
      render(
        head,
        h("h2", null, "Export"),
        h("p", { class: "error", role: "alert" }, `Could not load export ${exportId}: ${messageOf(err)}`),
      );
    }
  })();

  return {
    element,
    stop: () => stopper.abort(),
  };
}
