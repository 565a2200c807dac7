// Job log lines (plugin and orchestrator), kept with the job in `export_logs`.
import type { JsonObject } from "@bufbuild/protobuf";
import type { Db, Filter, ObjectId } from "mongodb";

export interface LogLineDoc {
  _id?: ObjectId;
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
  /** Lines in insertion order: after `afterId` when given, else after `since`. */
  read(exportId: string, after?: { since?: Date | undefined; afterId?: ObjectId | undefined }): Promise<LogLineDoc[]>;
  deleteFor(exportId: string): Promise<void>;
}

/** Lines kept per export; a runaway plugin cannot fill the database. */
const MAX_LINES = 10_000;

export function createLogStore(db: Db): LogStore {
  const lines = db.collection<LogLineDoc>("export_logs");
  void lines.createIndex({ exportId: 1, _id: 1 });
  return {
    async append(exportId, level, message, source, fields) {
      if ((await lines.countDocuments({ exportId }, { limit: MAX_LINES })) >= MAX_LINES) return;
      await lines.insertOne({ exportId, time: new Date(), level, message, source, ...(fields ? { fields } : {}) });
    },
    read(exportId, after = {}) {
      const filter: Filter<LogLineDoc> = { exportId };
      if (after.afterId) filter._id = { $gt: after.afterId };
      else if (after.since) filter.time = { $gt: after.since };
      return lines.find(filter).sort({ _id: 1 }).toArray();
    },
    async deleteFor(exportId) {
      await lines.deleteMany({ exportId });
    },
  };
}

export interface FollowOptions {
  since?: Date | undefined;
  /** Keep reading until the job is final. */
  follow: boolean;
  signal: AbortSignal;
  /** True while the job can still log. */
  isActive(): Promise<boolean>;
  /** Resolves on the job's next event (or a timeout). */
  nextChange(signal: AbortSignal): Promise<void>;
}

/** Batches of a job's log lines; with `follow`, new ones until the job is final. */
export async function* followLogs(
  logs: LogStore,
  exportId: string,
  options: FollowOptions,
): AsyncGenerator<LogLineDoc[]> {
  let afterId: ObjectId | undefined;
  for (;;) {
    const lines = await logs.read(exportId, { since: options.since, afterId });
    if (lines.length > 0) {
      afterId = lines.at(-1)?._id;
      yield lines;
    }
    if (!options.follow) return;
    if (!(await options.isActive())) {
      // Lines written before the job ended (a cancel's, a final event's) may have landed between
      // the read above and the status seen now: one more read after it takes them.
      const rest = await logs.read(exportId, { since: options.since, afterId });
      if (rest.length > 0) yield rest;
      return;
    }
    await options.nextChange(options.signal);
    options.signal.throwIfAborted();
  }
}
