// The importer side of the plugin runtime: takes import jobs of its formats (core NATS request/reply
// in one queue group per format, so each upload goes to one worker), converts the upload in storage
// into Labelport records next to it, stores the upload's images as media, and reports progress,
// logs and the conversion's accounting on the job's event subject. The orchestrator, waiting on
// that subject, imports the records with the caller's options.
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { create, fromBinary, type JsonObject, type MessageInitShape, toBinary, toJson } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { Msg, NatsConnection, Subscription } from "nats";
import { z } from "zod";
import { isImportSourceError, isOptionsError } from "../errors.ts";
import { parseOptions } from "../export-options.ts";
import type { ExportLogger } from "../exporter.ts";
import { CategorySchema, DropCountSchema } from "../gen/labelport/v1/dataset_pb.ts";
import { ExportLogLineSchema, PluginInfoSchema } from "../gen/labelport/v1/export_pb.ts";
import {
  type ImportJob,
  ImportJobEventSchema,
  ImportJobReplySchema,
  ImportJobSchema,
} from "../gen/labelport/v1/plugin_pb.ts";
import { openImportSource, type SourceFile } from "../import-source.ts";
import type { ImporterClass } from "../importer.ts";
import { validateManifest } from "../manifest.ts";
import { runImport } from "../run-import.ts";
import type { StorageDriver } from "../storage/driver.ts";
import { createStorage } from "../storage/index.ts";
import { importerQueue, Subjects } from "./subjects.ts";
import { jsonLogger, withCredentials } from "./worker.ts";

export interface ImportWorkerOptions {
  nats: NatsConnection;
  importer: ImporterClass;
  workerId?: string;
  /** Uploads converted at once by this worker; more are refused so another worker takes them. */
  concurrency?: number;
  log?: ExportLogger;
  heartbeatMs?: number;
  /** Credentials for S3 storages (never sent in jobs); without them the AWS SDK's default chain applies. */
  s3Credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface ImportWorker {
  readonly workerId: string;
  /** Stops taking jobs; running conversions are aborted. Idempotent. */
  stop(): Promise<void>;
}

/** How often a running conversion reports, so the orchestrator knows it is alive. */
const PROGRESS_INTERVAL_MS = 1000;

export function importerInfoOf(importer: ImporterClass) {
  const manifest = validateManifest(importer.manifest);
  return create(PluginInfoSchema, {
    name: manifest.name,
    version: manifest.version,
    importFormats: [...manifest.formats],
    optionsSchema: z.toJSONSchema(new importer().options, { io: "input", unrepresentable: "any" }) as JsonObject,
    sdkRange: manifest.sdk,
    description: manifest.description ?? "",
    lastSeenTime: timestampNow(),
  });
}

export async function startImportWorker(options: ImportWorkerOptions): Promise<ImportWorker> {
  const { nats } = options;
  const info = importerInfoOf(options.importer);
  const workerId = options.workerId ?? `${info.name}-${crypto.randomUUID().slice(0, 8)}`;
  const log = options.log ?? jsonLogger({ plugin: info.name, workerId });
  const concurrency = options.concurrency ?? 2;
  const running = new Map<string, AbortController>();

  const announce = () => nats.publish(Subjects.register, toBinary(PluginInfoSchema, info));
  announce();
  const heartbeat = setInterval(announce, options.heartbeatMs ?? 30_000);
  const discovery = nats.subscribe(Subjects.discover, { callback: announce });
  const subscriptions: Subscription[] = info.importFormats.map((format) =>
    nats.subscribe(Subjects.importJob(format), {
      queue: importerQueue(format),
      callback: (err, message) => {
        if (err) return;
        void take(message).catch((e: unknown) => log.error("import job handling failed", { error: String(e) }));
      },
    }),
  );

  async function take(message: Msg): Promise<void> {
    let job: ImportJob;
    try {
      job = fromBinary(ImportJobSchema, message.data);
    } catch {
      log.warn("dropped an unreadable import job", { subject: message.subject, bytes: message.data.length });
      return;
    }
    const reply = (accepted: boolean, reason = "") =>
      message.respond(
        toBinary(
          ImportJobReplySchema,
          create(ImportJobReplySchema, {
            accepted,
            reason,
            workerId,
            pluginName: info.name,
            pluginVersion: info.version,
          }),
        ),
      );
    if (!job.importId || !job.token) {
      reply(false, "the job has no import id or token");
      return;
    }
    if (running.size >= concurrency) {
      reply(false, `busy with ${running.size} imports`);
      return;
    }
    const controller = new AbortController();
    running.set(job.importId, controller);
    reply(true);
    try {
      await convert(job, controller);
    } finally {
      running.delete(job.importId);
    }
  }

  async function convert(job: ImportJob, controller: AbortController): Promise<void> {
    const publish = (event: MessageInitShape<typeof ImportJobEventSchema>["event"]) =>
      nats.publish(
        Subjects.importEvents(job.importId),
        toBinary(
          ImportJobEventSchema,
          create(ImportJobEventSchema, {
            importId: job.importId,
            token: job.token,
            time: timestampNow(),
            event,
          } as MessageInitShape<typeof ImportJobEventSchema>),
        ),
      );
    const jobLog: ExportLogger = Object.fromEntries(
      (["debug", "info", "warn", "error"] as const).map((level) => [
        level,
        (text: string, fields?: Record<string, unknown>) => {
          log[level](text, { importId: job.importId, ...fields });
          if (level === "debug") return;
          publish({
            case: "log",
            value: create(ExportLogLineSchema, {
              time: timestampNow(),
              level,
              message: text,
              source: "plugin",
              ...(fields ? { fields: fields as JsonObject } : {}),
            }),
          });
        },
      ]),
    ) as unknown as ExportLogger;
    const cancel = nats.subscribe(Subjects.importCancel(job.importId), {
      callback: () => controller.abort(new Error("import canceled")),
    });
    const processed = { items: 0, annotations: 0 };
    const progress = setInterval(
      () =>
        publish({
          case: "progress",
          value: { items: BigInt(processed.items), annotations: BigInt(processed.annotations) },
        }),
      PROGRESS_INTERVAL_MS,
    );
    const storage = createStorage(withCredentials(JSON.parse(job.storageConfigJson || "{}"), options.s3Credentials));
    const dir = await mkdtemp(join(tmpdir(), "labelport-importer-"));
    try {
      const importer = new options.importer();
      const parsedOptions = parseOptions(importer.options, job.options ?? {});
      const uploadPath = join(dir, "upload");
      await pipeline(await storage.get(job.sourceKey), createWriteStream(uploadPath), { signal: controller.signal });
      const source = await openImportSource(uploadPath, job.fileName || "upload");
      jobLog.info("import conversion started", { format: job.format, files: source.files.length });
      const itemsPath = join(dir, "items.jsonl");
      let conversion: Awaited<ReturnType<typeof runImport>>;
      const media = createMediaWriter(storage, controller.signal);
      try {
        conversion = await runImport({
          importer,
          options: parsedOptions,
          source,
          datasetId: job.datasetId,
          storeMedia: async (file) => {
            const key = mediaKey(job.mediaPrefix, file.path);
            if (!job.dryRun) await media.put(key, file);
            return { uri: key, bytes: file.size };
          },
          itemsPath,
          signal: controller.signal,
          log: jobLog,
          onProgress: (delta) => {
            processed.items += delta.items;
            processed.annotations += delta.annotations;
          },
        });
        // Every image is stored before the records are handed on: items never name a missing file.
        await media.flush();
      } finally {
        await media.settle();
        await source.close();
      }
      await storage.put(
        job.categoriesKey,
        JSON.stringify(conversion.categories.map((c) => toJson(CategorySchema, c))),
        { contentType: "application/json", signal: controller.signal },
      );
      await storage.put(job.itemsKey, createReadStream(itemsPath), {
        contentType: "application/x-ndjson",
        signal: controller.signal,
      });
      const counts = (record: Record<string, number>) =>
        Object.entries(record).map(([reason, count]) => create(DropCountSchema, { reason, count: BigInt(count) }));
      jobLog.info("import conversion completed", { items: conversion.items, annotations: conversion.annotations });
      publish({
        case: "completed",
        value: {
          items: BigInt(conversion.items),
          annotations: BigInt(conversion.annotations),
          categories: BigInt(conversion.categories.length),
          dropped: counts(conversion.dropped),
          changed: counts(conversion.changed),
          notes: conversion.notes,
          mediaFiles: BigInt(conversion.mediaFiles),
          mediaBytes: BigInt(conversion.mediaBytes),
        },
      });
    } catch (err) {
      const text = controller.signal.aborted ? "import canceled" : errorText(err);
      // The user's upload at fault is not the plugin's failure: log it at warn.
      if (isImportSourceError(err) || isOptionsError(err) || controller.signal.aborted) {
        jobLog.warn("import conversion refused", { error: text });
      } else {
        jobLog.error("import conversion failed", { error: text });
      }
      publish({
        case: "failed",
        value: { errorMessage: text, retryable: !(isImportSourceError(err) || isOptionsError(err)) },
      });
    } finally {
      clearInterval(progress);
      cancel.unsubscribe();
      await storage.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  }

  let stopped: Promise<void> | undefined;
  return {
    workerId,
    stop() {
      stopped ??= (async () => {
        clearInterval(heartbeat);
        discovery.unsubscribe();
        for (const subscription of subscriptions) subscription.unsubscribe();
        for (const controller of running.values()) controller.abort(new Error("worker stopping"));
        while (running.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      })();
      return stopped;
    },
  };
}

/** Images stored at once by one conversion: puts are mostly waiting on the disk or the network. */
const MEDIA_PUTS_IN_FLIGHT = 8;
/** Images up to this size are read whole before they are stored (8 in flight: 8 MiB at most). */
const SMALL_MEDIA_BYTES = 1024 * 1024;

/**
 * Stores the upload's images with a few puts in flight (each streams its file; the importer goes
 * on with the next item). put() waits while the pool is full and throws the first failure.
 */
function createMediaWriter(storage: StorageDriver, signal: AbortSignal) {
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  return {
    async put(key: string, file: SourceFile): Promise<void> {
      while (inFlight.size >= MEDIA_PUTS_IN_FLIGHT) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      const put: Promise<void> = (async () => {
        // Small images go as one buffer (one write, no stream plumbing); big ones stream.
        const body = file.size <= SMALL_MEDIA_BYTES ? await file.bytes() : await file.stream();
        await storage.put(key, body, { signal });
      })()
        .catch((err: unknown) => {
          failure ??= err;
        })
        .finally(() => inFlight.delete(put));
      inFlight.add(put);
    },
    /** Waits for every put; throws the first failure. */
    async flush(): Promise<void> {
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
    },
    /** Waits for every put, failed or not (cleanup). */
    async settle(): Promise<void> {
      await Promise.all(inFlight);
    },
  };
}

/** The media key of a file of the upload: the job's prefix plus the file's path, segment by segment. */
function mediaKey(prefix: string, path: string): string {
  const segments = path.split(/[\\/]+/).filter((s) => s !== "" && s !== "." && s !== "..");
  return `${prefix}/${segments.join("/")}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
