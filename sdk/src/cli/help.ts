// Usage text: the overview (`labelport --help`) and each command's own (`labelport export create
// --help`), every one with an example a user can paste.
import { IMPORTER_FORMATS } from "./formats.ts";

interface CommandHelp {
  usage: string;
  summary: string;
  details?: string;
  example: string;
}

export const COMMANDS: Record<string, CommandHelp> = {
  "datasets list": {
    usage: "datasets list [--json]",
    summary: "the datasets with their item and annotation counts",
    example: "labelport datasets list",
  },
  "datasets create": {
    usage: "datasets create NAME [--description TEXT] [--category NAME ...] [--json]",
    summary: "a new dataset, with its categories (ids assigned in order from 1)",
    example: "labelport datasets create street-scenes --category car --category person",
  },
  "datasets add-categories": {
    usage: "datasets add-categories DATASET --category NAME [--category NAME ...] [--json]",
    summary: "more categories for a dataset (DATASET: its id or name)",
    example: "labelport datasets add-categories street-scenes --category bicycle",
  },
  "versions list": {
    usage: "versions list DATASET [--json]",
    summary: "a dataset's versions, newest first: id, name, items, annotations, bytes, created, by",
    example: "labelport versions list street-scenes",
  },
  "versions create": {
    usage: "versions create DATASET NAME [--description TEXT] [--json]",
    summary: "freeze the dataset as it is now (categories, items, annotations) under NAME",
    details: "an export with --version NAME then writes the same bytes whenever it runs",
    example: 'labelport versions create street-scenes june-train --description "training set, June"',
  },
  "versions get": {
    usage: "versions get DATASET VERSION [--json]",
    summary: "one version (VERSION: its id or name): counts, size, creator, time, parent",
    example: "labelport versions get street-scenes june-train",
  },
  "versions delete": {
    usage: "versions delete DATASET VERSION [--json]",
    summary: "delete a version (admin; refused while an export reads it)",
    example: "labelport versions delete street-scenes june-train",
  },
  "versions diff": {
    usage: "versions diff DATASET FROM [TO] [--json]",
    summary:
      "what changed from version FROM to version TO (default: the live dataset): items, annotations, by category",
    example: "labelport versions diff street-scenes june-train july-train",
  },
  formats: {
    usage: "formats [--json]",
    summary: "the server's export and import formats, their plugins and options",
    example: "labelport formats",
  },
  "export create": {
    usage:
      "export create --dataset D --format F [--name N] [--option key=value ...] [--split S ...] [--tag T ...] " +
      "[--category C ...] [--item-status draft|in_review|approved|rejected|all ...] [--version V] " +
      "[--target ground_truth|assignment|task] [--shards N] [--no-media] [--wait] [--json]",
    summary: "start an export; --wait follows it with a progress bar (on stderr) and prints its summary",
    details:
      "--option: the format's own options (labelport formats lists them); values are JSON or text. " +
      "Filters: --split, --tag, --category (name or id) and --item-status select items (approved only " +
      "by default); --version exports a dataset version (id or name: the same bytes whenever it runs); " +
      "--target: seed 002's export targets (ground_truth needs --version); --no-media leaves the original files out; " +
      "--shards N splits the export into N shards worked in parallel by the format's workers (0: by size, 1: never)",
    example: "labelport export create --dataset street-scenes --format coco --name nightly --wait",
  },
  "export list": {
    usage: "export list [--dataset D] [--status queued|running|completed|failed|canceled] [--json]",
    summary: "exports, newest first: id, dataset, format, status, created, name",
    example: "labelport export list --status completed",
  },
  "export get": {
    usage: "export get ID [--json]",
    summary: "one export: status, counts, what was dropped or changed, notes, files",
    example: "labelport export get 3f2a9c1e",
  },
  "export download": {
    usage: "export download ID -o FILE|DIR/ [--artifact KEY] [--json]",
    summary: "an export's files",
    details: "-o x.zip or DIR/: the whole export; -o x.csv: the export's one .csv file; --artifact picks a file",
    example: "labelport export download 3f2a9c1e -o exports/",
  },
  "export logs": {
    usage: "export logs ID [--follow] [--json]",
    summary: "the export's log lines (orchestrator and plugin); --follow until it ends; --json: one object a line",
    example: "labelport export logs 3f2a9c1e --follow",
  },
  "export stop": {
    usage: "export stop ID [--json]",
    summary: "cancel a queued or running export",
    example: "labelport export stop 3f2a9c1e",
  },
  import: {
    usage: `import FILE|FOLDER [--dataset D] [--format F] [--options JSON] [--importer-option key=value ...]
         [--importer-options JSON] [--preview] [--json] [--allow-losses]`,
    summary: "upload annotations; a FOLDER is uploaded as a ZIP of its files",
    details: `F: jsonl (default), json, labelport-items, or an importer's: ${IMPORTER_FORMATS.join(", ")}
         --options: {"conflictResolution":{"duplicateIds":"skip|overwrite|merge|fail",
           "overlappingFrames":"skip|merge|overwrite|fail","missingDependencies":"skip|create|fail"},
           "validation":{"strictMode":false,"requireKeyframes":true},"transaction":{"atomic":true}}
         --importer-option: the format's own (labelport formats lists them)
         exits 3 when annotations were (or, with --preview, would be) dropped, unless --allow-losses`,
    example: "labelport import ./my_coco --format coco --dataset street-scenes --preview",
  },
};

const GLOBAL = `global options:
  --json             machine-readable output on stdout (nothing else)
  -h, --help         this help, or a command's (labelport export create --help)
  --version          the CLI's version (alone; export create --version V names a dataset version)

environment:
  LABELPORT_URL      orchestrator URL (default http://127.0.0.1:8080)
  LABELPORT_API_KEY  API key, when the server has keys configured
  NO_COLOR           no colour, even on a terminal

exit codes:
  0 ok, 1 failed, 2 usage error, 3 completed with losses, 4 not signed in or not allowed,
  5 not found, 6 server unavailable`;

export function overview(): string {
  const width = Math.max(...Object.values(COMMANDS).map((c) => c.usage.split(" [")[0]?.length ?? 0)) + 2;
  const lines = Object.values(COMMANDS).map((c) => `  ${(c.usage.split(" [")[0] ?? "").padEnd(width)}${c.summary}`);
  return `usage: labelport <command> [options]\n\ncommands:\n${lines.join("\n")}\n\n${GLOBAL}`;
}

export function commandHelp(key: string): string {
  const c = COMMANDS[key];
  if (!c) return overview();
  return [
    `usage: labelport ${c.usage}`,
    "",
    c.summary,
    ...(c.details ?? "")
      .split("\n")
      .filter(Boolean)
      .map((line) => `  ${line.trim()}`),
    "",
    "example:",
    `  ${c.example}`,
  ].join("\n");
}

/** The commands of a group (`labelport export --help`). */
export function groupHelp(group: string): string | undefined {
  const keys = Object.keys(COMMANDS).filter((k) => k.startsWith(`${group} `));
  if (keys.length === 0) return undefined;
  return [
    `usage: labelport ${group} <command>`,
    "",
    ...keys.map((k) => `  ${COMMANDS[k]?.usage}`),
    "",
    `labelport ${group} <command> --help shows a command's options and an example`,
  ].join("\n");
}
