// The snapshot API: POST /v1/ground-truths/snapshot runs a json-snapshot export job
// and sends its result back in the response (attachment mode), or where it was stored (artifact mode).
import { randomUUID } from "node:crypto";
import type http from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { create, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { CreateExportRequestSchema, type ItemFilter, ItemFilterSchema } from "@labelport/sdk/contracts";
import { attachmentDisposition, MANIFEST_KEY } from "@labelport/sdk/runtime";
import type { Db } from "mongodb";
import type { Context } from "../context.ts";
import { DEFAULT_DATASET_NAME, findDataset, requireDataset } from "../data/datasets.ts";
import type { DatasetDoc } from "../data/model.ts";
import { aborted, deadlineExceeded, internal, invalidArgument, notFound, unavailable } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { type RestResponse, type RestRouter, readJsonBody } from "../rest/router.ts";
import type { JobBus } from "./bus.ts";
import { clientGone, downloadFileName } from "./downloads.ts";
import { missingArtifact, openArtifact } from "./export-files.ts";
import type { PluginRegistry } from "./plugin-registry.ts";
import { ACTIVE, type ExportDoc, type ExportRepository } from "./repository.ts";
import type { ExportJobs } from "./service.ts";
import type { Storages } from "./storages.ts";

export interface SnapshotRouteOptions extends Pick<Context, "log" | "database"> {
  jobs: ExportJobs;
  repo: ExportRepository;
  registry: PluginRegistry;
  storages: Storages;
  bus: JobBus;
}

const SNAPSHOT_FORMAT = "json-snapshot";
const SNAPSHOT_KEY = "snapshot.json";
/** How long POST /v1/ground-truths/snapshot waits for its job before canceling it (504). */
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
/** Plugins announce themselves every 30 s; three missed announcements count as gone. */
const PLUGIN_STALE_MS = 90_000;
/** Between job-document reads while waiting; an event wakes the wait earlier. */
const JOB_POLL_MS = 200;
const MAX_BODY_BYTES = 1024 * 1024;

export function registerSnapshotRoute(rest: RestRouter, options: SnapshotRouteOptions): void {
  const db = options.database.db;
  const log = options.log.child({ area: "snapshot-route" });

  rest.on("POST", "/v1/ground-truths/snapshot", "editor", async ({ req, res, principal }) => {
    const body = parseSnapshotBody(await readJsonBody(req, { maxBytes: MAX_BODY_BYTES, field: "body" }));
    const dataset = await snapshotDataset(db, body.datasetId);
    const plugin = await options.registry.forFormat(SNAPSHOT_FORMAT);
    const lastSeen = plugin?.lastSeenTime ? timestampDate(plugin.lastSeenTime).getTime() : 0;
    if (!plugin || Date.now() - lastSeen > PLUGIN_STALE_MS) {
      throw unavailable(
        `no plugin serves the ${SNAPSHOT_FORMAT} format${plugin ? ` (${plugin.name} was last seen ${new Date(lastSeen).toISOString()})` : ""}: start the json-snapshot plugin worker and try again`,
      );
    }
    // Cancel the job when the client goes away before its answer is sent.
    const gone = new AbortController();
    res.once("close", () => {
      if (!(res as http.ServerResponse).writableFinished) gone.abort();
    });
    const requestId = randomUUID();
    const created = await options.jobs.create(
      create(CreateExportRequestSchema, {
        requestId,
        name: `${dataset.name} snapshot ${requestId}`,
        datasetId: dataset._id,
        format: SNAPSHOT_FORMAT,
        ...(body.filter ? { filter: body.filter } : {}),
        ...(body.version ? { versionId: body.version } : {}),
        saveOriginalFile: false,
        options: { mode: body.mode, mergeTags: body.mergeTags, dataOnly: body.dataOnly },
      }),
      principal,
      // The snapshot API puts artifact snapshots under exports/snapshots/<exportId>/; the export id is the snapshot id.
      { snapshot: body.mode === "artifact" },
    );
    const doc = await waitForJob(options, created.id, gone.signal, log);
    if (!doc) return;
    const driver = options.storages.driver(doc.storage);
    if (body.mode === "attachment") {
      const artifact = doc.artifacts.find((a) => a.key === SNAPSHOT_KEY);
      if (!artifact) throw internal(`export ${doc._id} completed without ${SNAPSHOT_KEY}`);
      const stream = await openArtifact(driver, doc, SNAPSHOT_KEY);
      (res as http.ServerResponse).writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": String(artifact.size),
        "Content-Disposition": attachmentDisposition(downloadFileName(doc, "json")),
        "X-Export-Id": doc._id,
      });
      await sendStream(stream, res);
      return;
    }
    const manifestKey = `${doc.path}/${MANIFEST_KEY}`;
    const manifest = await driver.head(manifestKey);
    if (!manifest) throw missingArtifact(doc, MANIFEST_KEY);
    // The manifest lists every artifact, so it grows with the item count: it is streamed in.
    const head = `{"snapshotId":${JSON.stringify(doc._id)},"exportId":${JSON.stringify(doc._id)},"path":${JSON.stringify(`${doc.path}/`)},"itemCount":${doc.counts.itemCount},"manifest":`;
    const tail = "}";
    const manifestStream = await openArtifact(driver, doc, MANIFEST_KEY);
    (res as http.ServerResponse).writeHead(200, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": String(Buffer.byteLength(head) + manifest.size + tail.length),
      "X-Export-Id": doc._id,
    });
    try {
      await sendStream(
        Readable.from(
          (async function* () {
            yield Buffer.from(head);
            yield* manifestStream;
            yield Buffer.from(tail);
          })(),
        ),
        res,
      );
    } finally {
      // A client gone before the manifest was reached leaves its stream unread: close the file.
      manifestStream.destroy();
    }
  });
}

export interface SnapshotBody {
  mode: "attachment" | "artifact";
  mergeTags: boolean;
  dataOnly: boolean;
  datasetId?: string;
  filter?: ItemFilter;
  /** A dataset version (id or name): the snapshot of that version, the same whenever it is taken. */
  version?: string;
}

const SNAPSHOT_FIELDS = ["mode", "mergeTags", "dataOnly", "datasetId", "filter", "version"];

/** No body (or `{}`) is attachment mode (the snapshot API's default, NFR-002). */
export function parseSnapshotBody(json: JsonValue | undefined): SnapshotBody {
  const body: SnapshotBody = { mode: "attachment", mergeTags: true, dataOnly: false };
  if (json === undefined || json === null) return body;
  if (typeof json !== "object" || Array.isArray(json)) throw invalidArgument("body: must be a JSON object");
  const unknown = Object.keys(json).filter((k) => !SNAPSHOT_FIELDS.includes(k));
  if (unknown.length > 0) {
    throw invalidArgument(
      `body: unknown field ${unknown.map((k) => `"${k}"`).join(", ")}; expected ${SNAPSHOT_FIELDS.join(", ")}`,
    );
  }
  const { mode, mergeTags, dataOnly, datasetId, filter, version } = json as JsonObject;
  if (mode !== undefined) {
    if (mode !== "attachment" && mode !== "artifact") {
      throw invalidArgument(`mode: must be "attachment" or "artifact" (got ${JSON.stringify(mode)})`);
    }
    body.mode = mode;
  }
  for (const [name, value] of [
    ["mergeTags", mergeTags],
    ["dataOnly", dataOnly],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== "boolean")
      throw invalidArgument(`${name}: must be true or false (got ${JSON.stringify(value)})`);
    body[name] = value;
  }
  if (datasetId !== undefined) {
    if (typeof datasetId !== "string" || datasetId === "")
      throw invalidArgument("datasetId: must be a non-empty string");
    body.datasetId = datasetId;
  }
  if (version !== undefined) {
    if (typeof version !== "string" || version === "") throw invalidArgument("version: must be a non-empty string");
    body.version = version;
  }
  if (filter !== undefined && filter !== null) {
    try {
      body.filter = fromJson(ItemFilterSchema, filter);
    } catch (err) {
      throw invalidArgument(`filter: ${(err as Error).message}`);
    }
  }
  return body;
}

/** The dataset named in the body, else "default" (the snapshot API has no datasets; video imports go there). */
async function snapshotDataset(db: Db, named: string | undefined): Promise<DatasetDoc> {
  if (named !== undefined) return requireDataset(db, named, "datasetId");
  const dataset = await findDataset(db, DEFAULT_DATASET_NAME);
  if (!dataset) throw notFound(`dataset "${DEFAULT_DATASET_NAME}" not found: name a dataset with {"datasetId": "..."}`);
  return dataset;
}

/**
 * Waits for the job to finish: the completed job, or undefined when the client went away (the job
 * is canceled then). A failed or canceled job, or one still running at the timeout (canceled too),
 * throws.
 */
async function waitForJob(
  { jobs, repo, bus }: Pick<SnapshotRouteOptions, "jobs" | "repo" | "bus">,
  exportId: string,
  signal: AbortSignal,
  log: Logger,
): Promise<ExportDoc | undefined> {
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS;
  const stop = async (reason: string) => {
    await jobs.cancel(exportId).catch((err: unknown) => log.debug({ err, exportId }, "cancel after stop failed"));
    log.info({ exportId, reason }, "snapshot export canceled");
  };
  for (;;) {
    const doc = await repo.get(exportId);
    if (!doc) throw notFound(`snapshot export ${exportId} was deleted while it ran`);
    if (doc.status === "completed") return doc;
    if (doc.status === "failed") {
      throw internal(`snapshot export ${exportId} failed: ${doc.errorMessage || "no reason given"}`);
    }
    if (!ACTIVE.includes(doc.status)) throw aborted(`snapshot export ${exportId} was canceled`);
    if (signal.aborted) {
      await stop("client disconnected");
      return undefined;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      await stop("timeout");
      throw deadlineExceeded(
        `snapshot export ${exportId} did not finish within ${SNAPSHOT_TIMEOUT_MS / 60_000} minutes and was canceled`,
      );
    }
    await bus.nextChange(exportId, Math.min(JOB_POLL_MS, left), signal);
  }
}

async function sendStream(stream: Readable, res: RestResponse): Promise<void> {
  try {
    await pipeline(stream, res as NodeJS.WritableStream);
  } catch (err) {
    if (!clientGone(err, res)) throw err;
  }
}
