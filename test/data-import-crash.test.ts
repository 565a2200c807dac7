// Crash safety of atomic imports: a REAL orchestrator process is SIGKILLed in the middle of
// applying a large import, restarted on the same database, and the database must be exactly as
// before the import, with the history entry resolved as rolled back. Run once with the undo
// journal (a 200k-line file is too large for one transaction) and once with a transaction.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { storedId } from "../services/orchestrator/src/data/ids.ts";

const ROOT = resolve(import.meta.dirname, "..");
const VIDEOS = 200;
const PERSONA = "p-1";

let client: MongoClient;
let dir: string;
const children = new Set<ChildProcess>();

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => res(typeof address === "object" && address ? address.port : 0));
    });
  });
}

interface Child {
  proc: ChildProcess;
  url: string;
  /** Resolves with the first log line matching. */
  waitForLog(match: (entry: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<void>;
}

async function startChild(dbName: string, env: Record<string, string>): Promise<Child> {
  const port = await freePort();
  const proc = spawn(process.execPath, ["--import", "tsx", "services/orchestrator/src/main.ts"], {
    cwd: ROOT,
    env: {
      ...process.env,
      MONGODB_URL: inject("mongoUrl"),
      NATS_URL: inject("natsUrl"),
      MONGODB_DB: dbName,
      PORT: String(port),
      LOG_LEVEL: "debug",
      BUILTIN_PLUGINS: "false",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(proc);
  const exited = new Promise<void>((res) => proc.once("exit", () => res()));
  const watchers = new Set<(entry: Record<string, unknown>) => void>();
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let buffered = "";
  let url = "";
  const listening = new Promise<void>((res, rej) => {
    proc.once("exit", (code) => rej(new Error(`orchestrator exited (${code}): ${stderr}`)));
    proc.stdout?.on("data", (d: Buffer) => {
      buffered += d.toString();
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const match = /^listening on (\S+)/.exec(text);
        if (match?.[1]) {
          url = match[1];
          res();
        } else if (text.startsWith("{")) {
          try {
            const entry = JSON.parse(text) as Record<string, unknown>;
            for (const watcher of watchers) watcher(entry);
          } catch {
            // not a log line
          }
        }
        nl = buffered.indexOf("\n");
      }
    });
  });
  await listening;
  return {
    proc,
    url,
    exited,
    waitForLog(match, timeoutMs = 120_000) {
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error("timed out waiting for a log line")), timeoutMs);
        const watcher = (entry: Record<string, unknown>) => {
          if (!match(entry)) return;
          clearTimeout(timer);
          watchers.delete(watcher);
          res(entry);
        };
        watchers.add(watcher);
      });
    },
  };
}

function annotationLine(i: number): string {
  const frame = (i % 50) * 20;
  return JSON.stringify({
    id: `crash-${String(i).padStart(7, "0")}`,
    videoId: `video-${i % VIDEOS}`,
    personaId: PERSONA,
    annotationType: "object",
    objectLink: { objectId: `object-${i}`, objectType: "entity" },
    boundingBoxSequence: {
      interpolationMode: "linear",
      boxes: [
        { frameNumber: frame, x: 10, y: 20, width: 30, height: 40, isKeyframe: true, visible: true },
        { frameNumber: frame + 10, x: 15, y: 25, width: 30, height: 40, isKeyframe: true, visible: true },
      ],
    },
  });
}

/** A dataset with videos, a persona and annotations the import will overwrite. */
async function seed(dbName: string): Promise<string> {
  const db = client.db(dbName);
  const datasetId = randomUUID();
  await db.collection("datasets").insertOne({
    _id: datasetId as never,
    name: "crash",
    description: "",
    categories: [],
    nextCategoryId: 1,
    createdAt: new Date(),
  });
  const now = new Date("2025-01-01T00:00:00Z");
  await db.collection("items").insertMany(
    Array.from({ length: VIDEOS }, (_, i) => ({
      _id: storedId(datasetId, `video-${i}`) as never,
      datasetId,
      kind: "video",
      status: "approved",
      media: { frames: 2000, fps: 30 },
      tags: [],
      createdAt: now,
      updatedAt: now,
      version: 1,
    })),
  );
  await db
    .collection("personas")
    .insertOne({ _id: PERSONA as never, name: "Analyst", placeholder: false, createdAt: now });
  // 1000 existing annotations whose ids the import overwrites: undoing must restore them.
  await db.collection("annotations").insertMany(
    Array.from({ length: 1000 }, (_, i) => ({
      _id: storedId(datasetId, `crash-${String(i * 37).padStart(7, "0")}`) as never,
      datasetId,
      itemId: `video-${(i * 37) % VIDEOS}`,
      personaId: PERSONA,
      type: "track",
      boxSequence: {
        interpolationMode: "linear",
        boxes: [{ frameNumber: 5000, x: 1, y: 1, width: 1, height: 1, isKeyframe: true, visible: true }],
      },
      frameRange: [5000, 5000],
      link: { objectLink: { objectId: `old-${i}`, objectType: "entity" } },
      removed: false,
      createdAt: now,
      updatedAt: now,
    })),
  );
  return datasetId;
}

/** Every collection but the history, which gains the entry of the failed import. */
async function dataFingerprint(dbName: string) {
  const db = client.db(dbName);
  const names = ["datasets", "items", "annotations", "personas", "import_journal", "import_commits"];
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const docs = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
    out[name] = { count: docs.length, sha256: createHash("sha256").update(JSON.stringify(docs)).digest("hex") };
  }
  return out;
}

async function crashAndRecover(lines: number, env: Record<string, string>, expectedMode: string) {
  const dbName = `crash_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
  const datasetId = await seed(dbName);
  const file = join(dir, `${dbName}.jsonl`);
  await writeFile(file, Array.from({ length: lines }, (_, i) => annotationLine(i)).join("\n"));
  const first = await startChild(dbName, env);
  const before = await dataFingerprint(dbName);
  const progress = first.waitForLog(
    (e) => e.msg === "import progress" && Number(e.processedLines) >= 5000 && e.mode === expectedMode,
  );
  const form = new FormData();
  form.append("file", new Blob([await readFile(file)]), "big.jsonl");
  form.append("options", JSON.stringify({ conflictResolution: { duplicateIds: "overwrite" } }));
  const request = fetch(`${first.url}/api/import?datasetId=${datasetId}`, { method: "POST", body: form }).catch(
    (err: unknown) => err,
  );
  const seen = await progress;
  first.proc.kill("SIGKILL");
  await first.exited;
  expect(await request).toBeInstanceOf(Error);
  const db = client.db(dbName);
  const running = await db.collection("imports").findOne({ status: "running" });
  expect(running).toMatchObject({ mode: expectedMode });
  // Mid-apply: batches were written (visible with the journal, uncommitted in a transaction).
  expect(Number(seen.processedLines)).toBeLessThan(lines);
  const visible = await db.collection("annotations").countDocuments();
  if (expectedMode === "journal") expect(visible).toBeGreaterThan(1000);
  else expect(visible).toBe(1000);

  const second = await startChild(dbName, {});
  const deadline = Date.now() + 60_000;
  let entry = await db.collection("imports").findOne({ _id: running?._id as never });
  while (entry?.status === "running" && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    entry = await db.collection("imports").findOne({ _id: running?._id as never });
  }
  expect(entry).toMatchObject({ status: "rolled_back", success: false });
  expect(String(entry?.errorMessage)).toContain("interrupted");
  expect(await dataFingerprint(dbName)).toEqual(before);
  const history = (await (await fetch(`${second.url}/api/import/history`)).json()) as {
    imports: Array<{ success: boolean }>;
  };
  expect(history.imports[0]).toMatchObject({ success: false });
  second.proc.kill("SIGTERM");
  await second.exited;
  await db.dropDatabase();
}

beforeAll(async () => {
  client = new MongoClient(inject("mongoUrl"));
  await client.connect();
  dir = await mkdtemp(join(tmpdir(), "labelport-crash-"));
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await client?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a transaction the server refuses", () => {
  it("is retried with the undo journal and the import completes", async () => {
    const dbName = `crash_${randomUUID().replaceAll("-", "").slice(0, 10)}`;
    const datasetId = await seed(dbName);
    const lines = 150_000;
    // Forced transaction mode: this file is more than the 1 GB test cache can hold in one.
    const child = await startChild(dbName, {
      LABELPORT_IMPORT_ATOMIC_MODE: "transaction",
      LABELPORT_IMPORT_TRANSACTION_MAX_BYTES: String(1024 * 1024 * 1024),
    });
    const refused = child.waitForLog((e) => String(e.msg).startsWith("the transaction was refused"));
    const form = new FormData();
    form.append("file", new Blob([Array.from({ length: lines }, (_, i) => annotationLine(i)).join("\n")]), "big.jsonl");
    const res = await fetch(`${child.url}/api/import?datasetId=${datasetId}`, { method: "POST", body: form });
    const body = (await res.json()) as { success: boolean; summary: { importedItems: { annotations: number } } };
    await refused;
    expect(body.success).toBe(true);
    // 1000 of the ids existed already and are skipped (duplicateIds: skip).
    expect(body.summary.importedItems.annotations).toBe(lines - 1000);
    const db = client.db(dbName);
    expect(await db.collection("imports").findOne({})).toMatchObject({ mode: "journal", status: "completed" });
    expect(await db.collection("annotations").countDocuments()).toBe(lines);
    expect(await db.collection("import_journal").countDocuments()).toBe(0);
    child.proc.kill("SIGTERM");
    await child.exited;
    await db.dropDatabase();
  }, 300_000);
});

describe("an orchestrator killed in the middle of an atomic import", () => {
  it("rolls a 200k-line journal import back at restart", async () => {
    await crashAndRecover(200_000, {}, "journal");
  }, 300_000);

  it("rolls a transaction import back at restart", async () => {
    await crashAndRecover(
      40_000,
      {
        LABELPORT_IMPORT_ATOMIC_MODE: "transaction",
        LABELPORT_IMPORT_TRANSACTION_MAX_BYTES: String(200 * 1024 * 1024),
      },
      "transaction",
    );
  }, 300_000);
});
