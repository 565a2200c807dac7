// A TypeScript client for Labelport over Connect: the services, plus the conveniences the
// hosted-export SDKs offer (create with wait, download to a file, exports addressed by dataset
// name and export name as the developer exports API addresses them).
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DatasetService } from "../gen/labelport/v1/dataset_service_pb.ts";
import { type Export, ExportStatus } from "../gen/labelport/v1/export_pb.ts";
import { type CreateExportRequestSchema, ExportService } from "../gen/labelport/v1/export_service_pb.ts";
import { ImportService } from "../gen/labelport/v1/import_service_pb.ts";
import { ItemService } from "../gen/labelport/v1/item_service_pb.ts";
import { VersionService } from "../gen/labelport/v1/version_service_pb.ts";

export interface LabelportClientOptions {
  /** e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  apiKey?: string | undefined;
}

export class ExportFailedError extends Error {
  override name = "ExportFailedError";
  constructor(readonly export_: Export) {
    super(
      export_.status === ExportStatus.CANCELED
        ? `export ${export_.id} was canceled`
        : `export ${export_.id} failed: ${export_.errorMessage || "no error message"}`,
    );
  }
}

/** CreateExport's request; `datasetName` may stand for `datasetId` (the server takes either). */
export type CreateExportInit = MessageInitShape<typeof CreateExportRequestSchema> & { datasetName?: string };

export interface CreateExportOptions {
  /** Resolve only when the export is finished; reject with ExportFailedError if it failed. */
  wait?: boolean;
  /** Called with every change while waiting. */
  onProgress?: (exported: Export) => void;
  signal?: AbortSignal;
}

export interface LabelportClient {
  datasets: Client<typeof DatasetService>;
  items: Client<typeof ItemService>;
  imports: Client<typeof ImportService>;
  versions: Client<typeof VersionService>;
  exports: Client<typeof ExportService> & {
    create(request: CreateExportInit, options?: CreateExportOptions): Promise<Export>;
    /** Follows an export until it is finished. */
    wait(exportId: string, options?: Omit<CreateExportOptions, "wait">): Promise<Export>;
    /** Writes the export (its single file, or a ZIP of all) to `path`; returns the bytes written. */
    download(exportId: string, path: string, options?: DownloadOptions): Promise<number>;
    /** The id of export `name` of dataset `datasetName`; ConnectError NotFound when there is none. */
    idOf(datasetName: string, name: string): Promise<string>;
    getByName(datasetName: string, name: string): Promise<Export>;
    downloadByName(datasetName: string, name: string, path: string, options?: DownloadOptions): Promise<number>;
    /** As the developer exports API deletes: an admin's key or the key that created the export. */
    deleteByName(datasetName: string, name: string): Promise<void>;
  };
}

export interface DownloadOptions {
  artifactKey?: string;
  signal?: AbortSignal;
}

// The developer exports API's route of one export, and the codes of its REST error statuses.
const DEVELOPER_EXPORTS_PATH = "/api/v1/developer/exports";
const codeOfHttpStatus: Record<number, Code> = {
  400: Code.InvalidArgument,
  401: Code.Unauthenticated,
  403: Code.PermissionDenied,
  404: Code.NotFound,
  409: Code.FailedPrecondition,
  413: Code.ResourceExhausted,
  503: Code.Unavailable,
};

export function createLabelportClient(options: LabelportClientOptions): LabelportClient {
  const auth: Interceptor = (next) => (req) => {
    if (options.apiKey) req.header.set("x-api-key", options.apiKey);
    return next(req);
  };
  // HTTP/2 so client-streaming imports work; the server also speaks HTTP/1.1 to browsers.
  const transport = createConnectTransport({ baseUrl: options.baseUrl, httpVersion: "2", interceptors: [auth] });
  const exports = createClient(ExportService, transport);
  const wait = async (exportId: string, opts: Omit<CreateExportOptions, "wait"> = {}) => {
    let last: Export | undefined;
    for await (const { export: e } of exports.watchExport({ exportId }, opts.signal ? { signal: opts.signal } : {})) {
      if (!e) continue;
      last = e;
      opts.onProgress?.(e);
    }
    if (!last) throw new Error(`export ${exportId}: no status received`);
    if (last.status !== ExportStatus.COMPLETED) throw new ExportFailedError(last);
    return last;
  };
  /** A developer exports API route of one export; its JSON body (none for 204). */
  const developerRoute = async (method: "GET" | "DELETE", datasetName: string, name: string) => {
    const url = new URL(
      `${DEVELOPER_EXPORTS_PATH}/${encodeURIComponent(datasetName)}/${encodeURIComponent(name)}`,
      options.baseUrl,
    );
    const res = await fetch(url, { method, headers: options.apiKey ? { "x-api-key": options.apiKey } : {} });
    const body = (await res.json().catch(() => ({}))) as { id?: string; message?: string };
    if (!res.ok) {
      throw new ConnectError(
        body.message ?? `export "${name}" of dataset "${datasetName}": HTTP ${res.status}`,
        codeOfHttpStatus[res.status] ?? Code.Unknown,
      );
    }
    return body;
  };
  const idOf = async (datasetName: string, name: string): Promise<string> => {
    const { id } = await developerRoute("GET", datasetName, name);
    if (!id) throw new Error("server returned no export id");
    return id;
  };
  const download = async (exportId: string, path: string, opts: DownloadOptions = {}) => {
    const link = await exports.getExportDownload({ exportId, artifactKey: opts.artifactKey ?? "" });
    const res = await fetch(link.downloadUrl, opts.signal ? { signal: opts.signal } : {});
    if (!res.ok || !res.body) throw new Error(`download of ${exportId} failed: HTTP ${res.status} ${await res.text()}`);
    const partial = `${path}.partial`;
    let written = 0;
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      written += chunk.length;
    });
    try {
      await pipeline(body, createWriteStream(partial));
      await rename(partial, path);
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    return written;
  };
  return {
    datasets: createClient(DatasetService, transport),
    items: createClient(ItemService, transport),
    imports: createClient(ImportService, transport),
    versions: createClient(VersionService, transport),
    exports: Object.assign(Object.create(exports) as typeof exports, {
      async create({ datasetName, ...request }: CreateExportInit, opts: CreateExportOptions = {}) {
        if (datasetName !== undefined && request.datasetId && request.datasetId !== datasetName) {
          throw new ConnectError("give datasetName or datasetId, not both", Code.InvalidArgument);
        }
        const datasetId = request.datasetId || datasetName || "";
        const created = (await exports.createExport({ ...request, datasetId })).export;
        if (!created) throw new Error("server returned no export");
        return opts.wait ? wait(created.id, opts) : created;
      },
      wait,
      download,
      idOf,
      async getByName(datasetName: string, name: string) {
        const found = (await exports.getExport({ exportId: await idOf(datasetName, name) })).export;
        if (!found) throw new Error("server returned no export");
        return found;
      },
      async downloadByName(datasetName: string, name: string, path: string, opts: DownloadOptions = {}) {
        return download(await idOf(datasetName, name), path, opts);
      },
      async deleteByName(datasetName: string, name: string) {
        await developerRoute("DELETE", datasetName, name);
      },
    }),
  };
}
