// Seed 004's developer exports REST API (/api/v1/developer/exports/...), exports addressed by
// dataset and export name, with seed 003's behaviours: approved ("complete") items only by
// default, removed annotations left out unless asked for, check values, refresh. Job logs too.
import { once } from "node:events";
import type http from "node:http";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { CreateExportRequestSchema, type Export, type ItemFilterSchema, ItemStatus } from "@labelport/sdk/contracts";
import type { Filter } from "mongodb";
import type { Deps } from "../app.ts";
import type { Principal } from "../auth.ts";
import type { DatasetDoc } from "../data/model.ts";
import { failedPrecondition, invalidArgument, notFound } from "../errors.ts";
import type { RestContext, RestHandler, RestRequest, RestRouter } from "../rest/router.ts";
import { sendJson } from "../rest/router.ts";
import type { JobBus } from "./bus.ts";
import type { Downloads } from "./downloads.ts";
import { followLogs, type LogLineDoc, type LogStore } from "./logs.ts";
import type { PluginRegistry } from "./plugin-registry.ts";
import { ACTIVE, type ExportDoc, type ExportRepository, filterOf, type JobStatus } from "./repository.ts";
import type { ExportJobs } from "./service.ts";

export const DEVELOPER_EXPORTS_PATH = "/api/v1/developer/exports";

/**
 * The format of this API's exports: COCO instances JSON per split (`annotations/`), `classes.json`,
 * `metadata/export_summary.json`, `manifest.json`, and the images under `images/<split>/`.
 * A request may name another format with `format`; the download is a ZIP either way.
 */
export const DEVELOPER_EXPORT_FORMAT = "coco";

const MAX_BODY_BYTES = 64 * 1024;
const MAX_NAME_LENGTH = 200;
const MAX_LIST = 1000;
const LINK_TTL_S = 3600;
const MAX_LINK_TTL_S = 7 * 24 * 3600;

export interface DeveloperApiDeps {
  jobs: ExportJobs;
  repo: ExportRepository;
  downloads: Downloads;
  logs: LogStore;
  bus: JobBus;
  registry: PluginRegistry;
}

type ItemFilterInit = MessageInitShape<typeof ItemFilterSchema>;

type PublicStatus = "pending" | "processing" | "completed" | "failed";

/** Seed 004's four statuses; a canceled job is "failed" with error_message "canceled". */
const publicStatus: Record<JobStatus, PublicStatus> = {
  queued: "pending",
  running: "processing",
  completed: "completed",
  failed: "failed",
  canceled: "failed",
};

const jobStatusesOf: Record<PublicStatus, JobStatus[]> = {
  pending: ["queued"],
  processing: ["running"],
  completed: ["completed"],
  failed: ["failed", "canceled"],
};

/** `status_filter` values; "complete"/"completed" are seed 003's name for approved items. */
const itemStatuses: Record<string, ItemStatus> = {
  complete: ItemStatus.APPROVED,
  completed: ItemStatus.APPROVED,
  approved: ItemStatus.APPROVED,
  draft: ItemStatus.DRAFT,
  in_review: ItemStatus.IN_REVIEW,
  rejected: ItemStatus.REJECTED,
};

const CREATE_FIELDS = [
  "dataset_name",
  "name",
  "include_images",
  "class_filter",
  "status_filter",
  "include_removed",
  "format",
] as const;

interface CreateBody {
  datasetName: string;
  name: string;
  includeImages: boolean;
  classFilter: string[];
  statusFilter: string;
  includeRemoved: boolean;
  format: string | undefined;
}

/** ISO 8601 in UTC to the second, as the seed shows them: 2024-01-15T10:30:00Z. */
const isoSeconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, "Z");

export function registerDeveloperApi(rest: RestRouter, deps: Deps, api: DeveloperApiDeps): void {
  const { jobs, repo, downloads, logs, bus, registry } = api;
  const datasets = deps.database.db.collection<DatasetDoc>("datasets");

  const route = (method: "GET" | "POST" | "DELETE", path: string, role: "viewer" | "editor", handler: RestHandler) =>
    rest.on(method, path, role, handler);

  /** A dataset by name (the seed's slug), else by id. */
  const findDataset = async (nameOrId: string) =>
    (await datasets.findOne({ name: nameOrId })) ?? (await datasets.findOne({ _id: nameOrId }));

  /** The export `exportName` of dataset `datasetName` (also of a deleted dataset, by its name). */
  async function findExport(params: RestContext["params"]): Promise<{ doc: ExportDoc; dataset: DatasetDoc | null }> {
    const datasetName = params.datasetName ?? "";
    const exportName = params.exportName ?? "";
    const dataset = await findDataset(datasetName);
    const doc = await repo.collection.findOne(
      dataset ? { datasetId: dataset._id, name: exportName } : { datasetName, name: exportName },
    );
    if (!doc) {
      throw notFound(
        dataset
          ? `export "${exportName}" not found in dataset "${dataset.name}"`
          : `dataset "${datasetName}" not found`,
      );
    }
    return { doc, dataset };
  }

  route("POST", DEVELOPER_EXPORTS_PATH, "editor", async ({ req, res, principal }) => {
    const body = parseCreateBody(await readJsonBody(req));
    const dataset = await findDataset(body.datasetName);
    if (!dataset) throw notFound(`dataset "${body.datasetName}" not found`);
    const format = body.format ?? DEVELOPER_EXPORT_FORMAT;
    if (body.format === undefined && !(await registry.forFormat(format))) {
      throw new ConnectError(
        `no ${format} exporter is running to make this export; start the ${format} plugin and try again`,
        Code.Unavailable,
      );
    }
    const filter: ItemFilterInit = {
      ...itemStatusFilter(body.statusFilter),
      categoryIds: categoryIds(dataset, body.classFilter),
      includeRemoved: body.includeRemoved,
    };
    const created = await jobs.create(
      create(CreateExportRequestSchema, {
        datasetId: dataset._id,
        name: body.name,
        format,
        filter,
        saveOriginalFile: body.includeImages,
      }),
      principal,
    );
    sendCreated(res, created);
  });

  route("GET", DEVELOPER_EXPORTS_PATH, "viewer", async ({ res, query }) => {
    const filter: Filter<ExportDoc> = {};
    const datasetName = query.get("dataset_name");
    if (datasetName) {
      const dataset = await findDataset(datasetName);
      if (dataset) filter.datasetId = dataset._id;
      else filter.datasetName = datasetName;
    }
    const status = query.get("status");
    if (status) {
      if (!Object.hasOwn(jobStatusesOf, status)) {
        throw invalidArgument(`status: must be one of pending, processing, completed, failed (got "${status}")`);
      }
      filter.status = { $in: jobStatusesOf[status as PublicStatus] };
    }
    const limit = intParam(query.get("limit"), "limit", 1, MAX_LIST) ?? MAX_LIST;
    const docs = await repo.collection.find(filter).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray();
    sendJson(res, 200, docs.map(summaryView));
  });

  const one = `${DEVELOPER_EXPORTS_PATH}/:datasetName/:exportName`;

  route("GET", one, "viewer", async ({ res, params }) => {
    const { doc, dataset } = await findExport(params);
    sendJson(res, 200, detailView(doc, dataset));
  });

  route("GET", `${one}/download`, "viewer", async ({ res, params, query }) => {
    const { doc } = await findExport(params);
    if (doc.status !== "completed") {
      const status = publicStatus[doc.status];
      throw failedPrecondition(
        status === "failed"
          ? `export "${doc.name}" failed (${errorMessageOf(doc)}); there is nothing to download`
          : `export not ready yet (status ${status})`,
      );
    }
    const expiresIn = intParam(query.get("expires_in"), "expires_in", 1, MAX_LINK_TTL_S) ?? LINK_TTL_S;
    const link = await downloads.link(doc, "", expiresIn, { zip: true });
    sendJson(res, 200, {
      download_url: link.url,
      expires_at: isoSeconds(link.expiresAt),
      file_size: link.size,
      file_name: link.fileName,
    });
  });

  // Seed 003 "refresh": a new export of the current data with the same settings; the old one stays.
  route("POST", `${one}/refresh`, "editor", async ({ res, params, principal }) => {
    const { doc } = await findExport(params);
    const base = doc.name.replace(/ \(refreshed [^()]*\)$/, "");
    const stamp = isoSeconds(new Date()).replace("T", " ");
    for (let attempt = 1; ; attempt++) {
      const name = `${base} (refreshed ${stamp}${attempt > 1 ? ` #${attempt}` : ""})`;
      try {
        const created = await jobs.create(
          create(CreateExportRequestSchema, {
            datasetId: doc.datasetId,
            name,
            description: doc.description,
            format: doc.format,
            filter: filterOf(doc),
            storage: doc.storage,
            saveOriginalFile: doc.saveOriginalFile,
            options: doc.options,
          }),
          principal,
        );
        sendCreated(res, created, { refreshed_from: doc._id });
        return;
      } catch (err) {
        if (attempt < 10 && ConnectError.from(err).code === Code.AlreadyExists) continue;
        throw err;
      }
    }
  });

  // Seed 004: "admin or owner"; the owner is the API key that created the export.
  route("DELETE", one, "editor", async ({ res, params, principal }) => {
    const { doc } = await findExport(params);
    if (!mayDelete(principal, doc)) {
      throw new ConnectError(
        `API key "${principal.name}" may delete only the exports it created; deleting others needs an admin key`,
        Code.PermissionDenied,
      );
    }
    await jobs.delete(doc._id);
    (res as http.ServerResponse).writeHead(204);
    res.end();
  });

  route("GET", `${one}/logs`, "viewer", async (ctx) => {
    const { doc } = await findExport(ctx.params);
    await sendLogs(ctx, doc._id);
  });

  // The same by export id, for exports made through the Connect API or the CLI.
  route("GET", "/api/exports/:exportId/logs", "viewer", async (ctx) => {
    const doc = await jobs.get(ctx.params.exportId ?? "");
    await sendLogs(ctx, doc._id);
  });

  /**
   * The job's log lines: a JSON array, or with `follow=true` NDJSON (one line object per line)
   * streamed until the job is finished or the client goes away. `since` (ISO time) skips older lines.
   */
  async function sendLogs({ res, query }: RestContext, exportId: string): Promise<void> {
    const follow = boolParam(query.get("follow"), "follow");
    const sinceParam = query.get("since");
    let since: Date | undefined;
    if (sinceParam) {
      since = new Date(sinceParam);
      if (Number.isNaN(since.getTime())) throw invalidArgument(`since: expected an ISO 8601 time, got "${sinceParam}"`);
    }
    if (!follow) {
      sendJson(res, 200, (await logs.read(exportId, { since })).map(logLineView));
      return;
    }
    const out = res as http.ServerResponse;
    const gone = new AbortController();
    out.on("close", () => gone.abort());
    out.writeHead(200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    out.flushHeaders();
    try {
      const batches = followLogs(logs, exportId, {
        since,
        follow: true,
        signal: gone.signal,
        isActive: async () => ACTIVE.includes((await repo.get(exportId))?.status ?? "canceled"),
        nextChange: (signal) => bus.nextChange(exportId, 1000, signal),
      });
      for await (const lines of batches) {
        for (const line of lines) {
          if (!out.write(`${JSON.stringify(logLineView(line))}\n`)) await once(out, "drain", { signal: gone.signal });
        }
      }
    } catch (err) {
      if (!gone.signal.aborted) throw err;
    }
    out.end();
  }

  function sendCreated(res: RestContext["res"], created: Export, extra: Record<string, string> = {}): void {
    sendJson(
      res,
      201,
      {
        id: created.id,
        name: created.name,
        dataset_name: created.datasetName,
        format: created.format,
        status: "pending" satisfies PublicStatus,
        created_at: isoSeconds(created.createTime ? timestampDate(created.createTime) : new Date()),
        ...extra,
      },
      {
        location: `${DEVELOPER_EXPORTS_PATH}/${encodeURIComponent(created.datasetName)}/${encodeURIComponent(created.name)}`,
      },
    );
  }
}

function mayDelete(principal: Principal, doc: ExportDoc): boolean {
  return principal.role === "admin" || principal.name === doc.createdBy;
}

function errorMessageOf(doc: ExportDoc): string {
  if (doc.status === "canceled") return "canceled";
  return doc.errorMessage || "failed";
}

/** The list entry: seed 004's fields plus format, file_count and error_message (check values). */
function summaryView(doc: ExportDoc) {
  const status = publicStatus[doc.status];
  return {
    id: doc._id,
    name: doc.name,
    dataset_name: doc.datasetName,
    format: doc.format,
    status,
    image_count: doc.counts.itemCount,
    annotation_count: doc.counts.annotationCount,
    file_count: doc.counts.fileCount,
    file_size: doc.fileSize,
    created_at: isoSeconds(doc.createdAt),
    completed_at: doc.completedAt ? isoSeconds(doc.completedAt) : null,
    error_message: status === "failed" ? errorMessageOf(doc) : null,
  };
}

/** GET one export: the list entry plus what it was asked for and the format's notes. */
function detailView(doc: ExportDoc, dataset: DatasetDoc | null) {
  const filter = filterOf(doc);
  const names = new Map((dataset?.categories ?? []).map((c) => [c.id, c.name]));
  return {
    ...summaryView(doc),
    include_images: doc.saveOriginalFile,
    class_filter: filter.categoryIds.length > 0 ? filter.categoryIds.map((id) => names.get(id) ?? String(id)) : null,
    status_filter: filter.allStatuses
      ? "all"
      : filter.statuses.length > 0
        ? filter.statuses.map((s) => ItemStatus[s].toLowerCase()).join(",")
        : "approved",
    include_removed: filter.includeRemoved,
    notes: doc.formatNotes,
  };
}

function logLineView(line: LogLineDoc) {
  return {
    time: line.time.toISOString(),
    level: line.level,
    source: line.source,
    message: line.message,
    ...(line.fields ? { fields: line.fields } : {}),
  };
}

/** `status_filter`: one status or several comma-separated, or "all"; absent means approved only. */
function itemStatusFilter(value: string): ItemFilterInit {
  const wanted = value
    .split(",")
    .map((s) =>
      s
        .trim()
        .toLowerCase()
        .replace(/[\s-]+/g, "_"),
    )
    .filter(Boolean);
  if (wanted.length === 0) return {};
  if (wanted.includes("all")) return { allStatuses: true };
  const statuses = new Set<ItemStatus>();
  for (const name of wanted) {
    const status = Object.hasOwn(itemStatuses, name) ? itemStatuses[name] : undefined;
    if (status === undefined) {
      throw invalidArgument(
        `status_filter: unknown status "${name}"; use complete (approved), draft, in_review, rejected or all`,
      );
    }
    statuses.add(status);
  }
  return { statuses: [...statuses] };
}

/** `class_filter` names to the dataset's category ids; an unknown class is named in the error. */
function categoryIds(dataset: DatasetDoc, classes: string[]): number[] {
  const byName = new Map((dataset.categories ?? []).map((c) => [c.name, c.id]));
  const ids = new Set<number>();
  for (const name of classes) {
    const id = byName.get(name);
    if (id === undefined) {
      const known = [...byName.keys()];
      throw invalidArgument(
        `class_filter: unknown class "${name}" in dataset "${dataset.name}" (classes: ${known.join(", ") || "none"})`,
      );
    }
    ids.add(id);
  }
  return [...ids];
}

async function readJsonBody(req: RestRequest): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new ConnectError(`request body: at most ${MAX_BODY_BYTES} bytes`, Code.ResourceExhausted);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") throw invalidArgument("request body: expected a JSON object with dataset_name and name");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`request body: not valid JSON (${(err as Error).message})`);
  }
}

function parseCreateBody(raw: unknown): CreateBody {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalidArgument("request body: expected a JSON object with dataset_name and name");
  }
  const body = raw as Record<string, unknown>;
  for (const key of Object.keys(body)) {
    if (!(CREATE_FIELDS as readonly string[]).includes(key)) {
      throw invalidArgument(`${key}: unknown field; expected ${CREATE_FIELDS.join(", ")}`);
    }
  }
  const text = (key: string, required: boolean): string | undefined => {
    const value = body[key];
    if (value === undefined || value === null) {
      if (required) throw invalidArgument(`${key}: required`);
      return undefined;
    }
    if (typeof value !== "string") throw invalidArgument(`${key}: expected a string, got ${JSON.stringify(value)}`);
    if (required && value.trim() === "") throw invalidArgument(`${key}: required`);
    return value;
  };
  const flag = (key: string): boolean => {
    const value = body[key] ?? false;
    if (typeof value !== "boolean")
      throw invalidArgument(`${key}: expected true or false, got ${JSON.stringify(value)}`);
    return value;
  };
  const name = (text("name", true) ?? "").trim();
  if (name.length > MAX_NAME_LENGTH) throw invalidArgument(`name: at most ${MAX_NAME_LENGTH} characters`);
  // Names go into URL paths: Python's quote() keeps "/" as is, so a "/" would split the path.
  if (/[/\u0000-\u001f\u007f]/.test(name)) throw invalidArgument("name: may not contain / or control characters");
  const classFilter = body.class_filter ?? [];
  if (!Array.isArray(classFilter) || classFilter.some((c) => typeof c !== "string")) {
    throw invalidArgument("class_filter: expected an array of class names");
  }
  return {
    datasetName: text("dataset_name", true) ?? "",
    name,
    includeImages: flag("include_images"),
    classFilter: classFilter as string[],
    statusFilter: text("status_filter", false) ?? "",
    includeRemoved: flag("include_removed"),
    format: text("format", false) || undefined,
  };
}

function intParam(value: string | null, name: string, min: number, max: number): number | undefined {
  if (value === null || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw invalidArgument(`${name}: expected a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function boolParam(value: string | null, name: string): boolean {
  if (value === null || value === "" || value === "false" || value === "0") return false;
  if (value === "true" || value === "1") return true;
  throw invalidArgument(`${name}: expected true or false, got "${value}"`);
}
