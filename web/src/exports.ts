// The exports view: the new-export form and the job list (paged, filtered by dataset, status and
// format, filters kept in the URL hash), kept live by WatchExport streams; and, at #/exports/<id>,
// one job's page (export-detail.ts).
import { type Dataset, type Export, ExportStatus, type PluginInfo } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx, View } from "./context.ts";
import { bytes, count, h, render } from "./dom.ts";
import { type ExportDetail, exportDetail } from "./export-detail.ts";
import { exportForm } from "./export-form.ts";
import { exportFormats, formatChoiceLabel, formatName } from "./export-formats.ts";
import {
  ACTIVE,
  droppedOf,
  exportLabel,
  hasLosses,
  localTime,
  progressOf,
  STATUS_NAMES,
  statusBadge,
} from "./export-status.ts";
import { versionPicker } from "./versions.ts";

const POLL_MS = 5000;
const PAGE_SIZE = 25;

interface Entry {
  exp: Export;
  row: HTMLTableRowElement;
  watch?: AbortController | undefined;
}

/** The job list's filters, as the hash keeps them (`#/exports?dataset=…&status=failed&format=coco`). */
interface ListFilters {
  dataset: string;
  status: string;
  format: string;
}

const FILTER_STATUSES = [
  ExportStatus.QUEUED,
  ExportStatus.RUNNING,
  ExportStatus.COMPLETED,
  ExportStatus.FAILED,
  ExportStatus.CANCELED,
];

const millis = (e: Export) => Number(e.createTime?.seconds ?? 0n) * 1000 + (e.createTime?.nanos ?? 0) / 1e6;

export function exportsView(ctx: Ctx): View {
  const formArea = h("div", { class: "panel" });
  const filterArea = h("form", { id: "jobs-filters", class: "filters", "aria-label": "Filter jobs" });
  const tbody = h("tbody");
  const listNote = h("p", { class: "empty", hidden: true }, "No exports yet.");
  const listError = h("p", { class: "error", hidden: true });
  const pageInfo = h("p", { id: "jobs-page", class: "muted", "aria-live": "polite" });
  const newer = h("button", { type: "button", id: "jobs-newer", onclick: () => void turn(-1) }, "← Newer");
  const older = h("button", { type: "button", id: "jobs-older", onclick: () => void turn(1) }, "Older →");
  const listArea = h(
    "div",
    null,
    h("h2", null, "New export"),
    formArea,
    h("h2", { id: "jobs-title" }, "Jobs"),
    filterArea,
    listError,
    h(
      "div",
      { class: "table-wrap", role: "region", "aria-labelledby": "jobs-title", tabindex: 0 },
      h(
        "table",
        { id: "jobs", class: "stack" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Export", "Dataset", "Format", "Status", "Progress", "Size", "Created"].map((t) =>
              h("th", { scope: "col", class: t === "Size" ? "num" : undefined }, t),
            ),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
          ),
        ),
        tbody,
      ),
    ),
    listNote,
    h("nav", { class: "pager", "aria-label": "Job pages" }, newer, pageInfo, older),
  );
  const detailArea = h("div");
  const element = h("section", { class: "view" }, listArea, detailArea);
  const entries = new Map<string, Entry>();
  /** Item counts of jobs whose plugin reports no total: what CountItems says the filter selects. */
  const estimates = new Map<string, number>();
  let visible = false;
  let pollTimer: number | undefined;
  let filters: ListFilters = { dataset: "", status: "", format: "" };
  /** Page tokens of the pages before the current one; the current page's token. */
  let previousTokens: string[] = [];
  let pageToken = "";
  let nextToken = "";
  let detail: ExportDetail | undefined;
  let detailId = "";
  let listRequests = 0;
  let stopForm: (() => void) | undefined;

  // ---- the form and the filters ----

  async function renderForm(preselect: string) {
    let datasets: Dataset[];
    let plugins: PluginInfo[];
    try {
      // Importer plugins are listed too, with import formats only: they have nothing to export.
      [datasets, plugins] = await Promise.all([
        ctx.datasets(),
        ctx.api.exports.listFormats({}).then((r) => r.plugins.filter((p) => p.formats.length > 0)),
      ]);
    } catch (err) {
      render(formArea, h("p", { class: "error" }, `Could not load datasets and formats: ${messageOf(err)}`));
      return;
    }
    renderFilters(datasets, plugins);
    stopForm?.();
    stopForm = undefined;
    if (datasets.length === 0 || plugins.length === 0) {
      render(
        formArea,
        h(
          "p",
          { class: "empty" },
          datasets.length === 0
            ? "No datasets to export yet."
            : "No exporter plugin is running: start one (npx labelport-plugin <package>) and refresh.",
        ),
      );
      return;
    }
    const form = exportForm(ctx, {
      datasets,
      plugins,
      preselect,
      sections: [versionPicker(ctx)],
      created(created) {
        // Back to the first page, where the new job is.
        previousTokens = [];
        pageToken = "";
        if (matches(created)) upsert(created);
        void refreshList();
      },
    });
    stopForm = form.stop;
    render(formArea, form.element);
  }

  function renderFilters(datasets: Dataset[], plugins: PluginInfo[]) {
    const select = (id: string, label: string, any: string, choices: Array<[string, string]>, value: string) => {
      const control = h(
        "select",
        { id, name: id },
        h("option", { value: "" }, any),
        choices.map(([v, text]) => h("option", { value: v }, text)),
      );
      // A filter from the hash that is not offered (e.g. a plugin no longer running) stays chosen.
      if (value && !choices.some(([v]) => v === value)) control.append(h("option", { value }, value));
      control.value = value;
      return h("div", { class: "field" }, h("label", { for: id }, label), control);
    };
    const formats = new Set([...exportFormats(plugins).map((f) => f.format)]);
    render(
      filterArea,
      h(
        "div",
        { class: "grid" },
        select(
          "jobs-dataset",
          "Dataset",
          "All datasets",
          datasets.map((d) => [d.id, d.name]),
          filters.dataset,
        ),
        select(
          "jobs-status",
          "Status",
          "Any status",
          FILTER_STATUSES.map((s) => [STATUS_NAMES[s], STATUS_NAMES[s]]),
          filters.status,
        ),
        select(
          "jobs-format",
          "Format",
          "Any format",
          [...formats].map((f) => [f, formatChoiceLabel(f)]),
          filters.format,
        ),
      ),
    );
  }

  filterArea.addEventListener("change", () => {
    const value = (id: string) => (filterArea.querySelector(`#${id}`) as HTMLSelectElement | null)?.value ?? "";
    filters = { dataset: value("jobs-dataset"), status: value("jobs-status"), format: value("jobs-format") };
    // The hash keeps the filters (a reload shows the same jobs) without re-rendering the view.
    history.replaceState(null, "", listAddress());
    previousTokens = [];
    pageToken = "";
    void refreshList();
  });

  /** The list's address with its filters: `#/exports?dataset=…&status=…&format=…`. */
  const listAddress = () => {
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v)).toString();
    return `#/exports${query ? `?${query}` : ""}`;
  };

  const statusOf = (name: string) => FILTER_STATUSES.find((s) => STATUS_NAMES[s] === name);

  /** Whether a job belongs in the list as filtered. */
  const matches = (e: Export) =>
    (!filters.dataset || e.datasetId === filters.dataset) &&
    (!filters.status || STATUS_NAMES[e.status] === filters.status) &&
    (!filters.format || e.format === filters.format);

  // ---- the job list ----

  function actionsOf(e: Export): HTMLElement[] {
    const out: HTMLElement[] = [];
    const label = exportLabel(e);
    if (e.status === ExportStatus.COMPLETED) {
      out.push(
        h(
          "button",
          {
            type: "button",
            class: "primary",
            "aria-label": `Download export ${label}`,
            onclick: () => void download(e),
          },
          "Download",
        ),
      );
    }
    if (ACTIVE.includes(e.status) && ctx.session.can("editor")) {
      out.push(
        h(
          "button",
          { type: "button", "aria-label": `Cancel export ${label}`, onclick: () => void cancel(e).then(upsertIf) },
          "Cancel",
        ),
      );
    }
    if (ctx.session.can("admin")) {
      out.push(
        h(
          "button",
          { type: "button", class: "danger", "aria-label": `Delete export ${label}`, onclick: () => void remove(e) },
          "Delete",
        ),
      );
    }
    return out;
  }

  const upsertIf = (e: Export | undefined) => {
    if (e) upsert(e);
  };

  /** Counts the items a running job's filter selects, once, when its plugin gives no total. */
  function estimate(entry: Entry) {
    const e = entry.exp;
    if (estimates.has(e.id) || !ACTIVE.includes(e.status) || (e.progress?.totalItems ?? 0n) > 0n) return;
    estimates.set(e.id, 0);
    ctx.api.items
      .countItems({ datasetId: e.datasetId, ...(e.filter ? { filter: e.filter } : {}) })
      .then((res) => {
        estimates.set(e.id, Number(res.itemCount));
        if (entries.get(e.id) === entry) fillRow(entry);
      })
      .catch(() => undefined);
  }

  function fillRow(entry: Entry) {
    estimate(entry);
    const e = entry.exp;
    entry.row.dataset.status = STATUS_NAMES[e.status] ?? "unknown";
    const dropped = droppedOf(e);
    render(
      entry.row,
      h(
        "td",
        { "data-label": "Export" },
        h("a", { href: `#/exports/${encodeURIComponent(e.id)}`, class: "job-link" }, e.name || "(unnamed)"),
        // Default names already end in the short id.
        e.name.includes(e.id.slice(0, 8))
          ? null
          : h("div", null, h("code", { class: "small muted", title: e.id }, e.id.slice(0, 8))),
      ),
      h("td", { "data-label": "Dataset" }, e.datasetName || e.datasetId),
      h("td", { "data-label": "Format" }, formatName(e.format)),
      h(
        "td",
        { "data-label": "Status" },
        statusBadge(e),
        e.attempts > 1 ? h("span", { class: "small muted" }, ` attempt ${e.attempts}`) : null,
        e.errorMessage ? h("div", { class: "error small job-error" }, e.errorMessage) : null,
        // A completed export that left annotations out is amber, never green, with the reasons first.
        hasLosses(e)
          ? h(
              "details",
              { class: "small export-losses", open: true },
              h(
                "summary",
                null,
                `${count(dropped)} of ${count(e.counts?.receivedAnnotations ?? 0n)} annotations dropped`,
              ),
              h(
                "ul",
                null,
                (e.counts?.dropped ?? []).map((d) => h("li", null, `${d.reason} (${count(d.count)})`)),
              ),
            )
          : null,
        e.formatNotes.length > 0
          ? h(
              "div",
              { class: "small" },
              h(
                "a",
                { href: `#/exports/${encodeURIComponent(e.id)}` },
                `${e.formatNotes.length} note${e.formatNotes.length > 1 ? "s" : ""}`,
              ),
            )
          : null,
      ),
      h("td", { "data-label": "Progress" }, progressOf(e, estimates.get(e.id))),
      h(
        "td",
        { class: "num nowrap", "data-label": "Size" },
        e.status === ExportStatus.COMPLETED ? bytes(e.fileSize) : null,
      ),
      h("td", { class: "small nowrap", "data-label": "Created" }, localTime(e.createTime)),
      h("td", { class: "row-actions" }, actionsOf(e)),
    );
  }

  function ordered() {
    const sorted = [...entries.values()].sort((a, b) => millis(b.exp) - millis(a.exp));
    tbody.replaceChildren(...sorted.map((e) => e.row));
    listNote.hidden = entries.size > 0;
  }

  function upsert(exp: Export) {
    let entry = entries.get(exp.id);
    if (!entry) {
      entry = { exp, row: h("tr", { "data-export-id": exp.id }) };
      entries.set(exp.id, entry);
      fillRow(entry);
      ordered();
    } else {
      entry.exp = exp;
      fillRow(entry);
    }
    if (ACTIVE.includes(exp.status) && visible && !detail) void watch(entry);
  }

  /** Follows one job until it ends; a broken stream is picked up again while the view is open. */
  async function watch(entry: Entry) {
    if (entry.watch) return;
    const abort = new AbortController();
    entry.watch = abort;
    try {
      for await (const res of ctx.api.exports.watchExport({ exportId: entry.exp.id }, { signal: abort.signal })) {
        if (res.export && entries.get(res.export.id) === entry) {
          entry.exp = res.export;
          fillRow(entry);
        }
      }
    } catch {
      // Aborted, or the stream broke: the poll below and the next list refresh take over.
    } finally {
      if (entry.watch === abort) entry.watch = undefined;
    }
    if (!abort.signal.aborted && visible && entries.get(entry.exp.id) === entry && ACTIVE.includes(entry.exp.status)) {
      window.setTimeout(() => {
        if (visible && ACTIVE.includes(entry.exp.status)) void watch(entry);
      }, 2000);
    }
  }

  function stopWatching() {
    for (const entry of entries.values()) entry.watch?.abort();
  }

  async function refreshList() {
    const status = statusOf(filters.status);
    // Filters and pages change faster than answers come: only the newest request's answer is shown.
    const request = ++listRequests;
    try {
      const res = await ctx.api.exports.listExports({
        pageSize: PAGE_SIZE,
        pageToken,
        ...(filters.dataset ? { datasetId: filters.dataset } : {}),
        ...(status !== undefined ? { statuses: [status] } : {}),
        ...(filters.format ? { formats: [filters.format] } : {}),
      });
      if (request !== listRequests) return;
      listError.hidden = true;
      const seen = new Set(res.exports.map((e) => e.id));
      for (const [id, entry] of entries) {
        if (!seen.has(id)) {
          entry.watch?.abort();
          entries.delete(id);
        }
      }
      for (const exp of res.exports) {
        const entry = entries.get(exp.id);
        // A watched job is newer from its stream than from the list.
        if (!entry?.watch) upsert(exp);
      }
      ordered();
      nextToken = res.nextPageToken;
      const first = previousTokens.length * PAGE_SIZE;
      const total = Number(res.totalCount);
      render(
        pageInfo,
        res.exports.length > 0
          ? `${count(first + 1)}–${count(first + res.exports.length)} of ${count(total)} exports`
          : `0 of ${count(total)} exports`,
      );
      render(
        listNote,
        filters.dataset || filters.status || filters.format ? "No exports match these filters." : "No exports yet.",
      );
      newer.disabled = previousTokens.length === 0;
      older.disabled = !nextToken;
    } catch (err) {
      if (request !== listRequests) return;
      render(listError, `Could not load exports: ${messageOf(err)}`);
      listError.hidden = false;
    }
  }

  async function turn(step: 1 | -1) {
    if (step === 1 && nextToken) {
      previousTokens.push(pageToken);
      pageToken = nextToken;
    } else if (step === -1 && previousTokens.length > 0) {
      pageToken = previousTokens.pop() ?? "";
    } else return;
    await refreshList();
    document.getElementById("jobs-title")?.scrollIntoView({ block: "start" });
  }

  function poll() {
    window.clearTimeout(pollTimer);
    pollTimer = window.setTimeout(async () => {
      if (!visible || detail) return;
      await refreshList();
      poll();
    }, POLL_MS);
  }

  // ---- actions (list and job page) ----

  async function download(e: Export, artifactKey = "") {
    try {
      const link = await ctx.api.exports.getExportDownload({ exportId: e.id, artifactKey });
      const a = h("a", { href: link.downloadUrl, download: link.fileName, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      ctx.notify(`Downloading ${link.fileName} (${bytes(link.fileSize)}).`);
    } catch (err) {
      ctx.notify(`Download failed: ${messageOf(err)}`, "error");
    }
  }

  async function cancel(e: Export): Promise<Export | undefined> {
    try {
      const { export: canceled } = await ctx.api.exports.cancelExport({ exportId: e.id });
      return canceled;
    } catch (err) {
      ctx.notify(`Cancel failed: ${messageOf(err)}`, "error");
      return undefined;
    }
  }

  async function remove(e: Export): Promise<boolean> {
    if (!window.confirm(`Delete export ${exportLabel(e)} and its files?`)) return false;
    try {
      await ctx.api.exports.deleteExport({ exportId: e.id });
      const entry = entries.get(e.id);
      entry?.watch?.abort();
      entries.delete(e.id);
      ordered();
      ctx.notify(`Deleted export ${exportLabel(e)}.`);
      return true;
    } catch (err) {
      ctx.notify(`Delete failed: ${messageOf(err)}`, "error");
      return false;
    }
  }

  function leaveDetail() {
    detail?.stop();
    detail = undefined;
    detailArea.replaceChildren();
  }

  function showDetail(id: string) {
    leaveDetail();
    detail = exportDetail(ctx, id, { download, cancel, remove }, listAddress());
    detailId = id;
    detailArea.replaceChildren(detail.element);
  }

  return {
    name: "exports",
    title: "Exports",
    element,
    async show(params) {
      visible = true;
      leaveDetail();
      const id = params.get("id");
      if (id) {
        // One job's page: the list stops following its jobs until it is shown again.
        window.clearTimeout(pollTimer);
        stopWatching();
        listArea.hidden = true;
        showDetail(id);
        return;
      }
      listArea.hidden = false;
      const next: ListFilters = {
        dataset: params.get("dataset") ?? "",
        status: params.get("status") ?? "",
        format: params.get("format") ?? "",
      };
      if (JSON.stringify(next) !== JSON.stringify(filters)) {
        previousTokens = [];
        pageToken = "";
      }
      filters = next;
      await Promise.all([renderForm(filters.dataset), refreshList()]);
      for (const entry of entries.values()) if (ACTIVE.includes(entry.exp.status)) void watch(entry);
      poll();
    },
    hide() {
      visible = false;
      window.clearTimeout(pollTimer);
      stopForm?.();
      stopWatching();
      leaveDetail();
    },
    roleChanged() {
      for (const entry of entries.values()) fillRow(entry);
      if (visible && detail) showDetail(detailId);
      else if (visible) void renderForm(filters.dataset);
    },
  };
}
