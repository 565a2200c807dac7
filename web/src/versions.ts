// Dataset versions in the console: the dataset page's versions panel (list, create, what changed
// since a version), and the export form's version picker (an export of a version writes the same
// bytes whenever it runs).
import type { Dataset, DatasetVersion, DiffVersionsResponse } from "@labelport/sdk/contracts";
import { messageOf } from "./api.ts";
import type { Ctx } from "./context.ts";
import { bytes, count, h, render, time } from "./dom.ts";
import type { ExportFormSection } from "./export-form.ts";

export interface VersionsPanel {
  element: HTMLElement;
  show(dataset: Dataset): Promise<void>;
  roleChanged(): void;
}

async function listVersions(ctx: Ctx, datasetId: string): Promise<DatasetVersion[]> {
  const all: DatasetVersion[] = [];
  let pageToken = "";
  do {
    const page = await ctx.api.versions.listVersions({ datasetId, pageSize: 100, pageToken });
    all.push(...page.versions);
    pageToken = page.nextPageToken;
  } while (pageToken && all.length < 1000);
  return all;
}

const changeText = (c: { added: bigint; removed: bigint; changed: bigint } | undefined) =>
  `${count(c?.added ?? 0n)} added, ${count(c?.removed ?? 0n)} removed, ${count(c?.changed ?? 0n)} changed`;

/** What a reviewer checks before a training run: the counts, by category. */
function diffSummary(diff: DiffVersionsResponse): HTMLElement {
  return h(
    "div",
    { class: "diff", id: "version-diff", role: "status" },
    h("p", null, h("strong", null, `${diff.from?.name ?? "?"} → ${diff.to?.name ?? "the live dataset"}`)),
    h(
      "ul",
      null,
      h("li", null, `Items: ${changeText(diff.items)}`),
      h("li", null, `Annotations: ${changeText(diff.annotations)}`),
      h("li", null, `Categories: ${changeText(diff.categories)}`),
    ),
    diff.byCategory.length > 0
      ? h(
          "table",
          { class: "stack compact", "aria-label": "Annotation changes by category" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col" }, "Category"),
              h("th", { scope: "col", class: "num" }, "Added"),
              h("th", { scope: "col", class: "num" }, "Removed"),
              h("th", { scope: "col", class: "num" }, "Changed"),
            ),
          ),
          h(
            "tbody",
            null,
            diff.byCategory.map((c) =>
              h(
                "tr",
                null,
                h("td", { "data-label": "Category" }, c.categoryName || String(c.categoryId)),
                h("td", { class: "num", "data-label": "Added" }, count(c.annotations?.added ?? 0n)),
                h("td", { class: "num", "data-label": "Removed" }, count(c.annotations?.removed ?? 0n)),
                h("td", { class: "num", "data-label": "Changed" }, count(c.annotations?.changed ?? 0n)),
              ),
            ),
          ),
        )
      : null,
  );
}

/** The dataset page's versions: the list, "Create version" (editors) and "Changes since" a version. */
export function versionsPanel(ctx: Ctx): VersionsPanel {
  const element = h("section", { class: "panel", id: "dataset-versions", "aria-labelledby": "versions-title" });
  let dataset: Dataset | undefined;
  let versions: DatasetVersion[] = [];
  let problem = "";
  let diff: HTMLElement | null = null;

  async function show(next: Dataset) {
    if (dataset?.id !== next.id) diff = null;
    dataset = next;
    try {
      versions = await listVersions(ctx, next.id);
      problem = "";
    } catch (err) {
      versions = [];
      problem = `Could not load versions: ${messageOf(err)}`;
    }
    renderAll();
  }

  async function create(name: string, description: string) {
    if (!dataset) return;
    try {
      const { version } = await ctx.api.versions.createVersion({ datasetId: dataset.id, name, description });
      ctx.notify(`Version ${version?.name ?? name} created.`);
      await show(dataset);
    } catch (err) {
      ctx.notify(`Could not create the version: ${messageOf(err)}`, "error");
    }
  }

  async function changesSince(version: DatasetVersion) {
    if (!dataset) return;
    try {
      diff = diffSummary(await ctx.api.versions.diffVersions({ datasetId: dataset.id, fromVersionId: version.id }));
    } catch (err) {
      diff = h("p", { class: "error", role: "alert" }, `Could not compare: ${messageOf(err)}`);
    }
    renderAll();
  }

  function createForm(): HTMLElement {
    const name = h("input", { id: "version-name", type: "text", required: true, maxlength: 200 });
    const description = h("input", { id: "version-description", type: "text" });
    return h(
      "form",
      {
        id: "create-version",
        "aria-labelledby": "create-version-title",
        onsubmit: (event: Event) => {
          event.preventDefault();
          const chosen = name.value.trim();
          if (chosen === "") {
            ctx.notify("Name the version (e.g. june-train).", "error");
            name.focus();
            return;
          }
          void create(chosen, description.value.trim());
        },
      },
      h("h5", { id: "create-version-title" }, "New version"),
      h(
        "div",
        { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "version-name" }, "Name"), name),
        h("div", { class: "field" }, h("label", { for: "version-description" }, "Description (optional)"), description),
      ),
      h(
        "small",
        { class: "help" },
        "Freezes the categories, items and annotations as they are now; exports of the version never change.",
      ),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create version")),
    );
  }

  function renderAll() {
    if (!dataset) {
      render(element);
      return;
    }
    render(
      element,
      h("h4", { id: "versions-title" }, `Versions (${versions.length})`),
      problem ? h("p", { class: "error" }, problem) : null,
      versions.length === 0 && !problem
        ? h("p", { class: "empty" }, "No versions yet. Create one before a training run to export it unchanged later.")
        : null,
      versions.length > 0
        ? h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { id: "versions", class: "stack compact", "aria-labelledby": "versions-title" },
              h(
                "thead",
                null,
                h(
                  "tr",
                  null,
                  h("th", { scope: "col" }, "Name"),
                  h("th", { scope: "col", class: "num" }, "Items"),
                  h("th", { scope: "col", class: "num" }, "Annotations"),
                  h("th", { scope: "col", class: "num" }, "Size"),
                  h("th", { scope: "col" }, "Created"),
                  h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")),
                ),
              ),
              h(
                "tbody",
                null,
                versions.map((v) =>
                  h(
                    "tr",
                    { "data-version": v.name },
                    h(
                      "td",
                      { "data-label": "Name" },
                      v.name,
                      v.description ? h("div", { class: "muted small" }, v.description) : null,
                    ),
                    h("td", { class: "num", "data-label": "Items" }, count(v.itemCount)),
                    h("td", { class: "num", "data-label": "Annotations" }, count(v.annotationCount)),
                    h("td", { class: "num", "data-label": "Size" }, bytes(v.sizeBytes)),
                    h("td", { class: "nowrap", "data-label": "Created" }, time(v.createTime), " ", v.createdBy),
                    h(
                      "td",
                      { class: "row-actions" },
                      h(
                        "button",
                        {
                          type: "button",
                          "aria-label": `Changes since version ${v.name}`,
                          onclick: () => void changesSince(v),
                        },
                        "Changes since",
                      ),
                    ),
                  ),
                ),
              ),
            ),
          )
        : null,
      diff,
      ctx.session.can("editor") ? createForm() : null,
    );
  }

  return { element, show, roleChanged: renderAll };
}

/** The export form's "Version" choice: the live dataset, or one of the chosen dataset's versions. */
export function versionPicker(ctx: Ctx): ExportFormSection {
  const select = h("select", { id: "export-version", name: "version" }, h("option", { value: "" }, "Live dataset"));
  const element = h(
    "div",
    { class: "field" },
    h("label", { for: "export-version" }, "Version"),
    select,
    h("small", { class: "help" }, "A version exports the same data whenever it runs."),
  );
  let run = 0;
  return {
    element,
    apply(request) {
      if (select.value) request.versionId = select.value;
      return undefined;
    },
    datasetChanged(dataset) {
      const mine = ++run;
      render(select, h("option", { value: "" }, "Live dataset"));
      listVersions(ctx, dataset.id)
        .then((versions) => {
          if (mine !== run) return;
          for (const v of versions) {
            select.append(h("option", { value: v.id }, `${v.name} (${count(v.itemCount)} items)`));
          }
        })
        .catch((err: unknown) => {
          if (mine === run) ctx.notify(`Could not load the versions of ${dataset.name}: ${messageOf(err)}`, "error");
        });
    },
  };
}
