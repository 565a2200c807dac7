// Datasets, items, annotations and imports: the Connect services, the seed 001 import routes,
// and the start-up recovery of imports a crashed process left running.
import { DatasetService, ImportService, ItemService } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import type { Deps, RegisterServices } from "../app.ts";
import { createDatasetService } from "./datasets.ts";
import { uuidv7 } from "./ids.ts";
import { type Instance, thisHost } from "./import/history.ts";
import { type ImportContext, type ImportSettings, probeCapabilities } from "./import/pipeline.ts";
import { recoverImports as recover } from "./import/recovery.ts";
import { registerImportRoutes } from "./import/rest.ts";
import { createImportService } from "./import/service.ts";
import { createItemService } from "./items.ts";
import { Collections } from "./model.ts";
import { importSettingsFromEnv } from "./settings.ts";

export type { StreamQuery } from "./stream.ts";

const SWEEP_MS = 30_000;

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
  ]);
}

/**
 * Resolves imports left running by a dead process (commit found: completed; otherwise rolled
 * back from the journal or by killing the orphaned transaction). Safe to call at any time.
 */
export async function recoverImports(
  deps: Pick<Deps, "database" | "log">,
  instance: Instance = { host: thisHost, pid: process.pid, instanceId: uuidv7() },
  staleMs = importSettingsFromEnv().staleMs,
  active?: ReadonlySet<string>,
): Promise<{ completed: number; rolledBack: number }> {
  return recover(deps.database.db, deps.log, instance, staleMs, active);
}

export function createImportContext(deps: Deps, settings: ImportSettings): ImportContext {
  const { db, client } = deps.database;
  const instance: Instance = { host: thisHost, pid: process.pid, instanceId: uuidv7() };
  const log = deps.log.child({ area: "imports" });
  const active = new Set<string>();
  const sweep = () => recoverImports(deps, instance, settings.staleMs, active);
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
  deps.nats.closed().then(
    () => clearInterval(timer),
    () => clearInterval(timer),
  );
  return { db, client, log, instance, settings, capabilities: probeCapabilities(db, settings), ready, active };
}

export const registerDataServices: RegisterServices = (router, rest, deps) => {
  const db = deps.database.db;
  const imports = createImportContext(deps, importSettingsFromEnv());
  const transactions = async () => (await imports.capabilities()).transactions;
  router.service(DatasetService, createDatasetService(db));
  router.service(ItemService, createItemService(db, deps.database.client, transactions));
  router.service(ImportService, createImportService(imports));
  registerImportRoutes(rest, imports);
};
