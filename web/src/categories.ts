// A dataset's page: its categories by name with their annotation counts (add, rename or change the
// supercategory, delete an unused one) and a bar chart of annotations per category.
import type { Dataset } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx } from "./context.ts";
import { count, h, render } from "./dom.ts";

/** Categories counted at most (one CountItems call each). */
const MAX_COUNTED = 40;

export interface CategoriesPanel {
  readonly element: HTMLElement;
  show(dataset: Dataset): Promise<void>;
  roleChanged(): void;
}

/** `changed` gets the dataset as the server returned it after an edit. */
export function categoriesPanel(ctx: Ctx, changed: (dataset: Dataset) => Promise<void>): CategoriesPanel {
  const element = h("section", { class: "panel", id: "dataset-detail", "aria-labelledby": "dataset-detail-title" });
  let dataset: Dataset | undefined;
  /** Annotations per category id; missing while counting or beyond MAX_COUNTED. */
  let counts = new Map<number, number>();
  let countProblem = "";
  let editing: number | undefined;
  let run = 0;

  async function show(next: Dataset) {
    if (dataset?.id !== next.id) editing = undefined;
    dataset = next;
    counts = new Map();
    countProblem = "";
    renderAll();
    await countAnnotations();
  }

  async function countAnnotations() {
    const current = dataset;
    if (!current) return;
    const mine = ++run;
    const counted = current.categories.slice(0, MAX_COUNTED);
    try {
      const answers = await Promise.all(
        counted.map((c) =>
          ctx.api.items.countItems({ datasetId: current.id, filter: { allStatuses: true, categoryIds: [c.id] } }),
        ),
      );
      if (mine !== run) return;
      counts = new Map(counted.map((c, i) => [c.id, Number(answers[i]?.annotationCount ?? 0)]));
    } catch (err) {
      if (mine !== run) return;
      countProblem = `Could not count annotations: ${messageOf(err)}`;
    }
    renderAll();
  }

  /** Sends one edit; the answer is the dataset with its new category list. */
  async function apply(action: () => Promise<{ dataset?: Dataset | undefined }>, done: string): Promise<boolean> {
    try {
      const res = await action();
      if (res.dataset && dataset) {
        // The answer carries no counts: keep the list's.
        const updated = { ...dataset, categories: res.dataset.categories };
        ctx.notify(done);
        editing = undefined;
        await changed(updated);
        await show(updated);
      }
      return true;
    } catch (err) {
      ctx.notify(messageOf(err), "error");
      return false;
    }
  }

  function renderAll() {
    if (!dataset) {
      render(element);
      return;
    }
    const d = dataset;
    render(
      element,
      h("h3", { id: "dataset-detail-title" }, d.name),
      d.description ? h("p", { class: "muted" }, d.description) : null,
      h("h4", { id: "categories-title" }, `Categories (${d.categories.length})`),
      d.categories.length === 0
        ? h("p", { class: "empty" }, "No categories yet. Add the labels your annotations use.")
        : categoryTable(d),
      ctx.session.can("editor") ? addForm(d) : null,
      h("h4", { id: "chart-title" }, "Annotations per category"),
      h("p", { class: "muted small" }, "Every item status; removed annotations are not counted."),
      h("div", { class: "chart", id: "category-chart" }, chart(d)),
    );
  }

  function categoryTable(d: Dataset): HTMLElement {
    const editor = ctx.session.can("editor");
    const admin = ctx.session.can("admin");
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { id: "categories", class: "stack compact", "aria-labelledby": "categories-title" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col" }, "Supercategory"),
            h("th", { scope: "col", class: "num" }, "Annotations"),
            editor ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null,
          ),
        ),
        h(
          "tbody",
          null,
          d.categories.map((c) => {
            if (editing === c.id) return editRow(d, c);
            const used = counts.get(c.id);
            return h(
              "tr",
              { "data-category": c.name },
              h("td", { "data-label": "Name" }, c.name),
              h("td", { "data-label": "Supercategory" }, c.supercategory || h("span", { class: "muted" }, "none")),
              h("td", { class: "num", "data-label": "Annotations" }, used === undefined ? "…" : count(used)),
              editor
                ? h(
                    "td",
                    { class: "row-actions" },
                    h(
                      "button",
                      {
                        type: "button",
                        "aria-label": `Edit category ${c.name}`,
                        onclick: () => {
                          editing = c.id;
                          renderAll();
                          element.querySelector<HTMLInputElement>("#category-edit-name")?.focus();
                        },
                      },
                      "Edit",
                    ),
                    admin
                      ? h(
                          "button",
                          {
                            type: "button",
                            class: "danger",
                            "aria-label": `Delete category ${c.name}`,
                            onclick: () => {
                              if (!window.confirm(`Delete category "${c.name}" from ${d.name}?`)) return;
                              void apply(
                                () => ctx.api.datasets.deleteCategory({ datasetId: d.id, categoryId: c.id }),
                                `Deleted category ${c.name}.`,
                              );
                            },
                          },
                          "Delete",
                        )
                      : null,
                  )
                : null,
            );
          }),
        ),
      ),
    );
  }

  function editRow(d: Dataset, c: Dataset["categories"][number]): HTMLElement {
    const name = h("input", {
      id: "category-edit-name",
      type: "text",
      required: true,
      value: c.name,
      "aria-label": `New name for ${c.name}`,
    });
    const supercategory = h("input", {
      id: "category-edit-supercategory",
      type: "text",
      value: c.supercategory,
      "aria-label": `Supercategory of ${c.name}`,
    });
    const save = () =>
      apply(
        () =>
          ctx.api.datasets.updateCategory({
            datasetId: d.id,
            categoryId: c.id,
            name: name.value,
            supercategory: supercategory.value,
          }),
        `Saved category ${name.value.trim()}.`,
      );
    const cancel = () => {
      editing = undefined;
      renderAll();
    };
    const onKey = (event: Event) => {
      const key = (event as KeyboardEvent).key;
      if (key === "Enter") void save();
      if (key === "Escape") cancel();
    };
    name.addEventListener("keydown", onKey);
    supercategory.addEventListener("keydown", onKey);
    return h(
      "tr",
      { "data-category": c.name, class: "editing" },
      h("td", { "data-label": "Name" }, name),
      h("td", { "data-label": "Supercategory" }, supercategory),
      h("td", { class: "num", "data-label": "Annotations" }, count(counts.get(c.id) ?? 0)),
      h(
        "td",
        { class: "row-actions" },
        h("button", { type: "button", class: "primary", onclick: () => void save() }, "Save"),
        h("button", { type: "button", onclick: cancel }, "Cancel"),
      ),
    );
  }

  function addForm(d: Dataset): HTMLElement {
    const name = h("input", { id: "category-new-name", type: "text", required: true, maxlength: 200 });
    const supercategory = h("input", { id: "category-new-supercategory", type: "text" });
    return h(
      "form",
      {
        id: "add-category",
        class: "inline-form",
        onsubmit: (event: Event) => {
          event.preventDefault();
          void apply(
            () =>
              ctx.api.datasets.addCategories({
                datasetId: d.id,
                categories: [{ name: name.value, supercategory: supercategory.value.trim() }],
              }),
            `Added category ${name.value.trim()}.`,
          ).then((ok) => {
            if (ok) element.querySelector<HTMLInputElement>("#category-new-name")?.focus();
          });
        },
      },
      h("div", { class: "field" }, h("label", { for: "category-new-name" }, "New category"), name),
      h(
        "div",
        { class: "field" },
        h("label", { for: "category-new-supercategory" }, "Supercategory (optional)"),
        supercategory,
      ),
      h("button", { type: "submit" }, "Add category"),
    );
  }

  function chart(d: Dataset): HTMLElement {
    if (d.categories.length === 0) return h("p", { class: "empty" }, "Nothing to chart without categories.");
    if (countProblem) return h("p", { class: "error" }, countProblem);
    const charted = d.categories.slice(0, MAX_COUNTED);
    if (charted.some((c) => !counts.has(c.id))) return h("p", { class: "muted" }, "Counting…");
    const rows = charted.map((c) => ({ label: c.name, value: counts.get(c.id) ?? 0 }));
    return h(
      "div",
      null,
      barChart(rows),
      d.categories.length > MAX_COUNTED
        ? h("p", { class: "muted small" }, `First ${MAX_COUNTED} of ${d.categories.length} categories.`)
        : null,
    );
  }

  return {
    element,
    show,
    roleChanged: renderAll,
  };
}

/** Horizontal bars in HTML, so labels keep their font size on a narrow screen: label, bar, value. */
function barChart(rows: Array<{ label: string; value: number }>): HTMLElement {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h(
    "div",
    {
      class: "bars",
      role: "img",
      "aria-label": rows.map((r) => `${r.label}: ${r.value}`).join(", "),
    },
    rows.map((row) => {
      const fill = h("span", { class: "bar-fill" });
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      fill.style.width = `${(row.value / max) * 100}%`;
      return h(
        "div",
        { class: "bar-row" },
        h("span", { class: "bar-label" }, row.label),
        h("span", { class: "bar-track" }, fill),
        h("span", { class: "bar-value" }, count(row.value)),
      );
    }),
  );
}
