// `labelport formats`: what a server can export and import, from its plugin registry
// (ListFormats) plus the record formats the orchestrator reads itself, with each plugin's options.
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { PluginInfo } from "../gen/labelport/v1/export_pb.ts";

/** Upload formats the orchestrator reads without a plugin. */
export const RECORD_FORMATS = [
  { format: "jsonl", description: "video annotation lines (seed 001 JSONL), one annotation per line" },
  { format: "json", description: "a JSON array of video annotations" },
  { format: "labelport-items", description: "item JSONL as the exporters write it, items with their annotations" },
] as const;

/** The built-in importer plugins' formats (the usage text names them; the server may run others). */
export const IMPORTER_FORMATS = ["coco", "yolo", "voc", "labelme", "cvat", "dm-json", "csv", "labelport"] as const;

export interface FormatEntry {
  format: string;
  /** The plugin serving the format; null for the orchestrator's own record formats. */
  plugin: string | null;
  version: string | null;
  description: string;
  /** JSON Schema of the options (--option for exports, --importer-option for imports). */
  optionsSchema: JsonObject;
}

export interface FormatCatalogue {
  exportFormats: FormatEntry[];
  importFormats: FormatEntry[];
}

const byFormat = (a: FormatEntry, b: FormatEntry) =>
  a.format.localeCompare(b.format) || (a.plugin ?? "").localeCompare(b.plugin ?? "");

export function formatCatalogue(plugins: readonly PluginInfo[]): FormatCatalogue {
  const entry = (p: PluginInfo, format: string): FormatEntry => ({
    format,
    plugin: p.name,
    version: p.version,
    description: p.description,
    optionsSchema: p.optionsSchema ?? {},
  });
  return {
    exportFormats: plugins.flatMap((p) => p.formats.map((f) => entry(p, f))).sort(byFormat),
    importFormats: [
      ...RECORD_FORMATS.map((r) => ({ ...r, plugin: null, version: null, optionsSchema: {} })),
      ...plugins.flatMap((p) => p.importFormats.map((f) => entry(p, f))),
    ].sort(byFormat),
  };
}

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An option's values as a user types them: `a|b`, `true|false`, `<integer 8..360>`, `<JSON>`. */
function valueHint(schema: JsonObject): string {
  if (Array.isArray(schema.enum))
    return schema.enum.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join("|");
  switch (schema.type) {
    case "boolean":
      return "true|false";
    case "integer":
    case "number": {
      const min = schema.minimum ?? schema.exclusiveMinimum;
      const max = schema.maximum ?? schema.exclusiveMaximum;
      const range = min !== undefined || max !== undefined ? ` ${min ?? ""}..${max ?? ""}` : "";
      return `<${schema.type}${range}>`;
    }
    case "string":
      return "<text>";
    default:
      return "<JSON>";
  }
}

/** One line per option of a JSON Schema object: `flag name=values (default d): description`. */
function optionLines(schema: JsonObject, flag: string): string[] {
  if (!isObject(schema.properties)) return [];
  return Object.entries(schema.properties).map(([name, property]) => {
    const p = isObject(property) ? property : {};
    const fallback = p.default !== undefined ? ` (default ${JSON.stringify(p.default)})` : "";
    const about = typeof p.description === "string" ? `: ${p.description}` : "";
    return `      ${flag} ${name}=${valueHint(p)}${fallback}${about}`;
  });
}

function section(title: string, entries: readonly FormatEntry[], flag: string): string[] {
  const width = Math.max(0, ...entries.map((e) => e.format.length)) + 2;
  const lines = [title];
  if (entries.length === 0) lines.push("  (none: no plugin of this kind is running)");
  for (const e of entries) {
    const source = e.plugin ? `plugin ${e.plugin} ${e.version}` : "built in";
    lines.push(`  ${e.format.padEnd(width)}${source}${e.description ? `: ${e.description}` : ""}`);
    lines.push(...optionLines(e.optionsSchema, flag));
  }
  return lines;
}

export function catalogueText(c: FormatCatalogue): string {
  return [
    ...section("export formats (export create --format F --option key=value)", c.exportFormats, "--option"),
    ...section(
      "import formats (import FILE --format F --importer-option key=value)",
      c.importFormats,
      "--importer-option",
    ),
  ].join("\n");
}
