// Datasets, items, annotations and imports: the Connect services, the video annotation import routes,
// and the recovery of imports a crashed process left running (at start, then every 30 s).
import { DatasetService, ImportService, ItemService, VersionService } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import type { Config } from "../config.ts";
import type { Context, FeatureModule } from "../context.ts";
import { createPluginRegistry } from "../exports/plugin-registry.ts";
import { createDatasetService } from "./datasets.ts";
import { migrateSchema } from "./id-migration.ts";
import { uuidv7 } from "./ids.ts";
import { type Instance, thisHost } from "./import/history.ts";
import { type ImportContext, type ImportSettings, probeCapabilities } from "./import/pipeline.ts";
import { createUploadConverter } from "./import/plugin-conversion.ts";
import { MAX_DEPTH, MAX_FILE_BYTES, MAX_LINE_BYTES } from "./import/reader.ts";
import { recoverImports as recover } from "./import/recovery.ts";
import { registerImportRoutes } from "./import/rest.ts";
import { createImportService } from "./import/service.ts";
import { createItemService } from "./items.ts";
import { Collections } from "./model.ts";
import { createVersionService } from "./versions.ts";
import { ensureHistoryIndexes } from "./versions-archive.ts";

export type { StreamQuery } from "./stream.ts";

const SWEEP_MS = 30_000;
/** A running import's heartbeat, and the age at which a missing one means its process died. */
const HEARTBEAT_MS = 5000;
const STALE_MS = 60_000;

export type DataOptions = Pick<Context, "config" | "log" | "database"> &
  Partial<Pick<Context, "nats" | "storages" | "prepareExport">>;

/** Indexes of the collections only this area uses (the shared ones are in db.ts). */
async function ensureDataIndexes(db: Db): Promise<void> {
  await Promise.all([
    db.collection(Collections.personas).createIndex({ datasetId: 1 }),
    // Overlap checks of the import find a track's siblings by key.
    db
      .collection(Collections.annotations)
      .createIndex({ datasetId: 1, trackKey: 1 }, { partialFilterExpression: { trackKey: { $exists: true } } }),
    db.collection(Collections.imports).createIndex({ status: 1 }),
    db.collection(Collections.imports).createIndex({ datasetId: 1, createdAt: -1 }),
    db.collection(Collections.importJournal).createIndex({ importId: 1, seq: 1 }),
    ensureHistoryIndexes(db),
  ]);
}

/** The import pipeline's settings: the LABELPORT_IMPORT_* variables and the fixed limits. */
export function importSettingsOf(
  config: Pick<
    Config,
    | "LABELPORT_IMPORT_ATOMIC_MODE"
    | "LABELPORT_IMPORT_BATCH_SIZE"
    | "LABELPORT_IMPORT_TRANSACTION_MAX_BYTES"
    | "LABELPORT_IMPORT_MAX_BYTES"
  >,
): ImportSettings {
  return {
    atomicMode: config.LABELPORT_IMPORT_ATOMIC_MODE,
    batchSize: config.LABELPORT_IMPORT_BATCH_SIZE,
    maxFileBytes: config.LABELPORT_IMPORT_MAX_BYTES ?? MAX_FILE_BYTES,
    maxLineBytes: MAX_LINE_BYTES,
    maxDepth: MAX_DEPTH,
    ...(config.LABELPORT_IMPORT_TRANSACTION_MAX_BYTES
      ? { transactionMaxBytes: config.LABELPORT_IMPORT_TRANSACTION_MAX_BYTES }
      : {}),
    heartbeatMs: HEARTBEAT_MS,
    staleMs: STALE_MS,
  };
}

export interface RecoverImportsOptions extends Pick<Context, "database" | "log"> {
  /** This process; imports it owns are left alone unless they are no longer `active`. */
  instance?: Instance;
  staleMs?: number;
  active?: ReadonlySet<string>;
}

/**
 * Resolves imports left running by a dead process (commit found: completed; otherwise rolled
 * back from the journal or by killing the orphaned transaction). Safe to call at any time.
 */
export async function recoverImports(
  options: RecoverImportsOptions,
): Promise<{ completed: number; rolledBack: number }> {
  const instance = options.instance ?? { host: thisHost, pid: process.pid, instanceId: uuidv7() };
  return recover(options.database.db, options.log, instance, options.staleMs ?? STALE_MS, options.active);
}

export async function startData(options: DataOptions): Promise<FeatureModule> {
  const { db, client } = options.database;
  const settings = importSettingsOf(options.config);
  const instance: Instance = { host: thisHost, pid: process.pid, instanceId: uuidv7() };
  // Before anything reads items or annotations: they may still have the ids of an older version.
  await migrateSchema(db, options.log.child({ area: "schema" }));
  const log = options.log.child({ area: "imports" });
  const active = new Set<string>();
  const sweep = () => recoverImports({ ...options, instance, staleMs: settings.staleMs, active });
  const ready = ensureDataIndexes(db)
    .then(sweep)
    .then(
      (r) => {
        if (r.completed + r.rolledBack > 0) log.info(r, "recovered interrupted imports");
      },
      (err: unknown) => log.error({ err }, "import recovery failed"),
    );
  // Later sweeps catch imports of other instances whose heartbeat stopped.
  const timer = setInterval(() => {
    sweep().catch((err: unknown) => log.debug({ err }, "import recovery sweep failed"));
  }, SWEEP_MS);
  timer.unref();
  const imports: ImportContext = {
    db,
    client,
    log,
    instance,
    settings,
    capabilities: probeCapabilities(db, settings),
    ready,
    active,
    ...(options.prepareExport ? { prepareExport: options.prepareExport } : {}),
  };
  const { nats, storages } = options;
  if (nats && storages) {
    const registry = createPluginRegistry(db);
    imports.importFormats = async () => [...new Set((await registry.list()).flatMap((p) => p.importFormats))].sort();
    // Uploads and their images go to the default storage, where exports read media from.
    imports.converter = createUploadConverter({
      nats,
      log,
      storage: () => ({
        driver: storages.driver(storages.defaultName),
        config: storages.configOf(storages.defaultName),
      }),
    });
  }
  const transactions = async () => (await imports.capabilities()).transactions;
  return {
    register(router, rest) {
      router.service(DatasetService, createDatasetService(db));
      router.service(
        ItemService,
        createItemService({
          db,
          client,
          transactions,
          ...(options.prepareExport ? { prepareExport: options.prepareExport } : {}),
        }),
      );
      router.service(ImportService, createImportService(imports));
      router.service(VersionService, createVersionService(db));
      registerImportRoutes(rest, imports);
    },
    async close() {
      clearInterval(timer);
    },
  };
}
