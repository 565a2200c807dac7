// Reads one small XML document (a VOC annotation file) into a tree of elements with saxes, a
// streaming, non-validating parser: the file is fed in chunks, and a DTD is never processed, so
// entities other than XML's five predefined ones are never expanded (an undefined one is an error).
import type { SourceFile } from "@labelport/sdk";
import { ImportSourceError } from "@labelport/sdk";
import { SaxesParser } from "saxes";

export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** The element's own text, trimmed (VOC puts values in leaf elements). */
  text: string;
}

/** The first child element named `name`. */
export function child(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element?.children.find((c) => c.name === name);
}

export function childText(element: XmlElement | undefined, name: string): string | undefined {
  return child(element, name)?.text;
}

/**
 * The document's root element, or null when the file is not XML whose root is `expectedRoot`
 * (checked at the first tag, so another XML file is not read to its end).
 */
export async function readXmlTree(file: SourceFile, expectedRoot: string): Promise<XmlElement | null> {
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  const texts: string[][] = [];
  let root: XmlElement | undefined;
  let wrongRoot = false;
  let failure: Error | undefined;
  parser.on("error", (err) => {
    failure ??= err;
  });
  parser.on("opentag", (tag) => {
    if (!root && tag.name !== expectedRoot) wrongRoot = true;
    const element: XmlElement = { name: tag.name, children: [], text: "" };
    stack.at(-1)?.children.push(element);
    root ??= element;
    stack.push(element);
    texts.push([]);
  });
  const onText = (text: string) => texts.at(-1)?.push(text);
  parser.on("text", onText);
  parser.on("cdata", onText);
  parser.on("closetag", () => {
    const element = stack.pop();
    const parts = texts.pop();
    if (element && parts) element.text = parts.join("").trim();
  });
  const stream = await file.stream();
  const decoder = new TextDecoder("utf-8");
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let text = decoder.decode(chunk, { stream: true });
      if (first && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
      parser.write(text);
      if (failure) break;
      if (wrongRoot) return null;
    }
    if (!failure) parser.write(decoder.decode()).close();
  } finally {
    stream.destroy();
  }
  if (wrongRoot) return null;
  if (failure) {
    // A file that is not XML at all is not this format; a VOC file that breaks is an error.
    if (!root) return null;
    throw new ImportSourceError(`${file.path}: not well-formed XML (${failure.message})`);
  }
  return root ?? null;
}
