// Uploads in another tool's format (COCO, YOLO, VOC, ...) are converted by an importer plugin
// before the import pipeline sees them: the upload goes to storage, one worker of the format's
// queue group takes the job (core NATS request/reply), and its events arrive on the job's subject
// until it reports the records it wrote (categories.json and item JSONL) with its own accounting.
// The records then come back as a spooled labelport-items file. Nothing stays in storage.
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { create, fromBinary, fromJson, type JsonObject, type JsonValue, toBinary } from "@bufbuild/protobuf";
import type { StorageDriver } from "@labelport/sdk";
import {
  type Category,
  CategorySchema,
  ImportJobEventSchema,
  ImportJobReplySchema,
  ImportJobSchema,
} from "@labelport/sdk/contracts";
import { type StorageConfig, Subjects } from "@labelport/sdk/runtime";
import type { NatsConnection } from "nats";
import { internal, invalidArgument, unavailable } from "../../errors.ts";
import type { Logger } from "../../logger.ts";
import { type SpooledFile, spool } from "./reader.ts";

export interface ConversionStorage {
  driver: StorageDriver;
  /** What the worker is told about the storage (no credentials). */
  config: StorageConfig;
}

export interface ConversionRequest {
  importId: string;
  format: string;
  fileName: string;
  file: SpooledFile;
  datasetId: string;
  options: JsonObject;
  dryRun: boolean;
  signal?: AbortSignal;
  onProgress?: (progress: { items: number; annotations: number }) => void;
}

export interface ConvertedUpload {
  categories: Category[];
  /** The records as lossless item lines; the caller disposes of it. */
  items: SpooledFile;
  conversion: { dropped: Record<string, number>; changed: Record<string, number>; notes: string[] };
  counts: { items: number; annotations: number; mediaFiles: number; mediaBytes: number };
  worker: { id: string; plugin: string; version: string };
}

export interface UploadConverter {
  convert(request: ConversionRequest): Promise<ConvertedUpload>;
}

export interface ConverterOptions {
  nats: NatsConnection;
  storage: () => ConversionStorage;
  log: Logger;
  /** Where images found in uploads are stored: `<mediaRoot>/<dataset id>/<path in the upload>`. */
  mediaRoot?: string;
  /** A job without any event for this long has lost its worker. */
  silenceMs?: number;
  /** Biggest records file read back (the conversion of a capped upload can still be larger). */
  maxRecordsBytes?: number;
}

/** Attempts to find a worker that takes the job (one may be busy; the queue group picks another). */
const OFFER_ATTEMPTS = 5;

export function createUploadConverter(options: ConverterOptions): UploadConverter {
  const silenceMs = options.silenceMs ?? 30_000;
  const mediaRoot = options.mediaRoot ?? "media";
  return {
    async convert(request) {
      const { nats, log } = options;
      const { driver, config } = options.storage();
      const prefix = `imports/${request.importId}`;
      const token = randomBytes(24).toString("base64url");
      const job = create(ImportJobSchema, {
        importId: request.importId,
        format: request.format,
        options: request.options,
        fileName: request.fileName,
        sourceKey: `${prefix}/upload`,
        categoriesKey: `${prefix}/categories.json`,
        itemsKey: `${prefix}/items.jsonl`,
        storageConfigJson: JSON.stringify(config),
        mediaPrefix: `${mediaRoot}/${request.datasetId}`,
        token,
        datasetId: request.datasetId,
        dryRun: request.dryRun,
      });
      // Subscribed before the job is offered, so no event is missed.
      const events = nats.subscribe(Subjects.importEvents(request.importId));
      try {
        await driver.put(job.sourceKey, createReadStream(request.file.path), {
          contentType: "application/octet-stream",
        });
        const worker = await offer(nats, request.format, toBinary(ImportJobSchema, job));
        log.info({ importId: request.importId, format: request.format, worker: worker.id }, "import conversion taken");
        const onAbort = () => nats.publish(Subjects.importCancel(request.importId));
        request.signal?.addEventListener("abort", onAbort, { once: true });
        try {
          const completed = await awaitCompletion(events, token, silenceMs, request);
          const categoriesText = await readAll(await driver.get(job.categoriesKey), 64 * 1024 * 1024);
          const categories = (JSON.parse(categoriesText) as JsonValue[]).map((c) =>
            fromJson(CategorySchema, c, { ignoreUnknownFields: true }),
          );
          const items = await spool(
            (await driver.get(job.itemsKey)) as AsyncIterable<Uint8Array>,
            options.maxRecordsBytes ?? Number.MAX_SAFE_INTEGER,
          );
          const record = (counts: Array<{ reason: string; count: bigint }>) =>
            Object.fromEntries(counts.map((c) => [c.reason, Number(c.count)]));
          return {
            categories,
            items,
            conversion: {
              dropped: record(completed.dropped),
              changed: record(completed.changed),
              notes: [...completed.notes],
            },
            counts: {
              items: Number(completed.items),
              annotations: Number(completed.annotations),
              mediaFiles: Number(completed.mediaFiles),
              mediaBytes: Number(completed.mediaBytes),
            },
            worker,
          };
        } finally {
          request.signal?.removeEventListener("abort", onAbort);
        }
      } finally {
        events.unsubscribe();
        await driver.deletePrefix(`${prefix}/`).catch(() => undefined);
      }
    },
  };
}

/** Offers the job until a worker of the format takes it. */
async function offer(
  nats: NatsConnection,
  format: string,
  job: Uint8Array,
): Promise<{ id: string; plugin: string; version: string }> {
  let lastReason = "";
  for (let attempt = 1; attempt <= OFFER_ATTEMPTS; attempt++) {
    let reply: Uint8Array;
    try {
      reply = (await nats.request(Subjects.importJob(format), job, { timeout: 5000 })).data;
    } catch (err) {
      const text = (err as Error).message;
      if (/no responders|503/i.test(text) || (err as { code?: string }).code === "503") {
        throw unavailable(
          `no importer for format "${format}" is running: start the plugin that reads it ` +
            "(npm start runs the built-in importers; others: labelport-plugin run <package>)",
        );
      }
      throw unavailable(`the importer for "${format}" did not answer (${text}); NATS may be down`);
    }
    const answer = fromBinary(ImportJobReplySchema, reply);
    if (answer.accepted) return { id: answer.workerId, plugin: answer.pluginName, version: answer.pluginVersion };
    lastReason = answer.reason;
    await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
  }
  throw unavailable(`every importer for "${format}" is busy (${lastReason}); retry shortly`);
}

async function awaitCompletion(
  events: AsyncIterable<{ data: Uint8Array }> & { unsubscribe(): void },
  token: string,
  silenceMs: number,
  request: ConversionRequest,
) {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => events.unsubscribe(), silenceMs);
  };
  arm();
  try {
    for await (const message of events) {
      arm();
      let event: ReturnType<typeof fromBinary<typeof ImportJobEventSchema>>;
      try {
        event = fromBinary(ImportJobEventSchema, message.data);
      } catch {
        continue;
      }
      // Only the worker that was given the job knows its token.
      if (event.token !== token) continue;
      switch (event.event.case) {
        case "progress":
          request.onProgress?.({
            items: Number(event.event.value.items),
            annotations: Number(event.event.value.annotations),
          });
          break;
        case "completed":
          return event.event.value;
        case "failed": {
          const { errorMessage, retryable } = event.event.value;
          if (request.signal?.aborted) throw unavailable("import canceled");
          // Not retryable: the upload or the options are at fault, and the message says where.
          if (!retryable) {
            const named = errorMessage.startsWith(`${request.fileName}: `);
            throw invalidArgument(named ? errorMessage : `${request.fileName}: ${errorMessage}`);
          }
          throw internal(`the ${request.format} importer failed: ${errorMessage}`);
        }
        default:
          break;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  throw unavailable(`the importer for "${request.format}" stopped reporting for ${silenceMs / 1000} s; retry`);
}

async function readAll(stream: AsyncIterable<Uint8Array>, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > max) throw invalidArgument(`the importer wrote more than ${max} bytes of categories`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString("utf8");
}
