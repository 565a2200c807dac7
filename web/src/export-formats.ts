// Export formats under the names people know them by ("COCO", not `coco`); the id stays visible
// beside the name because the CLI and the API take ids.
import type { PluginInfo } from "@labelport/sdk/contracts";

const EXPORT_FORMAT_NAMES: Record<string, string> = {
  coco: "COCO",
  yolo: "YOLO",
  voc: "Pascal VOC",
  labelme: "LabelMe",
  cvat: "CVAT for images 1.1",
  "dm-json": "DM Schema v1",
  csv: "CSV",
  "json-snapshot": "JSON snapshot",
  jsonl: "Video annotations (JSON Lines)",
  json: "Video annotations (JSON)",
};

/** "coco" → "COCO"; a plugin's own format id, capitalised, when it is not a built-in one. */
export function formatName(format: string): string {
  return EXPORT_FORMAT_NAMES[format] ?? format.charAt(0).toUpperCase() + format.slice(1);
}

/** "COCO (coco)": the name first, the id the CLI takes second. */
export function formatChoiceLabel(format: string): string {
  const name = formatName(format);
  return name.toLowerCase() === format.toLowerCase() ? name : `${name} (${format})`;
}

/** Every format the running exporter plugins serve, by name. */
export function exportFormats(plugins: readonly PluginInfo[]): Array<{ format: string; plugin: PluginInfo }> {
  const formats = new Map<string, PluginInfo>();
  for (const plugin of plugins) for (const format of plugin.formats) formats.set(format, plugin);
  return [...formats]
    .map(([format, plugin]) => ({ format, plugin }))
    .sort((a, b) => formatName(a.format).localeCompare(formatName(b.format)));
}
