// Imports of annotation files and other tools' datasets: a preview (counts, conflicts,
// line-numbered warnings and errors, every annotation's fate) before committing, then the import
// itself, and the import history. The two uploads are the multipart REST routes; browsers cannot
// stream a request to ImportService. Formats are the record formats plus the importer plugins'.
import { ImportStatus, type PluginInfo } from "@labelport/sdk/contracts";
import { type ImportAccountingJson, type ImportResult, messageOf, type PreviewResult } from "./api.ts";
import type { Ctx, View } from "./context.ts";
import { bytes, count, h, render, time } from "./dom.ts";
import { importFormatChoices } from "./import-formats.ts";
import { type SchemaForm, schemaForm } from "./schema-form.ts";

/** What the file input offers: archives and the annotation files the formats read. */
const ACCEPT = ".zip,.json,.jsonl,.ndjson,.xml,.csv,application/zip,application/json";

const CHOICES = {
  duplicateIds: ["skip", "overwrite", "merge", "fail"],
  overlappingFrames: ["merge", "skip", "overwrite", "fail"],
  missingDependencies: ["skip", "create", "fail"],
} as const;

const statusName: Record<ImportStatus, string> = {
  [ImportStatus.UNSPECIFIED]: "unknown",
  [ImportStatus.RUNNING]: "running",
  [ImportStatus.COMPLETED]: "completed",
  [ImportStatus.FAILED]: "failed",
  [ImportStatus.ROLLED_BACK]: "rolled back",
};

/** How an outcome reads, and its chip class: losses are amber, never the green of completed. */
const OUTCOMES: Record<string, { label: string; chip: string }> = {
  completed: { label: "completed", chip: "status-completed" },
  completed_with_losses: { label: "completed with losses", chip: "status-losses" },
  failed: { label: "failed", chip: "status-failed" },
};

const HISTORY_COLUMNS = ["When", "File", "Dataset", "Status", "Imported", "Skipped", "Dropped", "By", "Problem"];

/** "Line 3: message" → [3, "message"]. */
function splitLine(text: string): [number | undefined, string] {
  const match = /^Line (\d+): ([\s\S]*)$/.exec(text);
  return match ? [Number(match[1]), match[2] ?? ""] : [undefined, text];
}

function select(id: string, values: readonly string[]): HTMLSelectElement {
  return h(
    "select",
    { id, name: id },
    values.map((v) => h("option", { value: v }, v)),
  );
}

export function importsView(ctx: Ctx): View {
  const formArea = h("div", { class: "panel" });
  const result = h("div", { id: "import-result", "aria-live": "polite" });
  const history = h("div", { class: "table-wrap", id: "import-history" });
  const element = h(
    "section",
    { class: "view", "aria-labelledby": "imports-title" },
    h("h2", { id: "imports-title" }, "Import annotations"),
    formArea,
    result,
    h("h2", null, "Import history"),
    history,
  );

  async function renderForm() {
    let formatsProblem = "";
    const [datasets, plugins] = await Promise.all([
      ctx.datasets().catch(() => []),
      ctx.api.exports.listFormats({}).then(
        (r) => r.plugins,
        (err: unknown): PluginInfo[] => {
          formatsProblem = `Only the record formats: could not list the importer plugins (${messageOf(err)}).`;
          return [];
        },
      ),
    ]);
    const editor = ctx.session.can("editor");
    const dataset = h(
      "select",
      { id: "import-dataset" },
      h("option", { value: "" }, "default (created on first import)"),
      datasets.map((d) => h("option", { value: d.name }, d.name)),
    );
    const { records, importers } = importFormatChoices(plugins);
    const choices = [...records, ...importers];
    const format = h(
      "select",
      { id: "import-format" },
      h(
        "optgroup",
        { label: "Labelport records" },
        records.map((c) => h("option", { value: c.format }, c.label)),
      ),
      importers.length > 0
        ? h(
            "optgroup",
            { label: "Datasets (importer plugins)" },
            importers.map((c) => h("option", { value: c.format }, c.label)),
          )
        : null,
    );
    const formatNote = h("p", { class: "muted small", id: "import-format-note" });
    const importerBox = h("fieldset", { class: "options", id: "import-importer-options", hidden: true });
    let importerOptions: SchemaForm = schemaForm(undefined, "import-opt");
    const file = h("input", { id: "import-file", type: "file", accept: ACCEPT });
    const duplicateIds = select("import-duplicate-ids", CHOICES.duplicateIds);
    const overlappingFrames = select("import-overlapping-frames", CHOICES.overlappingFrames);
    const missingDependencies = select("import-missing-dependencies", CHOICES.missingDependencies);
    const strictMode = h("input", { id: "import-strict", type: "checkbox" });
    const requireKeyframes = h("input", { id: "import-require-keyframes", type: "checkbox", checked: true });
    const atomic = h("input", { id: "import-atomic", type: "checkbox", checked: true });
    const previewButton = h("button", { type: "submit", class: "primary", disabled: !editor }, "Preview");
    const commitButton = h("button", { type: "button", id: "import-commit", disabled: true }, "Import");
    const inputs = [
      dataset,
      format,
      file,
      duplicateIds,
      overlappingFrames,
      missingDependencies,
      strictMode,
      requireKeyframes,
      atomic,
    ];

    const overlappingField = h(
      "div",
      { class: "field" },
      h("label", { for: overlappingFrames.id }, "Overlapping frames"),
      overlappingFrames,
    );
    const requireKeyframesField = h(
      "div",
      { class: "field field-inline" },
      h("label", { for: requireKeyframes.id }, requireKeyframes, " Require keyframes"),
    );
    const missingLabel = h("label", { for: missingDependencies.id });
    const chosenFormat = () => choices.find((c) => c.format === format.value);
    // The chosen format decides the importer's own options and which record options apply.
    const pickFormat = () => {
      const choice = chosenFormat();
      const schema = choice?.plugin?.optionsSchema;
      importerOptions = schemaForm(schema, `import-opt-${format.value}`);
      const properties = schema?.properties;
      importerBox.hidden = !(typeof properties === "object" && properties && Object.keys(properties).length > 0);
      render(importerBox, h("legend", null, `Options of ${choice?.label ?? format.value}`), importerOptions.element);
      const plugin = choice?.plugin;
      render(
        formatNote,
        plugin ? `${plugin.name} ${plugin.version}: ${plugin.description || "no description"}` : "Read by the server.",
      );
      // Video records refer to videos and personas; items to categories.
      render(missingLabel, choice?.video ? "Missing videos or personas" : "Missing categories");
      overlappingField.hidden = !choice?.video;
      requireKeyframesField.hidden = !choice?.video;
    };
    format.addEventListener("change", pickFormat);
    pickFormat();

    /** The request the inputs make, or what is missing or wrong in them. */
    const formData = (): FormData | string => {
      const chosen = file.files?.[0];
      if (!chosen) return "Choose a file first.";
      const ownOptions = importerOptions.values();
      if (!ownOptions.ok) return ownOptions.error;
      const data = new FormData();
      data.append("file", chosen, chosen.name);
      data.append(
        "options",
        JSON.stringify({
          conflictResolution: {
            duplicateIds: duplicateIds.value,
            overlappingFrames: overlappingFrames.value,
            missingDependencies: missingDependencies.value,
          },
          validation: { strictMode: strictMode.checked, requireKeyframes: requireKeyframes.checked },
          transaction: { atomic: atomic.checked },
        }),
      );
      data.append("format", format.value);
      if (chosenFormat()?.plugin) data.append("importerOptions", JSON.stringify(ownOptions.options));
      if (dataset.value) data.append("datasetId", dataset.value);
      return data;
    };
    // A preview is good for exactly the inputs it was made with.
    for (const input of [...inputs, importerBox]) {
      input.addEventListener("change", () => {
        commitButton.disabled = true;
      });
    }

    const form = h(
      "form",
      {
        id: "import-form",
        onsubmit: async (event: Event) => {
          event.preventDefault();
          const data = formData();
          if (typeof data === "string") {
            render(result, h("p", { class: "error" }, data));
            return;
          }
          previewButton.disabled = true;
          commitButton.disabled = true;
          render(result, h("p", { class: "muted" }, "Checking the file…"));
          try {
            const preview = await ctx.api.previewImport(data);
            render(result, previewPanel(preview, file.files?.[0]));
            commitButton.disabled = !ctx.session.can("editor");
          } catch (err) {
            render(result, h("p", { class: "error" }, `Preview failed: ${messageOf(err)}`));
          } finally {
            previewButton.disabled = !ctx.session.can("editor");
          }
        },
      },
      h(
        "div",
        { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "import-file" }, "File"), file),
        h("div", { class: "field" }, h("label", { for: "import-format" }, "Format"), format, formatNote),
        h("div", { class: "field" }, h("label", { for: "import-dataset" }, "Dataset"), dataset),
      ),
      formatsProblem ? h("p", { class: "error small" }, formatsProblem) : null,
      importerBox,
      h(
        "fieldset",
        { class: "options" },
        h("legend", null, "Options"),
        h(
          "div",
          { class: "grid" },
          h("div", { class: "field" }, h("label", { for: duplicateIds.id }, "Duplicate IDs"), duplicateIds),
          overlappingField,
          h("div", { class: "field" }, missingLabel, missingDependencies),
        ),
        h(
          "div",
          { class: "field field-inline" },
          h("label", { for: strictMode.id }, strictMode, " Strict mode"),
          h("small", { class: "help" }, "Warnings fail the line too."),
        ),
        requireKeyframesField,
        h(
          "div",
          { class: "field field-inline" },
          h("label", { for: atomic.id }, atomic, " Atomic"),
          h("small", { class: "help" }, "All lines or none: any error rolls the whole import back."),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        previewButton,
        " ",
        commitButton,
        editor ? null : h("span", { class: "muted" }, ` Your role (${ctx.session.role}) may not import.`),
      ),
    );
    commitButton.addEventListener("click", async () => {
      const data = formData();
      if (typeof data === "string") {
        result.prepend(h("p", { class: "error" }, data));
        return;
      }
      commitButton.disabled = true;
      try {
        const done = await ctx.api.commitImport(data);
        result.prepend(commitPanel(done));
        const dropped = done.annotations.dropped;
        ctx.notify(
          done.status === "completed"
            ? "Import committed."
            : done.status === "completed_with_losses"
              ? `Import committed, but ${count(dropped)} annotation${dropped === 1 ? " was" : "s were"} dropped.`
              : "Import failed: nothing was written.",
          done.status === "completed" ? "info" : "error",
        );
        await Promise.all([renderHistory(), ctx.datasets(true).catch(() => undefined)]);
      } catch (err) {
        result.prepend(h("p", { class: "error" }, `Import failed: ${messageOf(err)}`));
        await renderHistory();
      }
    });
    render(formArea, form);
  }

  async function renderHistory() {
    try {
      const [{ imports, total }, datasets] = await Promise.all([
        ctx.api.imports.listImports({ limit: 20 }),
        ctx.datasets().catch(() => []),
      ]);
      const names = new Map(datasets.map((d) => [d.id, d.name]));
      if (imports.length === 0) {
        render(history, h("p", { class: "empty" }, "No imports yet."));
        return;
      }
      render(
        history,
        h(
          "table",
          { class: "stack" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              HISTORY_COLUMNS.map((t) =>
                h(
                  "th",
                  { scope: "col", class: ["Imported", "Skipped", "Dropped"].includes(t) ? "num" : undefined },
                  t === "Problem" ? h("span", { class: "sr-only" }, t) : t,
                ),
              ),
            ),
          ),
          h(
            "tbody",
            null,
            imports.map((r) => {
              const outcome = OUTCOMES[r.outcome];
              const status = outcome?.label ?? statusName[r.status] ?? "unknown";
              const chip = outcome?.chip ?? `status-${status.replace(" ", "-")}`;
              // Annotations stored (written or merged); entries from before accounting count their records.
              const a = r.annotations;
              return h(
                "tr",
                { "data-import-id": r.id },
                h("td", { class: "small nowrap", "data-label": "When" }, time(r.createTime)),
                h("td", { "data-label": "File" }, r.fileName, h("div", { class: "small muted" }, bytes(r.fileSize))),
                h("td", { "data-label": "Dataset" }, names.get(r.datasetId) ?? r.datasetId),
                h("td", { "data-label": "Status" }, h("span", { class: `status ${chip}` }, status)),
                h("td", { class: "num", "data-label": "Imported" }, count(a ? a.written + a.merged : r.itemsImported)),
                h("td", { class: "num", "data-label": "Skipped" }, count(a ? a.skipped : r.itemsSkipped)),
                h(
                  "td",
                  { class: a && a.dropped > 0n ? "num dropped" : "num", "data-label": "Dropped" },
                  a ? count(a.dropped) : "—",
                ),
                h("td", { "data-label": "By" }, r.actor),
                r.errorMessage
                  ? h("td", { class: "small error", "data-label": "Problem" }, r.errorMessage)
                  : h("td", { class: "small" }),
              );
            }),
          ),
        ),
        total > BigInt(imports.length)
          ? h("p", { class: "muted small" }, `Latest ${imports.length} of ${count(total)} imports.`)
          : null,
      );
    } catch (err) {
      render(history, h("p", { class: "error" }, `Could not load the import history: ${messageOf(err)}`));
    }
  }

  return {
    name: "imports",
    title: "Imports",
    element,
    async show() {
      await Promise.all([renderForm(), renderHistory()]);
    },
    hide() {},
    roleChanged() {
      void renderForm();
    },
  };
}

function issueList(title: string, issues: string[], kind: "warning" | "error"): HTMLElement | null {
  if (issues.length === 0) return null;
  return h(
    "div",
    { class: `issues issues-${kind}` },
    h("h4", null, `${title} (${issues.length})`),
    h(
      "table",
      { class: "compact stack" },
      h(
        "thead",
        null,
        h("tr", null, h("th", { scope: "col", class: "num" }, "Line"), h("th", { scope: "col" }, "Message")),
      ),
      h(
        "tbody",
        null,
        issues.map((text) => {
          const [line, message] = splitLine(text);
          return h(
            "tr",
            null,
            h("td", { class: "num", "data-label": "Line" }, line ?? "—"),
            h("td", { "data-label": "Message" }, message),
          );
        }),
      ),
    ),
  );
}

function previewPanel(p: PreviewResult, file: File | undefined): HTMLElement {
  const c = p.counts;
  return h(
    "div",
    { class: "panel preview", id: "import-preview" },
    h("h3", null, `Preview${file ? ` of ${file.name} (${bytes(file.size)})` : ""}`),
    accountingBlock(p, true),
    h(
      "dl",
      { class: "counts" },
      h("dt", null, "Annotations"),
      h("dd", null, count(c.annotations)),
      // Keyframes are the video records'; item uploads (any importer's) have none.
      c.items === undefined || c.totalKeyframes > 0
        ? [
            h("dt", null, "Keyframes"),
            h("dd", null, count(c.totalKeyframes)),
            h("dt", null, "Single-keyframe tracks"),
            h("dd", null, count(c.singleKeyframeSequences)),
          ]
        : null,
      c.items !== undefined ? [h("dt", null, "Items"), h("dd", null, count(c.items))] : null,
    ),
    p.conflicts.length > 0
      ? h(
          "div",
          { class: "issues issues-conflict" },
          h("h4", null, `Conflicts (${p.conflicts.length})`),
          h(
            "table",
            { class: "compact stack" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ["Line", "Type", "Annotation", "Existing", "Message"].map((t) =>
                  h("th", { scope: "col", class: t === "Line" ? "num" : undefined }, t),
                ),
              ),
            ),
            h(
              "tbody",
              null,
              p.conflicts.map((x) =>
                h(
                  "tr",
                  null,
                  h("td", { class: "num", "data-label": "Line" }, x.line ?? "—"),
                  h("td", { "data-label": "Type" }, x.type.replace(/_/g, " ")),
                  h("td", { "data-label": "Annotation" }, h("code", null, x.annotationId)),
                  h(
                    "td",
                    { "data-label": "Existing" },
                    x.existingAnnotationId ? h("code", null, x.existingAnnotationId) : "",
                  ),
                  h("td", { "data-label": "Message" }, x.message),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No conflicts."),
    issueList("Warnings", p.warnings, "warning"),
    issueList("Errors", p.errors, "error"),
    p.omitted
      ? h(
          "p",
          { class: "muted small" },
          `Not listed: ${p.omitted.warnings} warnings, ${p.omitted.errors} errors, ${p.omitted.conflicts} conflicts.`,
        )
      : null,
    h("p", { class: "muted small" }, "Nothing has been written yet. Import commits with the options above."),
  );
}

/**
 * The outcome and every annotation's fate, losses first: how many were dropped and why, then how
 * the rest went, what changed on the way, and the notes.
 */
function accountingBlock(r: ImportAccountingJson, preview: boolean): HTMLElement {
  const a = r.annotations;
  const outcome = OUTCOMES[r.status] ?? { label: r.status, chip: "status-failed" };
  const reasons = Object.entries(a.droppedByReason).sort((x, y) => y[1] - x[1]);
  const changed = Object.entries(a.changed);
  return h(
    "div",
    { class: "accounting", id: preview ? "import-preview-accounting" : "import-commit-accounting" },
    a.dropped > 0
      ? h(
          "div",
          { class: "losses" },
          h(
            "h4",
            null,
            `${count(a.dropped)} of ${count(a.received)} annotations ${preview ? "would be" : "were"} dropped`,
          ),
          h(
            "ul",
            { class: "loss-reasons" },
            reasons.map(([reason, n]) => h("li", null, h("strong", null, count(n)), ` ${reason}`)),
          ),
        )
      : null,
    h(
      "p",
      null,
      h("span", { class: `status ${outcome.chip}` }, outcome.label),
      ` ${count(a.received)} annotations: ${count(a.written)} written, ${count(a.merged)} merged, `,
      `${count(a.skipped)} skipped as asked, ${count(a.dropped)} dropped.`,
    ),
    changed.length > 0
      ? h("p", { class: "small" }, `Changed: ${changed.map(([reason, n]) => `${count(n)} ${reason}`).join(", ")}.`)
      : null,
    r.notes.length > 0
      ? h(
          "ul",
          { class: "notes small muted" },
          r.notes.map((n) => h("li", null, n)),
        )
      : null,
  );
}

const COMMIT_TITLE: Record<ImportResult["status"], [string, string]> = {
  completed: ["ok", "Imported"],
  completed_with_losses: ["losses", "Imported with losses"],
  failed: ["failed", "Import failed"],
};

function commitPanel(r: ImportResult): HTMLElement {
  const s = r.summary;
  const asText = (i: { line: number; message: string }) => (i.line > 0 ? `Line ${i.line}: ${i.message}` : i.message);
  const [kind, title] = COMMIT_TITLE[r.status] ?? ["failed", "Import failed"];
  return h(
    "div",
    { class: `panel commit ${kind}`, id: "import-commit-result" },
    h("h3", null, title),
    accountingBlock(r, false),
    h(
      "p",
      null,
      // Lines are the video records'; an item upload (any importer's) counts items.
      s.importedItems.items === undefined
        ? `${count(s.processedLines)} of ${count(s.totalLines)} lines processed.`
        : `${count(s.importedItems.items)} items imported.`,
      r.message ? h("span", { class: "error" }, ` ${r.message}`) : null,
    ),
    h("p", { class: "small muted" }, "Import ID ", h("code", null, r.importId)),
    issueList("Warnings", r.warnings.map(asText), "warning"),
    issueList("Errors", r.errors.map(asText), "error"),
  );
}
