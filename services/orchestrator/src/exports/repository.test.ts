// The export job state machine (repository.ts) against the real MongoDB: which claims start a job,
// which events move which status, and what replays, stale attempts and final states do. Each
// transition is one conditional update, so a refused one is `null` and leaves the document as it
// was; these specs check both.
import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ExportCountsSchema, type JobEvent, JobEventSchema } from "@labelport/sdk/contracts";
import { type Db, MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createExportRepository,
  type ExportDoc,
  type ExportRepository,
  type JobStatus,
  queuedExportDoc,
  toProto,
} from "./repository.ts";

let client: MongoClient;
let db: Db;
let repo: ExportRepository;

beforeAll(async () => {
  client = new MongoClient(inject("mongoUrl"));
  db = client.db(`t_${randomUUID().replaceAll("-", "").slice(0, 12)}`);
  repo = createExportRepository(db);
});

afterAll(async () => {
  await db?.dropDatabase().catch(() => undefined);
  await client?.close();
});

const created = new Date("2025-10-06T14:30:00.000Z");
const TTL_DAYS = 7;

/** A job as CreateExport stores it, queued; each test has its own. */
async function queuedJob(fields: Partial<ExportDoc> = {}): Promise<string> {
  const id = randomUUID();
  await repo.insert({
    ...queuedExportDoc(
      {
        _id: id,
        name: `export ${id}`,
        description: "",
        datasetId: "d",
        datasetName: "dataset",
        format: "jsonl",
        filter: {},
        storage: "local",
        path: `exports/${id}`,
        saveOriginalFile: true,
        options: {},
        pluginName: "",
        pluginVersion: "",
        createdBy: "test",
      },
      created,
    ),
    ...fields,
  });
  return id;
}

type EventCase = NonNullable<MessageInitShape<typeof JobEventSchema>["event"]>;

function event(exportId: string, attempt: number, sequence: number, body: EventCase): JobEvent {
  return create(JobEventSchema, { exportId, attempt, sequence: BigInt(sequence), event: body });
}

const started: EventCase = {
  case: "started",
  value: { pluginName: "@labelport/plugin-jsonl", pluginVersion: "1.2.3", totalItems: 40n },
};
const progress = (processedItems: number): EventCase => ({
  case: "progress",
  value: { processedItems: BigInt(processedItems), totalItems: 40n, processedAnnotations: BigInt(processedItems * 3) },
});
const completion = {
  artifacts: [{ key: "exports/x/out.jsonl", size: 120n, sha256: "ab", contentType: "application/x-ndjson" }],
  manifestKey: "exports/x/manifest.json",
  counts: {
    itemCount: 40n,
    annotationCount: 120n,
    fileCount: 1n,
    receivedAnnotations: 130n,
    dropped: [{ reason: "polyline: jsonl has no polylines", count: 10n }],
    changed: [{ reason: "bbox: rounded to whole pixels", count: 7n }],
  },
  formatNotes: ["note"],
  totalSize: 120n,
};
const completed: EventCase = { case: "completed", value: completion };
const failed = (retryable: boolean): EventCase => ({
  case: "failed",
  value: { errorMessage: retryable ? "storage timed out" : "bad options", retryable },
});
const canceled: EventCase = { case: "canceled", value: {} };

async function job(id: string): Promise<ExportDoc> {
  const doc = await repo.get(id);
  if (!doc) throw new Error(`export ${id} is gone`);
  return doc;
}

/** A job claimed by its first delivery: running, attempt 1. */
async function runningJob(): Promise<string> {
  const id = await queuedJob();
  expect(await repo.claim(id, 1)).not.toBeNull();
  return id;
}

/** A job in a final state, reached the way the orchestrator reaches it. */
async function finalJob(status: Exclude<JobStatus, "queued" | "running">): Promise<string> {
  const id = await runningJob();
  if (status === "completed") await repo.apply(event(id, 1, 1, completed), TTL_DAYS);
  else if (status === "failed") await repo.apply(event(id, 1, 1, failed(false)), TTL_DAYS);
  else await repo.cancel(id);
  expect((await job(id)).status).toBe(status);
  return id;
}

describe("claim", () => {
  it("starts a queued job on its first delivery: running, one attempt more, startedAt set", async () => {
    const id = await queuedJob({ errorMessage: "left from before" });
    const claimed = await repo.claim(id, 1);
    expect(claimed).toMatchObject({ status: "running", attempts: 1, eventSequence: 0, errorMessage: "" });
    expect((await job(id)).startedAt).toBeInstanceOf(Date);
  });

  it("refuses a duplicate first delivery of a job already running: one worker per job", async () => {
    const id = await runningJob();
    const before = await job(id);
    expect(await repo.claim(id, 1)).toBeNull();
    expect(await job(id)).toEqual(before);
  });

  it("restarts a running job on a redelivery (its worker died): a new attempt, sequence and error reset", async () => {
    const id = await runningJob();
    await repo.apply(event(id, 1, 5, progress(10)), TTL_DAYS);
    await repo.apply(event(id, 1, 6, failed(true)), TTL_DAYS);
    const first = await job(id);
    expect(first).toMatchObject({ attempts: 1, eventSequence: 5, errorMessage: "storage timed out" });
    const claimed = await repo.claim(id, 2);
    expect(claimed).toMatchObject({ status: "running", attempts: 2, eventSequence: 0, errorMessage: "" });
    // The job started once: a restart keeps the first start time.
    expect((await job(id)).startedAt).toEqual(first.startedAt);
  });

  it("lets a redelivery start a job still queued", async () => {
    const id = await queuedJob();
    expect(await repo.claim(id, 3)).toMatchObject({ status: "running", attempts: 1 });
  });

  it("refuses final and unknown jobs on any delivery", async () => {
    for (const status of ["completed", "failed", "canceled"] as const) {
      const id = await finalJob(status);
      const before = await job(id);
      expect(await repo.claim(id, 1)).toBeNull();
      expect(await repo.claim(id, 2)).toBeNull();
      expect(await job(id)).toEqual(before);
    }
    expect(await repo.claim(randomUUID(), 1)).toBeNull();
  });
});

describe("apply", () => {
  it("started: records the plugin and the item total; the job stays running", async () => {
    const id = await runningJob();
    const result = await repo.apply(event(id, 1, 1, started), TTL_DAYS);
    expect(result.finished).toBe(false);
    expect(result.changed).toMatchObject({
      status: "running",
      pluginName: "@labelport/plugin-jsonl",
      pluginVersion: "1.2.3",
      progress: { totalItems: 40 },
    });
  });

  it("progress: applies only a higher sequence than the attempt's last; replays and older events change nothing", async () => {
    const id = await runningJob();
    expect((await repo.apply(event(id, 1, 3, progress(30)), TTL_DAYS)).changed).toMatchObject({
      eventSequence: 3,
      progress: { processedItems: 30, totalItems: 40, processedAnnotations: 90 },
    });
    const after = await job(id);
    expect(await repo.apply(event(id, 1, 3, progress(30)), TTL_DAYS)).toEqual({ changed: null, finished: false });
    expect(await repo.apply(event(id, 1, 2, progress(20)), TTL_DAYS)).toEqual({ changed: null, finished: false });
    expect(await job(id)).toEqual(after);
    expect((await repo.apply(event(id, 1, 4, progress(35)), TTL_DAYS)).changed).toMatchObject({
      eventSequence: 4,
      progress: { processedItems: 35 },
    });
  });

  it("drops every event of an earlier attempt once the job was claimed again", async () => {
    const id = await runningJob();
    await repo.apply(event(id, 1, 1, progress(10)), TTL_DAYS);
    await repo.claim(id, 2);
    const restarted = await job(id);
    for (const body of [started, progress(20), completed, failed(false), failed(true)]) {
      expect(await repo.apply(event(id, 1, 9, body), TTL_DAYS)).toEqual({ changed: null, finished: false });
    }
    expect(await job(id)).toEqual(restarted);
    // The new attempt counts its sequence from the start again.
    expect((await repo.apply(event(id, 2, 1, progress(5)), TTL_DAYS)).changed).toMatchObject({
      attempts: 2,
      eventSequence: 1,
      progress: { processedItems: 5 },
    });
  });

  it("drops events of a job that is not running yet", async () => {
    const id = await queuedJob();
    for (const body of [started, progress(1), completed, failed(false)]) {
      expect(await repo.apply(event(id, 0, 1, body), TTL_DAYS)).toEqual({ changed: null, finished: false });
    }
    expect((await job(id)).status).toBe("queued");
  });

  it("completed: final, with artifacts, counts, size, and an expiry ttlDays after completion", async () => {
    const id = await runningJob();
    const result = await repo.apply(event(id, 1, 7, completed), TTL_DAYS);
    expect(result.finished).toBe(true);
    expect(result.changed).toMatchObject({
      status: "completed",
      artifacts: [{ key: "exports/x/out.jsonl", size: 120, sha256: "ab", contentType: "application/x-ndjson" }],
      manifestKey: "exports/x/manifest.json",
      formatNotes: ["note"],
      counts: {
        itemCount: 40,
        annotationCount: 120,
        fileCount: 1,
        receivedAnnotations: 130,
        dropped: [{ reason: "polyline: jsonl has no polylines", count: 10 }],
        changed: [{ reason: "bbox: rounded to whole pixels", count: 7 }],
      },
      fileSize: 120,
      errorMessage: "",
    });
    const doc = await job(id);
    // Progress ends at what was processed: every annotation received, written or not.
    expect(doc.progress).toMatchObject({ processedItems: 40, processedAnnotations: 130 });
    // GetExport and ListExports return the whole ExportCounts the plugin reported.
    expect(toProto(doc).counts).toEqual(create(ExportCountsSchema, completion.counts));
    expect(doc.completedAt).toBeInstanceOf(Date);
    expect(doc.expiresAt?.getTime()).toBe((doc.completedAt as Date).getTime() + TTL_DAYS * 86_400_000);
    // A replay of the completion is dropped.
    expect(await repo.apply(event(id, 1, 7, completed), TTL_DAYS)).toEqual({ changed: null, finished: false });
  });

  it("completed without counts: the file count is the number of artifacts listed", async () => {
    const id = await runningJob();
    const { counts: _, ...withoutCounts } = completion;
    const body: EventCase = { case: "completed", value: withoutCounts };
    expect((await repo.apply(event(id, 1, 1, body), TTL_DAYS)).changed?.counts).toEqual({
      itemCount: 0,
      annotationCount: 0,
      fileCount: 1,
      receivedAnnotations: 0,
      dropped: [],
      changed: [],
    });
  });

  it("a job completed before drops were counted reports what it wrote as received", async () => {
    const id = await queuedJob({
      status: "completed",
      counts: { itemCount: 2, annotationCount: 5, fileCount: 1 },
    });
    expect(toProto(await job(id)).counts).toEqual(
      create(ExportCountsSchema, { itemCount: 2n, annotationCount: 5n, fileCount: 1n, receivedAnnotations: 5n }),
    );
  });

  it("failed and retryable: records the error and keeps the job running for the next delivery", async () => {
    const id = await runningJob();
    const result = await repo.apply(event(id, 1, 1, failed(true)), TTL_DAYS);
    expect(result.finished).toBe(false);
    expect(result.changed).toMatchObject({ status: "running", errorMessage: "storage timed out" });
    expect(result.changed?.completedAt).toBeUndefined();
  });

  it("failed and permanent: final, with its error", async () => {
    const id = await runningJob();
    const result = await repo.apply(event(id, 1, 1, failed(false)), TTL_DAYS);
    expect(result.finished).toBe(true);
    expect(result.changed).toMatchObject({ status: "failed", errorMessage: "bad options" });
    expect(result.changed?.completedAt).toBeInstanceOf(Date);
  });

  it("canceled: ends a queued or running job whatever its attempt; not reported as finished", async () => {
    const queued = await queuedJob();
    expect(await repo.apply(event(queued, 0, 1, canceled), TTL_DAYS)).toMatchObject({
      changed: { status: "canceled" },
      finished: false,
    });
    const running = await runningJob();
    const result = await repo.apply(event(running, 7, 1, canceled), TTL_DAYS);
    expect(result).toMatchObject({ changed: { status: "canceled" }, finished: false });
    expect(result.changed?.completedAt).toBeInstanceOf(Date);
  });

  it("log lines and events without a body leave the job alone", async () => {
    const id = await runningJob();
    const before = await job(id);
    const log: EventCase = { case: "log", value: { message: "hello" } };
    expect(await repo.apply(event(id, 1, 1, log), TTL_DAYS)).toEqual({ changed: null, finished: false });
    expect(await repo.apply(event(id, 1, 2, { case: undefined }), TTL_DAYS)).toEqual({
      changed: null,
      finished: false,
    });
    expect(await job(id)).toEqual(before);
  });
});

describe("final states never move", () => {
  for (const status of ["completed", "failed", "canceled"] as const) {
    it(`${status}: no event, failure or cancel changes it`, async () => {
      const id = await finalJob(status);
      const before = await job(id);
      for (const body of [started, progress(99), completed, failed(true), failed(false), canceled]) {
        expect(await repo.apply(event(id, 1, 100, body), TTL_DAYS)).toEqual({ changed: null, finished: false });
      }
      expect(await repo.fail(id, "late failure")).toBeNull();
      expect(await repo.cancel(id)).toBeNull();
      expect(await job(id)).toEqual(before);
    });
  }
});

describe("fail and cancel", () => {
  it("fail ends a queued or running job with the message (the last delivery, the dead-letter advisory)", async () => {
    const queued = await queuedJob();
    expect(await repo.fail(queued, "no worker")).toMatchObject({ status: "failed", errorMessage: "no worker" });
    const running = await runningJob();
    const failedJob = await repo.fail(running, "worker died 5 times");
    expect(failedJob).toMatchObject({ status: "failed", errorMessage: "worker died 5 times" });
    expect(failedJob?.completedAt).toBeInstanceOf(Date);
  });

  it("cancel ends a queued or running job", async () => {
    expect(await repo.cancel(await queuedJob())).toMatchObject({ status: "canceled" });
    const canceledJob = await repo.cancel(await runningJob());
    expect(canceledJob).toMatchObject({ status: "canceled" });
    expect(canceledJob?.completedAt).toBeInstanceOf(Date);
  });

  it("a deleted job can no longer be claimed, moved or canceled", async () => {
    const id = await runningJob();
    await repo.delete(id);
    expect(await repo.get(id)).toBeNull();
    expect(await repo.claim(id, 2)).toBeNull();
    expect(await repo.apply(event(id, 1, 1, completed), TTL_DAYS)).toEqual({ changed: null, finished: false });
    expect(await repo.cancel(id)).toBeNull();
    expect(await repo.fail(id, "gone")).toBeNull();
  });
});
