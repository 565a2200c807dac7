// Job log lines (plugin and orchestrator), kept with the job in `export_logs`.
import type { JsonObject } from "@bufbuild/protobuf";
import type { Db } from "mongodb";

export interface LogLineDoc {
  exportId: string;
  time: Date;
  level: string;
  message: string;
  source: "plugin" | "orchestrator";
  fields?: JsonObject;
}

export interface LogStore {
  append(
    exportId: string,
    level: string,
    message: string,
    source: LogLineDoc["source"],
    fields?: JsonObject,
  ): Promise<void>;
  /** Lines in time order, after `since` when given. */
  read(exportId: string, since?: Date): Promise<LogLineDoc[]>;
  deleteFor(exportId: string): Promise<void>;
}

/** Lines kept per export; a runaway plugin cannot fill the database. */
const MAX_LINES = 10_000;

export function createLogStore(db: Db): LogStore {
  const lines = db.collection<LogLineDoc>("export_logs");
  void lines.createIndex({ exportId: 1, time: 1 });
  return {
    async append(exportId, level, message, source, fields) {
      if ((await lines.countDocuments({ exportId }, { limit: MAX_LINES })) >= MAX_LINES) return;
      await lines.insertOne({ exportId, time: new Date(), level, message, source, ...(fields ? { fields } : {}) });
    },
    read: (exportId, since) =>
      lines
        .find({ exportId, ...(since ? { time: { $gt: since } } : {}) }, { projection: { _id: 0 } })
        .sort({ time: 1, _id: 1 })
        .toArray(),
    async deleteFor(exportId) {
      await lines.deleteMany({ exportId });
    },
  };
}
