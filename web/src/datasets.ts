// Datasets: the list with item and annotation counts, creating one, and a dataset's page
// (#/datasets/<id>) with its categories by name (add, rename, delete) and annotations per category.
import type { Dataset } from "@labelport/sdk/contracts";
import { messageOf, troubleOf } from "./api.ts";
import { categoriesPanel } from "./categories.ts";
import type { Ctx, View } from "./context.ts";
import { count, h, render, time } from "./dom.ts";
import { versionsPanel } from "./versions.ts";

/** "car, bus\nperson" → ["car", "bus", "person"]: one per line or comma-separated, blanks dropped. */
export function categoryNames(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\n,]/)
        .map((name) => name.trim())
        .filter((name) => name !== ""),
    ),
  ];
}

export function datasetsView(ctx: Ctx): View {
  const newButton = h(
    "button",
    { type: "button", id: "new-dataset", "aria-expanded": "false", onclick: () => toggleCreate() },
    "New dataset",
  );
  const createBox = h("div", { id: "create-dataset-box", hidden: true });
  const table = h("div", { class: "table-wrap" });
  const detail = h("div", { class: "detail" });
  const element = h(
    "section",
    { class: "view", "aria-labelledby": "datasets-title" },
    h("div", { class: "view-head" }, h("h2", { id: "datasets-title" }, "Datasets"), newButton),
    createBox,
    table,
    detail,
  );
  let datasets: Dataset[] = [];
  let selected = "";
  const categories = categoriesPanel(ctx, async (updated) => {
    datasets = datasets.map((d) => (d.id === updated.id ? { ...d, categories: updated.categories } : d));
    renderTable();
  });
  const versions = versionsPanel(ctx);

  function toggleCreate(open = createBox.hidden) {
    createBox.hidden = !open;
    newButton.setAttribute("aria-expanded", String(open));
    if (!open) {
      newButton.focus();
      return;
    }
    const name = h("input", { id: "dataset-name", type: "text", required: true, maxlength: 200 });
    const description = h("input", { id: "dataset-description", type: "text" });
    const names = h("textarea", { id: "dataset-categories", rows: 3, "aria-describedby": "dataset-categories-help" });
    const submit = h("button", { type: "submit", class: "primary" }, "Create dataset");
    const form = h(
      "form",
      {
        id: "create-dataset",
        class: "panel",
        "aria-labelledby": "create-dataset-title",
        onsubmit: (event: Event) => {
          event.preventDefault();
          void createDataset();
        },
      },
      h("h3", { id: "create-dataset-title" }, "New dataset"),
      h(
        "div",
        { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "dataset-name" }, "Name"), name),
        h("div", { class: "field" }, h("label", { for: "dataset-description" }, "Description (optional)"), description),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "dataset-categories" }, "Categories (optional)"),
        names,
        h(
          "small",
          { class: "help", id: "dataset-categories-help" },
          "One per line or separated by commas, e.g. car, person, bicycle. You can add more later.",
        ),
      ),
      h(
        "div",
        { class: "actions" },
        submit,
        h("button", { type: "button", onclick: () => toggleCreate(false) }, "Cancel"),
      ),
    );

    async function createDataset() {
      submit.disabled = true;
      try {
        const res = await ctx.api.datasets.createDataset({
          name: name.value,
          description: description.value.trim(),
          categories: categoryNames(names.value).map((n) => ({ name: n })),
        });
        const created = res.dataset;
        ctx.notify(`Created dataset ${created?.name ?? name.value}.`);
        toggleCreate(false);
        if (created) ctx.go("datasets", { id: created.id });
      } catch (err) {
        ctx.notify(`Could not create the dataset: ${messageOf(err)}`, "error");
        name.focus();
      } finally {
        submit.disabled = false;
      }
    }

    render(createBox, form);
    name.focus();
  }

  function renderTable() {
    newButton.hidden = !ctx.session.can("editor");
    if (datasets.length === 0) {
      render(
        table,
        h(
          "div",
          { class: "empty-state panel" },
          h("p", null, "No datasets yet."),
          ctx.session.can("editor")
            ? h(
                "div",
                { class: "actions" },
                h(
                  "button",
                  { type: "button", class: "primary", onclick: () => toggleCreate(true) },
                  "Create a dataset",
                ),
                h("a", { class: "button", href: "#/imports" }, "Import annotations"),
              )
            : h("p", { class: "muted" }, "Your role (viewer) may not create datasets: ask an editor or an admin."),
        ),
      );
      return;
    }
    render(
      table,
      h(
        "table",
        { id: "datasets", class: "stack" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", { scope: "col" }, "Name"),
            h("th", { scope: "col", class: "num" }, "Items"),
            h("th", { scope: "col", class: "num" }, "Annotations"),
            h("th", { scope: "col", class: "num" }, "Categories"),
            h("th", { scope: "col" }, "Created"),
            h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
          ),
        ),
        h(
          "tbody",
          null,
          datasets.map((d) =>
            h(
              "tr",
              { class: d.id === selected ? "selected" : undefined, "data-dataset": d.name },
              h(
                "td",
                { "data-label": "Name" },
                h(
                  "a",
                  {
                    class: "strong",
                    href: `#/datasets/${encodeURIComponent(d.id)}`,
                    "aria-current": d.id === selected ? "true" : undefined,
                  },
                  d.name,
                ),
                d.description ? h("div", { class: "muted small" }, d.description) : null,
              ),
              h("td", { class: "num", "data-label": "Items" }, count(d.itemCount)),
              h("td", { class: "num", "data-label": "Annotations" }, count(d.annotationCount)),
              h("td", { class: "num", "data-label": "Categories" }, d.categories.length),
              h("td", { class: "nowrap", "data-label": "Created" }, time(d.createTime)),
              h(
                "td",
                { class: "row-actions" },
                ctx.session.can("editor")
                  ? h(
                      "button",
                      {
                        type: "button",
                        "aria-label": `Export dataset ${d.name}`,
                        onclick: () => ctx.go("exports", { dataset: d.id }),
                      },
                      "Export",
                    )
                  : null,
                ctx.session.can("admin")
                  ? h(
                      "button",
                      {
                        type: "button",
                        class: "danger",
                        "aria-label": `Delete dataset ${d.name}`,
                        onclick: () => void remove(d),
                      },
                      "Delete",
                    )
                  : null,
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function remove(dataset: Dataset) {
    if (!window.confirm(`Delete dataset "${dataset.name}" with all its items, annotations and import history?`)) return;
    try {
      const res = await ctx.api.datasets.deleteDataset({ datasetId: dataset.id });
      ctx.notify(
        `Deleted ${dataset.name}: ${count(res.deletedItems)} items, ${count(res.deletedAnnotations)} annotations.`,
      );
      if (selected === dataset.id) selected = "";
      await load();
    } catch (err) {
      ctx.notify(`Delete failed: ${messageOf(err)}`, "error");
    }
  }

  async function load() {
    try {
      datasets = await ctx.datasets(true);
    } catch (err) {
      const trouble = troubleOf(err);
      render(table, h("p", { class: "error" }, `Could not load datasets: ${trouble.message}`));
      return;
    }
    if (!datasets.some((d) => d.id === selected)) selected = datasets[0]?.id ?? "";
    renderTable();
    const dataset = datasets.find((d) => d.id === selected);
    if (dataset) {
      render(detail, categories.element, versions.element);
      await Promise.all([categories.show(dataset), versions.show(dataset)]);
    } else render(detail);
  }

  return {
    name: "datasets",
    title: "Datasets",
    element,
    async show(params) {
      const wanted = params.get("id");
      if (wanted) selected = wanted;
      await load();
    },
    hide() {},
    roleChanged() {
      renderTable();
      categories.roleChanged();
      versions.roleChanged();
    },
  };
}
