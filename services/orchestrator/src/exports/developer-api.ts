// The developer exports API (/api/v1/developer/exports/...), exports addressed by dataset and
// export name, with the hosted export conventions: approved ("complete") items only by
// default, removed annotations left out unless asked for, check values, refresh. Job logs too.
import { once } from "node:events";
import type http from "node:http";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { CreateExportRequestSchema, type Export } from "@labelport/sdk/contracts";
import type { Principal } from "../auth.ts";
import type { Context } from "../context.ts";
import { findDataset } from "../data/datasets.ts";
import type { DatasetDoc } from "../data/model.ts";
import { failedPrecondition, invalidArgument, notFound, permissionDenied, unavailable } from "../errors.ts";
import type { RestContext, RestHandler, RestRouter } from "../rest/router.ts";
import { readJsonBody, sendJson } from "../rest/router.ts";
import type { JobBus } from "./bus.ts";
import {
  boolParam,
  categoryIds,
  detailView,
  errorMessageOf,
  type ItemFilterInit,
  intParam,
  isoSeconds,
  itemStatusFilter,
  jobStatusesOf,
  logLineView,
  type PublicStatus,
  parseCreateBody,
  publicStatus,
  summaryView,
} from "./developer-api-views.ts";
import type { Downloads } from "./downloads.ts";
import { followLogs, type LogStore } from "./logs.ts";
import type { PluginRegistry } from "./plugin-registry.ts";
import { ACTIVE, type ExportDoc, type ExportQuery, type ExportRepository, filterOf } from "./repository.ts";
import type { ExportJobs } from "./service.ts";

export const DEVELOPER_EXPORTS_PATH = "/api/v1/developer/exports";

/**
 * The format of this API's exports: COCO instances JSON per split (`annotations/`), `classes.json`,
 * `metadata/export_summary.json`, `manifest.json`, and the images under `images/<split>/`.
 * A request may name another format with `format`; the download is a ZIP either way.
 */
export const DEVELOPER_EXPORT_FORMAT = "coco";

const MAX_BODY_BYTES = 64 * 1024;
const MAX_LIST = 1000;
const LINK_TTL_S = 3600;
/** Storage listings at once when a list holds exports whose ZIP was never measured. */
const MEASURE_CONCURRENCY = 8;
const MAX_LINK_TTL_S = 7 * 24 * 3600;

export interface DeveloperApiOptions extends Pick<Context, "database"> {
  jobs: ExportJobs;
  repo: ExportRepository;
  downloads: Downloads;
  logs: LogStore;
  bus: JobBus;
  registry: PluginRegistry;
}

export function registerDeveloperApi(rest: RestRouter, options: DeveloperApiOptions): void {
  const { database, jobs, repo, downloads, logs, bus, registry } = options;
  const db = database.db;

  const route = (method: "GET" | "POST" | "DELETE", path: string, role: "viewer" | "editor", handler: RestHandler) =>
    rest.on(method, path, role, handler);

  /**
   * The job with its ZIP's size (file_size), measured now and recorded when completion could not
   * (it raced this view, or storage failed then). Files gone from storage: left unmeasured.
   */
  async function measured(doc: ExportDoc): Promise<ExportDoc> {
    if (doc.status !== "completed" || doc.zipSize !== undefined) return doc;
    try {
      const zipSize = await downloads.zipSize(doc);
      await repo.recordZipSize(doc._id, zipSize);
      return { ...doc, zipSize };
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return doc;
      throw err;
    }
  }

  /** The export `exportName` of dataset `datasetName` (also of a deleted dataset, by its name). */
  async function findExport(params: RestContext["params"]): Promise<{ doc: ExportDoc; dataset: DatasetDoc | null }> {
    const datasetName = params.datasetName ?? "";
    const exportName = params.exportName ?? "";
    const dataset = await findDataset(db, datasetName);
    const doc = await repo.findByName(dataset ? { id: dataset._id } : { name: datasetName }, exportName);
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
    const body = parseCreateBody(await readJsonBody(req, { maxBytes: MAX_BODY_BYTES, field: "request body" }));
    const dataset = await findDataset(db, body.datasetName);
    if (!dataset) throw notFound(`dataset "${body.datasetName}" not found`);
    const format = body.format ?? DEVELOPER_EXPORT_FORMAT;
    if (body.format === undefined && !(await registry.forFormat(format))) {
      throw unavailable(
        `no ${format} exporter is running to make this export; start the ${format} plugin and try again`,
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
        versionId: body.version,
      }),
      principal,
    );
    sendCreated(res, created);
  });

  route("GET", DEVELOPER_EXPORTS_PATH, "viewer", async ({ res, query }) => {
    let dataset: ExportQuery["dataset"];
    const datasetName = query.get("dataset_name");
    if (datasetName) {
      const found = await findDataset(db, datasetName);
      dataset = found ? { id: found._id } : { name: datasetName };
    }
    const status = query.get("status");
    if (status && !Object.hasOwn(jobStatusesOf, status)) {
      throw invalidArgument(`status: must be one of pending, processing, completed, failed (got "${status}")`);
    }
    const limit = intParam(query.get("limit"), "limit", 1, MAX_LIST) ?? MAX_LIST;
    const listed: ExportQuery = {
      limit,
      ...(dataset ? { dataset } : {}),
      ...(status ? { statuses: jobStatusesOf[status as PublicStatus] } : {}),
    };
    const docs = await repo.list(listed);
    sendJson(res, 200, (await mapBounded(docs, measured)).map(summaryView));
  });

  const one = `${DEVELOPER_EXPORTS_PATH}/:datasetName/:exportName`;

  route("GET", one, "viewer", async ({ res, params }) => {
    const { doc, dataset } = await findExport(params);
    sendJson(res, 200, detailView(await measured(doc), dataset));
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
    // `artifact` asks for one file of the export (e.g. annotations.csv) instead of the whole ZIP.
    const artifact = query.get("artifact") ?? "";
    const link = await downloads.link(doc, artifact, expiresIn, { zip: !artifact });
    sendJson(res, 200, {
      download_url: link.url,
      expires_at: isoSeconds(link.expiresAt),
      file_size: link.size,
      file_name: link.fileName,
    });
  });

  // "Refresh" (regenerate): a new export of the current data with the same settings; the old one stays.
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
            // A version's export refreshed is the same version again (its data never changes).
            versionId: doc.versionId ?? "",
            target: doc.target ?? "",
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

  // The developer exports API says "admin or owner"; the owner is the API key that created the export.
  route("DELETE", one, "editor", async ({ res, params, principal }) => {
    const { doc } = await findExport(params);
    if (!mayDelete(principal, doc)) {
      throw permissionDenied(
        `API key "${principal.name}" may delete only the exports it created; deleting others needs an admin key`,
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
        ...(created.versionName ? { version: created.versionName } : {}),
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

/** `map` over `values`, at most MEASURE_CONCURRENCY at a time, results in order. */
async function mapBounded<T>(values: readonly T[], map: (value: T) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < values.length; i += MEASURE_CONCURRENCY) {
    out.push(...(await Promise.all(values.slice(i, i + MEASURE_CONCURRENCY).map(map))));
  }
  return out;
}

function mayDelete(principal: Principal, doc: ExportDoc): boolean {
  return principal.role === "admin" || principal.name === doc.createdBy;
}
