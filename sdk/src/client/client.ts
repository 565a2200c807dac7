// A TypeScript client for Labelport over Connect: the services, plus the conveniences the
// hosted-export SDKs offer (create with wait, download to a file).
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { DatasetService } from "../gen/labelport/v1/dataset_service_pb.ts";
import { type Export, ExportStatus } from "../gen/labelport/v1/export_pb.ts";
import { type CreateExportRequestSchema, ExportService } from "../gen/labelport/v1/export_service_pb.ts";
import { ImportService } from "../gen/labelport/v1/import_service_pb.ts";
import { ItemService } from "../gen/labelport/v1/item_service_pb.ts";

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
  exports: Client<typeof ExportService> & {
    create(request: MessageInitShape<typeof CreateExportRequestSchema>, options?: CreateExportOptions): Promise<Export>;
    /** Follows an export until it is finished. */
    wait(exportId: string, options?: Omit<CreateExportOptions, "wait">): Promise<Export>;
    /** Writes the export (its single file, or a ZIP of all) to `path`; returns the bytes written. */
    download(exportId: string, path: string, options?: { artifactKey?: string; signal?: AbortSignal }): Promise<number>;
  };
}

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
  return {
    datasets: createClient(DatasetService, transport),
    items: createClient(ItemService, transport),
    imports: createClient(ImportService, transport),
    exports: Object.assign(Object.create(exports) as typeof exports, {
      async create(request: MessageInitShape<typeof CreateExportRequestSchema>, opts: CreateExportOptions = {}) {
        const created = (await exports.createExport(request)).export;
        if (!created) throw new Error("server returned no export");
        return opts.wait ? wait(created.id, opts) : created;
      },
      wait,
      async download(exportId: string, path: string, opts: { artifactKey?: string; signal?: AbortSignal } = {}) {
        const link = await exports.getExportDownload({ exportId, artifactKey: opts.artifactKey ?? "" });
        const res = await fetch(link.downloadUrl, opts.signal ? { signal: opts.signal } : {});
        if (!res.ok || !res.body)
          throw new Error(`download of ${exportId} failed: HTTP ${res.status} ${await res.text()}`);
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
      },
    }),
  };
}
