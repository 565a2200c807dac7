// What an export selects: the ItemFilter fields as form controls (categories by name), and the
// same filter said back in words on the job page.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AnnotationType,
  type Category,
  type ItemFilter,
  type ItemFilterSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { h } from "./dom.ts";

export type ItemFilterInit = MessageInitShape<typeof ItemFilterSchema>;

const ITEM_STATUSES: Array<[ItemStatus, string]> = [
  [ItemStatus.DRAFT, "draft"],
  [ItemStatus.IN_REVIEW, "in review"],
  [ItemStatus.APPROVED, "approved"],
  [ItemStatus.REJECTED, "rejected"],
];

const ANNOTATION_TYPES: Array<[AnnotationType, string]> = [
  [AnnotationType.BBOX, "boxes"],
  [AnnotationType.POLYGON, "polygons"],
  [AnnotationType.POLYLINE, "polylines"],
  [AnnotationType.KEYPOINTS, "keypoints"],
  [AnnotationType.CLASSIFICATION, "classifications"],
  [AnnotationType.TRACK, "video tracks"],
  [AnnotationType.MASK, "masks"],
];

/** "train, val ,, test" → ["train", "val", "test"]. */
const listOf = (text: string) =>
  text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** A date input's day at local midnight. */
const dayStart = (value: string) => (value ? new Date(`${value}T00:00`) : undefined);

export interface FilterFields {
  element: HTMLElement;
  /** The filter as the controls say now; an error message when a control holds something impossible. */
  filter(): { ok: true; filter: ItemFilterInit } | { ok: false; error: string };
  /** Shows these categories (the chosen dataset's) as the category choices. */
  setCategories(categories: readonly Category[]): void;
}

function checkboxGroup<T extends string | number>(
  legend: string,
  id: string,
  choices: Array<[T, string]>,
  help: string,
  checked: (value: T) => boolean = () => false,
): { element: HTMLFieldSetElement; values(): T[] } {
  const boxes = choices.map(([value, label], i) => {
    const box = h("input", { type: "checkbox", id: `${id}-${i}`, value: String(value), checked: checked(value) });
    return { value, box, element: h("label", { for: `${id}-${i}`, class: "choice" }, box, ` ${label}`) };
  });
  return {
    element: h(
      "fieldset",
      { class: "choices", id },
      h("legend", null, legend),
      boxes.length > 0 ? boxes.map((b) => b.element) : h("span", { class: "muted small" }, "none in this dataset"),
      h("small", { class: "help" }, help),
    ),
    values: () => boxes.filter((b) => b.box.checked).map((b) => b.value),
  };
}

/** The filter controls; `changed` runs on every edit (the live count listens). */
export function filterFields(changed: () => void): FilterFields {
  const statuses = checkboxGroup(
    "Item statuses",
    "export-statuses",
    ITEM_STATUSES,
    "None ticked: approved items only.",
    (s) => s === ItemStatus.APPROVED,
  );
  const types = checkboxGroup("Annotation types", "export-types", ANNOTATION_TYPES, "None ticked: every type.");
  let categories = checkboxGroup<number>("Categories", "export-categories", [], "None ticked: every category.");
  const categoryBox = h("div", { class: "category-choices" }, categories.element);
  const splits = h("input", {
    id: "export-splits",
    type: "text",
    list: "export-split-names",
    placeholder: "every split",
    autocomplete: "off",
  });
  const tags = h("input", { id: "export-tags", type: "text", placeholder: "any tags", autocomplete: "off" });
  const after = h("input", { id: "export-updated-after", type: "date" });
  const before = h("input", { id: "export-updated-before", type: "date" });
  const element = h(
    "fieldset",
    { class: "options export-filter", id: "export-filter" },
    h("legend", null, "What to export"),
    h(
      "div",
      { class: "grid" },
      h(
        "div",
        { class: "field" },
        h("label", { for: "export-splits" }, "Splits"),
        splits,
        h(
          "datalist",
          { id: "export-split-names" },
          ["train", "val", "test"].map((s) => h("option", { value: s })),
        ),
        h("small", { class: "help" }, "Comma-separated, e.g. train, val. Empty: every split."),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "export-tags" }, "Tags"),
        tags,
        h("small", { class: "help" }, "Items carrying any of these tags (comma-separated)."),
      ),
      h("div", { class: "field" }, h("label", { for: "export-updated-after" }, "Updated after"), after),
      h("div", { class: "field" }, h("label", { for: "export-updated-before" }, "Updated before"), before),
    ),
    statuses.element,
    categoryBox,
    types.element,
  );
  element.addEventListener("input", changed);
  element.addEventListener("change", changed);
  return {
    element,
    filter() {
      const from = dayStart(after.value);
      const until = dayStart(before.value);
      if (from && until && from >= until) {
        return { ok: false, error: "Updated after must be a day before Updated before." };
      }
      const chosen = statuses.values();
      return {
        ok: true,
        filter: {
          ...(chosen.length === ITEM_STATUSES.length ? { allStatuses: true } : { statuses: chosen }),
          splits: listOf(splits.value),
          tags: listOf(tags.value),
          categoryIds: categories.values(),
          annotationTypes: types.values(),
          ...(from ? { updatedAfter: timestampFromDate(from) } : {}),
          ...(until ? { updatedBefore: timestampFromDate(until) } : {}),
        },
      };
    },
    setCategories(list) {
      categories = checkboxGroup(
        "Categories",
        "export-categories",
        list.map((c) => [c.id, c.name] as [number, string]),
        "None ticked: every category.",
      );
      categoryBox.replaceChildren(categories.element);
    },
  };
}

const inWords = (values: string[], joiner = "or") =>
  values.length <= 1 ? (values[0] ?? "") : `${values.slice(0, -1).join(", ")} ${joiner} ${values.at(-1)}`;

/** The filter as sentences: "Approved items only", "Splits: train or val", … */
export function describeFilter(filter: ItemFilter | undefined, categories: readonly Category[]): string[] {
  const out: string[] = [];
  const f = filter;
  if (f?.allStatuses) out.push("Items of every status");
  else if (!f || f.statuses.length === 0) out.push("Approved items only");
  else out.push(`Items that are ${inWords(f.statuses.map((s) => ITEM_STATUSES.find(([v]) => v === s)?.[1] ?? "?"))}`);
  if (!f) return out;
  if (f.splits.length > 0) out.push(`Splits: ${inWords(f.splits)}`);
  if (f.tags.length > 0) out.push(`Tagged ${inWords(f.tags)}`);
  if (f.itemIds.length > 0) out.push(`${f.itemIds.length} chosen items`);
  if (f.categoryIds.length > 0) {
    const names = f.categoryIds.map((id) => categories.find((c) => c.id === id)?.name ?? `a deleted category (${id})`);
    out.push(`Categories: ${inWords(names)}`);
  }
  if (f.annotationTypes.length > 0) {
    out.push(
      `Annotation types: ${inWords(f.annotationTypes.map((t) => ANNOTATION_TYPES.find(([v]) => v === t)?.[1] ?? "?"))}`,
    );
  }
  if (f.users.length > 0) out.push(`Made or reviewed by ${inWords(f.users)}`);
  const day = (ts: Parameters<typeof timestampDate>[0]) => timestampDate(ts).toLocaleDateString();
  if (f.updatedAfter) out.push(`Updated after ${day(f.updatedAfter)}`);
  if (f.updatedBefore) out.push(`Updated before ${day(f.updatedBefore)}`);
  if (f.includeRemoved) out.push("Removed annotations included");
  return out;
}
