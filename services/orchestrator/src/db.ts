// MongoDB collections and the indexes that serve the hot paths.
import { type Db, MongoClient } from "mongodb";
import { TRACK_TOTALS_INDEX } from "./data/tracks.ts";

export interface Database {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

/**
 * Failover timing. A primary that stops answering (a crashed host, a partition) keeps its sockets
 * open, so only the driver's monitor notices: it checks every `heartbeatFrequencyMS` and gives up
 * on a check after `connectTimeoutMS`, then marks the server unknown and interrupts the operations
 * in flight on it, which retryable reads and writes repeat once on the new primary. The defaults
 * (10 s and 30 s) leave an operation hanging up to 40 s; these notice it in about 5 s. There is no
 * socketTimeoutMS: it would also cut an export's or import's legitimately long operation. A
 * MONGODB_URL that names one of these options keeps its own value.
 */
const FAILOVER_OPTIONS = { serverSelectionTimeoutMS: 5000, heartbeatFrequencyMS: 2000, connectTimeoutMS: 3000 };

export async function connectDatabase(url: string, dbName: string): Promise<Database> {
  const client = new MongoClient(url, withDefaults(url, FAILOVER_OPTIONS));
  await client.connect();
  const db = client.db(dbName);
  await ensureIndexes(db);
  return { client, db, close: () => client.close() };
}

/** `options` without those the connection string sets itself (its option names are case-insensitive). */
function withDefaults(url: string, options: Record<string, number>): Record<string, number> {
  const query = url.split("?")[1] ?? "";
  const named = new Set([...new URLSearchParams(query).keys()].map((k) => k.toLowerCase()));
  return Object.fromEntries(Object.entries(options).filter(([name]) => !named.has(name.toLowerCase())));
}

async function ensureIndexes(db: Db): Promise<void> {
  await Promise.all([
    db.collection("datasets").createIndex({ name: 1 }, { unique: true }),
    // Keyset pagination and the export merge join read items and annotations in _id order.
    db.collection("items").createIndex({ datasetId: 1, _id: 1 }),
    db.collection("annotations").createIndex({ datasetId: 1, itemId: 1, _id: 1 }),
    // GET /api/export's counts and size before its first byte, from index entries alone.
    db.collection("annotations").createIndex(TRACK_TOTALS_INDEX.key, TRACK_TOTALS_INDEX.options),
    // Kept export totals (exports/track-totals-cache.ts) go 30 days after they were computed
    // (recomputing costs one scan), and with their dataset.
    db.collection("track_totals").createIndex({ at: 1 }, { expireAfterSeconds: 30 * 86_400 }),
    db.collection("track_totals").createIndex({ datasetId: 1 }),
    // Read in export snapshots: made now, so no snapshot predates it (SnapshotUnavailable).
    createCollection(db, "annotation_writes"),
    db.collection("imports").createIndex({ createdAt: -1 }),
    db.collection("exports").createIndex({ datasetId: 1, createdAt: -1 }),
    // Queued jobs, republished while they wait (exports/bus.ts), and status-filtered lists.
    db.collection("exports").createIndex({ status: 1, createdAt: -1 }),
    db.collection("exports").createIndex({ datasetId: 1, name: 1 }, { unique: true }),
    db
      .collection("exports")
      .createIndex({ requestId: 1 }, { unique: true, partialFilterExpression: { requestId: { $type: "string" } } }),
  ]);
}

/** Creates a collection unless it exists. */
async function createCollection(db: Db, name: string): Promise<void> {
  try {
    await db.createCollection(name);
  } catch (err) {
    // NamespaceExists: made before, or by another instance starting at the same time.
    if ((err as { code?: number }).code !== 48) throw err;
  }
}
