// The curl examples of the video annotation import's documentation, run verbatim (only host and
// port differ) against a real orchestrator.
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ItemStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataClients, jsonl } from "../services/orchestrator/src/data/testing.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

const run = promisify(execFile);
let orchestrator: TestOrchestrator;
let dir: string;

/** The documentation's two JSON Lines examples, each with a two-keyframe sequence. */
const EXAMPLE_LINES = [
  {
    id: "550e8400-e29b-41d4-a716-446655440000",
    videoId: "abc123def456",
    personaId: "660e8400-e29b-41d4-a716-446655440001",
    annotationType: "type",
    typeAssignment: { typeId: "entity-001", typeName: "Pitcher" },
    boundingBoxSequence: {
      interpolationMode: "linear",
      boxes: [
        { frameNumber: 0, x: 100, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
        { frameNumber: 30, x: 130, y: 100, width: 200, height: 150, isKeyframe: true, visible: true },
      ],
    },
    createdAt: "2025-10-06T14:30:00.000Z",
    updatedAt: "2025-10-06T14:30:00.000Z",
  },
  {
    id: "550e8400-e29b-41d4-a716-446655440009",
    videoId: "abc123def456",
    personaId: "660e8400-e29b-41d4-a716-446655440001",
    annotationType: "object",
    objectLink: { objectId: "ball-1", objectType: "entity" },
    boundingBoxSequence: {
      interpolationMode: "linear",
      boxes: [
        { frameNumber: 10, x: 5, y: 5, width: 10, height: 10, isKeyframe: true, visible: true },
        { frameNumber: 20, x: 50, y: 5, width: 10, height: 10, isKeyframe: true, visible: true },
      ],
    },
  },
];

/** Runs a command line from the documentation with its host replaced. */
async function curl(commandLine: string): Promise<Record<string, unknown>> {
  const command = commandLine.replaceAll("http://localhost:3001", orchestrator.url).replaceAll("\\\n", " ");
  const { stdout } = await run("sh", ["-c", `${command} --silent --show-error --fail-with-body`], { cwd: dir });
  return JSON.parse(stdout) as Record<string, unknown>;
}

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  dir = await mkdtemp(join(tmpdir(), "labelport-curl-"));
  await writeFile(join(dir, "annotations.jsonl"), jsonl(EXAMPLE_LINES));
  // Its imports go to the default dataset; its video and persona exist there.
  const api = dataClients(orchestrator.url);
  await api.datasets.createDataset({ name: "default" });
  await api.items.upsertItems({
    datasetId: "default",
    items: [{ id: "abc123def456", kind: 2, status: ItemStatus.APPROVED, media: { frames: 600, fps: 30 } }],
  });
  await orchestrator.database.db
    .collection("personas")
    .insertOne({ _id: "660e8400-e29b-41d4-a716-446655440001" as never, name: "Analyst", placeholder: false });
});
afterAll(async () => {
  await orchestrator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("video annotation import curl examples", () => {
  it("Example: Import with Default Options", async () => {
    const body = await curl(`curl -X POST http://localhost:3001/api/import \\
-F "file=@annotations.jsonl"`);
    expect(body).toMatchObject({
      success: true,
      summary: {
        totalLines: 2,
        processedLines: 2,
        importedItems: { annotations: 2, totalKeyframes: 4, singleKeyframeSequences: 0 },
        skippedItems: { annotations: 0 },
      },
      warnings: [],
      errors: [],
      conflicts: [],
    });
  });

  it("Example: Import with Custom Options", async () => {
    const body = await curl(`curl -X POST http://localhost:3001/api/import \\
-F "file=@annotations.jsonl" \\
-F 'options={"conflictResolution":{"duplicateIds":"overwrite"}}'`);
    expect(body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 2 } },
      conflicts: [
        {
          type: "duplicate_id",
          annotationId: EXAMPLE_LINES[0]?.id,
          message: "Annotation ID already exists in database",
        },
        {
          type: "duplicate_id",
          annotationId: EXAMPLE_LINES[1]?.id,
          message: "Annotation ID already exists in database",
        },
      ],
    });
  });

  it("Example: Import with Strict Validation", async () => {
    const body = await curl(`curl -X POST http://localhost:3001/api/import \\
-F "file=@annotations.jsonl" \\
-F 'options={"validation":{"strictMode":true}}'`);
    expect(body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 0 }, skippedItems: { annotations: 2 } },
      warnings: [],
    });
  });

  it("Preview Import example", async () => {
    const body = await curl(`curl -X POST http://localhost:3001/api/import/preview \\
-F "file=@annotations.jsonl"`);
    expect(body).toEqual({
      counts: { annotations: 0, totalKeyframes: 0, singleKeyframeSequences: 0 },
      conflicts: EXAMPLE_LINES.map((l) => ({
        type: "duplicate_id",
        annotationId: l.id,
        message: "Annotation ID already exists in database",
        line: EXAMPLE_LINES.indexOf(l) + 1,
      })),
      warnings: [],
      errors: [],
      // Beside the seed's fields: the duplicates are skipped as asked (the default), nothing is lost.
      status: "completed",
      annotations: { received: 2, written: 0, merged: 0, skipped: 2, dropped: 0, droppedByReason: {}, changed: {} },
      notes: [],
    });
  });

  it("Import History example", async () => {
    const body = await curl(`curl "http://localhost:3001/api/import/history?limit=10"`);
    expect(body).toMatchObject({
      total: 3,
      imports: [
        { filename: "annotations.jsonl", success: true, itemsImported: 0, itemsSkipped: 2 },
        { filename: "annotations.jsonl", success: true, itemsImported: 2, itemsSkipped: 0 },
        { filename: "annotations.jsonl", success: true, itemsImported: 2, itemsSkipped: 0 },
      ],
    });
  });

  it("answers the documented error bodies to curl", async () => {
    await writeFile(join(dir, "broken.jsonl"), `${JSON.stringify(EXAMPLE_LINES[0])}\n{"id": oops}\n`);
    const { stdout } = await run(
      "sh",
      ["-c", `curl --silent -X POST ${orchestrator.url}/api/import -F "file=@broken.jsonl" -w ' %{http_code}'`],
      { cwd: dir },
    );
    const [json, status] = [stdout.slice(0, stdout.lastIndexOf(" ")), stdout.slice(stdout.lastIndexOf(" ") + 1)];
    expect(status).toBe("400");
    expect(JSON.parse(json)).toMatchObject({
      error: "Parse Error",
      message: expect.stringMatching(/^Invalid JSON on line 2: /),
    });
    const none = await run("sh", ["-c", `curl --silent -X POST ${orchestrator.url}/api/import -F "options={}"`]);
    expect(JSON.parse(none.stdout)).toEqual({ error: "Bad Request", message: "No file provided" });
  });
});
