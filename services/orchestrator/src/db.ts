// MongoDB collections and the indexes that serve the hot paths.
import { type Db, MongoClient } from "mongodb";
import { TRACK_TOTALS_INDEX } from "./data/tracks.ts";

export interface Database {
  client: MongoClient;
  db: Db;
  close(): Promise<void>;
}

export async function connectDatabase(url: string, dbName: string): Promise<Database> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const db = client.db(dbName);
  await ensureIndexes(db);
  return { client, db, close: () => client.close() };
}

async function ensureIndexes(db: Db): Promise<void> {
  await Promise.all([
    db.collection("datasets").createIndex({ name: 1 }, { unique: true }),
    // Keyset pagination and the export merge join read items and annotations in _id order.
    db.collection("items").createIndex({ datasetId: 1, _id: 1 }),
    db.collection("annotations").createIndex({ datasetId: 1, itemId: 1, _id: 1 }),
    // GET /api/export's counts and size before its first byte, from index entries alone.
    db.collection("annotations").createIndex(TRACK_TOTALS_INDEX.key, TRACK_TOTALS_INDEX.options),
    db.collection("imports").createIndex({ createdAt: -1 }),
    db.collection("exports").createIndex({ datasetId: 1, createdAt: -1 }),
    db.collection("exports").createIndex({ datasetId: 1, name: 1 }, { unique: true }),
    db
      .collection("exports")
      .createIndex({ requestId: 1 }, { unique: true, partialFilterExpression: { requestId: { $type: "string" } } }),
  ]);
}
