// Export jobs: the ExportService, plugins, the NATS job bus, downloads.
import type { ConnectRouter } from "@connectrpc/connect";
import { ExportService } from "@labelport/sdk/contracts";
import type { Deps } from "../app.ts";
import type { RestRouter } from "../rest/router.ts";
import { startJobBus } from "./bus.ts";
import { registerDeveloperApi } from "./developer-api.ts";
import { createDownloads } from "./downloads.ts";
import { createLogStore } from "./logs.ts";
import { createPluginRegistry } from "./plugin-registry.ts";
import { createExportRepository } from "./repository.ts";
import { registerRestExports } from "./rest-exports.ts";
import { createExportJobs, createExportServiceImpl } from "./service.ts";
import { createStorages } from "./storages.ts";
import { listenForTriggers } from "./triggers.ts";

export interface ExportsModule {
  routes(router: ConnectRouter): void;
  close(): Promise<void>;
}

/** Connects the job bus (streams, consumers, subscriptions) and returns the routes to serve. */
export async function startExports(rest: RestRouter, deps: Deps): Promise<ExportsModule> {
  const repo = createExportRepository(deps.database.db);
  const registry = createPluginRegistry(deps.database.db);
  const storages = createStorages(deps.config);
  const logs = createLogStore(deps.database.db);
  const bus = await startJobBus(deps, repo, registry, storages, logs);
  const downloads = createDownloads(deps, repo, storages, rest);
  const jobs = createExportJobs(deps, repo, registry, storages, bus, logs);
  const triggers = listenForTriggers(deps.nats, jobs, deps.log, deps.auth);
  registerRestExports(rest, deps, { jobs, repo, registry, storages, bus });
  registerDeveloperApi(rest, deps, { jobs, repo, downloads, logs, bus, registry });
  return {
    routes: (router) =>
      router.service(ExportService, createExportServiceImpl(deps, jobs, repo, registry, bus, logs, downloads)),
    async close() {
      triggers.unsubscribe();
      await bus.close();
      await storages.dispose();
    },
  };
}
