// The video annotation import over REST against a real orchestrator and MongoDB: options, validation,
// conflict resolution, atomicity, preview, limits and history.
import http from "node:http";
import { type Annotation, ItemStatus } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  box,
  type DataClients,
  dataClients,
  fingerprint,
  jsonl,
  upload,
  videoAnnotation,
} from "../services/orchestrator/src/data/testing.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

let orchestrator: TestOrchestrator;
let api: DataClients;
let datasetName: string;
let counter = 0;

const VIDEO = "abc123def456";
const PERSONA = "660e8400-e29b-41d4-a716-446655440001";

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  api = dataClients(orchestrator.url);
});
afterAll(() => orchestrator?.close());

/** A fresh dataset per test with one video and one persona. */
beforeEach(async () => {
  datasetName = `seed-${++counter}`;
  const { dataset } = await api.datasets.createDataset({ name: datasetName });
  await api.items.upsertItems({
    datasetId: datasetName,
    items: [{ id: `${VIDEO}-${counter}`, kind: 2, status: ItemStatus.APPROVED, media: { frames: 300, fps: 30 } }],
  });
  await orchestrator.database.db
    .collection("personas")
    .updateOne(
      { _id: PERSONA as never },
      { $setOnInsert: { name: "Analyst", placeholder: false, createdAt: new Date() } },
      { upsert: true },
    );
  expect(dataset?.id).toBeTruthy();
});

const video = () => `${VIDEO}-${counter}`;
const line = (overrides: Record<string, unknown> & { frames?: number[] } = {}) =>
  videoAnnotation({ videoId: video(), ...overrides });

const importFile = (content: string | Buffer | undefined, options?: object, extra: Record<string, string> = {}) =>
  upload(`${orchestrator.url}/api/import?datasetId=${datasetName}`, content, {
    ...(options ? { options: JSON.stringify(options) } : {}),
    ...extra,
  });
const preview = (content: string, options?: object) =>
  upload(`${orchestrator.url}/api/import/preview?datasetId=${datasetName}`, content, {
    ...(options ? { options: JSON.stringify(options) } : {}),
  });

/**
 * Uploads `size` bytes of spaces as the multipart `file`, reading the answer as soon as it comes.
 * The server answers 413 once the file passes its limit and may cut the rest of the upload, so an
 * EPIPE or ECONNRESET while sending is what a client legitimately sees after reading the status.
 */
function uploadLarge(url: string, size: number): Promise<{ status: number; body: unknown }> {
  const boundary = "labelport-large-upload";
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n` +
      "Content-Type: application/octet-stream\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(url, {
      method: "POST",
      headers: {
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(head.length + size + tail.length),
      },
    });
    req.on("response", (res) => {
      answered = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (part: string) => {
        text += part;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      res.on("error", reject);
    });
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (answered && (err.code === "EPIPE" || err.code === "ECONNRESET")) return;
      reject(err);
    });
    // Writes with backpressure until the whole body is out or the server has answered.
    let left = size;
    const writeMore = () => {
      while (left > 0 && !answered && !req.destroyed) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        if (!req.write(part)) {
          req.once("drain", writeMore);
          return;
        }
      }
      if (left === 0) req.end(tail);
      else if (answered) req.end();
    };
    req.write(head);
    writeMore();
  });
}

async function annotationsOf(itemId = video()) {
  const { item } = await api.items.getItem({ datasetId: datasetName, itemId });
  return item?.annotations ?? [];
}

const framesOf = (a: Annotation) =>
  a.geometry.case === "boxSequence" ? a.geometry.value.boxes.map((b) => b.frameNumber) : [];

describe("POST /api/import", () => {
  it("imports with the default options and reports the documented summary", async () => {
    const res = await importFile(
      jsonl([
        line({ id: "a-1", frames: [0, 10, 20] }),
        line({
          id: "a-2",
          frames: [5],
          annotationType: "object",
          typeAssignment: undefined,
          objectLink: { objectId: "obj-1", objectType: "entity" },
        }),
        line({ id: "a-3", frames: [30, 40], personaId: undefined }),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: true,
      summary: {
        totalLines: 3,
        processedLines: 3,
        importedItems: { annotations: 3, totalKeyframes: 6, singleKeyframeSequences: 1 },
        skippedItems: { annotations: 0 },
      },
      warnings: [
        { line: 2, type: "single_keyframe", message: "Annotation has only one keyframe" },
        { line: 3, type: "missing_persona", message: "Missing persona reference" },
      ],
      errors: [],
      conflicts: [],
    });
    const stored = await annotationsOf();
    expect(stored.map((a) => [a.id, a.personaId, a.link.case])).toEqual([
      ["a-1", PERSONA, "typeAssignment"],
      ["a-2", PERSONA, "objectLink"],
      ["a-3", "", "typeAssignment"],
    ]);
    expect(stored[0]?.createTime?.seconds).toBe(BigInt(Date.parse("2025-10-06T14:30:00.000Z") / 1000));
  });

  it("answers the documented 400 bodies", async () => {
    expect(await importFile(undefined)).toEqual({
      status: 400,
      body: { error: "Bad Request", message: "No file provided" },
    });
    const before = await fingerprint(orchestrator.database.db);
    const bad = await importFile(`${JSON.stringify(line())}\n{"id": "x", oops}\n`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("Parse Error");
    expect(bad.body.message).toMatch(/^Invalid JSON on line 2: /);
    const after = await fingerprint(orchestrator.database.db);
    expect(after.counts.annotations).toBe(before.counts.annotations);
    expect(await importFile("\n\n")).toEqual({
      status: 400,
      body: { error: "Bad Request", message: "File is empty: no JSON records found" },
    });
    const bom = await importFile("\uFEFF");
    expect(bom.status).toBe(400);
  });

  it("refuses unknown options and bad values, naming them", async () => {
    expect(await importFile(jsonl([line()]), { conflictResolution: { duplicateId: "skip" } })).toEqual({
      status: 400,
      body: { error: "Bad Request", message: 'Unknown option "conflictResolution.duplicateId"' },
    });
    const bad = await importFile(jsonl([line()]), { conflictResolution: { overlappingFrames: "squash" } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe(
      'Invalid option "conflictResolution.overlappingFrames": expected one of skip, merge, overwrite, fail (got "squash")',
    );
    const field = await importFile(jsonl([line()]), undefined, { opts: "{}" });
    expect(field.body.message).toContain('Unknown form field "opts"');
    const format = await importFile(jsonl([line()]), undefined, { format: "xml" });
    expect(format.body.message).toBe('Invalid format "xml": expected one of jsonl, json, labelport-items');
  });

  it("refuses other content types with 415", async () => {
    const res = await fetch(`${orchestrator.url}/api/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(line()),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({
      error: "Unsupported Media Type",
      message: 'Content-Type must be multipart/form-data with a "file" field (got "application/json")',
    });
  });

  it("names the line and the field of every validation error", async () => {
    const res = await importFile(
      jsonl([
        line({ id: "v-1" }),
        line({ id: "v-2", videoId: undefined }),
        line({ id: "v-3", boundingBoxSequence: { boxes: [box(0), { ...box(1), frameNumber: "one" }] } }),
        line({ id: "v-4", frames: [10, 5] }),
        line({ id: "v-5", boundingBoxSequence: { boxes: [box(0, false), box(1, false)] } }),
        line({ id: "v-6", boundingBoxSequence: { boxes: [box(0), { ...box(4), width: -3 }] } }),
        line({ id: "v-7", annotationType: "object" }),
        [1, 2],
      ]),
      { transaction: { atomic: false } },
    );
    expect(res.status).toBe(200);
    expect(res.body.success).toBe(true);
    expect(res.body.summary).toMatchObject({ importedItems: { annotations: 1 }, skippedItems: { annotations: 7 } });
    const errors = res.body.errors as Array<{ line: number; field?: string; message: string }>;
    expect(errors.map((e) => [e.line, e.field])).toEqual([
      [2, "videoId"],
      [3, "boundingBoxSequence.boxes[1].frameNumber"],
      [4, "boundingBoxSequence.boxes[1].frameNumber"],
      [5, "boundingBoxSequence.boxes"],
      [6, "boundingBoxSequence.boxes[1].width"],
      [7, "objectLink"],
      [7, "typeAssignment"],
      [8, undefined],
    ]);
    expect(errors[2]?.message).toBe("Frame numbers must be in ascending order");
    expect(errors[3]?.message).toBe("Sequence must have at least one keyframe");
    expect(errors[4]?.message).toBe("Box at frame 4 has a negative width or height");
    expect((await annotationsOf()).map((a) => a.id)).toEqual(["v-1"]);
  });

  it("honours requireKeyframes and strictMode", async () => {
    const noKeys = line({ id: "k-1", boundingBoxSequence: { boxes: [box(0, false), box(9, false)] } });
    expect((await importFile(jsonl([noKeys]))).body.success).toBe(false);
    const relaxed = await importFile(jsonl([noKeys]), { validation: { requireKeyframes: false } });
    expect(relaxed.body).toMatchObject({ success: true, summary: { importedItems: { annotations: 1 } } });
    const strict = await importFile(jsonl([line({ id: "k-2", frames: [3] }), line({ id: "k-3", extra: 1 })]), {
      validation: { strictMode: true },
      transaction: { atomic: false },
    });
    expect(strict.body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 0 }, skippedItems: { annotations: 2 } },
      errors: [
        { line: 1, type: "strict_mode", message: "Annotation has only one keyframe (rejected in strict mode)" },
        {
          line: 2,
          type: "strict_mode",
          field: "extra",
          message: 'Unknown field "extra" ignored (rejected in strict mode)',
        },
      ],
    });
  });

  it("is atomic by default: one bad line and nothing is applied", async () => {
    const lines = Array.from({ length: 2500 }, (_, i) =>
      line({ id: `atom-${i}`, personaId: `${PERSONA}`, typeAssignment: { typeId: `t-${i}`, typeName: "x" } }),
    );
    lines.push(line({ id: "atom-bad", frames: [5, 1] }));
    const before = await fingerprint(orchestrator.database.db);
    const res = await importFile(jsonl(lines));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      success: false,
      summary: { totalLines: 2501, importedItems: { annotations: 0 }, skippedItems: { annotations: 2501 } },
      errors: [{ line: 2501, type: "sequence", message: "Frame numbers must be in ascending order" }],
    });
    const after = await fingerprint(orchestrator.database.db);
    expect({ ...after.counts, imports: 0 }).toEqual({ ...before.counts, imports: 0 });
    const record = await api.imports.getImport({ importId: String(res.body.importId) });
    expect(record.import?.status).toBe(4); // ROLLED_BACK
    const partial = await importFile(jsonl(lines), { transaction: { atomic: false } });
    expect(partial.body).toMatchObject({ success: true, summary: { importedItems: { annotations: 2500 } } });
    expect(await annotationsOf()).toHaveLength(2500);
  });
});

describe("conflict resolution", () => {
  it("duplicateIds: skip, overwrite, merge, fail", async () => {
    await importFile(jsonl([line({ id: "d-1", frames: [0, 10] })]));
    const skipped = await importFile(jsonl([line({ id: "d-1", frames: [0, 20] })]));
    expect(skipped.body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 0 }, skippedItems: { annotations: 1 } },
      conflicts: [{ type: "duplicate_id", annotationId: "d-1", message: "Annotation ID already exists in database" }],
    });
    await importFile(jsonl([line({ id: "d-1", frames: [100, 120] })]), {
      conflictResolution: { duplicateIds: "overwrite" },
    });
    expect((await annotationsOf()).map(framesOf)).toEqual([[100, 120]]);
    const merged = await importFile(
      jsonl([
        line({
          id: "d-1",
          boundingBoxSequence: { boxes: [box(90), { ...box(120), x: 777 }, box(130)] },
        }),
      ]),
      { conflictResolution: { duplicateIds: "merge" } },
    );
    expect(merged.body.success).toBe(true);
    const [only] = await annotationsOf();
    expect(only && framesOf(only)).toEqual([90, 100, 120, 130]);
    const boxes = only?.geometry.case === "boxSequence" ? only.geometry.value.boxes : [];
    expect(boxes.find((b) => b.frameNumber === 120)?.x).toBe(777);
    const failed = await importFile(jsonl([line({ id: "d-2", frames: [200, 210] }), line({ id: "d-1" })]), {
      conflictResolution: { duplicateIds: "fail" },
    });
    expect(failed.body).toMatchObject({
      success: false,
      errors: [{ line: 2, type: "conflict", message: 'Duplicate annotation ID "d-1"' }],
    });
    expect((await annotationsOf()).map((a) => a.id)).toEqual(["d-1"]);
  });

  it("overlappingFrames: merge (default), skip, overwrite, fail", async () => {
    await importFile(jsonl([line({ id: "o-1", frames: [0, 100] })]));
    const skip = await importFile(jsonl([line({ id: "o-2", frames: [50, 150] })]), {
      conflictResolution: { overlappingFrames: "skip" },
    });
    expect(skip.body.conflicts).toEqual([
      {
        type: "overlapping_frames",
        annotationId: "o-2",
        existingAnnotationId: "o-1",
        message: "Frame ranges overlap: 0-100 and 50-150",
        line: 1,
      },
    ]);
    expect(skip.body.summary).toMatchObject({ skippedItems: { annotations: 1 } });
    // Another persona or another link target does not overlap.
    const other = await importFile(
      jsonl([line({ id: "o-3", frames: [50, 150], typeAssignment: { typeId: "entity-002", typeName: "Batter" } })]),
      { conflictResolution: { overlappingFrames: "fail" } },
    );
    expect(other.body).toMatchObject({ success: true, conflicts: [] });
    const merged = await importFile(jsonl([line({ id: "o-2", frames: [50, 150] })]));
    expect(merged.body).toMatchObject({ success: true, summary: { importedItems: { annotations: 1 } } });
    expect((await annotationsOf()).map((a) => [a.id, framesOf(a)])).toEqual([
      ["o-1", [0, 50, 100, 150]],
      ["o-3", [50, 150]],
    ]);
    const overwrite = await importFile(jsonl([line({ id: "o-4", frames: [40, 120] })]), {
      conflictResolution: { overlappingFrames: "overwrite" },
    });
    expect(overwrite.body.success).toBe(true);
    expect((await annotationsOf()).map((a) => [a.id, framesOf(a)])).toEqual([
      ["o-1", [0, 150]],
      ["o-3", [50, 150]],
      ["o-4", [40, 120]],
    ]);
    const failed = await importFile(jsonl([line({ id: "o-5", frames: [149, 160] })]), {
      conflictResolution: { overlappingFrames: "fail" },
    });
    expect(failed.body).toMatchObject({ success: false, errors: [{ line: 1, type: "conflict" }] });
    expect(String((failed.body.errors as Array<{ message: string }>)[0]?.message)).toContain(
      "Frame ranges overlap: 0-150 and 149-160",
    );
  });

  it("detects duplicates and overlaps inside one file", async () => {
    const res = await importFile(
      jsonl([
        line({ id: "f-1", frames: [0, 10] }),
        line({ id: "f-1", frames: [20, 30] }),
        line({ id: "f-2", frames: [5, 8] }),
      ]),
      { conflictResolution: { overlappingFrames: "skip" } },
    );
    expect(res.body.conflicts).toEqual([
      { type: "duplicate_id", annotationId: "f-1", message: "Annotation ID already imported from line 1", line: 2 },
      {
        type: "overlapping_frames",
        annotationId: "f-2",
        existingAnnotationId: "f-1",
        message: "Frame ranges overlap: 0-10 and 5-8",
        line: 3,
      },
    ]);
  });

  it("missingDependencies: skip, create, fail", async () => {
    const ghost = line({ id: "m-1", videoId: "ghost-video", personaId: "ghost-persona" });
    const skipped = await importFile(jsonl([ghost]));
    expect(skipped.body).toMatchObject({
      success: true,
      summary: { skippedItems: { annotations: 1 } },
      warnings: [{ line: 1, type: "missing_dependency", message: 'Video "ghost-video" not found; annotation skipped' }],
    });
    const failed = await importFile(jsonl([ghost]), { conflictResolution: { missingDependencies: "fail" } });
    expect(failed.body).toMatchObject({
      success: false,
      errors: [{ line: 1, type: "missing_dependency", field: "videoId", message: 'Video "ghost-video" not found' }],
    });
    const created = await importFile(
      jsonl([ghost, line({ id: "m-2", videoId: "ghost-video", personaId: "ghost-persona", frames: [50, 60] })]),
      {
        conflictResolution: { missingDependencies: "create" },
      },
    );
    expect(created.body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 2, items: 1 } },
      warnings: [
        { line: 1, type: "missing_dependency", message: 'Created placeholder video "ghost-video"' },
        { line: 1, type: "missing_dependency", message: 'Created placeholder persona "ghost-persona"' },
      ],
    });
    const { item } = await api.items.getItem({ datasetId: datasetName, itemId: "ghost-video" });
    expect(item).toMatchObject({ kind: 2, status: ItemStatus.DRAFT, meta: { placeholder: true } });
    expect(item?.annotations.map((a) => a.id)).toEqual(["m-1", "m-2"]);
    const persona = await orchestrator.database.db.collection("personas").findOne({ _id: "ghost-persona" as never });
    expect(persona).toMatchObject({ placeholder: true });
  });

  it("uses a persona another dataset created, as persona ids are unique per database", async () => {
    const create = { conflictResolution: { missingDependencies: "create" } };
    const personas = orchestrator.database.db.collection("personas");
    const first = await importFile(jsonl([line({ id: "sp-1", personaId: "shared-persona" })]), create);
    expect(first.body).toMatchObject({ success: true, summary: { importedItems: { annotations: 1 } } });
    const created = await personas.findOne({ _id: "shared-persona" as never });
    expect(created).toMatchObject({ placeholder: true });
    datasetName = `seed-${++counter}`;
    await api.datasets.createDataset({ name: datasetName });
    await api.items.upsertItems({
      datasetId: datasetName,
      items: [{ id: video(), kind: 2, status: ItemStatus.APPROVED, media: { frames: 300, fps: 30 } }],
    });
    const second = await importFile(jsonl([line({ id: "sp-2", personaId: "shared-persona" })]), create);
    expect(second.body).toMatchObject({ success: true, summary: { importedItems: { annotations: 1 } } });
    expect(second.body.warnings ?? []).toEqual([]);
    expect(await personas.findOne({ _id: "shared-persona" as never })).toEqual(created);
  });
});

describe("POST /api/import/preview", () => {
  it("reports what an import would do and writes nothing", async () => {
    await importFile(jsonl([line({ id: "p-1", frames: [0, 100] })]));
    const before = await fingerprint(orchestrator.database.db);
    const res = await preview(
      jsonl([
        line({ id: "p-1", frames: [0, 5] }),
        line({ id: "p-2", frames: [50, 150] }),
        line({ id: "p-3", frames: [400], personaId: undefined }),
        line({ id: "p-4", videoId: "nowhere" }),
      ]),
    );
    expect(res).toEqual({
      status: 200,
      body: {
        counts: { annotations: 2, totalKeyframes: 3, singleKeyframeSequences: 1 },
        conflicts: [
          { type: "duplicate_id", annotationId: "p-1", message: "Annotation ID already exists in database", line: 1 },
          {
            type: "overlapping_frames",
            annotationId: "p-2",
            existingAnnotationId: "p-1",
            message: "Frame ranges overlap: 0-100 and 50-150",
            line: 2,
          },
        ],
        warnings: [
          "Line 3: Annotation has only one keyframe",
          "Line 3: Missing persona reference",
          'Line 4: Video "nowhere" not found; annotation skipped',
        ],
        errors: [],
        status: "completed_with_losses",
        annotations: {
          received: 4,
          written: 1,
          merged: 1,
          skipped: 1,
          dropped: 1,
          droppedByReason: { "missing video": 1 },
          changed: {},
        },
        notes: [],
      },
    });
    expect(await fingerprint(orchestrator.database.db)).toEqual(before);
    const parse = await preview("{nope\n");
    expect(parse.body.error).toBe("Parse Error");
    expect(await fingerprint(orchestrator.database.db)).toEqual(before);
  });
});

describe("formats", () => {
  it("imports a JSON array with element line numbers", async () => {
    const text = `[\n${JSON.stringify(line({ id: "j-1" }))},\n${JSON.stringify(line({ id: "j-2", frames: [20, 10] }))}\n]`;
    const res = await importFile(text, { transaction: { atomic: false } }, { format: "json" });
    expect(res.body).toMatchObject({
      success: true,
      summary: { importedItems: { annotations: 1 } },
      errors: [{ line: 3, message: "Frame numbers must be in ascending order" }],
    });
  });
});

describe("non-atomic imports of unreadable files", () => {
  it("keep the lines before a JSON array breaks and report the break", async () => {
    const text = `[\n${JSON.stringify(line({ id: "n-1" }))},\n${JSON.stringify(line({ id: "n-2", frames: [50, 60] }))}\n{"broken": true}\n]`;
    const res = await importFile(text, { transaction: { atomic: false } }, { format: "json" });
    expect(res.status).toBe(200);
    expect(res.body, JSON.stringify(res.body)).toMatchObject({
      success: false,
      summary: { totalLines: 3, importedItems: { annotations: 2 } },
      errors: [
        { line: 4, type: "parse", message: "Invalid JSON on line 4: expected ',' or ']' after an array element" },
      ],
    });
    expect((await annotationsOf()).map((a) => a.id)).toEqual(["n-1", "n-2"]);
    const atomic = await importFile(text, undefined, { format: "json" });
    expect(atomic.body).toEqual({
      error: "Parse Error",
      message: "Invalid JSON on line 4: expected ',' or ']' after an array element",
    });
  });
});

describe("limits", () => {
  it("refuses a file over 100 MB while it streams, storing nothing", async () => {
    const before = await fingerprint(orchestrator.database.db);
    const res = await uploadLarge(`${orchestrator.url}/api/import?datasetId=${datasetName}`, 100 * 1024 * 1024 + 1);
    expect(res).toEqual({
      status: 413,
      body: { error: "Payload Too Large", message: "File exceeds the 100 MB import limit" },
    });
    const after = await fingerprint(orchestrator.database.db);
    expect(after.counts.imports).toBe((before.counts.imports ?? 0) + 1);
    expect({ ...after.counts, imports: 0 }).toEqual({ ...before.counts, imports: 0 });
    const { imports } = await api.imports.listImports({ limit: 1 });
    expect(imports[0]).toMatchObject({ success: false, errorMessage: "File exceeds the 100 MB import limit" });
  }, 120_000);
});

describe("GET /api/import/history", () => {
  it("pages newest first and validates limit and offset", async () => {
    const all = (await (await fetch(`${orchestrator.url}/api/import/history?limit=100`)).json()) as {
      imports: Array<Record<string, unknown>>;
      total: number;
    };
    expect(all.total).toBeGreaterThan(10);
    expect(Object.keys(all.imports[0] ?? {})).toEqual([
      "id",
      "filename",
      "success",
      "itemsImported",
      "itemsSkipped",
      "createdAt",
      "status",
      "format",
      "annotations",
      "notes",
    ]);
    const dates = all.imports.map((i) => String(i.createdAt));
    expect([...dates].sort().reverse()).toEqual(dates);
    const page = (await (await fetch(`${orchestrator.url}/api/import/history?limit=2&offset=1`)).json()) as {
      imports: unknown[];
      total: number;
    };
    expect(page.imports).toEqual(all.imports.slice(1, 3));
    expect(page.total).toBe(all.total);
    for (const bad of ["limit=0", "limit=101", "limit=ten", "offset=-1"]) {
      const res = await fetch(`${orchestrator.url}/api/import/history?${bad}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { message: string };
      expect(body.message).toContain(`"${bad.split("=")[0]}"`);
    }
  });
});
