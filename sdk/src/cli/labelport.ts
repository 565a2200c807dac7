// `labelport`: the command line for people, over the same Connect contracts a browser uses.
import { createReadStream, type Stats, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { create, type JsonObject, toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ConnectError } from "@connectrpc/connect";
import { SingleBar } from "cli-progress";
import { createLabelportClient, type LabelportClient } from "../client/client.ts";
import type { DropCount } from "../gen/labelport/v1/dataset_pb.ts";
import { type Export, ExportSchema, ExportStatus } from "../gen/labelport/v1/export_pb.ts";
import {
  type AnnotationAccounting,
  type ImportIssue,
  type ImportRequest,
  ImportRequestSchema,
  ImportResponseSchema,
  type PreviewImportRequest,
  PreviewImportRequestSchema,
  PreviewImportResponseSchema,
} from "../gen/labelport/v1/import_service_pb.ts";
import { downloadExport } from "./download.ts";
import { catalogueText, formatCatalogue, IMPORTER_FORMATS } from "./formats.ts";
import { zipFolder } from "./zip-folder.ts";

const USAGE = `usage: labelport <command> [options]

commands:
  datasets list
  formats [--json]
         the server's export and import formats, their plugins and options
  export create --dataset D --format F [--name N] [--option key=value ...] [--wait]
  export list [--dataset D] [--status queued|running|completed|failed|canceled]
  export get ID
  export download ID -o FILE|DIR/ [--artifact KEY]
         (-o x.csv: the export's one .csv file; -o x.zip or DIR/: the whole export)
  export logs ID [--follow]
  export stop ID
  import FILE|FOLDER [--dataset D] [--format F] [--options JSON] [--importer-option key=value ...]
         [--importer-options JSON] [--preview] [--json] [--allow-losses]
         F: jsonl (default), json, labelport-items, or an importer's: ${IMPORTER_FORMATS.join(", ")}
         (labelport formats lists what the server runs); a FOLDER is uploaded as a ZIP of its files
         --options: conflict resolution, validation, transaction; --importer-option: the format's own
         exit 0: completed, 3: completed with annotations dropped (0 with --allow-losses), 1: failed

environment:
  LABELPORT_URL      orchestrator URL (default http://127.0.0.1:8080)
  LABELPORT_API_KEY  API key, when the server has keys configured`;

const statusName = (s: ExportStatus) => ExportStatus[s].toLowerCase();

/** An import's (or preview's) exit code: annotations it dropped are not a success unless allowed. */
const IMPORT_EXIT = { completed: 0, failed: 1, losses: 3 } as const;

interface ImportReport {
  importId?: string;
  status: string;
  annotations?: AnnotationAccounting | undefined;
  notes: string[];
  warnings: ImportIssue[];
  errors: ImportIssue[];
  conflicts: unknown[];
}

const issueText = (i: ImportIssue) => (i.line > 0 ? `line ${i.line}: ${i.message}` : i.message);

/** What happened to the upload's annotations, the losses and their reasons first. */
function importSummary(r: ImportReport, preview: boolean): string {
  const a = r.annotations;
  const verb = preview ? "would be" : "were";
  const lines: string[] = [];
  if (a && a.dropped > 0n) {
    lines.push(`${a.dropped} of ${a.received} annotations ${verb} dropped:`);
    const reasons = [...a.droppedByReason].sort((x, y) => Number(y.count - x.count));
    for (const d of reasons) lines.push(`  ${String(d.count).padStart(8)}  ${d.reason}`);
  }
  lines.push(`${preview ? "preview" : "import"}${r.importId ? ` ${r.importId}` : ""}: ${r.status}`);
  if (a) {
    lines.push(
      `  annotations: ${a.received} received, ${a.written} written, ${a.merged} merged, ${a.skipped} skipped as asked, ${a.dropped} dropped`,
    );
    if (a.changed.length > 0) lines.push(`  changed: ${a.changed.map((c) => `${c.count} ${c.reason}`).join(", ")}`);
  }
  for (const note of r.notes) lines.push(`  note: ${note}`);
  lines.push(`  ${r.warnings.length} warnings, ${r.errors.length} errors, ${r.conflicts.length} conflicts`);
  for (const e of r.errors.slice(0, 5)) lines.push(`  error: ${issueText(e)}`);
  if (r.errors.length > 5) lines.push(`  ... ${r.errors.length - 5} more errors (--json lists them)`);
  return lines.join("\n");
}

function importExitCode(status: string, allowLosses: boolean): number {
  if (status === "completed") return IMPORT_EXIT.completed;
  if (status === "completed_with_losses") return allowLosses ? IMPORT_EXIT.completed : IMPORT_EXIT.losses;
  return IMPORT_EXIT.failed;
}

function parseOptionValue(raw: string): JsonObject[string] {
  try {
    return JSON.parse(raw) as JsonObject[string];
  } catch {
    return raw;
  }
}

/** A flag's JSON object (`--options '{...}'`), or a usage error naming the flag. */
function jsonObjectFlag(flag: string, text: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${flag}: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`${flag}: expected a JSON object`);
  }
  return parsed as JsonObject;
}

/** `key=value` pairs onto `base`; values are JSON when they parse as JSON, else text. */
function keyValueOptions(flag: string, pairs: readonly string[], base: JsonObject = {}): JsonObject {
  const options: JsonObject = { ...base };
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at < 1) throw new UsageError(`${flag} expects key=value, got "${pair}"`);
    options[pair.slice(0, at)] = parseOptionValue(pair.slice(at + 1));
  }
  return options;
}

interface Upload {
  fileName: string;
  /** What the progress bar counts to: the file's bytes, or the folder's files' bytes. */
  size: number;
  chunks: AsyncIterable<Buffer>;
}

/** A file as it is, or a folder as a ZIP of its files made while it uploads. */
async function openUpload(path: string, stats: Stats, onRead: (bytes: number) => void): Promise<Upload> {
  if (stats.isDirectory()) {
    const zip = await zipFolder(path, onRead);
    return { fileName: `${basename(resolve(path))}.zip`, size: zip.bytes, chunks: zip.stream };
  }
  async function* chunks() {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
      onRead((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  }
  return { fileName: basename(path), size: stats.size, chunks: chunks() };
}

/** "  dropped 3 of 12 annotations: polyline: … (2); mask: … (1)", or "" when none met that fate. */
function fatesLine(fate: string, counts: readonly DropCount[], received: bigint): string {
  const total = counts.reduce((n, d) => n + d.count, 0n);
  if (total === 0n) return "";
  return `  ${fate} ${total} of ${received} annotations: ${counts.map((d) => `${d.reason} (${d.count})`).join("; ")}`;
}

function summary(e: Export): string {
  const counts = e.counts;
  return [
    `${e.id}  ${statusName(e.status)}  ${e.format}  "${e.name}"`,
    `  dataset ${e.datasetName || e.datasetId}`,
    counts
      ? `  ${counts.itemCount} items, ${counts.annotationCount} annotations, ${counts.fileCount} files, ${e.fileSize} bytes`
      : "",
    counts ? fatesLine("dropped", counts.dropped, counts.receivedAnnotations) : "",
    counts ? fatesLine("changed", counts.changed, counts.receivedAnnotations) : "",
    e.errorMessage ? `  error: ${e.errorMessage}` : "",
    e.formatNotes.length ? `  notes: ${e.formatNotes.join("; ")}` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

/** Follows an export with a progress bar on stderr; resolves with the final state. */
async function follow(client: LabelportClient, exportId: string, out: NodeJS.WriteStream): Promise<Export> {
  const bar = new SingleBar({
    format: "{bar} {percentage}% | {value}/{total} items | {status}",
    stream: out,
    noTTYOutput: true,
    notTTYSchedule: 2000,
    hideCursor: true,
  });
  bar.start(1, 0, { status: "queued" });
  try {
    return await client.exports.wait(exportId, {
      onProgress: (e) => {
        const total = Number(e.progress?.totalItems ?? 0n);
        bar.setTotal(Math.max(total, Number(e.progress?.processedItems ?? 0n), 1));
        bar.update(Number(e.progress?.processedItems ?? 0n), { status: statusName(e.status) });
      },
    });
  } finally {
    bar.stop();
  }
}

export async function run(argv: string[], io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      dataset: { type: "string" },
      format: { type: "string" },
      name: { type: "string" },
      option: { type: "string", multiple: true },
      options: { type: "string" },
      status: { type: "string" },
      output: { type: "string", short: "o" },
      artifact: { type: "string" },
      wait: { type: "boolean" },
      follow: { type: "boolean" },
      preview: { type: "boolean" },
      json: { type: "boolean" },
      "allow-losses": { type: "boolean" },
      "importer-option": { type: "string", multiple: true },
      "importer-options": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [group, command, arg] = positionals;
  if (values.help || !group) {
    io.out.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const client = createLabelportClient({
    baseUrl: process.env.LABELPORT_URL ?? "http://127.0.0.1:8080",
    apiKey: process.env.LABELPORT_API_KEY,
  });
  const print = (text: string) => io.out.write(`${text}\n`);
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`missing ${what}`);
    return value;
  };

  if (group === "formats" && !command) {
    const catalogue = formatCatalogue((await client.exports.listFormats({})).plugins);
    print(values.json ? JSON.stringify(catalogue, null, 2) : catalogueText(catalogue));
    return 0;
  }
  if (group === "datasets" && command === "list") {
    const { datasets } = await client.datasets.listDatasets({ pageSize: 1000 });
    for (const d of datasets) print(`${d.id}  ${d.name}  ${d.itemCount} items, ${d.annotationCount} annotations`);
    return 0;
  }
  if (group === "export") {
    switch (command) {
      case "create": {
        const options = keyValueOptions("--option", values.option ?? []);
        const created = await client.exports.create({
          datasetId: need(values.dataset, "--dataset"),
          format: need(values.format, "--format"),
          name: values.name ?? "",
          options,
        });
        print(`created export ${created.id}`);
        if (!values.wait) return 0;
        const final = await follow(client, created.id, io.err);
        print(summary(final));
        return 0;
      }
      case "list": {
        const wanted = values.status
          ? ExportStatus[values.status.toUpperCase() as keyof typeof ExportStatus]
          : undefined;
        if (values.status && wanted === undefined) throw new UsageError(`unknown --status "${values.status}"`);
        const { exports } = await client.exports.listExports({
          datasetId: values.dataset ?? "",
          statuses: wanted === undefined ? [] : [wanted],
          pageSize: 100,
        });
        for (const e of exports) {
          const created = e.createTime ? timestampDate(e.createTime).toISOString() : "";
          print(`${e.id}  ${statusName(e.status).padEnd(9)}  ${e.format.padEnd(13)}  ${created}  ${e.name}`);
        }
        return 0;
      }
      case "get": {
        const { export: e } = await client.exports.getExport({ exportId: need(arg, "export id") });
        print(e ? JSON.stringify(toJson(ExportSchema, e), null, 2) : "");
        return 0;
      }
      case "download": {
        const output = need(values.output, "-o FILE");
        const { path, bytes } = await downloadExport(client, need(arg, "export id"), output, values.artifact);
        print(`wrote ${bytes} bytes to ${path}`);
        return 0;
      }
      case "logs": {
        for await (const chunk of client.exports.getExportLogs({
          exportId: need(arg, "export id"),
          follow: values.follow ?? false,
        })) {
          for (const line of chunk.lines) {
            const time = line.time ? timestampDate(line.time).toISOString() : "";
            print(`${time} ${line.level.padEnd(5)} [${line.source}] ${line.message}`);
          }
        }
        return 0;
      }
      case "stop": {
        const { export: e } = await client.exports.cancelExport({ exportId: need(arg, "export id") });
        print(`export ${e?.id} is ${e ? statusName(e.status) : "gone"}`);
        return 0;
      }
    }
  }
  if (group === "import") {
    const path = need(command, "FILE or FOLDER");
    const stats = statSync(path);
    if (stats.isDirectory() && !values.format) {
      throw new UsageError(`${path} is a folder: say its format with --format (labelport formats lists them)`);
    }
    const importerOptionPairs = values["importer-option"] ?? [];
    const importerOptions =
      values["importer-options"] !== undefined || importerOptionPairs.length > 0
        ? keyValueOptions(
            "--importer-option",
            importerOptionPairs,
            values["importer-options"] ? jsonObjectFlag("--importer-options", values["importer-options"]) : {},
          )
        : undefined;
    const bar = new SingleBar(
      { format: "{bar} {percentage}% | {value}/{total} bytes", stream: io.err, noTTYOutput: true },
      undefined,
    );
    let read = 0;
    const upload = await openUpload(path, stats, (bytes) => {
      read += bytes;
      bar.update(read);
    });
    const start = {
      datasetId: values.dataset ?? "",
      fileName: upload.fileName,
      format: values.format ?? "",
      ...(values.options ? { options: jsonObjectFlag("--options", values.options) } : {}),
      ...(importerOptions ? { importerOptions } : {}),
    };
    bar.start(upload.size, 0);
    // Import and PreviewImport take the same parts in two message types.
    async function* parts<T>(schema: typeof ImportRequestSchema | typeof PreviewImportRequestSchema) {
      yield create(schema, { part: { case: "start", value: start } }) as T;
      for await (const chunk of upload.chunks) yield create(schema, { part: { case: "chunk", value: chunk } }) as T;
    }
    const allowLosses = values["allow-losses"] ?? false;
    try {
      if (values.preview) {
        const preview = await client.imports.previewImport(parts<PreviewImportRequest>(PreviewImportRequestSchema));
        bar.stop();
        print(
          values.json
            ? JSON.stringify(toJson(PreviewImportResponseSchema, preview), null, 2)
            : importSummary(preview, true),
        );
        return importExitCode(preview.status, allowLosses);
      }
      const result = await client.imports.import(parts<ImportRequest>(ImportRequestSchema));
      bar.stop();
      print(values.json ? JSON.stringify(toJson(ImportResponseSchema, result), null, 2) : importSummary(result, false));
      return importExitCode(result.status, allowLosses);
    } finally {
      bar.stop();
    }
  }
  throw new UsageError(`unknown command "${positionals.join(" ")}"`);
}

class UsageError extends Error {
  override name = "UsageError";
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) process.stderr.write(`labelport: ${err.message}\n\n${USAGE}\n`);
      else if (err instanceof ConnectError) process.stderr.write(`labelport: ${err.rawMessage} (${err.code})\n`);
      else process.stderr.write(`labelport: ${(err as Error).message}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
