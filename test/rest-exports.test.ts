// The video track export's GET /api/export and /api/export/stats, the snapshot API's
// POST /v1/ground-truths/snapshot, and the GetExportStats RPC, against a real orchestrator, MongoDB,
// NATS, json-snapshot worker and curl (the documented examples run as written, port aside).
import { exec, execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import v8 from "node:v8";
import vm from "node:vm";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import JsonSnapshotExporter, { type JsonSnapshotOptions } from "@labelport/plugin-json-snapshot";
import { type ExportContext, type Item, validateBoxSequence, videoAnnotationLine } from "@labelport/sdk";
import {
  type Annotation,
  AnnotationType,
  type Category,
  ExportStatus,
  ItemKind,
  ItemSchema,
  ItemStatus,
} from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  annotationWritesState,
  beginAnnotationWrite,
  WRITER_STALE_MS,
} from "../services/orchestrator/src/data/annotation-writes.ts";
import { storedId } from "../services/orchestrator/src/data/ids.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";

const PERSONA_1 = "660e8400-e29b-41d4-a716-446655440001";
const PERSONA_2 = "770e8400-e29b-41d4-a716-446655440002";
const EXAMPLE_VIDEO = "abc123def456";
const VIDEOS = [EXAMPLE_VIDEO, "vid-b", "vid-c", "vid-d", "vid-e", "vid-f"];
const STATUSES = [
  ItemStatus.APPROVED,
  ItemStatus.DRAFT,
  ItemStatus.APPROVED,
  ItemStatus.IN_REVIEW,
  ItemStatus.APPROVED,
  ItemStatus.REJECTED,
];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-rest-exports-"));
const work = mkdtempSync(join(tmpdir(), "labelport-rest-exports-curl-"));
let stack: JobStack;
let nats: NatsConnection;
let url: string;
let defaultId: string;
let categories: Category[];
const workers: Worker[] = [];

// A small deterministic generator, so a failure can be replayed.
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type BoxInit = {
  frameNumber: number;
  x: number;
  y: number;
  width: number;
  height: number;
  isKeyframe: boolean;
  visible: boolean;
};

function randomKeyframes(random: () => number, count: number, maxSpan: number): BoxInit[] {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const boxes: BoxInit[] = [];
  let frame = int(0, 30);
  for (let k = 0; k < count; k++) {
    const fractional = random() < 0.3;
    boxes.push({
      frameNumber: frame,
      x: int(0, 1800) + (fractional ? 0.5 : 0),
      y: int(0, 1000),
      width: int(10, 400),
      height: fractional ? int(10, 300) + 0.25 : int(10, 300),
      isKeyframe: true,
      visible: random() < 0.9,
    });
    frame += int(1, maxSpan);
  }
  return boxes;
}

function trackInit(
  id: string,
  personaId: string,
  boxes: BoxInit[],
  link: "type" | "object" | "none",
  extra: Record<string, unknown> = {},
) {
  return {
    id,
    type: AnnotationType.TRACK,
    personaId,
    geometry: { case: "boxSequence" as const, value: { interpolationMode: "linear", boxes } },
    ...(link === "type"
      ? { link: { case: "typeAssignment" as const, value: { typeId: "entity-001", typeName: "Pitcher" } } }
      : link === "object"
        ? { link: { case: "objectLink" as const, value: { objectId: `obj-${id}`, objectType: "entity" } } }
        : {}),
    ...extra,
  };
}

async function seedDefault(): Promise<void> {
  const { dataset } = await stack.datasets.createDataset({
    name: "default",
    categories: [{ name: "car" }, { name: "person" }],
  });
  defaultId = dataset?.id ?? "";
  categories = dataset?.categories ?? [];
  const random = rng(7);
  const items: Item[] = VIDEOS.map((videoId, v) => {
    const annotations = Array.from({ length: 6 }, (_, j) =>
      trackInit(
        `trk-${v}-${j}`,
        j % 2 === 0 ? PERSONA_1 : PERSONA_2,
        randomKeyframes(random, 1 + Math.floor(random() * 6), 40),
        j % 3 === 2 ? "object" : "type",
      ),
    );
    if (v === 0) {
      // Stored non-keyframe boxes (an import of a fully interpolated file): kept between
      // keyframes, dropped outside them.
      annotations.push(
        trackInit(
          "trk-stored",
          PERSONA_1,
          [
            { frameNumber: 0, x: 0, y: 0, width: 10, height: 10, isKeyframe: true, visible: true },
            { frameNumber: 1, x: 7, y: 7, width: 10, height: 10, isKeyframe: false, visible: true },
            { frameNumber: 2, x: 8, y: 8, width: 10, height: 10, isKeyframe: false, visible: false },
            { frameNumber: 4, x: 40, y: 40, width: 10, height: 10, isKeyframe: true, visible: true },
            { frameNumber: 10, x: 1, y: 1, width: 1, height: 1, isKeyframe: false, visible: true },
          ],
          "type",
        ),
        trackInit("trk-category", PERSONA_2, randomKeyframes(random, 3, 10), "none", { categoryId: 1 }),
        trackInit("trk-removed", PERSONA_1, randomKeyframes(random, 2, 10), "type", { removed: true }),
      );
    }
    return create(ItemSchema, {
      id: videoId,
      kind: ItemKind.VIDEO,
      status: STATUSES[v] as ItemStatus,
      media: { uri: `media/${videoId}.mp4`, fileName: `${videoId}.mp4`, frames: 5000, fps: 30 },
      tags: ["x"],
      meta: { review_tags: ["c", "a"], group: `g${v}` },
      data: { video: videoId },
      annotations,
    });
  });
  items.push(
    create(ItemSchema, {
      id: "img-0",
      kind: ItemKind.IMAGE,
      status: ItemStatus.APPROVED,
      media: { uri: "media/img-0.jpg", fileName: "img-0.jpg", width: 640, height: 480 },
      annotations: [
        {
          id: "img-0-a",
          type: AnnotationType.BBOX,
          categoryId: 1,
          geometry: { case: "bbox", value: { x: 1, y: 2, width: 3, height: 4 } },
        },
      ],
    }),
  );
  await stack.items.upsertItems({ datasetId: defaultId, items });
}

/** `videos` video items with `tracks` tracks each of `keyframes` keyframes `span` frames apart. */
async function seedBulk(
  name: string,
  videos: number,
  tracks: number,
  keyframes: number,
  span: number,
): Promise<string> {
  const { dataset } = await stack.datasets.createDataset({ name });
  const datasetId = dataset?.id ?? "";
  const random = rng(name.length);
  const perCall = Math.max(1, Math.floor(5000 / tracks));
  for (let start = 0; start < videos; start += perCall) {
    const items: Item[] = [];
    for (let v = start; v < Math.min(videos, start + perCall); v++) {
      const id = `${name}-${String(v).padStart(6, "0")}`;
      items.push(
        create(ItemSchema, {
          id,
          kind: ItemKind.VIDEO,
          status: ItemStatus.DRAFT,
          annotations: Array.from({ length: tracks }, (_, j) => {
            const boxes = randomKeyframes(random, keyframes, span).map((b, k) => ({ ...b, frameNumber: k * span }));
            return trackInit(`${id}-t${j}`, j % 2 ? PERSONA_2 : PERSONA_1, boxes, j % 3 === 2 ? "object" : "type");
          }),
        }),
      );
    }
    await stack.items.upsertItems({ datasetId, items });
  }
  return datasetId;
}

/** Every stored annotation of the dataset, every status, in export order. */
async function storedTracks(datasetId: string): Promise<Annotation[]> {
  const out: Annotation[] = [];
  for await (const res of stack.items.streamItems({ datasetId, filter: { allStatuses: true } })) {
    for (const item of res.items) for (const a of item.annotations) if (a.geometry.case === "boxSequence") out.push(a);
  }
  return out.sort((a, b) =>
    a.itemId === b.itemId ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.itemId < b.itemId ? -1 : 1,
  );
}

function expectedLines(tracks: Annotation[], includeInterpolated: boolean): string[] {
  const byId = new Map(categories.map((c) => [c.id, c]));
  return tracks.map((a) => videoAnnotationLine(a, { includeInterpolated, category: (id) => byId.get(id) }));
}

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

// Asynchronous on purpose: the orchestrator runs in this process, so a synchronous child would
// block the server it is talking to.
const run = promisify(execFile);
const shell = promisify(exec);

/** curl with the given arguments, its headers dumped to a file and its body to stdout (or --output). */
async function curl(args: string[], cwd = work): Promise<CurlResult> {
  const headerFile = join(work, `headers-${Math.random().toString(36).slice(2)}.txt`);
  const { stdout: body } = await run("curl", ["-sS", "-D", headerFile, ...args], {
    cwd,
    maxBuffer: 1024 * 1024 * 1024,
    encoding: "utf8",
  });
  const lines = readFileSync(headerFile, "utf8").trim().split(/\r?\n/);
  rmSync(headerFile);
  const status = Number(lines[0]?.split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const at = line.indexOf(":");
    if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  return { status, headers, body };
}

/** A documented curl example, run by the shell as written with the orchestrator's address. */
async function exampleCommand(command: string): Promise<string> {
  const { stdout } = await shell(command.replaceAll("http://localhost:3001", url), {
    cwd: work,
    maxBuffer: 1 << 30,
    encoding: "utf8",
  });
  return stdout;
}

interface Line {
  id: string;
  videoId: string;
  personaId: string;
  annotationType: string;
  boundingBoxSequence: { interpolationMode: string; boxes: BoxInit[] };
}

function counts(lines: Line[]) {
  let keyframes = 0;
  let interpolated = 0;
  for (const line of lines) {
    for (const box of line.boundingBoxSequence.boxes) {
      if (box.isKeyframe) keyframes++;
      else interpolated++;
    }
  }
  return { annotations: lines.length, keyframes, interpolated };
}

function parseJsonl(text: string): Line[] {
  if (text === "") return [];
  expect(text.endsWith("\n")).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l) as Line);
}

function expectHeadersDescribe(headers: Record<string, string>, lines: Line[], bytes: number): void {
  const c = counts(lines);
  expect(headers["x-export-annotations"]).toBe(String(c.annotations));
  expect(headers["x-export-sequences"]).toBe(String(c.annotations));
  expect(headers["x-export-keyframes"]).toBe(String(c.keyframes));
  expect(headers["x-export-interpolated-frames"]).toBe(String(c.interpolated));
  expect(headers["x-export-size"]).toMatch(/^\d+\.\d\d$/);
  const estimate = Number(headers["x-export-size"]) * 1024 * 1024;
  if (bytes > 50_000) expect(Math.abs(estimate - bytes) / bytes).toBeLessThan(0.1);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot });
  url = stack.orchestrator.url.replace(/\/$/, "");
  nats = await connect(natsConnectOptions(stack.nats.url));
  await seedDefault();
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

describe("GET /api/export (video track export)", () => {
  it("exports every track of the default dataset, keyframes only, as the documented JSON lines", async () => {
    const res = await curl([`${url}/api/export`]);
    expect(res.status, res.body).toBe(200);
    expect(res.headers["content-type"]).toBe("application/x-ndjson");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="annotations.jsonl"');
    const tracks = await storedTracks(defaultId);
    expect(tracks.map((t) => t.id)).not.toContain("trk-removed");
    expect(res.body).toBe(
      expectedLines(tracks, false)
        .map((l) => `${l}\n`)
        .join(""),
    );
    const lines = parseJsonl(res.body);
    expect(lines).toHaveLength(6 * 6 + 2);
    for (const line of lines) expect(line.boundingBoxSequence.boxes.every((b) => b.isKeyframe)).toBe(true);
    // A track without a link prints its category; "object" exactly for object links.
    const category = lines.find((l) => l.id === "trk-category") as unknown as Record<string, unknown>;
    expect(category.typeAssignment).toEqual({ typeId: "1", typeName: "car" });
    expect(lines.find((l) => l.id === "trk-0-2")?.annotationType).toBe("object");
    expect(res.headers["x-export-warning"]).toBeUndefined();
    expectHeadersDescribe(res.headers, lines, Buffer.byteLength(res.body));
  });

  it("interpolates linearly between keyframes with includeInterpolated=true, counting exactly what it sends", async () => {
    const res = await curl([`${url}/api/export?includeInterpolated=true`]);
    expect(res.status, res.body).toBe(200);
    const tracks = await storedTracks(defaultId);
    expect(res.body).toBe(
      expectedLines(tracks, true)
        .map((l) => `${l}\n`)
        .join(""),
    );
    const lines = parseJsonl(res.body);
    expectHeadersDescribe(res.headers, lines, Buffer.byteLength(res.body));
    expect(Number(res.headers["x-export-interpolated-frames"])).toBeGreaterThan(100);
    // Independently of the SDK: every frame from the first keyframe to the last, in order, and
    // each interpolated box on the line between its keyframes.
    for (const line of lines) {
      const boxes = line.boundingBoxSequence.boxes;
      const keys = boxes.filter((b) => b.isKeyframe);
      const first = keys[0] as BoxInit;
      const last = keys.at(-1) as BoxInit;
      expect(boxes.map((b) => b.frameNumber)).toEqual(
        Array.from({ length: last.frameNumber - first.frameNumber + 1 }, (_, i) => first.frameNumber + i),
      );
      if (line.id === "trk-stored") {
        expect(boxes.slice(1, 4)).toEqual([
          { frameNumber: 1, x: 7, y: 7, width: 10, height: 10, isKeyframe: false, visible: true },
          { frameNumber: 2, x: 8, y: 8, width: 10, height: 10, isKeyframe: false, visible: false },
          { frameNumber: 3, x: 30, y: 30, width: 10, height: 10, isKeyframe: false, visible: true },
        ]);
        continue;
      }
      for (let k = 1; k < keys.length; k++) {
        const a = keys[k - 1] as BoxInit;
        const b = keys[k] as BoxInit;
        for (const box of boxes.filter((x) => x.frameNumber > a.frameNumber && x.frameNumber < b.frameNumber)) {
          const t = (box.frameNumber - a.frameNumber) / (b.frameNumber - a.frameNumber);
          expect(box.isKeyframe).toBe(false);
          expect(box.visible).toBe(a.visible);
          expect(box.x).toBeCloseTo(a.x + (b.x - a.x) * t, 9);
          expect(box.height).toBeCloseTo(a.height + (b.height - a.height) * t, 9);
        }
      }
    }
  });

  it("runs the documented curl examples as written", async () => {
    const keyframesOnly = await exampleCommand(`curl "http://localhost:3001/api/export?includeInterpolated=false"`);
    expect(keyframesOnly).toBe(await exampleCommand(`curl "http://localhost:3001/api/export"`));
    const full = await exampleCommand(`curl "http://localhost:3001/api/export?includeInterpolated=true"`);
    expect(full.length).toBeGreaterThan(keyframesOnly.length);

    await exampleCommand(`curl "http://localhost:3001/api/export" --output annotations.jsonl`);
    expect(readFileSync(join(work, "annotations.jsonl"), "utf8")).toBe(keyframesOnly);

    await exampleCommand(`curl "http://localhost:3001/api/export?personaIds=660e8400-e29b-41d4-a716-446655440001" \\
--output persona-annotations.jsonl`);
    const persona = parseJsonl(readFileSync(join(work, "persona-annotations.jsonl"), "utf8"));
    expect(persona.length).toBeGreaterThan(0);
    expect(persona.every((l) => l.personaId === PERSONA_1)).toBe(true);
    expect(persona.map((l) => l.id)).toEqual(
      parseJsonl(keyframesOnly)
        .filter((l) => l.personaId === PERSONA_1)
        .map((l) => l.id),
    );

    await exampleCommand(`curl "http://localhost:3001/api/export?videoIds=abc123def456" \\
--output video-annotations.jsonl`);
    const video = parseJsonl(readFileSync(join(work, "video-annotations.jsonl"), "utf8"));
    expect(video.map((l) => l.videoId)).toEqual(Array(video.length).fill(EXAMPLE_VIDEO));
    expect(video).toHaveLength(8);

    await exampleCommand(`curl "http://localhost:3001/api/export?includeInterpolated=true" \\
--output annotations-full.jsonl`);
    expect(readFileSync(join(work, "annotations-full.jsonl"), "utf8")).toBe(full);

    await exampleCommand(`curl "http://localhost:3001/api/export?format=json" \\
--output annotations.json`);
    const array = JSON.parse(readFileSync(join(work, "annotations.json"), "utf8"));
    expect(array).toEqual(parseJsonl(keyframesOnly));

    const stats = JSON.parse(
      await exampleCommand(`curl "http://localhost:3001/api/export/stats?includeInterpolated=true"`),
    );
    const c = counts(parseJsonl(full));
    expect(stats).toEqual({
      totalSize: expect.any(Number),
      totalSizeMB: expect.stringMatching(/^\d+\.\d\dMB$/),
      annotationCount: c.annotations,
      sequenceCount: c.annotations,
      keyframeCount: c.keyframes,
      interpolatedFrameCount: c.interpolated,
    });
    expect(Math.abs(stats.totalSize - Buffer.byteLength(full)) / Buffer.byteLength(full)).toBeLessThan(0.1);
  });

  it("sends a JSON array with format=json, headers alike", async () => {
    const res = await curl([`${url}/api/export?format=json&includeInterpolated=true`]);
    expect(res.status, res.body).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="annotations.json"');
    const lines = JSON.parse(res.body) as Line[];
    expect(lines).toEqual(parseJsonl((await curl([`${url}/api/export?includeInterpolated=true`])).body));
    expectHeadersDescribe(res.headers, lines, Buffer.byteLength(res.body));
    const empty = await curl([`${url}/api/export?format=json&videoIds=nope`]);
    expect(empty.body).toBe("[]\n");
    expect(empty.headers["x-export-annotations"]).toBe("0");
  });

  it("filters by persona, video and annotation type, alone and together", async () => {
    // Counted from the dataset's cube, prepared after the writes that seeded it (track-cube.ts).
    const db = stack.orchestrator.database.db;
    const { seq } = await annotationWritesState(db, defaultId);
    await waitFor(
      async () =>
        (await db.collection("track_totals").countDocuments({ _id: `${defaultId}/cube`, seq } as never)) === 1,
    );
    const all = parseJsonl((await curl([`${url}/api/export`])).body);
    const cases: Array<[string, (l: Line) => boolean]> = [
      [`personaIds=${PERSONA_2}`, (l) => l.personaId === PERSONA_2],
      [`personaIds=${PERSONA_1},${PERSONA_2}`, () => true],
      ["videoIds=vid-b,vid-f", (l) => l.videoId === "vid-b" || l.videoId === "vid-f"],
      ["videoIds=vid-b&videoIds=vid-c", (l) => l.videoId === "vid-b" || l.videoId === "vid-c"],
      ["annotationTypes=object", (l) => l.annotationType === "object"],
      ["annotationTypes=type", (l) => l.annotationType === "type"],
      ["annotationTypes=type,object", () => true],
      [
        `annotationTypes=type&personaIds=${PERSONA_1}&videoIds=${EXAMPLE_VIDEO}`,
        (l) => l.annotationType === "type" && l.personaId === PERSONA_1 && l.videoId === EXAMPLE_VIDEO,
      ],
      ["personaIds=nobody", () => false],
      [
        `includeInterpolated=true&personaIds=${PERSONA_2}&annotationTypes=object`,
        (l) => l.personaId === PERSONA_2 && l.annotationType === "object",
      ],
    ];
    for (const [query, keep] of cases) {
      const res = await curl([`${url}/api/export?${query}`]);
      expect(res.status, query).toBe(200);
      const lines = parseJsonl(res.body);
      expect(
        lines.map((l) => l.id),
        query,
      ).toEqual(all.filter(keep).map((l) => l.id));
      expectHeadersDescribe(res.headers, lines, Buffer.byteLength(res.body));
      const stats = JSON.parse((await curl([`${url}/api/export/stats?${query}`])).body);
      expect(stats.annotationCount, query).toBe(lines.length);
    }
    expect(all.filter((l) => l.annotationType === "object").length).toBeGreaterThan(0);
  });

  it("exports a dataset version with version=, the same bytes after its tracks change", async () => {
    const { dataset } = await stack.datasets.createDataset({ name: "versioned tracks", categories });
    const datasetId = dataset?.id ?? "";
    const random = rng(11);
    const videoTracks = (v: number) =>
      Array.from({ length: 4 }, (_, j) =>
        trackInit(
          `vt-${v}-${j}`,
          j % 2 ? PERSONA_2 : PERSONA_1,
          randomKeyframes(random, 2 + j, 30),
          j === 3 ? "object" : "type",
        ),
      );
    await stack.items.upsertItems({
      datasetId,
      items: ["v-1", "v-2", "v-3"].map((id, v) => ({
        id,
        kind: ItemKind.VIDEO,
        status: ItemStatus.APPROVED,
        media: { frames: 300, fps: 30 },
        annotations: videoTracks(v),
      })),
    });
    const rpc = async (method: string, body: object) => {
      const res = await fetch(`${url}/labelport.v1.VersionService/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status, method).toBe(200);
    };
    await rpc("CreateVersion", { datasetId, name: "june" });
    const get = (query: string) => curl([`${url}/api/export?datasetId=${datasetId}&${query}`]);
    const stats = async (query: string) =>
      JSON.parse((await curl([`${url}/api/export/stats?datasetId=${datasetId}&${query}`])).body);
    const queries = [
      "version=june",
      "version=june&includeInterpolated=true",
      "version=june&format=json",
      "version=june&videoIds=v-2",
      `version=june&personaIds=${PERSONA_2}&annotationTypes=object`,
    ];
    const before = new Map<string, CurlResult>();
    for (const query of queries) {
      const res = await get(query);
      expect(res.status, `${query}: ${res.body}`).toBe(200);
      // Unchanged so far: the version's export is the live export.
      expect(res.body, query).toBe((await get(query.replace(/version=june&?/, ""))).body);
      const lines = query.includes("format=json") ? (JSON.parse(res.body) as Line[]) : parseJsonl(res.body);
      expectHeadersDescribe(res.headers, lines, Buffer.byteLength(res.body));
      // A version's size is counted, not estimated.
      expect(Number(res.headers["x-export-size"]), query).toBe(
        Number((Buffer.byteLength(res.body) / 1024 / 1024).toFixed(2)),
      );
      expect((await stats(query)).annotationCount, query).toBe(lines.length);
      before.set(query, res);
    }
    // Each query's totals are kept under the version, for good.
    const keptForVersion = () =>
      stack.orchestrator.database.db
        .collection("track_totals")
        .countDocuments({ datasetId, _id: { $regex: `^${datasetId}@` } as never });
    await waitFor(async () => (await keptForVersion()) === queries.length);
    // Edit one track, remove one, add one and delete a video.
    await stack.items.upsertAnnotations({
      datasetId,
      annotations: [
        { ...trackInit("vt-0-1", PERSONA_1, randomKeyframes(random, 5, 10), "type"), itemId: "v-1" },
        { ...trackInit("vt-1-2", PERSONA_1, randomKeyframes(random, 2, 10), "type", { removed: true }), itemId: "v-2" },
        { ...trackInit("vt-new", PERSONA_2, randomKeyframes(random, 3, 10), "object"), itemId: "v-2" },
      ],
    });
    await stack.items.deleteItems({ datasetId, itemIds: ["v-3"] });
    for (const query of queries) {
      const res = await get(query);
      expect(res.body, query).toBe(before.get(query)?.body);
      expect(res.headers["x-export-annotations"], query).toBe(before.get(query)?.headers["x-export-annotations"]);
    }
    expect(await keptForVersion()).toBe(queries.length);
    expect((await get("")).body).not.toBe(before.get("version=june")?.body);
    const missing = await get("version=july");
    expect(missing.status).toBe(404);
    expect(missing.body).toContain("july");
  });

  it("keeps a selection's totals until a write to the dataset's annotations, whichever writes it", async () => {
    const { dataset } = await stack.datasets.createDataset({ name: "kept totals", categories });
    const datasetId = dataset?.id ?? "";
    const random = rng(21);
    const track = (id: string, persona: string) => trackInit(id, persona, randomKeyframes(random, 3, 10), "type");
    await stack.items.upsertItems({
      datasetId,
      items: [
        create(ItemSchema, {
          id: "kv-1",
          kind: ItemKind.VIDEO,
          annotations: [track("k1", PERSONA_1), track("k2", PERSONA_2)],
        }),
        create(ItemSchema, { id: "kv-2", kind: ItemKind.VIDEO, annotations: [track("k3", PERSONA_1)] }),
      ],
    });
    const db = stack.orchestrator.database.db;
    const annotations = db.collection<{ _id: string }>("annotations");
    const exported = async (query = "") => {
      const res = await curl([`${url}/api/export?datasetId=${datasetId}${query}`]);
      expect(res.status).toBe(200);
      return { headers: res.headers, lines: parseJsonl(res.body), bytes: Buffer.byteLength(res.body) };
    };
    /** The ids exported, once the headers are checked against the body. */
    const described = async (query = "") => {
      const { headers, lines, bytes } = await exported(query);
      expectHeadersDescribe(headers, lines, bytes);
      return lines.map((l) => l.id).sort();
    };
    const kept = () => db.collection("track_totals").countDocuments({ datasetId });
    /** Totals kept under the dataset's current write sequence (JSON Lines, JSON and the cube once prepared). */
    const keptNow = async () =>
      db
        .collection("track_totals")
        .countDocuments({ datasetId, seq: (await annotationWritesState(db, datasetId)).seq });
    expect(await described()).toEqual(["k1", "k2", "k3"]);
    await waitFor(async () => (await kept()) >= 1);

    // Kept totals answer the next request: a track written behind the service's back (no write
    // marked) is streamed but not counted, which shows no scan ran.
    const k1 = await annotations.findOne({ _id: storedId(datasetId, "k1") });
    await annotations.insertOne({ ...k1, _id: storedId(datasetId, "behind") } as never);
    const stale = await exported();
    expect(stale.lines).toHaveLength(4);
    expect(stale.headers["x-export-annotations"]).toBe("3");
    await annotations.deleteOne({ _id: storedId(datasetId, "behind") });
    expect(await described()).toEqual(["k1", "k2", "k3"]);

    // Each way of writing annotations moves the dataset on: the next request counts afresh.
    await stack.items.upsertAnnotations({ datasetId, annotations: [{ ...track("k4", PERSONA_2), itemId: "kv-2" }] });
    // A while after the write, the plain export's totals (JSON Lines and JSON) and the dataset's
    // cube are prepared before any request asks for them.
    await waitFor(async () => (await keptNow()) === 3);
    // The cube answers a selection no one has asked for: a track written behind the service's
    // back is streamed, not counted.
    await annotations.insertOne({ ...k1, personaId: PERSONA_2, _id: storedId(datasetId, "behind") } as never);
    const fromCube = await exported(`&personaIds=${PERSONA_2}&videoIds=kv-1,kv-2`);
    expect(fromCube.lines).toHaveLength(3);
    expect(fromCube.headers["x-export-annotations"]).toBe("2");
    await annotations.deleteOne({ _id: storedId(datasetId, "behind") });
    expect(await described()).toEqual(["k1", "k2", "k3", "k4"]);
    expect(await described(`&personaIds=${PERSONA_2}`)).toEqual(["k2", "k4"]);
    await stack.items.upsertItems({
      datasetId,
      items: [create(ItemSchema, { id: "kv-1", kind: ItemKind.VIDEO, annotations: [track("k1", PERSONA_1)] })],
    });
    expect(await described()).toEqual(["k1", "k3", "k4"]);
    expect(await described(`&personaIds=${PERSONA_2}`)).toEqual(["k4"]);
    await stack.items.deleteItems({ datasetId, itemIds: ["kv-2"] });
    expect(await described()).toEqual(["k1"]);
    // The import needs the line's persona (UpsertItems does not).
    await db
      .collection("personas")
      .updateOne(
        { _id: PERSONA_1 as never },
        { $setOnInsert: { name: "Analyst", placeholder: false, createdAt: new Date() } },
        { upsert: true },
      );
    const [line] = (await exported()).lines;
    if (!line) throw new Error("no line to import");
    // k1's track later in the video: a new track, not one merged into k1.
    const boxes = line.boundingBoxSequence.boxes.map((b) => ({ ...b, frameNumber: b.frameNumber + 1000 }));
    const k5 = { ...line, id: "k5", boundingBoxSequence: { ...line.boundingBoxSequence, boxes } };
    const form = new FormData();
    form.set("file", new Blob([`${JSON.stringify(k5)}\n`]), "tracks.jsonl");
    const imported = await fetch(`${url}/api/import?datasetId=${datasetId}&format=jsonl`, {
      method: "POST",
      body: form,
    });
    expect(imported.status, await imported.clone().text()).toBe(200);
    expect(((await imported.json()) as { annotations: object }).annotations).toMatchObject({ written: 1 });
    // The import prepared the plain export's totals and the cube before any request.
    await waitFor(async () => (await keptNow()) === 3);
    expect(await described()).toEqual(["k1", "k5"]);

    // While a write is under way nothing kept is used, nor kept; a writer silent for longer than
    // WRITER_STALE_MS is taken for dead.
    const writing = await beginAnnotationWrite(db, datasetId);
    await annotations.insertOne({ ...k1, _id: storedId(datasetId, "during") } as never);
    expect(await described()).toEqual(["during", "k1", "k5"]);
    await annotations.deleteOne({ _id: storedId(datasetId, "during") });
    expect(await described()).toEqual(["k1", "k5"]);
    const writes = db.collection<{ _id: string; writers: Record<string, Date> }>("annotation_writes");
    const writers = (await writes.findOne({ _id: datasetId }))?.writers ?? {};
    const longAgo = new Date(Date.now() - WRITER_STALE_MS - 60_000);
    await writes.updateOne(
      { _id: datasetId },
      { $set: Object.fromEntries(Object.keys(writers).map((token) => [`writers.${token}`, longAgo])) },
    );
    expect(await described()).toEqual(["k1", "k5"]);
    await waitFor(async () => (await annotationWritesState(db, datasetId)).quiet && (await kept()) > 0);
    await writing.end();
    expect(await described()).toEqual(["k1", "k5"]);

    // Deleting the dataset forgets both.
    await stack.datasets.deleteDataset({ datasetId });
    expect(await kept()).toBe(0);
    expect(await writes.countDocuments({ _id: datasetId })).toBe(0);
  });

  it("serves HTTP/2 clients (h2c prior knowledge) the same bytes and headers", async () => {
    const h1 = await curl([`${url}/api/export?includeInterpolated=true&videoIds=vid-b`]);
    const h2 = await curl(["--http2-prior-knowledge", `${url}/api/export?includeInterpolated=true&videoIds=vid-b`]);
    expect(h2.status).toBe(200);
    expect(h2.body).toBe(h1.body);
    for (const name of ["content-type", "content-disposition", "x-export-annotations", "x-export-keyframes"]) {
      expect(h2.headers[name], name).toBe(h1.headers[name]);
    }
  });

  it("answers 400 naming the parameter for bad query values", async () => {
    const cases: Array<[string, string]> = [
      ["includeInterpolated=maybe", "includeInterpolated"],
      ["annotationTypes=box", "annotationTypes"],
      ["annotationTypes=type,polygon", "annotationTypes"],
      ["format=csv", "format"],
      ["format=json&format=jsonl", "format"],
    ];
    for (const [query, name] of cases) {
      for (const path of ["/api/export", "/api/export/stats"]) {
        const res = await curl([`${url}${path}?${query}`]);
        expect(res.status, `${path}?${query}`).toBe(400);
        const body = JSON.parse(res.body);
        expect(body.error).toBe("Bad Request");
        expect(body.message.startsWith(`${name}:`), body.message).toBe(true);
      }
    }
    const missing = await curl([`${url}/api/export?datasetId=no-such-dataset`]);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).message).toContain("no-such-dataset");
  });

  it("answers the documented 400 body when stored sequences are invalid, with the SDK's messages", async () => {
    const { dataset } = await stack.datasets.createDataset({ name: "broken tracks" });
    const datasetId = dataset?.id ?? "";
    await stack.items.upsertItems({
      datasetId,
      items: [
        create(ItemSchema, {
          id: "v1",
          kind: ItemKind.VIDEO,
          annotations: [trackInit("ok", PERSONA_1, randomKeyframes(rng(1), 3, 5), "type")],
        }),
      ],
    });
    const box = (frameNumber: number, isKeyframe: boolean, width = 10) => ({
      frameNumber,
      x: 1,
      y: 2,
      width,
      height: 4,
      isKeyframe,
      visible: true,
    });
    const bad = [
      // The documented example: no keyframe, frames out of order.
      { _id: "550e8400-e29b-41d4-a716-446655440000", boxes: [box(5, false), box(3, false)], mode: "linear" },
      // Duplicates (out of order too), a negative width, an unknown interpolation mode.
      {
        _id: "bad-2",
        boxes: [box(4, true), box(2, true), box(4, false), box(2, true, -3), box(9, true)],
        mode: "cubic",
      },
      { _id: "bad-3", boxes: [box(1, true), box(1, true), box(1, true)], mode: "" },
      { _id: "bad-4", boxes: [], mode: "linear" },
    ];
    const now = new Date();
    await stack.orchestrator.database.db.collection("annotations").insertMany(
      bad.map((b) => ({
        _id: storedId(datasetId, b._id),
        datasetId,
        itemId: "v1",
        personaId: PERSONA_1,
        type: "track",
        boxSequence: { interpolationMode: b.mode, boxes: b.boxes },
        link: { typeAssignment: { typeId: "t", typeName: "T" } },
        removed: false,
        createdAt: now,
        updatedAt: now,
      })) as never[],
    );
    const res = await curl([`${url}/api/export?datasetId=${encodeURIComponent("broken tracks")}`]);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({
      error: "Validation failed",
      message: "Some annotations have invalid sequences",
      validationErrors: [...bad]
        .sort((a, b) => (a._id < b._id ? -1 : 1))
        .map((b) => ({
          annotationId: b._id,
          errors: validateBoxSequence({ interpolationMode: b.mode, boxes: b.boxes as never }),
        })),
    });
    expect(JSON.parse(res.body).validationErrors[0].errors).toEqual([
      "Sequence must have at least one keyframe",
      "Frame numbers must be in ascending order",
    ]);
    expect(res.headers["x-export-invalid-annotations"]).toBe("4");
    // The same tracks filtered out: the rest exports.
    const ok = await curl([`${url}/api/export?datasetId=${datasetId}&personaIds=${PERSONA_2}`]);
    expect(ok.status).toBe(200);
    // Stats still answer: they describe, they do not export.
    expect((await curl([`${url}/api/export/stats?datasetId=${datasetId}`])).status).toBe(200);
  });

  it("estimates the body size within 10% in every mode, warns from 100 MB, and lets a client leave mid-stream", async () => {
    const datasetId = await seedBulk("long tracks", 100, 3, 2, 4000);
    for (const query of ["", "&includeInterpolated=true", "&format=json", "&format=json&includeInterpolated=true"]) {
      const stats = JSON.parse((await curl([`${url}/api/export/stats?datasetId=${datasetId}${query}`])).body);
      if (query.includes("includeInterpolated")) {
        expect(stats.warning).toBe("Large export. Consider filtering by persona or video.");
        expect(stats.totalSize).toBeGreaterThanOrEqual(100 * 1024 * 1024);
      } else {
        expect(stats.warning).toBeUndefined();
      }
      const bytes = await bodySize(`${url}/api/export?datasetId=${datasetId}${query}`);
      expect(Math.abs(stats.totalSize - bytes) / bytes, query).toBeLessThan(0.1);
      expect(stats.totalSizeMB).toBe(`${(stats.totalSize / 1024 / 1024).toFixed(2)}MB`);
    }
    // Leave after the headers: the server stops reading and keeps serving.
    const headers = await headersThenLeave(`${url}/api/export?datasetId=${datasetId}&includeInterpolated=true`);
    expect(headers["x-export-warning"]).toBe("Large export. Consider filtering by persona or video.");
    expect(Number(headers["x-export-size"])).toBeGreaterThanOrEqual(100);
    expect((await curl([`${url}/api/export/stats`])).status).toBe(200);
  });

  it("streams a large export with flat memory and a quick first byte", async () => {
    const videos = Number(process.env.REST_EXPORT_BULK_VIDEOS ?? 2000);
    const datasetId = await seedBulk("bulk", videos, 10, 6, 12);
    // Live memory, not garbage waiting for a collection: collect, then read the heap.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampler = setInterval(() => {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }, 250);
    const started = performance.now();
    const measured = await measure(`${url}/api/export?datasetId=${datasetId}&includeInterpolated=true`);
    clearInterval(sampler);
    const total = performance.now() - started;
    console.log(
      `bulk export: ${videos * 10} tracks, ${(measured.bytes / 1024 / 1024).toFixed(1)} MB, ` +
        `TTFB ${measured.ttfb.toFixed(0)} ms, total ${total.toFixed(0)} ms, live heap growth ${((peak - before) / 1024 / 1024).toFixed(1)} MB`,
    );
    expect(measured.lines).toBe(videos * 10);
    expect(Number(measured.headers["x-export-annotations"])).toBe(videos * 10);
    expect(Number(measured.headers["x-export-keyframes"])).toBe(videos * 10 * 6);
    expect(Number(measured.headers["x-export-interpolated-frames"])).toBe(videos * 10 * 5 * 11);
    expect(measured.ttfb).toBeLessThan(3000);
    expect(measured.bytes).toBeGreaterThan(videos * 50_000);
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  });
});

async function bodySize(target: string): Promise<number> {
  return (await measure(target)).bytes;
}

/** Reads a response without keeping it: bytes, lines, time to the first byte and the headers. */
function measure(
  target: string,
): Promise<{ bytes: number; lines: number; ttfb: number; headers: Record<string, string> }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get(target, (res) => {
        const ttfb = performance.now() - started;
        let bytes = 0;
        let lines = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
        });
        res.on("end", () => resolve({ bytes, lines, ttfb, headers: res.headers as Record<string, string> }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

function headersThenLeave(target: string): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const req = http.get(target, (res) => {
      res.once("data", () => {
        req.destroy();
        resolve(res.headers as Record<string, string>);
      });
    });
    req.on("error", (err) => {
      if ((err as { code?: string }).code !== "ECONNRESET") reject(err);
    });
  });
}

describe("GetExportStats (RPC)", () => {
  it("counts items, annotations of every type and tracks for a dataset and filter", async () => {
    const tracks = await storedTracks(defaultId);
    const approvedVideos = VIDEOS.filter((_, v) => STATUSES[v] === ItemStatus.APPROVED);
    const approved = tracks.filter((t) => approvedVideos.includes(t.itemId));
    const keyframes = (list: Annotation[]) =>
      list.reduce(
        (n, t) =>
          n + (t.geometry.case === "boxSequence" ? t.geometry.value.boxes.filter((b) => b.isKeyframe).length : 0),
        0,
      );
    const interpolated = (list: Annotation[]) =>
      counts(expectedLines(list, true).map((l) => JSON.parse(l) as Line)).interpolated;

    const byDefault = await stack.exports.getExportStats({ datasetId: "default" });
    expect(byDefault.itemCount).toBe(BigInt(approvedVideos.length + 1));
    expect(byDefault.annotationCount).toBe(BigInt(approved.length + 1));
    expect(byDefault.sequenceCount).toBe(BigInt(approved.length));
    expect(byDefault.keyframeCount).toBe(BigInt(keyframes(approved)));
    expect(byDefault.interpolatedFrameCount).toBe(0n);

    const all = await stack.exports.getExportStats({
      datasetId: defaultId,
      filter: { allStatuses: true },
      includeInterpolated: true,
      format: "jsonl",
    });
    expect(all.itemCount).toBe(BigInt(VIDEOS.length + 1));
    expect(all.annotationCount).toBe(BigInt(tracks.length + 1));
    expect(all.sequenceCount).toBe(BigInt(tracks.length));
    expect(all.keyframeCount).toBe(BigInt(keyframes(tracks)));
    expect(all.interpolatedFrameCount).toBe(BigInt(interpolated(tracks)));
    // The same numbers as the REST stats for the same selection, and nearly the same size (both
    // measure box lengths on a random sample).
    const rest = JSON.parse((await curl([`${url}/api/export/stats?includeInterpolated=true`])).body);
    expect(Number(all.keyframeCount)).toBe(rest.keyframeCount);
    expect(Math.abs(Number(all.totalSize) - rest.totalSize) / rest.totalSize).toBeLessThan(0.03);
    expect(all.totalSizeMb).toMatch(/^\d+\.\d\dMB$/);

    const persona = await stack.exports.getExportStats({
      datasetId: defaultId,
      filter: { allStatuses: true, personaIds: [PERSONA_2], itemIds: ["vid-b", "vid-c"] },
    });
    expect(persona.itemCount).toBe(2n);
    expect(persona.sequenceCount).toBe(
      BigInt(tracks.filter((t) => t.personaId === PERSONA_2 && ["vid-b", "vid-c"].includes(t.itemId)).length),
    );

    const other = await stack.exports.getExportStats({ datasetId: defaultId, format: "json-snapshot" });
    expect(other.totalSize).toBeGreaterThan(0n);
    expect(other.warning).toBe("");
    await expect(stack.exports.getExportStats({ datasetId: "nope" })).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe("POST /v1/ground-truths/snapshot (snapshot API)", () => {
  const approvedIds = [...VIDEOS.filter((_, v) => STATUSES[v] === ItemStatus.APPROVED), "img-0"].sort();

  it("answers 503 while no plugin serves json-snapshot", async () => {
    const res = await curl(["-X", "POST", `${url}/v1/ground-truths/snapshot`]);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body).message).toContain("json-snapshot");
  });

  describe("with a worker whose jobs hang or fail", () => {
    let testWorker: Worker;
    beforeAll(async () => {
      // Serves json-snapshot like the real plugin, but hangs on dataset "slow" and fails on "failing".
      class TrickySnapshot extends JsonSnapshotExporter {
        static override manifest = { ...JsonSnapshotExporter.manifest, name: "json-snapshot-tricky" };
        override async export(ctx: ExportContext<JsonSnapshotOptions>) {
          if (ctx.dataset.name === "failing") {
            throw new ConnectError("the source of truth is on fire", Code.FailedPrecondition);
          }
          if (ctx.dataset.name === "slow") {
            await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
          }
          return super.export(ctx);
        }
      }
      // One delivery: the failure is final at once (the real worker restores the default later).
      testWorker = await startWorker({ nats, exporter: TrickySnapshot, maxDeliver: 1, log: quiet });
      await stack.datasets.createDataset({ name: "slow" });
      await stack.datasets.createDataset({ name: "failing" });
      await waitFor(async () =>
        (await stack.exports.listFormats({})).plugins.some((p) => p.name === "json-snapshot-tricky"),
      );
    });
    afterAll(async () => {
      await testWorker.stop();
    });

    it("cancels the job when the client goes away before the snapshot is ready", async () => {
      const req = http.request(`${url}/v1/ground-truths/snapshot`, { method: "POST" });
      req.on("error", () => undefined);
      req.end(JSON.stringify({ datasetId: "slow" }));
      let exportId = "";
      await waitFor(async () => {
        const { exports } = await stack.exports.listExports({ statuses: [ExportStatus.RUNNING] });
        exportId = exports.find((e) => e.datasetName === "slow")?.id ?? "";
        return exportId !== "";
      });
      req.destroy();
      await waitFor(async () => (await stack.exports.getExport({ exportId })).export?.status === ExportStatus.CANCELED);
    });

    it("answers 500 with the job's error when the export fails", async () => {
      const res = await curl(["-X", "POST", "-d", '{"datasetId":"failing"}', `${url}/v1/ground-truths/snapshot`]);
      expect(res.status, res.body).toBe(500);
      expect(JSON.parse(res.body).message).toContain("the source of truth is on fire");
    });
  });

  describe("with the json-snapshot plugin", () => {
    beforeAll(async () => {
      workers.push(await startWorker({ nats, exporter: JsonSnapshotExporter, log: quiet }));
      await waitFor(async () => (await stack.exports.listFormats({})).plugins.some((p) => p.name === "json-snapshot"));
    });

    it("downloads one JSON document of approved items with curl -OJ", async () => {
      const dir = mkdtempSync(join(work, "oj-"));
      await run("curl", ["-sS", "-X", "POST", `${url}/v1/ground-truths/snapshot`, "-OJ"], { cwd: dir });
      const [file] = readdirSync(dir);
      expect(file).toMatch(/^default-[0-9a-f-]{36}-\d{8}T\d{6}Z\.json$/);
      const items = JSON.parse(readFileSync(join(dir, file as string), "utf8")) as Array<Record<string, unknown>>;
      expect(items.map((i) => i.id)).toEqual(approvedIds);
      // Tags merged (the snapshot API's FR-005): the item's and meta's *_tags in one sorted array.
      expect(items[0]?.tags).toEqual(["a", "c", "x"]);
      expect((items[0]?.meta as Record<string, unknown> | undefined)?.review_tags).toBeUndefined();
      // Lossless items, tracks included.
      expect(items[0]?.annotations).toHaveLength(8);
    });

    it("sends Content-Disposition and Content-Type, and the same bytes with --output", async () => {
      const res = await curl(["-X", "POST", `${url}/v1/ground-truths/snapshot`, "--output", "snapshot.json"]);
      expect(res.status, res.body).toBe(200);
      expect(res.headers["content-type"]).toBe("application/json");
      const exportId = res.headers["x-export-id"] as string;
      expect(res.headers["content-disposition"]).toMatch(
        new RegExp(`^attachment; filename="default-${exportId}-\\d{8}T\\d{6}Z\\.json"$`),
      );
      const text = readFileSync(join(work, "snapshot.json"), "utf8");
      expect(res.headers["content-length"]).toBe(String(Buffer.byteLength(text)));
      expect((JSON.parse(text) as Array<{ id: string }>).map((i) => i.id)).toEqual(approvedIds);
    });

    it("writes per-item files and a manifest under exports/snapshots/<snapshotId>/ in artifact mode", async () => {
      const res = await curl([
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{"mode":"artifact"}',
        `${url}/v1/ground-truths/snapshot`,
      ]);
      expect(res.status, res.body).toBe(200);
      const body = JSON.parse(res.body);
      expect(body).toMatchObject({
        snapshotId: expect.any(String),
        exportId: res.headers["x-export-id"],
        path: `exports/snapshots/${body.snapshotId}/`,
        itemCount: approvedIds.length,
        manifest: { schemaVersion: 1, exportedAt: expect.any(String), itemCount: approvedIds.length },
      });
      const dir = join(storageRoot, body.path);
      expect(readdirSync(join(dir, "items")).sort()).toEqual(approvedIds.map((id) => `${id}.json`));
      expect(JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"))).toEqual(body.manifest);
      expect(existsSync(join(dir, "snapshot.json"))).toBe(false);
    });

    it("passes mergeTags, dataOnly, datasetId and filter through", async () => {
      const post = (body: unknown) =>
        curl(["-X", "POST", "-d", JSON.stringify(body), `${url}/v1/ground-truths/snapshot`]);
      const unmerged = JSON.parse((await post({ mergeTags: false })).body) as Array<Record<string, unknown>>;
      expect(unmerged[0]?.tags).toEqual(["x"]);
      expect((unmerged[0]?.meta as Record<string, unknown> | undefined)?.review_tags).toEqual(["c", "a"]);
      const data = JSON.parse((await post({ dataOnly: true })).body);
      expect(data[0]).toEqual({ video: EXAMPLE_VIDEO });
      const everything = JSON.parse((await post({ filter: { allStatuses: true } })).body) as Array<{ id: string }>;
      expect(everything).toHaveLength(VIDEOS.length + 1);
      const drafts = JSON.parse(
        (await post({ datasetId: defaultId, filter: { statuses: ["ITEM_STATUS_DRAFT"] } })).body,
      );
      expect(drafts.map((i: { id: string }) => i.id)).toEqual(["vid-b"]);
    });

    it("answers 400 for a bad body and 404 for an unknown dataset", async () => {
      const post = (body: string) => curl(["-X", "POST", "-d", body, `${url}/v1/ground-truths/snapshot`]);
      for (const [body, field] of [
        ['{"mode":"zip"}', "mode"],
        ['{"mergeTags":"yes"}', "mergeTags"],
        ['{"format":"csv"}', "body"],
        ["[1]", "body"],
        ["{not json", "body"],
        ['{"filter":{"statuses":["NOPE"]}}', "filter"],
      ]) {
        const res = await post(body as string);
        expect(res.status, body).toBe(400);
        expect(JSON.parse(res.body).message.startsWith(`${field}:`), res.body).toBe(true);
      }
      const missing = await post('{"datasetId":"nope"}');
      expect(missing.status).toBe(404);
    });
  });
});
