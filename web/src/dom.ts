// A few DOM helpers in place of a framework: build elements, format numbers, sizes and times.

export type Child = Node | string | number | bigint | null | undefined | false | Child[];
type Listener = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | Listener | undefined>;

/** `h("button", { class: "danger", onclick: fn }, "Delete")`: attributes, `on*` listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (name === "value" && "value" in el) (el as HTMLInputElement).value = String(value);
    else if (name === "checked" && el instanceof HTMLInputElement) el.checked = Boolean(value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function render(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

const SVG = "http://www.w3.org/2000/svg";

export function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  append(el, children);
  return el;
}

const integer = new Intl.NumberFormat("en");

export function count(value: number | bigint): string {
  return integer.format(value);
}

export function bytes(value: number | bigint): string {
  const n = Number(value);
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let size = n / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A protobuf Timestamp (or nothing) as local date and time. */
export function time(ts: { seconds: bigint; nanos: number } | undefined): string {
  if (!ts) return "";
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6)).toLocaleString("en-GB", {
    dateStyle: "short",
    timeStyle: "medium",
  });
}

/** Words written in capitals wherever they appear in a label. */
const ACRONYMS = new Set(["bom", "csv", "id", "ids", "json", "jsonl", "rle", "s3", "uri", "url", "utf", "xml", "zip"]);

/** "categoryFolders" → "Category folders", "bom" → "BOM", "itemIds" → "Item IDs". */
export function humanize(key: string): string {
  const words = key
    .replace(/[_-]+/g, " ")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .trim()
    .split(/\s+/)
    .map((word) => (ACRONYMS.has(word) ? (word === "ids" ? "IDs" : word.toUpperCase()) : word))
    .join(" ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
