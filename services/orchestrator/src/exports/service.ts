// ExportService: create, inspect, cancel and delete export jobs; watch them; get download links.
import { randomUUID } from "node:crypto";
import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type CreateExportRequest,
  type Export,
  ExportLogLineSchema,
  type ExportService,
  GetExportLogsResponseSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { annotateActiveSpan, exportPrefix, snapshotPrefix, TraceAttributes } from "@labelport/sdk/runtime";
import { type Principal, principalOf } from "../auth.ts";
import type { Context } from "../context.ts";
import { requireDataset } from "../data/datasets.ts";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../errors.ts";
import type { JobBus } from "./bus.ts";
import type { Downloads } from "./downloads.ts";
import { removeExportFiles } from "./export-files.ts";
import { followLogs, type LogStore } from "./logs.ts";
import { validateOptions } from "./options.ts";
import type { PluginRegistry } from "./plugin-registry.ts";
import {
  ACTIVE,
  type ExportDoc,
  type ExportQuery,
  type ExportRepository,
  filterToJson,
  queuedExportDoc,
  statusFromProto,
  toProto,
} from "./repository.ts";
import { exportStats } from "./stats.ts";
import type { Storages } from "./storages.ts";
import { targetFilter } from "./targets.ts";

/** `<dataset> <format> export <UTC yyyy-mm-dd hh:mm:ss>Z <id prefix>`: unique, as names must be. */
function defaultExportName(dataset: string, format: string, id: string, at: Date): string {
  const when = at
    .toISOString()
    .replace("T", " ")
    .replace(/\.\d{3}Z$/, "Z");
  return `${dataset} ${format} export ${when} ${id.slice(0, 8)}`;
}

/** A duplicate-key error of the unique (datasetId, name) index. */
function isNameClash(err: unknown): boolean {
  const { code, keyPattern } = err as { code?: number; keyPattern?: Record<string, unknown> };
  return code === 11000 && keyPattern !== undefined && "name" in keyPattern;
}

const MAX_NAME_LENGTH = 200;

/** Export names address exports in URLs (the developer exports API), so they must be something a path can hold. */
function validateExportName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) throw invalidArgument(`name: at most ${MAX_NAME_LENGTH} characters`);
  const trimmed = name.trim();
  if (trimmed === "") throw invalidArgument("name: may not be blank (leave it out for a generated name)");
  if (trimmed === "." || trimmed === "..") {
    throw invalidArgument(`name: "${name}" cannot be addressed in a URL path; choose another name`);
  }
  // Names go into URL paths: Python's quote() keeps "/" as is, so a "/" would split the path.
  if (/[/\u0000-\u001f\u007f]/.test(name)) throw invalidArgument("name: may not contain / or control characters");
}

/** SplitItems' limit on ranges. */
const MAX_SHARDS = 256;

/** A request id names one export: asking again for another version or target is a mistake, not a retry. */
function checkSameRequest(
  existing: ExportDoc,
  request: CreateExportRequest,
  version: { id: string; name: string } | undefined,
): void {
  const asked = version ? `version "${version.name}"` : "the live dataset";
  const made = existing.versionId ? `version "${existing.versionName}"` : "the live dataset";
  if ((existing.versionId ?? "") !== (version?.id ?? "")) {
    throw alreadyExists(
      `request_id: "${request.requestId}" already made export ${existing._id} of ${made}, not of ${asked}; use a new request_id`,
    );
  }
  if ((existing.target ?? "") !== request.target) {
    throw alreadyExists(
      `request_id: "${request.requestId}" already made export ${existing._id} with target "${existing.target ?? ""}", not "${request.target}"; use a new request_id`,
    );
  }
}

export interface CreateOptions {
  /** A snapshot API artifact snapshot: its files go under exports/snapshots/<exportId>/, not exports/<exportId>/. */
  snapshot?: boolean;
}

export interface ExportJobs {
  create(request: CreateExportRequest, principal: Principal, options?: CreateOptions): Promise<Export>;
  get(exportId: string): Promise<ExportDoc>;
  cancel(exportId: string): Promise<ExportDoc>;
  delete(exportId: string): Promise<void>;
}

export interface ExportJobsOptions extends Pick<Context, "log" | "database" | "versions"> {
  repo: ExportRepository;
  registry: PluginRegistry;
  storages: Storages;
  bus: JobBus;
  logs: LogStore;
}

export function createExportJobs(options: ExportJobsOptions): ExportJobs {
  const { log, database, versions, repo, registry, storages, bus, logs } = options;
  /** The version a request names, resolved in `datasetId` (undefined: the live dataset). */
  const versionOf = (datasetId: string, request: CreateExportRequest) =>
    request.versionId ? versions.resolve(datasetId, request.versionId, "version_id") : Promise.resolve(undefined);
  const jobs: ExportJobs = {
    async create(request, principal, createOptions = {}) {
      if (request.requestId) {
        const existing = await repo.findByRequestId(request.requestId);
        if (existing) {
          checkSameRequest(existing, request, await versionOf(existing.datasetId, request));
          return toProto(existing);
        }
      }
      if (!request.datasetId) throw invalidArgument("dataset_id: required");
      if (!request.format) throw invalidArgument("format: required");
      if (request.name !== "") validateExportName(request.name);
      const dataset = await requireDataset(database.db, request.datasetId);
      const version = await versionOf(dataset._id, request);
      const filter = targetFilter(request, version !== undefined);
      const plugin = await registry.forFormat(request.format);
      if (!plugin) {
        const formats = (await registry.list()).flatMap((p) => p.formats).sort();
        throw invalidArgument(
          `format: no plugin serves "${request.format}"; available: ${formats.join(", ") || "none (start a plugin)"}`,
        );
      }
      const options = (request.options ?? {}) as JsonObject;
      validateOptions(`${plugin.name}@${plugin.version}`, (plugin.optionsSchema ?? {}) as JsonObject, options);
      for (const status of filter?.statuses ?? []) {
        if (!(status in ItemStatus) || status === ItemStatus.UNSPECIFIED)
          throw invalidArgument(`filter.statuses: invalid status ${status}`);
      }
      if (request.shards > MAX_SHARDS) {
        throw invalidArgument(
          `shards: at most ${MAX_SHARDS} (got ${request.shards}); 0 lets the worker decide by size`,
        );
      }
      const storage = request.storage || storages.defaultName;
      storages.configOf(storage);
      const id = randomUUID();
      annotateActiveSpan({ [TraceAttributes.exportId]: id, [TraceAttributes.format]: request.format });
      // The caller's path is a folder inside the export's own prefix, never a prefix of its own:
      // every attempt empties the prefix first, so it must hold this export's files and no others.
      let path: string;
      try {
        path = createOptions.snapshot ? snapshotPrefix(id) : exportPrefix(id, request.path);
      } catch (err) {
        throw invalidArgument(
          `path: ${(err as Error).message}; path names a folder inside the export's own exports/<export id>/, e.g. "coco/train"`,
        );
      }
      const now = new Date();
      const doc = queuedExportDoc(
        {
          _id: id,
          name: request.name || defaultExportName(dataset.name, request.format, id, now),
          description: request.description,
          datasetId: dataset._id,
          datasetName: dataset.name,
          format: request.format,
          filter: filterToJson(filter),
          storage,
          path,
          saveOriginalFile: request.saveOriginalFile ?? true,
          options,
          pluginName: plugin.name,
          pluginVersion: plugin.version,
          ...(request.requestId ? { requestId: request.requestId } : {}),
          createdBy: principal.name,
          ...(request.target ? { target: request.target } : {}),
          ...(version ? { versionId: version.id, versionName: version.name } : {}),
          ...(request.shards ? { shards: request.shards } : {}),
        },
        now,
      );
      // A version's export reads the version's instant: the same bytes (manifest included) whenever it runs.
      if (version) doc.snapshotTime = version.createdAt;
      try {
        await repo.insert(doc);
      } catch (err) {
        // Two concurrent requests with one request id: the loser returns the winner's job.
        if ((err as { code?: number }).code === 11000 && request.requestId) {
          const winner = await repo.findByRequestId(request.requestId);
          if (winner) return toProto(winner);
        }
        // Export names are unique per dataset (the developer exports API addresses them by name).
        if (isNameClash(err)) {
          throw alreadyExists(`name: an export named "${doc.name}" already exists in dataset "${dataset.name}"`);
        }
        throw err;
      }
      await logs.append(id, "info", `export queued for ${plugin.name}@${plugin.version}`, "orchestrator");
      // If NATS is down the job stays queued and is published again at the next start.
      await bus.publishJob(doc).catch((err: unknown) => log.warn({ err, exportId: id }, "job publish failed"));
      return toProto(doc);
    },
    async get(exportId) {
      const doc = await repo.get(exportId);
      if (!doc) throw notFound(`export "${exportId}" not found`);
      return doc;
    },
    async cancel(exportId) {
      const doc = await jobs.get(exportId);
      if (!ACTIVE.includes(doc.status)) throw failedPrecondition(`export is already ${doc.status}`);
      // The line before the state: a log follower that sees the job ended reads once more and
      // stops, so the line must already be there.
      await logs.append(exportId, "info", "export canceled", "orchestrator");
      const canceled = (await repo.cancel(exportId)) ?? (await jobs.get(exportId));
      bus.cancel(exportId);
      bus.changed(exportId);
      return canceled;
    },
    async delete(exportId) {
      const doc = await jobs.get(exportId);
      if (ACTIVE.includes(doc.status)) {
        await repo.cancel(exportId);
        bus.cancel(exportId);
      }
      await removeExportFiles(storages.driver(doc.storage), doc);
      await repo.delete(exportId);
      await logs.deleteFor(exportId);
    },
  };
  return jobs;
}

export interface ExportServiceOptions extends Pick<Context, "database"> {
  jobs: ExportJobs;
  repo: ExportRepository;
  registry: PluginRegistry;
  bus: JobBus;
  logs: LogStore;
  downloads: Downloads;
}

export function createExportService(options: ExportServiceOptions): ServiceImpl<typeof ExportService> {
  const { database, jobs, repo, registry, bus, logs, downloads } = options;
  return {
    async createExport(request, ctx) {
      return { export: await jobs.create(request, principalOf(ctx)) };
    },
    async getExport(request) {
      return { export: toProto(await jobs.get(request.exportId)) };
    },
    async listExports(request) {
      const pageSize = Math.min(request.pageSize || 50, 500);
      const query: ExportQuery = { limit: pageSize + 1 };
      if (request.datasetId) {
        // Like CreateExport, accept the dataset's id or its name.
        query.dataset = { id: (await requireDataset(database.db, request.datasetId))._id };
      }
      if (request.statuses.length > 0) {
        query.statuses = request.statuses.map((s) => {
          const status = statusFromProto(s);
          if (!status) throw invalidArgument(`statuses: invalid status ${s}`);
          return status;
        });
      }
      if (request.formats.length > 0) query.formats = [...new Set(request.formats)];
      // Newest first; the page token is the last id (uuids are random, so order by createdAt, _id).
      if (request.pageToken) {
        const [time, id] = Buffer.from(request.pageToken, "base64url").toString().split("|");
        const createdAt = new Date(Number(time));
        if (!id || Number.isNaN(createdAt.getTime())) throw invalidArgument("page_token: malformed");
        query.after = { createdAt, id };
      }
      const [docs, totalCount] = await Promise.all([repo.list(query), repo.count(query)]);
      const page = docs.slice(0, pageSize);
      const last = page.at(-1);
      return {
        exports: page.map(toProto),
        nextPageToken:
          docs.length > pageSize && last
            ? Buffer.from(`${last.createdAt.getTime()}|${last._id}`).toString("base64url")
            : "",
        totalCount: BigInt(totalCount),
      };
    },
    async cancelExport(request) {
      return { export: toProto(await jobs.cancel(request.exportId)) };
    },
    async deleteExport(request) {
      await jobs.delete(request.exportId);
      return {};
    },
    async *watchExport(request, ctx) {
      let last = "";
      for (;;) {
        const doc = await jobs.get(request.exportId);
        const exported = toProto(doc);
        const snapshot = JSON.stringify([doc.status, doc.progress, doc.errorMessage, doc.attempts, doc.updatedAt]);
        if (snapshot !== last) {
          last = snapshot;
          yield { export: exported };
        }
        if (!ACTIVE.includes(doc.status)) return;
        // Woken by the job's next event; the timeout covers events applied by another instance.
        await bus.nextChange(request.exportId, 1000, ctx.signal);
        ctx.signal.throwIfAborted();
      }
    },
    async getExportDownload(request) {
      const doc = await jobs.get(request.exportId);
      if (doc.status !== "completed") throw failedPrecondition(`export not ready yet (status ${doc.status})`);
      const link = await downloads.link(doc, request.artifactKey, request.expiresInSeconds || 3600);
      return {
        downloadUrl: link.url,
        expireTime: timestampFromDate(link.expiresAt),
        fileSize: BigInt(link.size),
        fileName: link.fileName,
      };
    },
    async getExportStats(request) {
      return exportStats(database.db, request);
    },
    async listFormats() {
      return { plugins: await registry.list() };
    },
    async *getExportLogs(request, ctx) {
      await jobs.get(request.exportId);
      const batches = followLogs(logs, request.exportId, {
        since: request.sinceTime ? timestampDate(request.sinceTime) : undefined,
        follow: request.follow,
        signal: ctx.signal,
        isActive: async () => ACTIVE.includes((await repo.get(request.exportId))?.status ?? "canceled"),
        nextChange: (signal) => bus.nextChange(request.exportId, 1000, signal),
      });
      for await (const lines of batches) {
        yield create(GetExportLogsResponseSchema, {
          lines: lines.map((l) =>
            create(ExportLogLineSchema, {
              time: timestampFromDate(l.time),
              level: l.level,
              message: l.message,
              source: l.source,
              ...(l.fields ? { fields: l.fields } : {}),
            }),
          ),
        });
      }
    },
  };
}
