// Datasets with their item and annotation counts, and a bar chart of annotations per category.
import type { Dataset } from "@labelport/sdk/contracts";
import { messageOf, troubleOf } from "./api.ts";
import type { Ctx, View } from "./context.ts";
import { count, h, render, svg, time } from "./dom.ts";

/** Categories charted at most (one CountItems call each). */
const MAX_CHARTED = 40;

export function datasetsView(ctx: Ctx): View {
  const table = h("div", { class: "table-wrap" });
  const detail = h("div", { class: "detail" });
  const element = h(
    "section",
    { class: "view", "aria-labelledby": "datasets-title" },
    h("h2", { id: "datasets-title" }, "Datasets"),
    table,
    detail,
  );
  let datasets: Dataset[] = [];
  let selected = "";
  let chartRun = 0;

  function renderTable() {
    if (datasets.length === 0) {
      render(table, h("p", { class: "empty" }, "No datasets yet. Create one through the API or import annotations."));
      return;
    }
    render(
      table,
      h(
        "table",
        { id: "datasets" },
        h(
          "thead",
          null,
          h(
            "tr",
            null,
            h("th", null, "Name"),
            h("th", { class: "num" }, "Items"),
            h("th", { class: "num" }, "Annotations"),
            h("th", { class: "num" }, "Categories"),
            h("th", null, "Created"),
            h("th", null, ""),
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
                null,
                h("button", { type: "button", class: "link", onclick: () => select(d.id) }, d.name),
                d.description ? h("div", { class: "muted small" }, d.description) : null,
              ),
              h("td", { class: "num" }, count(d.itemCount)),
              h("td", { class: "num" }, count(d.annotationCount)),
              h("td", { class: "num" }, d.categories.length),
              h("td", { class: "nowrap" }, time(d.createTime)),
              h(
                "td",
                { class: "row-actions" },
                ctx.session.can("editor")
                  ? h("button", { type: "button", onclick: () => ctx.go("exports", { dataset: d.id }) }, "Export…")
                  : null,
                ctx.session.can("admin")
                  ? h("button", { type: "button", class: "danger", onclick: () => void remove(d) }, "Delete")
                  : null,
              ),
            ),
          ),
        ),
      ),
    );
  }

  function select(id: string) {
    selected = id;
    renderTable();
    void renderDetail();
  }

  async function renderDetail() {
    const dataset = datasets.find((d) => d.id === selected);
    if (!dataset) {
      render(detail);
      return;
    }
    const run = ++chartRun;
    const chart = h("div", { class: "chart", id: "category-chart" }, h("p", { class: "muted" }, "Counting…"));
    render(
      detail,
      h("h3", null, `Annotations per category — ${dataset.name}`),
      h("p", { class: "muted small" }, "All item statuses; removed annotations not counted."),
      chart,
    );
    if (dataset.categories.length === 0) {
      render(chart, h("p", { class: "empty" }, "This dataset has no categories."));
      return;
    }
    const charted = dataset.categories.slice(0, MAX_CHARTED);
    try {
      const counts = await Promise.all(
        charted.map((c) =>
          ctx.api.items.countItems({ datasetId: dataset.id, filter: { allStatuses: true, categoryIds: [c.id] } }),
        ),
      );
      if (run !== chartRun) return;
      render(
        chart,
        barChart(charted.map((c, i) => ({ label: c.name, value: Number(counts[i]?.annotationCount ?? 0) }))),
        dataset.categories.length > MAX_CHARTED
          ? h("p", { class: "muted small" }, `First ${MAX_CHARTED} of ${dataset.categories.length} categories.`)
          : null,
      );
    } catch (err) {
      if (run === chartRun) render(chart, h("p", { class: "error" }, `Could not count: ${messageOf(err)}`));
    }
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
    await renderDetail();
  }

  return {
    name: "datasets",
    title: "Datasets",
    element,
    show: load,
    hide() {},
    roleChanged: renderTable,
  };
}

/** Horizontal bars in SVG: label, bar, value. */
function barChart(rows: Array<{ label: string; value: number }>): SVGElement {
  const labelWidth = 160;
  const barArea = 440;
  const rowHeight = 26;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const height = rows.length * rowHeight + 4;
  return svg(
    "svg",
    {
      viewBox: `0 0 ${labelWidth + barArea + 80} ${height}`,
      width: labelWidth + barArea + 80,
      height,
      role: "img",
      "aria-label": rows.map((r) => `${r.label}: ${r.value}`).join(", "),
    },
    rows.map((row, i) => {
      const y = i * rowHeight + 2;
      const width = Math.max(row.value > 0 ? 2 : 0, Math.round((row.value / max) * barArea));
      return svg(
        "g",
        { class: "bar" },
        svg("text", { x: labelWidth - 8, y: y + 16, "text-anchor": "end", class: "bar-label" }, row.label),
        svg("rect", { x: labelWidth, y, width, height: rowHeight - 8, rx: 3, class: "bar-fill" }),
        svg("text", { x: labelWidth + width + 6, y: y + 16, class: "bar-value" }, count(row.value)),
      );
    }),
  );
}
