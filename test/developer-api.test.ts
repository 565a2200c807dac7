// The developer exports API and the hosted export conventions, end to end: real orchestrator,
// NATS, MongoDB and plugin workers; the documented curl and Python requests examples
// run as written (host and port aside).
import { execFile, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { BaseExporter, type ExportContext, z } from "@labelport/sdk";
import { AnnotationType, ItemKind, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, startWorker, type Worker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobStack, seedDataset, startJobStack } from "./support/job-stack.ts";

const run = promisify(execFile);

const KEYS = {
  admin: "admin-key-0123456789",
  editor: "editor-key-0123456789",
  editor2: "editor2-key-0123456789",
  viewer: "viewer-key-0123456789",
};
const API_KEYS = [
  `admin:admin:${KEYS.admin}`,
  `editor:editor:${KEYS.editor}`,
  `editor2:editor:${KEYS.editor2}`,
  `viewer:viewer:${KEYS.viewer}`,
].join(",");
const SIGNING_SECRET = "developer-api-test-signing-secret";
const BASE = "/api/v1/developer/exports";
const UNICODE_NAME = "Training Export v1 — ünïcode";
const DATASET = "street-scenes";

const storageRoot = mkdtempSync(join(tmpdir(), "labelport-devapi-"));
const scratch = mkdtempSync(join(tmpdir(), "labelport-devapi-files-"));
let stack: JobStack;
let nats: NatsConnection;
let datasetId: string;
const workers: Worker[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

const empty = z.strictObject({});

/** One file, one log line and 150 ms per item: slow enough to watch, cancel and follow. */
class SlowExporter extends BaseExporter<z.output<typeof empty>> {
  static override manifest = { name: "slow", version: "1.0.0", formats: ["slow"], sdk: "^0.1.0" };
  readonly options = empty;
  async export(ctx: ExportContext<z.output<typeof empty>>): Promise<void> {
    const out = await ctx.storage.open("items.txt");
    for await (const item of ctx.items()) {
      await out.write(`${item.id}\n`);
      ctx.log.info(`wrote ${item.id}`);
      ctx.progress(1, item.annotations.length);
      await sleep(150, undefined, { signal: ctx.signal });
    }
    await out.close();
  }
}

/** Writes the cars (category 1), one id per line, and drops every other annotation, saying why. */
class CarsOnlyExporter extends BaseExporter<z.output<typeof empty>> {
  static override manifest = { name: "cars-only", version: "1.0.0", formats: ["cars-only"], sdk: "^0.1.0" };
  readonly options = empty;
  async export(ctx: ExportContext<z.output<typeof empty>>): Promise<void> {
    const out = await ctx.storage.open("cars.txt");
    for await (const item of ctx.items()) {
      for (const annotation of item.annotations) {
        if (annotation.categoryId === 1) await out.write(`${annotation.id}\n`);
        else ctx.drop("bbox: cars-only writes cars only");
      }
      ctx.progress(1, item.annotations.length);
    }
    await out.close();
  }
}

class FailingExporter extends BaseExporter<z.output<typeof empty>> {
  static override manifest = { name: "failing", version: "1.0.0", formats: ["failing"], sdk: "^0.1.0" };
  readonly options = empty;
  async export(): Promise<void> {
    throw new Error("disk on fire");
  }
}

beforeAll(async () => {
  stack = await startJobStack({ STORAGE_LOCAL_ROOT: storageRoot, API_KEYS, SIGNING_SECRET }, KEYS.admin);
  nats = await connect(natsConnectOptions(stack.nats.url));
  // 10 approved images with a car and a person each (item-00000..09), then the hosted export
  // conventions' cases: a draft and an in-review image, and an approved one whose person box was
  // removed.
  datasetId = await seedDataset(stack, DATASET, 10);
  const extra = [
    { id: "draft-1", status: ItemStatus.DRAFT, removed: false },
    { id: "review-1", status: ItemStatus.IN_REVIEW, removed: false },
    { id: "removed-1", status: ItemStatus.APPROVED, removed: true },
  ];
  await stack.items.upsertItems({
    datasetId,
    items: extra.map(({ id, status, removed }) =>
      create(ItemSchema, {
        id,
        kind: ItemKind.IMAGE,
        status,
        split: "train",
        media: { uri: `media/${id}.jpg`, fileName: `${id}.jpg`, width: 640, height: 480 },
        annotations: [1, 2].map((n) => ({
          id: `${id}-a${n}`,
          type: AnnotationType.BBOX,
          categoryId: n,
          removed: removed && n === 2,
          geometry: { case: "bbox" as const, value: { x: 5, y: 5, width: 10, height: 10 } },
        })),
      }),
    ),
  });
  mkdirSync(join(storageRoot, "media"), { recursive: true });
  for (const id of [...Array(10).keys()].map((i) => `item-${String(i).padStart(5, "0")}`)) {
    writeFileSync(join(storageRoot, "media", `${id}.jpg`), `jpeg bytes of ${id}`);
  }
  for (const { id } of extra) writeFileSync(join(storageRoot, "media", `${id}.jpg`), `jpeg bytes of ${id}`);
  // Item ids are global: the second dataset gets its own.
  const { dataset: city } = await stack.datasets.createDataset({
    name: "city streets ü",
    categories: [{ name: "car" }],
  });
  await stack.items.upsertItems({
    datasetId: city?.id ?? "",
    items: [create(ItemSchema, { id: "city-1", kind: ItemKind.IMAGE, status: ItemStatus.APPROVED })],
  });

  const coco = (await import("@labelport/plugin-coco")).default;
  workers.push(await startWorker({ nats, exporter: coco, log: quiet }));
  workers.push(await startWorker({ nats, exporter: SlowExporter, log: quiet }));
  workers.push(await startWorker({ nats, exporter: FailingExporter, maxDeliver: 1, log: quiet }));
  workers.push(await startWorker({ nats, exporter: CarsOnlyExporter, log: quiet }));
  await waitFor(async () => (await stack.exports.listFormats({})).plugins.length === 4);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await nats?.drain();
  await stack?.close();
  rmSync(storageRoot, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(100);
  }
}

interface ApiResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies are checked by the assertions
  body: any;
}

async function api(
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; headers?: Record<string, string> } = {},
): Promise<ApiResponse> {
  const key = options.key === undefined ? KEYS.editor : options.key;
  const res = await fetch(`${stack.orchestrator.url}${path}`, {
    method,
    headers: {
      ...(key ? { "X-API-Key": key } : {}),
      ...(options.body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...options.headers,
    },
    body:
      options.body === undefined
        ? null
        : typeof options.body === "string"
          ? options.body
          : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const exportPath = (dataset: string, name: string, suffix = "") =>
  `${BASE}/${encodeURIComponent(dataset)}/${encodeURIComponent(name)}${suffix}`;

async function createExport(body: Record<string, unknown>, key = KEYS.editor): Promise<ApiResponse> {
  const res = await api("POST", `${BASE}/`, { key, body: { dataset_name: DATASET, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res;
}

/** Polls GET .../{dataset}/{export} until the export is completed or failed. */
// biome-ignore lint/suspicious/noExplicitAny: JSON body
async function finished(dataset: string, name: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api("GET", exportPath(dataset, name), { key: KEYS.viewer });
    expect(res.status).toBe(200);
    if (res.body.status === "completed" || res.body.status === "failed") return res.body;
    if (Date.now() > deadline) throw new Error(`export "${name}" still ${res.body.status}`);
    await sleep(100);
  }
}

interface ZipContents {
  names: string[];
  json: Record<string, unknown>;
  text: Record<string, string>;
}

/** An independent reader: Python's zipfile checks every CRC. */
function readZip(path: string): ZipContents {
  const script = [
    "import sys, zipfile, json",
    "z = zipfile.ZipFile(sys.argv[1])",
    "assert z.testzip() is None",
    "names = sorted(z.namelist())",
    'print(json.dumps({"names": names,',
    ' "json": {n: json.loads(z.read(n)) for n in names if n.endswith(".json")},',
    ' "text": {n: z.read(n).decode() for n in names if not n.endswith(".json")}}))',
  ].join("\n");
  return JSON.parse(execFileSync("python3", ["-c", script, path]).toString()) as ZipContents;
}

async function downloadZip(
  dataset: string,
  name: string,
): Promise<{ link: ApiResponse; zip: ZipContents; bytes: number }> {
  const link = await api("GET", exportPath(dataset, name, "/download"), { key: KEYS.viewer });
  expect(link.status, JSON.stringify(link.body)).toBe(200);
  const res = await fetch(link.body.download_url);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("application/zip");
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(res.headers.get("content-length")).toBe(String(bytes.length));
  const path = join(scratch, `${link.body.file_name}`);
  writeFileSync(path, bytes);
  return { link, zip: readZip(path), bytes: bytes.length };
}

function cocoCounts(zip: ZipContents): { images: number; annotations: number } {
  let images = 0;
  let annotations = 0;
  for (const [name, value] of Object.entries(zip.json)) {
    if (!name.startsWith("annotations/instances_")) continue;
    const coco = value as { images: unknown[]; annotations: unknown[] };
    images += coco.images.length;
    annotations += coco.annotations.length;
  }
  return { images, annotations };
}

/** A plugin's job token (HMAC with the orchestrator's signing secret), as the claim reply carries. */
function jobToken(forDataset: string): string {
  const payload = Buffer.from(JSON.stringify({ d: forDataset, e: Math.floor(Date.now() / 1000) + 600 })).toString(
    "base64url",
  );
  return `job.${payload}.${createHmac("sha256", SIGNING_SECRET).update(payload).digest("base64url")}`;
}

const isoSeconds = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

describe("developer exports API", () => {
  it("creates an export that answers at once as pending, then completes with check values and a ZIP", async () => {
    const created = await createExport({ name: UNICODE_NAME, include_images: true, class_filter: ["car", "person"] });
    expect(Object.keys(created.body).sort()).toEqual(
      ["created_at", "dataset_name", "format", "id", "name", "status"].sort(),
    );
    expect(created.body).toMatchObject({
      name: UNICODE_NAME,
      status: "pending",
      dataset_name: DATASET,
      format: "coco",
    });
    expect(created.body.created_at).toMatch(isoSeconds);
    expect(created.headers.get("location")).toBe(exportPath(DATASET, UNICODE_NAME));

    const done = await finished(DATASET, UNICODE_NAME);
    // Approved items only (the default): the 10 seeded images and removed-1, whose removed box is left out.
    expect(done).toMatchObject({
      id: created.body.id,
      name: UNICODE_NAME,
      dataset_name: DATASET,
      status: "completed",
      image_count: 11,
      annotation_count: 21,
      include_images: true,
      class_filter: ["car", "person"],
      status_filter: "approved",
      include_removed: false,
      error_message: null,
    });
    expect(done.completed_at).toMatch(isoSeconds);
    expect(Date.parse(done.completed_at)).toBeGreaterThanOrEqual(Date.parse(done.created_at));

    const { link, zip, bytes } = await downloadZip(DATASET, UNICODE_NAME);
    // file_size is the ZIP the download delivers, byte for byte (not the sum of its files).
    expect(done.file_size).toBe(bytes);
    expect(Object.keys(link.body).sort()).toEqual(["download_url", "expires_at", "file_name", "file_size"]);
    expect(link.body.expires_at).toMatch(isoSeconds);
    expect(Date.parse(link.body.expires_at) - Date.now()).toBeGreaterThan(3500_000);
    expect(link.body.file_size).toBe(done.file_size);
    // Files are named with the dataset, the export id and the UTC datetime (hosted export conventions).
    expect(link.body.file_name).toMatch(new RegExp(`^${DATASET}-${created.body.id}-\\d{8}T\\d{6}Z\\.zip$`));
    // One file of the export instead of the ZIP: `artifact` names it.
    const single = await api(
      "GET",
      exportPath(DATASET, UNICODE_NAME, "/download?artifact=annotations%2Finstances_train.json"),
      { key: KEYS.viewer },
    );
    expect(single.body.file_name).toMatch(/\.json$/);
    const instances = await fetch(single.body.download_url as string).then((r) => r.text());
    expect(Buffer.byteLength(instances)).toBe(single.body.file_size);
    expect(JSON.parse(instances).images.length).toBeGreaterThan(0);
    const unknown = await api("GET", exportPath(DATASET, UNICODE_NAME, "/download?artifact=nope.json"), {
      key: KEYS.viewer,
    });
    expect(unknown.status).toBe(404);
    expect(zip.names).toEqual(
      expect.arrayContaining([
        "annotations/instances_train.json",
        "annotations/instances_val.json",
        "classes.json",
        "manifest.json",
        "metadata/export_summary.json",
        "images/train/item-00001.jpg",
        "images/val/item-00000.jpg",
        "images/train/removed-1.jpg",
      ]),
    );
    expect(zip.names.filter((n) => n.startsWith("images/"))).toHaveLength(11);
    expect(zip.text["images/train/item-00001.jpg"]).toBe("jpeg bytes of item-00001");
    expect(zip.names).not.toContain("images/train/draft-1.jpg");
    expect(cocoCounts(zip)).toEqual({ images: 11, annotations: 21 });
    const manifest = zip.json["manifest.json"] as { itemCount: number; annotationCount: number; fileCount: number };
    expect(manifest).toMatchObject({ itemCount: 11, annotationCount: 21, fileCount: done.file_count });
    expect(done.file_count).toBe(zip.names.length - 1); // every file but the manifest itself
  });

  it("leaves images out by default and applies class_filter, status_filter and include_removed", async () => {
    const cases: Array<[Record<string, unknown>, { items: number; annotations: number }]> = [
      [{ name: "default filters" }, { items: 11, annotations: 21 }],
      [
        { name: "cars only", class_filter: ["car"] },
        { items: 11, annotations: 11 },
      ],
      [
        { name: "with removed", include_removed: true },
        { items: 11, annotations: 22 },
      ],
      [
        { name: "complete", status_filter: "complete" },
        { items: 11, annotations: 21 },
      ],
      [
        { name: "drafts", status_filter: "draft" },
        { items: 1, annotations: 2 },
      ],
      [
        { name: "in review and drafts", status_filter: "in_review,draft" },
        { items: 2, annotations: 4 },
      ],
      [
        { name: "everything", status_filter: "all" },
        { items: 13, annotations: 25 },
      ],
    ];
    for (const [body] of cases) await createExport(body);
    for (const [body, expected] of cases) {
      const done = await finished(DATASET, body.name as string);
      expect(done, body.name as string).toMatchObject({
        status: "completed",
        image_count: expected.items,
        annotation_count: expected.annotations,
        include_images: false,
      });
      const { zip } = await downloadZip(DATASET, body.name as string);
      expect(zip.names.some((n) => n.startsWith("images/"))).toBe(false);
      expect(cocoCounts(zip)).toEqual({ images: expected.items, annotations: expected.annotations });
    }
    expect((await api("GET", exportPath(DATASET, "cars only"))).body.class_filter).toEqual(["car"]);
    expect((await api("GET", exportPath(DATASET, "drafts"))).body.status_filter).toBe("draft");
    expect((await api("GET", exportPath(DATASET, "everything"))).body.status_filter).toBe("all");
    expect((await api("GET", exportPath(DATASET, "default filters"))).body.class_filter).toBeNull();
  });

  it("counts what the delivered ZIP holds and reports what the format dropped beside it", async () => {
    await createExport({ name: "cars, people dropped", format: "cars-only" });
    const done = await finished(DATASET, "cars, people dropped");
    // 21 approved annotations read, 11 cars written; the 10 people are accounted for by reason.
    expect(done).toMatchObject({
      status: "completed",
      image_count: 11,
      annotation_count: 11,
      annotations_received: 21,
      annotations_dropped: { "bbox: cars-only writes cars only": 10 },
      annotations_changed: {},
    });
    const { link, zip, bytes } = await downloadZip(DATASET, "cars, people dropped");
    expect(zip.text["cars.txt"]?.trim().split("\n")).toHaveLength(done.annotation_count);
    expect(zip.json["manifest.json"]).toMatchObject({
      annotationCount: 11,
      annotationsReceived: 21,
      dropped: { "bbox: cars-only writes cars only": 10 },
    });
    expect(done.file_size).toBe(bytes);
    expect(link.body.file_size).toBe(bytes);
    const listed = await api("GET", `${BASE}/?dataset_name=${DATASET}`);
    const entry = listed.body.find((e: { name: string }) => e.name === "cars, people dropped");
    expect(entry).toMatchObject({ annotation_count: 11, annotations_received: 21, file_size: bytes });
    // GetExport carries the same accounting.
    const { export: viaConnect } = await stack.exports.getExport({ exportId: done.id });
    expect(viaConnect?.counts).toMatchObject({
      annotationCount: 11n,
      receivedAnnotations: 21n,
      dropped: [{ reason: "bbox: cars-only writes cars only", count: 10n }],
    });
  });

  it("validates requests with messages naming the field", async () => {
    const post = (body: unknown) => api("POST", `${BASE}/`, { body });
    const cases: Array<[unknown, number, RegExp]> = [
      [{ name: "x" }, 400, /^dataset_name: required$/],
      [{ dataset_name: DATASET }, 400, /^name: required$/],
      [{ dataset_name: DATASET, name: "   " }, 400, /^name: required$/],
      [{ dataset_name: DATASET, name: "a/b" }, 400, /^name: may not contain \//],
      [{ dataset_name: DATASET, name: "x", include_images: "yes" }, 400, /^include_images: expected true or false/],
      [{ dataset_name: DATASET, name: "x", class_filter: ["car", "tree"] }, 400, /class_filter: unknown class "tree"/],
      [{ dataset_name: DATASET, name: "x", class_filter: "car" }, 400, /^class_filter: expected an array/],
      [
        { dataset_name: DATASET, name: "x", status_filter: "finished" },
        400,
        /status_filter: unknown status "finished"/,
      ],
      [{ dataset_name: DATASET, name: "x", includeImages: true }, 400, /^includeImages: unknown field/],
      [{ dataset_name: DATASET, name: "x", format: "tiff" }, 400, /format: no plugin serves "tiff"/],
      [{ dataset_name: "no-such-dataset", name: "x" }, 404, /^dataset "no-such-dataset" not found$/],
      ["{not json", 400, /^request body: not valid JSON/],
      ["", 400, /^request body: expected a JSON object/],
      [[1, 2], 400, /^request body: expected a JSON object/],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.message, JSON.stringify(body)).toMatch(message);
    }
    const unknownClass = await post({ dataset_name: DATASET, name: "x", class_filter: ["tree"] });
    expect(unknownClass.body.message).toBe(
      `class_filter: unknown class "tree" in dataset "${DATASET}" (classes: car, person)`,
    );
    const badStatus = await api("GET", `${BASE}/?status=done`);
    expect(badStatus.status).toBe(400);
    expect(badStatus.body.message).toBe('status: must be one of pending, processing, completed, failed (got "done")');
    expect((await api("GET", `${BASE}/?limit=0`)).status).toBe(400);
  });

  it("keeps export names unique per dataset: 409 on a clash, also through the Connect API", async () => {
    await createExport({ name: "unique name" });
    const again = await api("POST", `${BASE}/`, { body: { dataset_name: DATASET, name: "unique name" } });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({
      error: "Already Exists",
      message: `name: an export named "unique name" already exists in dataset "${DATASET}"`,
    });
    // The same name in another dataset is fine.
    const other = await api("POST", `${BASE}/`, { body: { dataset_name: "city streets ü", name: "unique name" } });
    expect(other.status).toBe(201);
    const clash = await stack.exports
      .createExport({ datasetId, format: "coco", name: "unique name" })
      .catch((e: unknown) => ConnectError.from(e));
    expect((clash as ConnectError).code).toBe(Code.AlreadyExists);
    // Unnamed exports get unique generated names (dataset, format, UTC datetime, id prefix).
    const a = await stack.exports.createExport({ datasetId, format: "coco" });
    const b = await stack.exports.createExport({ datasetId, format: "coco" });
    expect(a.export?.name).toMatch(
      new RegExp(`^${DATASET} coco export \\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}Z ${a.export?.id.slice(0, 8)}$`),
    );
    expect(b.export?.name).not.toBe(a.export?.name);
    await finished(DATASET, a.export?.name ?? "");
    await finished(DATASET, b.export?.name ?? "");
  });

  it("lists exports with the documented fields, filtered by dataset and status", async () => {
    const res = await api("GET", `${BASE}/`, { key: KEYS.viewer });
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    const entry = res.body.find((e: { name: string }) => e.name === UNICODE_NAME);
    expect(Object.keys(entry).sort()).toEqual(
      [
        "annotation_count",
        "annotations_changed",
        "annotations_dropped",
        "annotations_received",
        "completed_at",
        "created_at",
        "dataset_name",
        "error_message",
        "file_count",
        "file_size",
        "format",
        "id",
        "image_count",
        "name",
        "status",
      ].sort(),
    );
    expect(entry).toMatchObject({
      dataset_name: DATASET,
      status: "completed",
      image_count: 11,
      annotation_count: 21,
      annotations_received: 21,
      annotations_dropped: {},
      annotations_changed: {},
    });
    // Newest first.
    const times = res.body.map((e: { created_at: string }) => Date.parse(e.created_at));
    expect([...times].sort((x, y) => y - x)).toEqual(times);

    const city = await api("GET", `${BASE}/?dataset_name=${encodeURIComponent("city streets ü")}`);
    expect(city.body.map((e: { name: string; dataset_name: string }) => [e.dataset_name, e.name])).toEqual([
      ["city streets ü", "unique name"],
    ]);
    const completed = await api("GET", `${BASE}/?dataset_name=${DATASET}&status=completed`);
    expect(completed.body.length).toBeGreaterThan(5);
    expect(completed.body.every((e: { status: string }) => e.status === "completed")).toBe(true);
    expect((await api("GET", `${BASE}/?status=processing&dataset_name=${DATASET}`)).body).toEqual([]);
    expect((await api("GET", `${BASE}/?dataset_name=nothing-here`)).body).toEqual([]);
  });

  it("reports pending/processing, refuses downloads until completed, maps failed and canceled", async () => {
    await createExport({ name: "slow one", format: "slow" });
    const early = await api("GET", exportPath(DATASET, "slow one", "/download"));
    expect(early.status).toBe(409);
    expect(early.body.message).toMatch(/^export not ready yet \(status (pending|processing)\)$/);
    await waitFor(async () => (await api("GET", exportPath(DATASET, "slow one"))).body.status === "processing");
    const done = await finished(DATASET, "slow one");
    expect(done).toMatchObject({ status: "completed", format: "slow", image_count: 11, file_count: 1 });
    // A single-file export still downloads as a ZIP through this API.
    const { zip } = await downloadZip(DATASET, "slow one");
    expect(zip.names).toEqual(["items.txt", "manifest.json"]);
    expect(zip.text["items.txt"]?.trim().split("\n")).toHaveLength(11);

    await createExport({ name: "broken", format: "failing" });
    const failed = await finished(DATASET, "broken");
    expect(failed).toMatchObject({ status: "failed", error_message: "disk on fire" });
    const noDownload = await api("GET", exportPath(DATASET, "broken", "/download"));
    expect(noDownload.status).toBe(409);
    expect(noDownload.body.message).toBe('export "broken" failed (disk on fire); there is nothing to download');

    const slow = await createExport({ name: "to cancel", format: "slow" });
    await stack.exports.cancelExport({ exportId: slow.body.id });
    const canceled = await finished(DATASET, "to cancel");
    expect(canceled).toMatchObject({ status: "failed", error_message: "canceled" });
    const failedList = await api("GET", `${BASE}/?dataset_name=${DATASET}&status=failed`);
    expect(failedList.body.map((e: { name: string }) => e.name).sort()).toEqual(["broken", "to cancel"]);
  });

  it("answers 404 with a clear message for unknown datasets and exports", async () => {
    const missing = await api("GET", exportPath(DATASET, "nope"));
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: "Not Found", message: `export "nope" not found in dataset "${DATASET}"` });
    const noDataset = await api("GET", exportPath("atlantis", "nope", "/download"));
    expect(noDataset.status).toBe(404);
    expect(noDataset.body.message).toBe('dataset "atlantis" not found');
    expect((await api("DELETE", exportPath(DATASET, "nope"), { key: KEYS.admin })).status).toBe(404);
    expect((await api("GET", "/api/exports/no-such-id/logs")).status).toBe(404);
  });

  it("refreshes an export: a new export of the current data, the earlier one still downloadable", async () => {
    await createExport({ name: "nightly", class_filter: ["car"], include_images: true });
    const first = await finished(DATASET, "nightly");
    expect(first).toMatchObject({ image_count: 11, annotation_count: 11 });
    await stack.items.upsertItems({
      datasetId,
      items: [
        create(ItemSchema, {
          id: "late-1",
          kind: ItemKind.IMAGE,
          status: ItemStatus.APPROVED,
          split: "train",
          media: { uri: "media/late-1.jpg", fileName: "late-1.jpg", width: 640, height: 480 },
          annotations: [
            {
              id: "late-1-a1",
              type: AnnotationType.BBOX,
              categoryId: 1,
              geometry: { case: "bbox", value: { x: 1, y: 1, width: 2, height: 2 } },
            },
          ],
        }),
      ],
    });
    const refreshed = await api("POST", exportPath(DATASET, "nightly", "/refresh"));
    expect(refreshed.status).toBe(201);
    expect(refreshed.body).toMatchObject({ status: "pending", refreshed_from: first.id });
    expect(refreshed.body.name).toMatch(/^nightly \(refreshed \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z\)$/);
    const second = await finished(DATASET, refreshed.body.name);
    // Same settings, current data.
    expect(second).toMatchObject({
      image_count: 12,
      annotation_count: 12,
      class_filter: ["car"],
      include_images: true,
    });
    // A refresh of a refresh derives its name from the original, and a quick second one still gets a unique name.
    const again = await api("POST", exportPath(DATASET, refreshed.body.name, "/refresh"));
    const third = await api("POST", exportPath(DATASET, "nightly", "/refresh"));
    expect(again.body.name).toMatch(/^nightly \(refreshed [^)]*\)$/);
    expect(new Set([refreshed.body.name, again.body.name, third.body.name]).size).toBe(3);
    await finished(DATASET, again.body.name);
    await finished(DATASET, third.body.name);
    const old = await downloadZip(DATASET, "nightly");
    expect(cocoCounts(old.zip)).toEqual({ images: 11, annotations: 11 });
    const current = await downloadZip(DATASET, refreshed.body.name);
    expect(cocoCounts(current.zip)).toEqual({ images: 12, annotations: 12 });
    expect(current.link.body.file_name).not.toBe(old.link.body.file_name);
  });

  it("serves job logs as JSON, and follows a running job as NDJSON until it finishes", async () => {
    await createExport({ name: "followed", format: "slow" });
    const res = await fetch(`${stack.orchestrator.url}${exportPath(DATASET, "followed", "/logs")}?follow=true`, {
      headers: { "X-API-Key": KEYS.viewer },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    const text = await res.text(); // ends when the job does
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { time: string; level: string; source: string; message: string });
    expect(lines[0]).toMatchObject({ level: "info", source: "orchestrator" });
    expect(lines[0]?.message).toBe("export queued for slow@1.0.0");
    expect(lines.filter((l) => l.source === "plugin" && /^wrote /.test(l.message))).toHaveLength(12);
    expect(lines.map((l) => l.message)).toContain("export completed");
    expect((await api("GET", exportPath(DATASET, "followed"))).body.status).toBe("completed");

    const plain = await api("GET", exportPath(DATASET, "followed", "/logs"), { key: KEYS.viewer });
    expect(plain.body.map((l: { message: string }) => l.message)).toEqual(lines.map((l) => l.message));
    const byId = await api("GET", `/api/exports/${(await api("GET", exportPath(DATASET, "followed"))).body.id}/logs`);
    expect(byId.body).toEqual(plain.body);
    const from = lines[2]?.time ?? "";
    const since = await api("GET", `${exportPath(DATASET, "followed", "/logs")}?since=${from}`);
    expect(since.body.map((l: { message: string }) => l.message)).toEqual(
      lines.filter((l) => Date.parse(l.time) > Date.parse(from)).map((l) => l.message),
    );
    expect((await api("GET", `${exportPath(DATASET, "followed", "/logs")}?follow=maybe`)).status).toBe(400);
  });

  it("deletes for admin keys or the key that created the export, with 204", async () => {
    const mine = await createExport({ name: "editor's own" });
    await createExport({ name: "someone else's" });
    await finished(DATASET, "editor's own");
    await finished(DATASET, "someone else's");
    const denied = await api("DELETE", exportPath(DATASET, "someone else's"), { key: KEYS.editor2 });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(
      'API key "editor2" may delete only the exports it created; deleting others needs an admin key',
    );
    const own = await api("DELETE", exportPath(DATASET, "editor's own"), { key: KEYS.editor });
    expect(own.status).toBe(204);
    expect(own.body).toBeUndefined();
    expect(existsSync(join(storageRoot, "exports", mine.body.id))).toBe(false);
    expect((await api("GET", exportPath(DATASET, "editor's own"))).status).toBe(404);
    expect((await api("DELETE", exportPath(DATASET, "someone else's"), { key: KEYS.admin })).status).toBe(204);
    // The name is free again.
    await createExport({ name: "editor's own" });
  });

  it("needs an API key on every route (401) and the role of the Connect API (403)", async () => {
    await createExport({ name: "auth target" });
    const target = await finished(DATASET, "auth target");
    const one = exportPath(DATASET, "auth target");
    const routes: Array<[string, string, "viewer" | "editor" | "owner"]> = [
      ["POST", `${BASE}/`, "editor"],
      ["GET", `${BASE}/`, "viewer"],
      ["GET", one, "viewer"],
      ["GET", `${one}/download`, "viewer"],
      ["GET", `${one}/logs`, "viewer"],
      ["POST", `${one}/refresh`, "editor"],
      ["DELETE", one, "owner"],
      ["GET", `/api/exports/${target.id}/logs`, "viewer"],
    ];
    const token = jobToken(datasetId);
    for (const [method, path, role] of routes) {
      const label = `${method} ${path}`;
      const body = method === "POST" ? { dataset_name: DATASET, name: "never made" } : undefined;
      const none = await api(method, path, { key: null, body });
      expect(none.status, label).toBe(401);
      expect(none.body.message, label).toBe("missing API key: send X-API-Key or Authorization: Bearer <key>");
      const wrong = await api(method, path, { key: "not-a-key", body });
      expect(wrong.status, label).toBe(401);
      expect(wrong.body.message, label).toBe("invalid API key");
      if (role === "viewer") {
        // A plugin's job token reads items, nothing here.
        const plugin = await api(method, path, { key: token, body });
        expect(plugin.status, label).toBe(403);
        expect(plugin.body.message, label).toMatch(
          /^job tokens may only call StreamItems, SplitItems; not (GET|POST|DELETE) \//,
        );
      } else {
        const viewer = await api(method, path, { key: KEYS.viewer, body });
        expect(viewer.status, label).toBe(403);
        expect(viewer.body.message, label).toBe(`API key "viewer" has role viewer; this needs editor`);
      }
      if (role === "owner") expect((await api(method, path, { key: KEYS.editor2 })).status, label).toBe(403);
    }
    // Authorization: Bearer works as well as X-API-Key.
    const bearer = await api("GET", one, { key: null, headers: { Authorization: `Bearer ${KEYS.viewer}` } });
    expect(bearer.status).toBe(200);
    expect(
      (await api("GET", `${BASE}/?dataset_name=${DATASET}`)).body.map((e: { name: string }) => e.name),
    ).not.toContain("never made");
  });
});

describe("the developer exports API's examples, as written", () => {
  const curl = async (args: string[]) => {
    const { stdout } = await run("curl", ["-sS", "-w", "\n%{http_code}", ...args]);
    const at = stdout.lastIndexOf("\n");
    const text = stdout.slice(0, at);
    return { status: Number(stdout.slice(at + 1)), body: text ? JSON.parse(text) : undefined };
  };

  it("curl: create, list, get, download, delete", async () => {
    const url = stack.orchestrator.url;
    // biome-ignore format: the documented example, line for line
    const created = await curl(["-X", "POST", `${url}/api/v1/developer/exports/`,
      "-H", `X-API-Key: ${KEYS.editor}`,
      "-H", "Content-Type: application/json",
      "-d", `{
"dataset_name": "${DATASET}",
"name": "Curl-Export-v1",
"include_images": false
}`]);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "Curl-Export-v1", status: "pending" });
    expect(Object.keys(created.body)).toEqual(expect.arrayContaining(["id", "name", "status", "created_at"]));

    const listed = await curl([`${url}/api/v1/developer/exports/`, "-H", `X-API-Key: ${KEYS.viewer}`]);
    expect(listed.status).toBe(200);
    expect(listed.body.map((e: { id: string }) => e.id)).toContain(created.body.id);

    await finished(DATASET, "Curl-Export-v1");
    const got = await curl([
      `${url}/api/v1/developer/exports/${DATASET}/Curl-Export-v1`,
      "-H",
      `X-API-Key: ${KEYS.viewer}`,
    ]);
    expect(got.status).toBe(200);
    // 12 approved images by now (the refresh test added late-1).
    expect(got.body).toMatchObject({ id: created.body.id, status: "completed", image_count: 12, annotation_count: 22 });
    // A name with spaces and non-ASCII goes percent-encoded, as the documentation's other examples encode it.
    const unicode = await curl([
      `${url}/api/v1/developer/exports/${DATASET}/${encodeURIComponent(UNICODE_NAME)}`,
      "-H",
      `X-API-Key: ${KEYS.viewer}`,
    ]);
    expect(unicode.body).toMatchObject({ name: UNICODE_NAME, status: "completed" });

    const link = await curl([
      `${url}/api/v1/developer/exports/${DATASET}/Curl-Export-v1/download`,
      "-H",
      `X-API-Key: ${KEYS.viewer}`,
    ]);
    expect(link.status).toBe(200);
    const zipPath = join(scratch, "curl.zip");
    await run("curl", ["-sS", "-f", "-o", zipPath, link.body.download_url]);
    expect(readFileSync(zipPath).length).toBe(link.body.file_size);
    expect(cocoCounts(readZip(zipPath))).toEqual({ images: 12, annotations: 22 });

    const deleted = await curl([
      "-X",
      "DELETE",
      `${url}/api/v1/developer/exports/${DATASET}/Curl-Export-v1`,
      "-H",
      `X-API-Key: ${KEYS.admin}`,
    ]);
    expect(deleted).toEqual({ status: 204, body: undefined });
    expect(
      (await curl([`${url}/api/v1/developer/exports/${DATASET}/Curl-Export-v1`, "-H", `X-API-Key: ${KEYS.viewer}`]))
        .status,
    ).toBe(404);
  });

  const hasRequests = (() => {
    try {
      execFileSync("python3", ["-c", "import requests"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!hasRequests)("Python requests: create, list, get, download, delete with quote()", async () => {
    const api = stack.orchestrator.url;
    const name = "Python Export — ünïcode v1";
    // The documented requests examples with {{API_KEY}}, {{DATASET_NAME}}, {{EXPORT_NAME}} filled in.
    const script = `
import json, time, requests
from urllib.parse import quote
out = {}
response = requests.post(
"${api}/api/v1/developer/exports/",
headers={
"X-API-Key": "${KEYS.editor}",
"Content-Type": "application/json"
},
json={
"dataset_name": "${DATASET}",
"name": "${name}",
"include_images": False
}
)
export = response.json()
out["create"] = [response.status_code, export]
response = requests.get(
"${api}/api/v1/developer/exports/",
headers={"X-API-Key": "${KEYS.editor}"}
)
exports = response.json()
out["list"] = [e["name"] for e in exports]
for _ in range(300):
    response = requests.get(
    f"${api}/api/v1/developer/exports/${DATASET}/{quote('${name}')}",
    headers={"X-API-Key": "${KEYS.editor}"}
    )
    export = response.json()
    if export["status"] == "completed":
        break
    time.sleep(0.1)
out["get"] = export
response = requests.get(
f"${api}/api/v1/developer/exports/${DATASET}/{quote('${name}')}/download",
headers={"X-API-Key": "${KEYS.editor}"}
)
download_url = response.json()["download_url"]
zipped = requests.get(download_url)
out["download"] = [zipped.status_code, zipped.headers["content-type"], zipped.content[:2].decode()]
response = requests.delete(
f"${api}/api/v1/developer/exports/${DATASET}/{quote('${name}')}",
headers={"X-API-Key": "${KEYS.admin}"}
)
out["delete"] = response.status_code
print(json.dumps(out))
`;
    const { stdout } = await run("python3", ["-c", script]);
    const out = JSON.parse(stdout);
    expect(out.create[0]).toBe(201);
    expect(out.create[1]).toMatchObject({ name, status: "pending" });
    expect(out.list).toContain(name);
    expect(out.get).toMatchObject({ name, status: "completed", image_count: 12, annotation_count: 22 });
    expect(out.download).toEqual([200, "application/zip", "PK"]);
    expect(out.delete).toBe(204);
  });
});
