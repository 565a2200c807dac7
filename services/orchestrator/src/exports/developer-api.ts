// Seed 004's developer exports REST API (/api/v1/developer/exports/...).
import type { Deps } from "../app.ts";
import type { RestRouter } from "../rest/router.ts";
import type { Downloads } from "./downloads.ts";
import type { ExportRepository } from "./repository.ts";
import type { ExportJobs } from "./service.ts";

export function registerDeveloperApi(
  _rest: RestRouter,
  _deps: Deps,
  _jobs: ExportJobs,
  _repo: ExportRepository,
  _downloads: Downloads,
): void {}
