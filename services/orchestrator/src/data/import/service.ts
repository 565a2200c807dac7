// ImportService: the REST import pipeline for gRPC/Connect callers. Import and PreviewImport are
// client streams: a `start` message, then the file in `chunk`s.
import { create } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  GetImportResponseSchema,
  type ImportCounts,
  ImportCountsSchema,
  ImportResponseSchema,
  type ImportService,
  type ImportStart,
  ImportSummarySchema,
  ListImportsResponseSchema,
  PreviewImportResponseSchema,
} from "@labelport/sdk/contracts";
import { assertDatasetAccess, mayAccessDataset, principalOf } from "../../auth.ts";
import { invalidArgument, isImportPipelineError, notFound, toConnectError } from "../../errors.ts";
import { importDataset, requireDataset } from "../datasets.ts";
import {
  accountingMessage,
  type CountsEntry,
  conflictMessage,
  importRecordMessage,
  importsOf,
  issueMessage,
  listImports,
} from "./history.ts";
import { defaultImportOptions, type ImportOptions, importOptionsFromMessage } from "./options.ts";
import { type ImportContext, type ImportResult, recordRejectedImport } from "./pipeline.ts";
import { type SpooledFile, spool } from "./reader.ts";
import { importUpload, parseUploadFormat } from "./uploads.ts";

const MAX_CHUNK_BYTES = 1024 * 1024;

type Part = { case: "start"; value: ImportStart } | { case: "chunk"; value: Uint8Array } | { case: undefined };

/** Splits the request stream into its `start` and an iterable of the file bytes. */
async function receive(
  requests: AsyncIterable<{ part: Part }>,
): Promise<{ start: ImportStart; bytes: AsyncIterable<Uint8Array> }> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done || first.value.part.case !== "start") {
    throw invalidArgument("the first message must carry `start`");
  }
  const start = first.value.part.value;
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for (let i = 1; ; i++) {
      const next = await iterator.next();
      if (next.done) return;
      const part = next.value.part;
      if (part.case !== "chunk") throw invalidArgument(`message ${i}: expected \`chunk\` after \`start\``);
      if (part.value.length > MAX_CHUNK_BYTES) {
        throw invalidArgument(`message ${i}: chunks are at most ${MAX_CHUNK_BYTES} bytes (got ${part.value.length})`);
      }
      yield part.value;
    }
  }
  return { start, bytes: bytes() };
}

function countsMessage(c: CountsEntry): ImportCounts {
  return create(ImportCountsSchema, {
    annotations: BigInt(c.annotations),
    totalKeyframes: BigInt(c.totalKeyframes),
    singleKeyframeSequences: BigInt(c.singleKeyframeSequences),
    items: BigInt(c.items),
  });
}

async function prepare(
  ctx: ImportContext,
  requests: AsyncIterable<{ part: Part }>,
  handler: HandlerContext,
  preview: boolean,
): Promise<ImportResult> {
  let file: SpooledFile | undefined;
  let start: ImportStart | undefined;
  let options: ImportOptions = defaultImportOptions;
  let datasetId: string | undefined;
  const principal = principalOf(handler);
  try {
    const received = await receive(requests);
    start = received.start;
    options = importOptionsFromMessage(start.options);
    const format = parseUploadFormat(start.format);
    const dataset = await importDataset(ctx.db, start.datasetId, { preview, field: "dataset_id" });
    datasetId = dataset._id;
    file = await spool(received.bytes, ctx.settings.maxFileBytes);
    if (file.size === 0) throw invalidArgument("No file provided");
    return await importUpload(
      ctx,
      {
        dataset,
        file,
        fileName: start.fileName || "upload.jsonl",
        format,
        options,
        actor: principal.name,
        ...(start.importerOptions ? { importerOptions: start.importerOptions } : {}),
      },
      preview,
    );
  } catch (err) {
    if (!preview && !isImportPipelineError(err)) {
      await recordRejectedImport(ctx, {
        fileName: start?.fileName ?? "",
        fileSize: file?.size ?? 0,
        sha256: file?.sha256 ?? "",
        ...(datasetId ? { datasetId } : {}),
        format: start?.format || "jsonl",
        options,
        actor: principal.name,
        message: toConnectError(err).rawMessage,
      });
    }
    throw toConnectError(err);
  } finally {
    await file?.dispose();
  }
}

export function createImportService(ctx: ImportContext): Partial<ServiceImpl<typeof ImportService>> {
  return {
    async import(requests, handler) {
      const result = await prepare(ctx, requests, handler, false);
      return create(ImportResponseSchema, {
        importId: result.importId,
        success: result.success,
        summary: create(ImportSummarySchema, {
          totalLines: BigInt(result.summary.totalLines),
          processedLines: BigInt(result.summary.processedLines),
          importedItems: countsMessage(result.summary.importedItems),
          skippedItems: countsMessage(result.summary.skippedItems),
        }),
        warnings: result.warnings.map(issueMessage),
        errors: result.errors.map(issueMessage),
        conflicts: result.conflicts.map(conflictMessage),
        status: result.outcome,
        annotations: accountingMessage(result.annotations),
        notes: result.notes,
      });
    },

    async previewImport(requests, handler) {
      const result = await prepare(ctx, requests, handler, true);
      return create(PreviewImportResponseSchema, {
        counts: countsMessage(result.summary.importedItems),
        conflicts: result.conflicts.map(conflictMessage),
        warnings: result.warnings.map(issueMessage),
        errors: result.errors.map(issueMessage),
        status: result.outcome,
        annotations: accountingMessage(result.annotations),
        notes: result.notes,
      });
    },

    async listImports(req, handler) {
      const limit = req.limit === 0 ? 50 : req.limit;
      if (limit < 1 || limit > 100) throw invalidArgument(`limit: must be from 1 to 100 (got ${req.limit})`);
      const principal = principalOf(handler);
      let datasetId = principal.datasetId;
      if (req.datasetId !== "") {
        const dataset = await requireDataset(ctx.db, req.datasetId);
        assertDatasetAccess(principal, dataset._id);
        datasetId = dataset._id;
      }
      const { imports, total } = await listImports(ctx.db, {
        limit,
        offset: req.offset,
        ...(datasetId ? { datasetId } : {}),
      });
      return create(ListImportsResponseSchema, {
        imports: imports.map((d) => importRecordMessage(d, false)),
        total: BigInt(total),
      });
    },

    async getImport(req, handler) {
      if (req.importId === "") throw invalidArgument("import_id: is required");
      const doc = await importsOf(ctx.db).findOne({ _id: req.importId });
      // Another dataset's import is not there for a job token, rather than forbidden.
      if (!doc || !mayAccessDataset(principalOf(handler), doc.datasetId)) {
        throw notFound(`import "${req.importId}" not found`);
      }
      return create(GetImportResponseSchema, { import: importRecordMessage(doc, true) });
    },
  };
}
