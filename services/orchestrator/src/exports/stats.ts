// GetExportStats: counts and an estimated size before exporting (seed 001 /api/export/stats).
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { GetExportStatsRequest, GetExportStatsResponseSchema } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";

export async function exportStats(
  _db: Db,
  _request: GetExportStatsRequest,
): Promise<MessageInitShape<typeof GetExportStatsResponseSchema>> {
  return {};
}
