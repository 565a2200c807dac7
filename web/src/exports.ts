// New exports (a format picker whose option form comes from the plugin's JSON Schema) and the
// job list, kept live by WatchExport streams, with progress, errors, sizes and downloads.
import { type Export, ExportStatus, type PluginInfo } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx, View } from "./context.ts";
import { bytes, count, h, render, time } from "./dom.ts";
import { type SchemaForm, schemaForm } from "./schema-form.ts";

const POLL_MS = 5000;
const ACTIVE = [ExportStatus.QUEUED, ExportStatus.RUNNING];

const statusName: Record<ExportStatus, string> = {
  [ExportStatus.UNSPECIFIED]: "unknown",
  [ExportStatus.QUEUED]: "queued",
  [ExportStatus.RUNNING]: "running",
  [ExportStatus.COMPLETED]: "completed",
  [ExportStatus.FAILED]: "failed",
  [ExportStatus.CANCELED]: "canceled",
};

interface Entry {
  exp: Export;
  row: HTMLTableRowElement;
  watch?: AbortController | undefined;
}

/** crypto.randomUUID needs a secure context; getRandomValues does not. */
function requestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Annotations received but not written (the format could not carry them), summed over reasons. */
const droppedOf = (e: Export) => (e.counts?.dropped ?? []).reduce((n, d) => n + d.count, 0n);

const millis = (e: Export) => Number(e.createTime?.seconds ?? 0n) * 1000 + (e.createTime?.nanos ?? 0) / 1e6;

export function exportsView(ctx: Ctx): View {
  const formArea = h("div", { class: "panel" });
  const tbody = h("tbody");
  const listNote = h("p", { class: "empty", hidden: true }, "No exports yet.");
  const listError = h("p", { class: "error", hidden: true });
  const element = h(
    "section",
    { class: "view" },
    h("h2", null, "New export"),
    formArea,
    h("h2", { id: "jobs-title" }, "Jobs"),
    listError,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "jobs" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            ["Export", "Dataset", "Format", "Status", "Progress", "Size", "Created", ""].map((t) =>
              h("th", { class: t === "Size" ? "num" : undefined }, t),
            ),
          ),
        ),
        tbody,
      ),
    ),
    listNote,
  );
  const entries = new Map<string, Entry>();
  /** Item counts of jobs whose plugin reports no total: what CountItems says the filter selects. */
  const estimates = new Map<string, number>();
  let visible = false;
  let pollTimer: number | undefined;
  let plugins: PluginInfo[] = [];
  let preselect = "";

  // ---- the form ----

  async function renderForm() {
    let datasets: Awaited<ReturnType<Ctx["datasets"]>>;
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
    const editor = ctx.session.can("editor");
    const dataset = h(
      "select",
      { id: "export-dataset", name: "dataset", required: true },
      datasets.map((d) => h("option", { value: d.id }, `${d.name} (${count(d.itemCount)} items)`)),
    );
    if (preselect && datasets.some((d) => d.id === preselect)) dataset.value = preselect;
    const format = h(
      "select",
      { id: "export-format", name: "format", required: true },
      [...plugins]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((p) =>
          h(
            "optgroup",
            { label: `${p.name} ${p.version}` },
            p.formats.map((f) => h("option", { value: f }, f)),
          ),
        ),
    );
    const name = h("input", { id: "export-name", name: "name", type: "text", placeholder: "optional" });
    const allStatuses = h("input", { id: "export-all-statuses", type: "checkbox" });
    const saveOriginal = h("input", { id: "export-save-original", type: "checkbox", checked: true });
    const pluginNote = h("p", { class: "muted small", id: "plugin-description" });
    const optionsBox = h("fieldset", { class: "options", id: "export-options" });
    let options: SchemaForm = schemaForm(undefined, "opt");
    const pickFormat = () => {
      const plugin = plugins.find((p) => p.formats.includes(format.value));
      options = schemaForm(plugin?.optionsSchema, `opt-${format.value}`);
      render(pluginNote, plugin ? `${plugin.name} ${plugin.version}: ${plugin.description || "no description"}` : "");
      render(optionsBox, h("legend", null, `Options of ${format.value}`), options.element);
    };
    format.addEventListener("change", pickFormat);
    pickFormat();
    const problem = h("p", { class: "error", role: "alert", hidden: true });
    const submit = h("button", { type: "submit", class: "primary", disabled: !editor }, "Start export");
    const form = h(
      "form",
      {
        id: "export-form",
        novalidate: true,
        onsubmit: async (event: Event) => {
          event.preventDefault();
          problem.hidden = true;
          const values = options.values();
          if (!values.ok) {
            render(problem, values.error);
            problem.hidden = false;
            return;
          }
          submit.disabled = true;
          try {
            const { export: created } = await ctx.api.exports.createExport({
              requestId: requestId(),
              datasetId: dataset.value,
              format: format.value,
              name: name.value.trim(),
              saveOriginalFile: saveOriginal.checked,
              options: values.options,
              ...(allStatuses.checked ? { filter: { allStatuses: true } } : {}),
            });
            if (created) {
              ctx.notify(`Export ${created.name || created.id} queued.`);
              upsert(created);
              name.value = "";
            }
          } catch (err) {
            render(problem, `Could not start the export: ${messageOf(err)}`);
            problem.hidden = false;
          } finally {
            submit.disabled = !ctx.session.can("editor");
          }
        },
      },
      h(
        "div",
        { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "export-dataset" }, "Dataset"), dataset),
        h("div", { class: "field" }, h("label", { for: "export-format" }, "Format"), format, pluginNote),
        h("div", { class: "field" }, h("label", { for: "export-name" }, "Name"), name),
      ),
      h(
        "div",
        { class: "field field-inline" },
        h("label", { for: "export-all-statuses" }, allStatuses, " All item statuses"),
        h("small", { class: "help" }, "Otherwise approved items only."),
      ),
      h(
        "div",
        { class: "field field-inline" },
        h("label", { for: "export-save-original" }, saveOriginal, " Copy the original media files"),
      ),
      optionsBox,
      problem,
      h(
        "div",
        { class: "actions" },
        submit,
        editor ? null : h("span", { class: "muted" }, ` Your role (${ctx.session.role}) may not start exports.`),
      ),
    );
    render(formArea, form);
  }

  // ---- the job list ----

  function actionsOf(e: Export): HTMLElement[] {
    const out: HTMLElement[] = [];
    if (e.status === ExportStatus.COMPLETED) {
      out.push(h("button", { type: "button", class: "primary", onclick: () => void download(e) }, "Download"));
    }
    if (ACTIVE.includes(e.status) && ctx.session.can("editor")) {
      out.push(h("button", { type: "button", onclick: () => void cancel(e) }, "Cancel"));
    }
    if (ctx.session.can("admin")) {
      out.push(h("button", { type: "button", class: "danger", onclick: () => void remove(e) }, "Delete"));
    }
    return out;
  }

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

  function progressOf(e: Export): HTMLElement {
    const total = Number(e.progress?.totalItems ?? 0n) || (estimates.get(e.id) ?? 0);
    const done = Number(e.progress?.processedItems ?? 0n);
    if (e.status === ExportStatus.COMPLETED) {
      const items = Number(e.counts?.itemCount ?? BigInt(done));
      // What the files hold; "of N" when the format could not carry all N annotations received.
      const written = count(e.counts?.annotationCount ?? 0n);
      const annotations =
        droppedOf(e) > 0n
          ? `${written} of ${count(e.counts?.receivedAnnotations ?? 0n)} annotations`
          : `${written} annotations`;
      return h(
        "div",
        { class: "progress" },
        h("progress", { max: 1, value: 1, "aria-label": "progress" }),
        h("span", { class: "small" }, `${count(items)} items, ${annotations}`),
      );
    }
    const bar =
      total > 0
        ? h("progress", { max: total, value: Math.min(done, total), "aria-label": "progress" })
        : h("progress", { "aria-label": "progress" });
    if (!ACTIVE.includes(e.status)) bar.classList.add("stopped");
    return h(
      "div",
      { class: "progress" },
      bar,
      h(
        "span",
        { class: "small" },
        total > 0 ? `${count(done)} / ${count(total)} items` : done > 0 ? `${count(done)} items` : "",
      ),
    );
  }

  function fillRow(entry: Entry) {
    estimate(entry);
    const e = entry.exp;
    const status = statusName[e.status] ?? "unknown";
    entry.row.dataset.status = status;
    const dropped = droppedOf(e);
    // A completed export that left annotations out is amber, never green, with the reasons first.
    const losses = e.status === ExportStatus.COMPLETED && dropped > 0n;
    render(
      entry.row,
      h(
        "td",
        null,
        h("div", null, e.name || "(unnamed)"),
        // Default names already end in the short id.
        e.name.includes(e.id.slice(0, 8)) ? null : h("code", { class: "small muted", title: e.id }, e.id.slice(0, 8)),
      ),
      h("td", null, e.datasetName || e.datasetId),
      h("td", null, e.format),
      h(
        "td",
        null,
        losses
          ? h("span", { class: "status status-losses" }, "completed with losses")
          : h("span", { class: `status status-${status}` }, status),
        e.attempts > 1 ? h("span", { class: "small muted" }, ` attempt ${e.attempts}`) : null,
        e.errorMessage ? h("div", { class: "error small job-error" }, e.errorMessage) : null,
        losses
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
              "details",
              { class: "small" },
              h("summary", null, `${e.formatNotes.length} note${e.formatNotes.length > 1 ? "s" : ""}`),
              h(
                "ul",
                null,
                e.formatNotes.map((n) => h("li", null, n)),
              ),
            )
          : null,
      ),
      h("td", null, progressOf(e)),
      h("td", { class: "num nowrap" }, e.status === ExportStatus.COMPLETED ? bytes(e.fileSize) : ""),
      h("td", { class: "small nowrap" }, time(e.createTime)),
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
    if (ACTIVE.includes(exp.status) && visible) void watch(entry);
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

  async function refreshList() {
    try {
      const { exports } = await ctx.api.exports.listExports({ pageSize: 30 });
      listError.hidden = true;
      const seen = new Set(exports.map((e) => e.id));
      for (const [id, entry] of entries) {
        if (!seen.has(id) && !entry.watch) entries.delete(id);
      }
      for (const exp of exports) {
        const entry = entries.get(exp.id);
        // A watched job is newer from its stream than from the list.
        if (!entry?.watch) upsert(exp);
      }
      ordered();
    } catch (err) {
      render(listError, `Could not load exports: ${messageOf(err)}`);
      listError.hidden = false;
    }
  }

  function poll() {
    window.clearTimeout(pollTimer);
    pollTimer = window.setTimeout(async () => {
      if (!visible) return;
      await refreshList();
      poll();
    }, POLL_MS);
  }

  async function download(e: Export) {
    try {
      const link = await ctx.api.exports.getExportDownload({ exportId: e.id });
      const a = h("a", { href: link.downloadUrl, download: link.fileName, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      ctx.notify(`Downloading ${link.fileName} (${bytes(link.fileSize)}).`);
    } catch (err) {
      ctx.notify(`Download failed: ${messageOf(err)}`, "error");
    }
  }

  async function cancel(e: Export) {
    try {
      const { export: canceled } = await ctx.api.exports.cancelExport({ exportId: e.id });
      if (canceled) upsert(canceled);
    } catch (err) {
      ctx.notify(`Cancel failed: ${messageOf(err)}`, "error");
    }
  }

  async function remove(e: Export) {
    if (!window.confirm(`Delete export ${e.name || e.id} and its files?`)) return;
    try {
      await ctx.api.exports.deleteExport({ exportId: e.id });
      const entry = entries.get(e.id);
      entry?.watch?.abort();
      entries.delete(e.id);
      ordered();
      ctx.notify(`Deleted export ${e.name || e.id}.`);
    } catch (err) {
      ctx.notify(`Delete failed: ${messageOf(err)}`, "error");
    }
  }

  return {
    name: "exports",
    title: "Exports",
    element,
    async show(params) {
      visible = true;
      preselect = params.get("dataset") ?? preselect;
      await Promise.all([renderForm(), refreshList()]);
      poll();
    },
    hide() {
      visible = false;
      window.clearTimeout(pollTimer);
      for (const entry of entries.values()) entry.watch?.abort();
    },
    roleChanged() {
      for (const entry of entries.values()) fillRow(entry);
      if (visible) void renderForm();
    },
  };
}
