// The new-export form: dataset, format (by name, its options form from the plugin's JSON Schema),
// the filter, the media switch and a live count of what the choice selects. Other modules may add
// sections (e.g. a version picker) through `sections`.
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CreateExportRequestSchema, Dataset, Export, PluginInfo } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx } from "./context.ts";
import { count, h, render } from "./dom.ts";
import { liveCount } from "./export-count.ts";
import { filterFields } from "./export-filter.ts";
import { exportFormats, formatChoiceLabel } from "./export-formats.ts";
import { type SchemaForm, schemaForm } from "./schema-form.ts";

export type CreateExportInit = MessageInitShape<typeof CreateExportRequestSchema>;

/** A part of the form another module adds: its controls, and what it sets on the request. */
export interface ExportFormSection {
  element: HTMLElement;
  /** Sets this section's fields (e.g. versionId) on the request; returns an error message instead when invalid. */
  apply(request: CreateExportInit): string | undefined;
  /** The chosen dataset changed. */
  datasetChanged?(dataset: Dataset): void;
}

export interface ExportFormOptions {
  datasets: Dataset[];
  /** Exporter plugins (with at least one format). */
  plugins: PluginInfo[];
  /** The dataset chosen first (id). */
  preselect?: string;
  sections?: ExportFormSection[];
  created(exp: Export): void;
}

/** crypto.randomUUID needs a secure context; getRandomValues does not. */
function requestId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function exportForm(ctx: Ctx, opts: ExportFormOptions): { element: HTMLFormElement; stop(): void } {
  const { datasets, plugins } = opts;
  const sections = opts.sections ?? [];
  const editor = ctx.session.can("editor");
  const dataset = h(
    "select",
    { id: "export-dataset", name: "dataset", required: true },
    datasets.map((d) => h("option", { value: d.id }, `${d.name} (${count(d.itemCount)} items)`)),
  );
  if (opts.preselect && datasets.some((d) => d.id === opts.preselect)) dataset.value = opts.preselect;
  const formats = exportFormats(plugins);
  const format = h(
    "select",
    { id: "export-format", name: "format", required: true },
    formats.map((f) => h("option", { value: f.format }, formatChoiceLabel(f.format))),
  );
  const name = h("input", { id: "export-name", name: "name", type: "text", placeholder: "optional" });
  const saveOriginal = h("input", { id: "export-save-original", type: "checkbox", role: "switch", checked: true });
  const pluginNote = h("p", { class: "muted small", id: "plugin-description" });
  const optionsBox = h("fieldset", { class: "options", id: "export-options" });
  const counter = liveCount(ctx);
  const filter = filterFields(() => recount());
  let options: SchemaForm = schemaForm(undefined, "opt");

  const chosenDataset = () => datasets.find((d) => d.id === dataset.value);
  /** The request the form would send now, or what is wrong with it. */
  const request = (): { ok: true; request: CreateExportInit } | { ok: false; error: string } => {
    const selected = filter.filter();
    if (!selected.ok) return selected;
    const values = options.values();
    if (!values.ok) return values;
    const out: CreateExportInit = {
      datasetId: dataset.value,
      format: format.value,
      name: name.value.trim(),
      saveOriginalFile: saveOriginal.checked,
      options: values.options,
      filter: selected.filter,
    };
    for (const section of sections) {
      const error = section.apply(out);
      if (error) return { ok: false, error };
    }
    return { ok: true, request: out };
  };
  function recount() {
    const current = request();
    if (!current.ok) {
      counter.update(undefined);
      return;
    }
    const { filter: selected, versionId } = current.request;
    counter.update({
      datasetId: dataset.value,
      format: format.value,
      ...(selected ? { filter: selected } : {}),
      ...(versionId ? { versionId } : {}),
    });
  }
  const pickDataset = () => {
    const d = chosenDataset();
    filter.setCategories(d?.categories ?? []);
    if (d) for (const section of sections) section.datasetChanged?.(d);
    recount();
  };
  const pickFormat = () => {
    const plugin = formats.find((f) => f.format === format.value)?.plugin;
    options = schemaForm(plugin?.optionsSchema, `opt-${format.value}`);
    render(pluginNote, plugin ? `${plugin.name} ${plugin.version}: ${plugin.description || "no description"}` : "");
    render(optionsBox, h("legend", null, `Options of ${format.value}`), options.element);
    recount();
  };
  dataset.addEventListener("change", pickDataset);
  format.addEventListener("change", pickFormat);
  optionsBox.addEventListener("change", recount);
  for (const section of sections) section.element.addEventListener("change", recount);

  const problem = h("p", { class: "error", role: "alert", hidden: true });
  const submit = h("button", { type: "submit", class: "primary", disabled: !editor }, "Start export");
  const element = h(
    "form",
    {
      id: "export-form",
      novalidate: true,
      onsubmit: async (event: Event) => {
        event.preventDefault();
        problem.hidden = true;
        const current = request();
        if (!current.ok) {
          render(problem, current.error);
          problem.hidden = false;
          return;
        }
        submit.disabled = true;
        try {
          const { export: created } = await ctx.api.exports.createExport({
            requestId: requestId(),
            ...current.request,
          });
          if (created) {
            ctx.notify(`Export ${created.name || created.id} queued.`);
            opts.created(created);
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
    sections.map((s) => s.element),
    filter.element,
    h(
      "div",
      { class: "field field-inline" },
      h("label", { for: "export-save-original" }, saveOriginal, " Copy the original media files"),
      h(
        "small",
        { class: "help" },
        "On: images and videos go into the export beside the annotations. Off: annotations only (smaller).",
      ),
    ),
    optionsBox,
    counter.element,
    problem,
    h(
      "div",
      { class: "actions" },
      submit,
      editor ? null : h("span", { class: "muted" }, ` Your role (${ctx.session.role}) may not start exports.`),
    ),
  );
  pickFormat();
  pickDataset();
  return { element, stop: () => counter.stop() };
}
