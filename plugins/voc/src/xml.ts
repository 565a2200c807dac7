// Minimal XML text for VOC files. Escaping is five replacements, and XML 1.0 forbids some
// characters outright (most C0 controls, lone surrogates, U+FFFE/U+FFFF) even as references, so
// they are removed. No small, well-kept library does both; xmlbuilder2 does, but brings a DOM
// implementation and js-yaml for a ten-element document.

// Everything outside XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] |
// [#xE000-#xFFFD] | [#x10000-#x10FFFF]. With the u flag a lone surrogate is one code point.
const FORBIDDEN = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function stripForbiddenXmlChars(text: string): string {
  return text.replace(FORBIDDEN, "");
}

/**
 * Anything that is not plainly safe: markup characters, CR, and every character outside the Char
 * production or a surrogate half (without the u flag), so such text takes the full path below.
 */
const NOT_PLAIN = /[^\u0009\u000A\u0020\u0021\u0023-\u0025\u0028-\u003B\u003D\u003F-\uD7FF\uE000-\uFFFD]/;

/** Text content or attribute value: forbidden characters removed, markup characters escaped. */
export function escapeXml(text: string): string {
  // Most names and values need nothing: one scan instead of seven passes.
  if (!NOT_PLAIN.test(text)) return text;
  return stripForbiddenXmlChars(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;")
    .replaceAll("\r", "&#13;");
}

export type XmlNode = [name: string, content: string | number | XmlNode[]];

/** Serialises nested [name, content] pairs with two-space indentation and a trailing newline. */
export function renderXml(root: XmlNode): string {
  return appendNode('<?xml version="1.0" encoding="UTF-8"?>\n', root, 0);
}

const indents = [""];

/** Two spaces a level, made once per depth. */
function indentOf(depth: number): string {
  let indent = indents[depth];
  if (indent === undefined) {
    indent = "  ".repeat(depth);
    indents[depth] = indent;
  }
  return indent;
}

// Appends to one string (no array per element, no join): a file of ten objects is ~70 elements.
function appendNode(out: string, [name, content]: XmlNode, depth: number): string {
  const indent = indentOf(depth);
  if (Array.isArray(content)) {
    let text = `${out}${indent}<${name}>\n`;
    for (const child of content) text = appendNode(text, child, depth + 1);
    return `${text}${indent}</${name}>\n`;
  }
  // A number's text needs no escaping.
  return `${out}${indent}<${name}>${typeof content === "number" ? content : escapeXml(content)}</${name}>\n`;
}
