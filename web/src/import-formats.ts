// The upload formats the import form offers: the record formats the orchestrator reads itself,
// then the formats of the importer plugins the server runs (ListFormats), under the names users
// know them by.
import type { PluginInfo } from "@labelport/sdk/contracts";

export interface ImportFormatChoice {
  format: string;
  label: string;
  /** The importer plugin reading it; none for the record formats. */
  plugin?: PluginInfo;
  /** Video annotation records: the frame and keyframe options apply. */
  video: boolean;
}

const RECORD_FORMATS: readonly ImportFormatChoice[] = [
  { format: "jsonl", label: "Video annotation JSONL (one annotation per line)", video: true },
  { format: "json", label: "Video annotation JSON (an array)", video: true },
  { format: "labelport-items", label: "Item JSONL (Labelport's items.jsonl)", video: false },
];

/** The built-in importers' formats by their common names, in the order the form lists them. */
const IMPORTER_NAMES: Record<string, string> = {
  coco: "COCO",
  yolo: "YOLO",
  voc: "Pascal VOC",
  labelme: "LabelMe",
  cvat: "CVAT for images 1.1",
  "dm-json": "DM Schema v1",
  csv: "Labelport CSV",
  labelport: "Labelport export ZIP",
};

const seen = (p: PluginInfo) => Number(p.lastSeenTime?.seconds ?? 0n);

/** Record formats first, then one choice per importer format (the plugin seen last, as the server picks). */
export function importFormatChoices(plugins: readonly PluginInfo[]): {
  records: readonly ImportFormatChoice[];
  importers: ImportFormatChoice[];
} {
  const newest = new Map<string, PluginInfo>();
  for (const plugin of plugins) {
    for (const format of plugin.importFormats) {
      const other = newest.get(format);
      if (!other || seen(plugin) > seen(other)) newest.set(format, plugin);
    }
  }
  const order = Object.keys(IMPORTER_NAMES);
  const rank = (format: string) => (order.includes(format) ? order.indexOf(format) : order.length);
  const importers = [...newest]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([format, plugin]) => ({ format, label: IMPORTER_NAMES[format] ?? format, plugin, video: false }));
  return { records: RECORD_FORMATS, importers };
}
