// The seeds' synchronous export routes: GET /api/export and /api/export/stats (seed 001),
// POST /v1/ground-truths/snapshot (seed 000).
import type { Deps } from "../app.ts";
import type { RestRouter } from "../rest/router.ts";
import type { ExportJobs } from "./service.ts";

export function registerRestExports(_rest: RestRouter, _deps: Deps, _jobs: ExportJobs): void {}
