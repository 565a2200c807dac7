// `labelport`: the command line for people, over the same Connect contracts a browser uses.
import { createReadStream, readFileSync, type Stats, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { create, type JsonObject, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { SingleBar } from "cli-progress";
import { createLabelportClient, type LabelportClient } from "../client/client.ts";
import { type Dataset, DatasetSchema, type DropCount, ItemStatus } from "../gen/labelport/v1/dataset_pb.ts";
import { type Export, ExportLogLineSchema, ExportSchema, ExportStatus } from "../gen/labelport/v1/export_pb.ts";
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
import { describeFailure, EXIT, UsageError } from "./exit-codes.ts";
import { resolveExportId } from "./export-id.ts";
import { catalogueText, formatCatalogue } from "./formats.ts";
import { COMMANDS, commandHelp, groupHelp, overview } from "./help.ts";
import { importOptionsFromJson } from "./import-options.ts";
import { styleFor, table } from "./table.ts";
import { versionsCommand } from "./versions.ts";
import { zipFolder } from "./zip-folder.ts";

const statusName = (s: ExportStatus) => ExportStatus[s].toLowerCase();

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

/** An import's (or preview's) exit code: annotations it dropped are not a success unless allowed. */
function importExitCode(status: string, allowLosses: boolean): number {
  if (status === "completed") return EXIT.ok;
  if (status === "completed_with_losses") return allowLosses ? EXIT.ok : EXIT.losses;
  return EXIT.failed;
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
/** --shards N: 0 lets the worker decide by size, 1 never splits. */
function shardsOption(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const shards = Number(raw);
  if (!Number.isInteger(shards) || shards < 0 || shards > 256) {
    throw new UsageError(`--shards: a whole number from 0 to 256, got "${raw}"`, "export create");
  }
  return shards;
}

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
    `  dataset ${e.datasetName || e.datasetId}${e.versionName ? `, version "${e.versionName}"` : ""}${e.target ? `, target ${e.target}` : ""}`,
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

const ITEM_STATUSES: Record<string, ItemStatus> = {
  draft: ItemStatus.DRAFT,
  in_review: ItemStatus.IN_REVIEW,
  approved: ItemStatus.APPROVED,
  rejected: ItemStatus.REJECTED,
};

/**
 * The ItemFilter of `export create`'s flags: --split, --tag, --item-status (or `all`) and
 * --category by name or id (names are looked up in the dataset). No flag: the server's default,
 * approved items.
 */
async function exportFilter(client: LabelportClient, datasetId: string, values: Values, key: string) {
  const statuses = values["item-status"] ?? [];
  const unknown = statuses.find((s) => s !== "all" && !(s in ITEM_STATUSES));
  if (unknown !== undefined) {
    throw new UsageError(
      `unknown --item-status "${unknown}": expected ${Object.keys(ITEM_STATUSES).join(", ")} or all`,
      key,
    );
  }
  let categoryIds: number[] = [];
  if ((values.category ?? []).length > 0) {
    const { dataset } = await client.datasets.getDataset({ datasetId });
    const byName = new Map((dataset?.categories ?? []).map((c) => [c.name, c.id]));
    categoryIds = (values.category ?? []).map((given) => {
      const id = byName.get(given) ?? (/^\d+$/.test(given) ? Number(given) : undefined);
      if (id === undefined) {
        throw new UsageError(`unknown --category "${given}": the dataset has ${[...byName.keys()].join(", ")}`, key);
      }
      return id;
    });
  }
  return {
    splits: values.split ?? [],
    tags: values.tag ?? [],
    categoryIds,
    allStatuses: statuses.includes("all"),
    statuses: statuses.filter((s) => s !== "all").map((s) => ITEM_STATUSES[s] as ItemStatus),
  };
}

/** Follows an export with a progress bar on stderr; resolves with the final state. */
async function follow(client: LabelportClient, exportId: string, out: NodeJS.WriteStream): Promise<Export> {
  // The total is known from the claim on (the server counts the selection), so rate and ETA mean something.
  const bar = new SingleBar({
    format: "{bar} {percentage}% | {value}/{total} items | {rate} items/s | ETA {eta_formatted} | {status}",
    stream: out,
    noTTYOutput: true,
    notTTYSchedule: 2000,
    hideCursor: true,
  });
  bar.start(1, 0, { status: "queued", rate: 0 });
  const started = Date.now();
  try {
    return await client.exports.wait(exportId, {
      onProgress: (e) => {
        const done = Number(e.progress?.processedItems ?? 0n);
        const total = Number(e.progress?.totalItems ?? 0n);
        const seconds = (Date.now() - started) / 1000;
        bar.setTotal(Math.max(total, done, 1));
        bar.update(done, { status: statusName(e.status), rate: seconds > 0 ? Math.round(done / seconds) : 0 });
      },
    });
  } finally {
    bar.stop();
  }
}

const OPTIONS = {
  dataset: { type: "string" },
  format: { type: "string" },
  name: { type: "string" },
  description: { type: "string" },
  category: { type: "string", multiple: true },
  option: { type: "string", multiple: true },
  options: { type: "string" },
  status: { type: "string" },
  split: { type: "string", multiple: true },
  tag: { type: "string", multiple: true },
  "item-status": { type: "string", multiple: true },
  "no-media": { type: "boolean" },
  target: { type: "string" },
  shards: { type: "string" },
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
  // A dataset version (export create); `labelport --version` alone is the CLI's own (see run()).
  version: { type: "string" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

interface Io {
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

/** The SDK's version, from its package.json (two levels up from src/cli/ and from dist/cli/). */
function sdkVersion(): string {
  const manifest = readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8");
  return (JSON.parse(manifest) as { version: string }).version;
}

/** The help key a command line names: "import", "formats", or "group command". */
function commandKey(group: string | undefined, command: string | undefined): string {
  if (group === undefined) return "";
  if (group in COMMANDS) return group;
  return command === undefined ? group : `${group} ${command}`;
}

const isoSeconds = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

function exportRows(exports: readonly Export[]): string[][] {
  return exports.map((e) => [
    e.id,
    e.datasetName || e.datasetId,
    e.format,
    statusName(e.status),
    e.createTime ? isoSeconds(timestampDate(e.createTime)) : "",
    e.name,
  ]);
}

function datasetLine(d: Dataset): string {
  const categories = d.categories.map((c) => `${c.id} ${c.name}`).join(", ");
  return `dataset ${d.id} "${d.name}": ${d.categories.length} categories${categories ? ` (${categories})` : ""}`;
}

export async function run(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const print = (text: string) => io.out.write(`${text}\n`);
  // `--version` with no command is the CLI's version; after a command it takes a dataset version.
  if (argv.includes("--version") && argv.every((arg) => arg === "--version" || arg === "--json")) {
    print(argv.includes("--json") ? JSON.stringify({ version: sdkVersion() }) : sdkVersion());
    return EXIT.ok;
  }
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  const [group, command] = positionals;
  const key = commandKey(group, command);
  if (values.help) {
    print(COMMANDS[key] ? commandHelp(key) : (groupHelp(group ?? "") ?? overview()));
    return EXIT.ok;
  }
  if (!group) {
    io.err.write(`${overview()}\n`);
    return EXIT.usage;
  }
  const client = createLabelportClient({ baseUrl: serverUrl(), apiKey: process.env.LABELPORT_API_KEY });
  try {
    return await dispatch({ client, io, values, positionals, key, print });
  } catch (err) {
    // Usage errors raised below (option parsers) show the usage of the command they came from.
    if (err instanceof UsageError && !err.command && key in COMMANDS) throw new UsageError(err.message, key);
    throw err;
  }
}

interface Invocation {
  client: LabelportClient;
  io: Io;
  values: Values;
  positionals: string[];
  key: string;
  print: (text: string) => void;
}

const serverUrl = () => process.env.LABELPORT_URL ?? "http://127.0.0.1:8080";

async function dispatch(inv: Invocation): Promise<number> {
  const { client, values, key, print } = inv;
  const style = styleFor(inv.io.out);
  /** Prints `value` as the command's whole output: the --json answer. */
  const json = (value: JsonValue) => {
    print(JSON.stringify(value, null, 2));
    return EXIT.ok;
  };
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`missing ${what}`, key);
    return value;
  };
  // Positionals after the command words: `export get ID` has one, `import FILE` too.
  const operand = inv.positionals[key.split(" ").length];
  const exportId = async () => resolveExportId(client, need(operand, "export id"), key);

  switch (key) {
    case "formats": {
      const catalogue = formatCatalogue((await client.exports.listFormats({})).plugins);
      print(values.json ? JSON.stringify(catalogue, null, 2) : catalogueText(catalogue));
      return EXIT.ok;
    }
    case "datasets list": {
      const datasets: Dataset[] = [];
      let pageToken = "";
      do {
        const page = await client.datasets.listDatasets({ pageSize: 1000, pageToken });
        datasets.push(...page.datasets);
        pageToken = page.nextPageToken;
      } while (pageToken);
      if (values.json) return json(datasets.map((d) => toJson(DatasetSchema, d)));
      const rows = datasets.map((d) => [
        d.id,
        d.name,
        String(d.itemCount),
        String(d.annotationCount),
        String(d.categories.length),
      ]);
      print(table(["id", "name", "items", "annotations", "categories"], rows, style));
      return EXIT.ok;
    }
    case "datasets create": {
      const { dataset } = await client.datasets.createDataset({
        name: need(operand, "dataset NAME"),
        description: values.description ?? "",
        categories: (values.category ?? []).map((name) => ({ name })),
      });
      if (!dataset) throw new Error("server returned no dataset");
      if (values.json) return json(toJson(DatasetSchema, dataset));
      print(`created ${datasetLine(dataset)}`);
      return EXIT.ok;
    }
    case "datasets add-categories": {
      const categories = (values.category ?? []).map((name) => ({ name }));
      if (categories.length === 0) throw new UsageError("missing --category NAME", key);
      const { dataset } = await client.datasets.addCategories({ datasetId: need(operand, "DATASET"), categories });
      if (!dataset) throw new Error("server returned no dataset");
      if (values.json) return json(toJson(DatasetSchema, dataset));
      print(datasetLine(dataset));
      return EXIT.ok;
    }
    case "export create": {
      const options = keyValueOptions("--option", values.option ?? []);
      const datasetId = need(values.dataset, "--dataset");
      const created = await client.exports.create({
        datasetId,
        format: need(values.format, "--format"),
        name: values.name ?? "",
        options,
        filter: await exportFilter(client, datasetId, values, key),
        versionId: values.version ?? "",
        target: values.target ?? "",
        shards: shardsOption(values.shards),
        ...(values["no-media"] ? { saveOriginalFile: false } : {}),
      });
      const final = values.wait ? await follow(client, created.id, inv.io.err) : created;
      if (values.json) return json(toJson(ExportSchema, final));
      print(`created export ${created.id}`);
      if (values.wait) print(summary(final));
      return EXIT.ok;
    }
    case "export list": {
      const wanted = values.status ? ExportStatus[values.status.toUpperCase() as keyof typeof ExportStatus] : undefined;
      if (values.status && wanted === undefined) throw new UsageError(`unknown --status "${values.status}"`, key);
      const { exports } = await client.exports.listExports({
        datasetId: values.dataset ?? "",
        statuses: wanted === undefined ? [] : [wanted],
        pageSize: 100,
      });
      if (values.json) return json(exports.map((e) => toJson(ExportSchema, e)));
      print(
        table(["id", "dataset", "format", "status", "created", "name"], exportRows(exports), style, (column, text) =>
          column === 3 ? style.status(text) : text,
        ),
      );
      return EXIT.ok;
    }
    case "export get": {
      const { export: e } = await client.exports.getExport({ exportId: await exportId() });
      if (!e) throw new Error("server returned no export");
      if (values.json) return json(toJson(ExportSchema, e));
      print(summary(e));
      for (const a of e.artifacts) print(`  file ${a.key} (${a.size} bytes)`);
      return EXIT.ok;
    }
    case "export download": {
      const output = need(values.output, "-o FILE");
      const { path, bytes } = await downloadExport(client, await exportId(), output, values.artifact);
      if (values.json) return json({ path, bytes });
      print(`wrote ${bytes} bytes to ${path}`);
      return EXIT.ok;
    }
    case "export logs": {
      for await (const chunk of client.exports.getExportLogs({
        exportId: await exportId(),
        follow: values.follow ?? false,
      })) {
        for (const line of chunk.lines) {
          if (values.json) {
            print(JSON.stringify(toJson(ExportLogLineSchema, line)));
            continue;
          }
          const time = line.time ? timestampDate(line.time).toISOString() : "";
          print(`${time} ${line.level.padEnd(5)} [${line.source}] ${line.message}`);
        }
      }
      return EXIT.ok;
    }
    case "export stop": {
      const { export: e } = await client.exports.cancelExport({ exportId: await exportId() });
      if (values.json) return json(e ? toJson(ExportSchema, e) : null);
      print(`export ${e?.id} is ${e ? statusName(e.status) : "gone"}`);
      return EXIT.ok;
    }
    case "import":
      return await importFile(inv, need(inv.positionals[1], "FILE or FOLDER"));
    case "versions list":
    case "versions create":
    case "versions get":
    case "versions delete":
    case "versions diff":
      return await versionsCommand({
        client,
        key,
        operands: inv.positionals.slice(2),
        description: values.description,
        json: values.json ?? false,
        print,
        style,
      });
  }
  const group = inv.positionals[0] ?? "";
  const commands = Object.keys(COMMANDS).filter((k) => k.startsWith(`${group} `));
  const choices =
    commands.length > 0 ? `; ${group} commands: ${commands.map((k) => k.slice(group.length + 1)).join(", ")}` : "";
  throw new UsageError(`unknown command "${inv.positionals.join(" ")}"${choices}`);
}

async function importFile({ client, io, values, print }: Invocation, path: string): Promise<number> {
  const stats = statIfExists(path);
  if (!stats) throw new UsageError(`${path}: no such file or folder`, "import");
  if (stats.isDirectory() && !values.format) {
    throw new UsageError(`${path} is a folder: say its format with --format (labelport formats lists them)`, "import");
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
  const options = values.options
    ? importOptionsFromJson("--options", jsonObjectFlag("--options", values.options))
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
    ...(options ? { options } : {}),
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

function statIfExists(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS. */
const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((done) => stream.write("", () => done()));

/**
 * Exits only after stdout and stderr drained: a pipe takes 64 KiB before writes go asynchronous,
 * and exiting earlier cuts the output there. (The HTTP/2 session would keep the loop alive, so the
 * exit itself stays explicit.)
 */
async function exitWhenFlushed(code: number): Promise<never> {
  process.exitCode = code;
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

function reportFailure(err: unknown): number {
  const failure = describeFailure(err, serverUrl());
  let text = `labelport: ${failure.message}\n`;
  if (failure.usage) {
    const command = err instanceof UsageError ? err.command : undefined;
    text += command
      ? `usage: labelport ${COMMANDS[command]?.usage}\n(labelport ${command} --help shows an example)\n`
      : "labelport --help lists the commands\n";
  }
  process.stderr.write(text);
  return failure.exitCode;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  run(process.argv.slice(2)).then(exitWhenFlushed, (err: unknown) => exitWhenFlushed(reportFailure(err)));
}
