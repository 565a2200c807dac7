// The video annotation import's REST routes: POST /api/import and POST /api/import/preview
// (multipart `file` and `options`, streamed through busboy into a size-capped spool), and
// GET /api/import/history.
import type http from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import busboy from "busboy";
import {
  internal,
  invalidArgument,
  isImportDatabaseError,
  isImportPipelineError,
  isImportTooLargeError,
  toConnectError,
  UnsupportedMediaTypeError,
} from "../../errors.ts";
import type { RestContext, RestRouter } from "../../rest/router.ts";
import { sendError, sendJson } from "../../rest/router.ts";
import { importDataset, requireDataset } from "../datasets.ts";
import { historyRow, listImports } from "./history.ts";
import { defaultImportOptions, type ImportOptions, parseImportOptions } from "./options.ts";
import { type ImportContext, type ImportResult, recordRejectedImport } from "./pipeline.ts";
import { type SpooledFile, spool } from "./reader.ts";
import { importUpload, isRecordFormat, parseUploadFormat } from "./uploads.ts";

const FIELDS = new Set(["options", "datasetId", "format", "importerOptions"]);
/** Room for the multipart framing and form fields around the file. */
const FORM_OVERHEAD_BYTES = 1024 * 1024;

interface Upload {
  file?: SpooledFile;
  fileName: string;
  fields: Map<string, string>;
  /** Bytes received for the file, also when it went over the limit. */
  received: number;
  /** The first thing wrong with the request, an error of the catalogue (errors.ts). */
  problem?: Error;
}

const malformed = (err: Error) => invalidArgument(`Malformed multipart request: ${err.message}`);

/**
 * Reads the multipart body; the file goes to a spool, never into memory. Always resolves; what
 * went wrong is in `problem`. A file over the limit is answered at once: the server drops the
 * rest of the body (server.ts), so the client reads the 413 while it is still sending.
 * Every stream here has an 'error' listener from the start: a truncated body must not be fatal.
 */
function readUpload(ctx: RestContext, maxBytes: number): Promise<Upload> {
  const req = ctx.req as http.IncomingMessage;
  const upload: Upload = { fileName: "", fields: new Map(), received: 0 };
  const contentType = req.headers["content-type"] ?? "";
  if (!/^multipart\/form-data\s*;/i.test(contentType)) {
    upload.problem = new UnsupportedMediaTypeError(
      `Content-Type must be multipart/form-data with a "file" field (got ${contentType ? `"${contentType.split(";")[0]}"` : "none"})`,
    );
    return Promise.resolve(upload);
  }
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: req.headers,
      limits: { files: 1, fields: 10, fieldSize: 64 * 1024, parts: 20, fileSize: maxBytes + 1 },
    });
  } catch (err) {
    upload.problem = malformed(err as Error);
    return Promise.resolve(upload);
  }
  return new Promise((resolve) => {
    const pending: Array<Promise<unknown>> = [];
    const setProblem = (problem: Error) => {
      upload.problem ??= problem;
    };
    let done = false;
    /** Stops parsing and resolves once the spool settled (its file is disposed by the caller). */
    const finish = () => {
      if (done) return;
      done = true;
      req.unpipe(parser);
      parser.destroy();
      Promise.allSettled(pending).then(() => resolve(upload));
    };
    parser.on("file", (name, stream, info) => {
      stream.on("error", (err: Error) => setProblem(malformed(err)));
      if (name !== "file") {
        setProblem(invalidArgument(`Unexpected file field "${name}": send the file as "file"`));
        stream.resume();
        return;
      }
      upload.fileName = info.filename ?? "";
      // destroyOnReturn false: the spool giving up must not destroy the part under busboy.
      const counted = (async function* () {
        for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
          upload.received += chunk.length;
          yield chunk;
        }
      })();
      pending.push(
        spool(counted, maxBytes).then(
          (file) => {
            upload.file = file;
          },
          (err: unknown) => {
            if (isImportTooLargeError(err)) {
              setProblem(err);
              finish();
            } else {
              setProblem(internal(`Could not store the upload: ${(err as Error).message}`));
            }
            stream.resume();
          },
        ),
      );
    });
    parser.on("field", (name, value, info) => {
      if (!FIELDS.has(name)) {
        setProblem(
          invalidArgument(`Unknown form field "${name}": expected file, options, datasetId, format or importerOptions`),
        );
        return;
      }
      if (info.valueTruncated) {
        setProblem(invalidArgument(`Form field "${name}" is longer than 64 KB`));
        return;
      }
      upload.fields.set(name, value);
    });
    parser.on("filesLimit", () => setProblem(invalidArgument("Only one file may be uploaded")));
    parser.on("partsLimit", () => setProblem(invalidArgument("Too many form parts")));
    parser.on("fieldsLimit", () => setProblem(invalidArgument("Too many form fields")));
    parser.on("error", (err: Error) => {
      setProblem(malformed(err));
      finish();
    });
    parser.on("close", finish);
    req.on("aborted", () => parser.destroy(new Error("the client aborted the upload")));
    req.pipe(parser);
  });
}

function importJson(result: ImportResult) {
  // Item formats (the lossless items and every importer's) count items; video annotation lines do not.
  const withItems = !isRecordFormat(result.format) || result.format === "labelport-items";
  const counts = (c: ImportResult["summary"]["importedItems"]) => ({
    annotations: c.annotations,
    totalKeyframes: c.totalKeyframes,
    singleKeyframeSequences: c.singleKeyframeSequences,
    ...(withItems || c.items > 0 ? { items: c.items } : {}),
  });
  const omitted = result.omitted.warnings + result.omitted.errors + result.omitted.conflicts;
  return {
    importId: result.importId,
    success: result.success,
    summary: {
      totalLines: result.summary.totalLines,
      processedLines: result.summary.processedLines,
      importedItems: counts(result.summary.importedItems),
      skippedItems: {
        annotations: result.summary.skippedItems.annotations,
        ...(withItems ? { items: result.summary.skippedItems.items } : {}),
      },
    },
    warnings: result.warnings,
    errors: result.errors,
    conflicts: result.conflicts,
    ...(omitted > 0 ? { omitted: result.omitted } : {}),
    ...(result.errorMessage ? { message: result.errorMessage } : {}),
    ...accountingJson(result),
  };
}

/** What both routes add to the seed's fields: the outcome and every annotation's fate. */
function accountingJson(result: ImportResult) {
  return { status: result.outcome, annotations: result.annotations, notes: result.notes };
}

function previewJson(result: ImportResult) {
  const c = result.summary.importedItems;
  const line = (i: { line: number; message: string }) => (i.line > 0 ? `Line ${i.line}: ${i.message}` : i.message);
  return {
    counts: {
      annotations: c.annotations,
      totalKeyframes: c.totalKeyframes,
      singleKeyframeSequences: c.singleKeyframeSequences,
      ...(!isRecordFormat(result.format) || result.format === "labelport-items" || c.items > 0
        ? { items: c.items }
        : {}),
    },
    conflicts: result.conflicts,
    warnings: result.warnings.map(line),
    errors: result.errors.map(line),
    ...(result.omitted.warnings + result.omitted.errors + result.omitted.conflicts > 0
      ? { omitted: result.omitted }
      : {}),
    ...accountingJson(result),
  };
}

/** The importer options field: a JSON object. */
function parseImporterOptions(value: string | undefined): JsonObject | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw invalidArgument(`importerOptions: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw invalidArgument("importerOptions: expected a JSON object");
  }
  return parsed as JsonObject;
}

function handleImport(ctx: ImportContext, preview: boolean) {
  return async (rest: RestContext) => {
    let upload: Upload | undefined;
    let options: ImportOptions = defaultImportOptions;
    let format = "jsonl";
    let datasetId: string | undefined;
    try {
      upload = await readUpload(rest, ctx.settings.maxFileBytes);
      if (upload.problem) throw upload.problem;
      if (!upload.file) throw invalidArgument("No file provided");
      options = parseImportOptions(upload.fields.get("options"));
      const parsedFormat = parseUploadFormat(upload.fields.get("format") ?? rest.query.get("format") ?? undefined);
      const importerOptions = parseImporterOptions(upload.fields.get("importerOptions"));
      format = parsedFormat;
      const named = upload.fields.get("datasetId") ?? rest.query.get("datasetId") ?? "";
      const dataset = await importDataset(ctx.db, named, { preview, field: "datasetId" });
      datasetId = dataset._id;
      const request = {
        dataset,
        file: upload.file,
        fileName: upload.fileName || "upload.jsonl",
        format: parsedFormat,
        options,
        actor: rest.principal.name,
        ...(importerOptions ? { importerOptions } : {}),
      };
      const result = await importUpload(ctx, request, preview);
      sendJson(rest.res, 200, preview ? previewJson(result) : importJson(result));
    } catch (err) {
      if (!preview && !isImportPipelineError(err)) {
        // The pipeline records its own failures; requests refused before it are recorded here.
        await recordRejectedImport(ctx, {
          fileName: upload?.fileName ?? "",
          fileSize: upload?.file?.size ?? upload?.received ?? 0,
          sha256: upload?.file?.sha256 ?? "",
          ...(datasetId ? { datasetId } : {}),
          format,
          options,
          actor: rest.principal.name,
          message: toConnectError(err).rawMessage,
        });
      }
      if (isImportDatabaseError(err)) ctx.log.error({ err }, "import failed");
      sendError(rest.res, err);
    } finally {
      await upload?.file?.dispose();
    }
  };
}

const INTEGER = /^\d{1,9}$/;

export function registerImportRoutes(rest: RestRouter, ctx: ImportContext): void {
  // A body that declares more than the file limit plus the form around it is refused on its headers.
  const upload = { maxBodyBytes: ctx.settings.maxFileBytes + FORM_OVERHEAD_BYTES };
  rest.on("POST", "/api/import", "editor", handleImport(ctx, false), upload);
  rest.on("POST", "/api/import/preview", "editor", handleImport(ctx, true), upload);
  rest.on("GET", "/api/import/history", "viewer", async (r) => {
    const limitText = r.query.get("limit");
    const offsetText = r.query.get("offset");
    const limit = limitText === null ? 50 : INTEGER.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(limit >= 1 && limit <= 100)) {
      throw invalidArgument(`Invalid query parameter "limit": expected an integer from 1 to 100 (got "${limitText}")`);
    }
    const offset = offsetText === null ? 0 : INTEGER.test(offsetText) ? Number(offsetText) : Number.NaN;
    if (!(offset >= 0)) {
      throw invalidArgument(`Invalid query parameter "offset": expected an integer >= 0 (got "${offsetText}")`);
    }
    let datasetId: string | undefined;
    const named = r.query.get("datasetId");
    if (named) {
      datasetId = (await requireDataset(ctx.db, named, "datasetId"))._id;
    }
    try {
      const { imports, total } = await listImports(ctx.db, { limit, offset, ...(datasetId ? { datasetId } : {}) });
      sendJson(r.res, 200, { imports: imports.map(historyRow), total });
    } catch (err) {
      ctx.log.error({ err }, "import history failed");
      sendError(r.res, internal("Failed to retrieve import history"));
    }
  });
}
