// Export jobs: the ExportService, plugins, the NATS job bus, downloads, and the REST export routes
// (developer exports API, video track export, snapshot API).
import { ExportService } from "@labelport/sdk/contracts";
import type { Context, FeatureModule } from "../context.ts";
import { startJobBus } from "./bus.ts";
import { registerDeveloperApi } from "./developer-api.ts";
import { createDownloads } from "./downloads.ts";
import { createLogStore } from "./logs.ts";
import { createPluginRegistry } from "./plugin-registry.ts";
import { createExportRepository } from "./repository.ts";
import { createExportJobs, createExportService } from "./service.ts";
import { registerSnapshotRoute } from "./snapshot-route.ts";
import { registerTrackExport } from "./track-export.ts";
import { listenForTriggers } from "./triggers.ts";

export type ExportsOptions = Pick<
  Context,
  "config" | "log" | "database" | "nats" | "auth" | "signingSecret" | "publicUrl" | "storages" | "versions"
>;

/** Connects the job bus (streams, consumers, subscriptions) and the NATS trigger subject. */
export async function startExports(options: ExportsOptions): Promise<FeatureModule> {
  const db = options.database.db;
  const repo = createExportRepository(db);
  const registry = createPluginRegistry(db);
  const { storages } = options;
  const logs = createLogStore(db);
  const bus = await startJobBus({ ...options, repo, registry, storages, logs });
  const downloads = createDownloads({ ...options, repo, storages });
  const jobs = createExportJobs({ ...options, repo, registry, storages, bus, logs });
  const triggers = listenForTriggers({ ...options, jobs });
  return {
    register(router, rest) {
      router.service(ExportService, createExportService({ ...options, jobs, repo, registry, bus, logs, downloads }));
      downloads.register(rest);
      registerDeveloperApi(rest, { ...options, jobs, repo, downloads, logs, bus, registry });
      registerTrackExport(rest, options);
      registerSnapshotRoute(rest, { ...options, jobs, repo, registry, storages, bus });
    },
    async close() {
      triggers.unsubscribe();
      await bus.close();
    },
  };
}
