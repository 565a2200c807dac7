// A streaming reader of CVAT 1.1 XML (for images and for video) on saxes: text goes in chunk by
// chunk and whole <label>s (from <meta>), <image>s and <track>s come out as they close, so
// memory holds one image or track at a time, never the file. saxes resolves no external
// entities and reads no DTD, so an upload cannot make the reader fetch or expand anything.
import { SaxesParser, type SaxesTagPlain } from "saxes";

export interface CvatLabel {
  name: string;
  /** CVAT 2 label type (rectangle, skeleton, points, any...); "" in CVAT 1. */
  type: string;
  /** The skeleton a sub-label belongs to; "" for top-level labels. */
  parent: string;
  /** input_type (checkbox, number, text, select, radio) by attribute name. */
  attributeTypes: Map<string, string>;
  /** A skeleton's drawing: <circle data-node-id data-label-name> per point, <line data-node-from data-node-to> per edge. */
  svg: string;
}

/** A shape element (box, polygon, tag...) with its XML attributes, <attribute> children and sub-shapes. */
export interface CvatShape {
  element: string;
  attrs: Record<string, string>;
  attributes: [name: string, value: string][];
  /** A skeleton's points. */
  children: CvatShape[];
  /** Line of the element's start tag, for messages. */
  line: number;
}

export interface CvatElement {
  attrs: Record<string, string>;
  shapes: CvatShape[];
  line: number;
}

export type CvatEvent =
  | { kind: "label"; label: CvatLabel }
  | { kind: "image"; image: CvatElement }
  | { kind: "track"; track: CvatElement };

/** The task or project in <meta> (video exports name the video and the frame size there). */
export interface CvatMeta {
  taskName: string;
  /** Frames of a video task. */
  size: number;
  source: string;
  width: number;
  height: number;
}

export class CvatXmlReader {
  readonly meta: CvatMeta = { taskName: "", size: 0, source: "", width: 0, height: 0 };
  private readonly parser: SaxesParser;
  private readonly stack: string[] = [];
  private readonly events: CvatEvent[] = [];
  private text = "";
  private label: CvatLabel | undefined;
  private labelAttribute: { name: string; type: string } | undefined;
  private element: CvatElement | undefined;
  private elementKind: "image" | "track" = "image";
  private shape: CvatShape | undefined;
  private child: CvatShape | undefined;
  private attributeName: string | undefined;
  /** The root element's name once it is read (CVAT's is <annotations>). */
  root: string | undefined;

  constructor(fileName: string) {
    this.parser = new SaxesParser({ fileName });
    this.parser.on("opentag", (tag) => this.open(tag));
    this.parser.on("closetag", (tag) => this.close(tag.name));
    this.parser.on("text", (text) => {
      this.text += text;
    });
    this.parser.on("cdata", (text) => {
      this.text += text;
    });
  }

  /** Feeds text; returns what closed in it. Malformed XML throws an Error naming file:line:column. */
  write(chunk: string): CvatEvent[] {
    this.parser.write(chunk);
    return this.events.splice(0);
  }

  end(): CvatEvent[] {
    this.parser.close();
    return this.events.splice(0);
  }

  private open(tag: SaxesTagPlain): void {
    const parent = this.stack[this.stack.length - 1];
    this.stack.push(tag.name);
    this.text = "";
    const attrs = tag.attributes as Record<string, string>;
    const line = this.parser.line;
    if (this.stack.length === 1) {
      this.root = tag.name;
      return;
    }
    if (this.inMeta()) {
      if (tag.name === "label" && parent === "labels") {
        this.label = { name: "", type: "", parent: "", attributeTypes: new Map(), svg: "" };
      } else if (tag.name === "attribute" && this.label) {
        this.labelAttribute = { name: "", type: "" };
      }
      return;
    }
    if (this.stack.length === 2 && (tag.name === "image" || tag.name === "track")) {
      this.element = { attrs, shapes: [], line };
      this.elementKind = tag.name;
      return;
    }
    if (!this.element) return;
    if (tag.name === "attribute") {
      this.attributeName = attrs.name ?? "";
    } else if (!this.shape && parent === this.elementKind) {
      this.shape = { element: tag.name, attrs, attributes: [], children: [], line };
    } else if (this.shape && !this.child && parent === this.shape.element) {
      this.child = { element: tag.name, attrs, attributes: [], children: [], line };
    }
  }

  private close(name: string): void {
    const text = this.text;
    this.text = "";
    this.stack.pop();
    const parent = this.stack[this.stack.length - 1];
    if (this.inMeta() || name === "meta") {
      this.closeMeta(name, parent, text);
      return;
    }
    if (!this.element) return;
    if (name === "attribute" && this.attributeName !== undefined) {
      (this.child ?? this.shape)?.attributes.push([this.attributeName, text]);
      this.attributeName = undefined;
    } else if (this.child && this.stack.length === 3) {
      this.shape?.children.push(this.child);
      this.child = undefined;
    } else if (this.shape && this.stack.length === 2) {
      this.element.shapes.push(this.shape);
      this.shape = undefined;
    } else if (this.stack.length === 1) {
      this.events.push(
        this.elementKind === "image" ? { kind: "image", image: this.element } : { kind: "track", track: this.element },
      );
      this.element = undefined;
    }
  }

  private closeMeta(name: string, parent: string | undefined, text: string): void {
    const value = text.trim();
    if (this.labelAttribute) {
      if (name === "attribute") {
        if (this.labelAttribute.name)
          this.label?.attributeTypes.set(this.labelAttribute.name, this.labelAttribute.type);
        this.labelAttribute = undefined;
      } else if (name === "name" && parent === "attribute") {
        this.labelAttribute.name = value;
      } else if (name === "input_type" && parent === "attribute") {
        this.labelAttribute.type = value;
      }
      return;
    }
    if (this.label) {
      if (name === "label") {
        if (this.label.name) this.events.push({ kind: "label", label: this.label });
        this.label = undefined;
      } else if (parent === "label" && (name === "name" || name === "type" || name === "parent" || name === "svg")) {
        this.label[name] = value;
      }
      return;
    }
    if (parent === "task" && name === "name") this.meta.taskName = value;
    else if (parent === "task" && name === "size") this.meta.size = Number(value) || 0;
    else if (parent === "task" && name === "source") this.meta.source = value;
    else if (parent === "original_size" && (name === "width" || name === "height"))
      this.meta[name] = Number(value) || 0;
  }

  private inMeta(): boolean {
    return this.stack[1] === "meta";
  }
}
