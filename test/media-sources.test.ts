// Original media from where they live (issue 16), end to end: a job stack with the COCO worker
// configured with media sources (an S3 bucket on versitygw with credentials from named variables,
// HTTP, HTTPS with a self-signed certificate, a local root), an export with save_original_file
// through gRPC and one with include_images through the developer API. Forbidden and unmatched
// URIs are refused and noted, never fetched; a missing one is noted; the export completes.
import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { create } from "@bufbuild/protobuf";
import { AnnotationType, type Export, ExportStatus, ItemKind, ItemSchema, ItemStatus } from "@labelport/sdk/contracts";
import { natsConnectOptions, PLUGIN_INBOX_PREFIX, parseMediaSources, startWorker } from "@labelport/sdk/runtime";
import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import CocoExporter from "../plugins/coco/src/index.ts";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { type RunningS3, startS3 } from "../scripts/stack/servers.ts";
import { type JobStack, startJobStack } from "./support/job-stack.ts";
import { png } from "./support/png.ts";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const IMAGE = png(32, 24);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let dir: string;
let s3: RunningS3;
let stack: JobStack;
let nats: NatsConnection;
let worker: { stop(): Promise<void> };
const servers: http.Server[] = [];
/** Requests the loopback server that no source may reach received. */
const forbiddenHits: string[] = [];
let datasetId: string;
let uris: Record<string, string>;

function listen(server: http.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "labelport-media-e2e-"));
  s3 = await startS3({ dir: join(DATA_DIR, "test-runs", `s3-media-${randomUUID().slice(0, 8)}`), dataDir: DATA_DIR });
  const admin = new S3Client({
    endpoint: s3.url,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await admin.send(new CreateBucketCommand({ Bucket: "raw-media" }));
  await admin.send(new PutObjectCommand({ Bucket: "raw-media", Key: "raw/img 00001.png", Body: IMAGE }));
  admin.destroy();

  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"],
      ...["-addext", "subjectAltName=DNS:localhost", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    ],
    { stdio: "ignore" },
  );
  const secure = https.createServer(
    { key: await readFile(join(dir, "key.pem")), cert: await readFile(join(dir, "cert.pem")) },
    (req, res) => (req.url === "/secure/c.png" ? res.writeHead(200).end(IMAGE) : res.writeHead(404).end()),
  );
  const forbidden = http.createServer((req, res) => {
    forbiddenHits.push(req.url ?? "");
    res.writeHead(200).end(IMAGE);
  });
  const forbiddenPort = await listen(forbidden);
  const plain = http.createServer((req, res) => {
    if (req.url === "/img/b.png") res.writeHead(200, { "content-type": "image/png" }).end(IMAGE);
    else if (req.url === "/redirect") res.writeHead(302, { location: `http://localhost:${forbiddenPort}/r.png` }).end();
    else res.writeHead(404).end();
  });
  const plainUrl = `http://127.0.0.1:${await listen(plain)}`;
  const secureUrl = `https://localhost:${await listen(secure)}`;
  await mkdir(join(dir, "root"), { recursive: true });
  await writeFile(join(dir, "root", "d.png"), IMAGE);

  // As a worker's LABELPORT_MEDIA_SOURCES would say it; the credentials are named, not given.
  const mediaSources = parseMediaSources(
    {
      sources: [
        {
          name: "raw",
          kind: "s3",
          buckets: ["raw-media"],
          endpoint: s3.url,
          forcePathStyle: true,
          accessKeyIdEnv: "RAW_MEDIA_KEY_ID",
          secretAccessKeyEnv: "RAW_MEDIA_SECRET",
        },
        { name: "lab", kind: "http", prefixes: [`${plainUrl}/`], allowPrivateNetwork: true },
        {
          name: "lab-tls",
          kind: "http",
          prefixes: [`${secureUrl}/secure/`],
          caFile: join(dir, "cert.pem"),
          allowPrivateNetwork: true,
        },
        { name: "public", kind: "http", hosts: ["localhost", "169.254.169.254"] },
        { name: "files", kind: "local", root: join(dir, "root") },
      ],
    },
    { RAW_MEDIA_KEY_ID: s3.accessKeyId, RAW_MEDIA_SECRET: s3.secretAccessKey },
  );
  uris = {
    s3: "s3://raw-media/raw/img 00001.png",
    http: `${plainUrl}/img/b.png`,
    https: `${secureUrl}/secure/c.png`,
    file: `file://${join(dir, "root", "d.png")}`,
    loopback: `http://localhost:${forbiddenPort}/e.png`,
    metadata: "http://169.254.169.254/latest/meta-data/f.png",
    redirect: `${plainUrl}/redirect`,
    missing: "s3://raw-media/raw/none.png",
  };

  stack = await startJobStack();
  nats = await connect({
    ...natsConnectOptions(stack.nats.urlFor("plugin")),
    inboxPrefix: PLUGIN_INBOX_PREFIX,
    name: "media-sources-test",
  });
  worker = await startWorker({ nats, exporter: CocoExporter, log: quiet, mediaSources });

  const { dataset } = await stack.datasets.createDataset({ name: "media-sources", categories: [{ name: "car" }] });
  datasetId = dataset?.id ?? "";
  await stack.items.upsertItems({
    datasetId,
    items: Object.entries(uris).map(([name, uri]) =>
      create(ItemSchema, {
        id: `media-${name}`,
        kind: ItemKind.IMAGE,
        status: ItemStatus.APPROVED,
        split: "train",
        media: { uri, fileName: `${name}.png`, width: 32, height: 24 },
        annotations: [
          {
            id: `media-${name}-a1`,
            type: AnnotationType.BBOX,
            categoryId: 1,
            geometry: { case: "bbox" as const, value: { x: 1, y: 2, width: 10, height: 8 } },
          },
        ],
      }),
    ),
  });
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await nats?.drain();
  await stack?.close();
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function finalState(exportId: string): Promise<Export | undefined> {
  let last: Export | undefined;
  for await (const { export: e } of stack.exports.watchExport({ exportId })) last = e;
  return last;
}

function expectCopiedAndNoted(final: Export | undefined): void {
  expect(final?.status).toBe(ExportStatus.COMPLETED);
  const images = (final?.artifacts ?? []).filter((a) => a.key.startsWith("images/"));
  expect(images.map((a) => [a.key, a.size, a.sha256, a.contentType])).toEqual(
    ["file", "http", "https", "s3"].map((name) => [
      `images/train/${name}.png`,
      BigInt(IMAGE.length),
      sha256(IMAGE),
      "image/png",
    ]),
  );
  const note = (final?.formatNotes ?? []).find((n) => n.startsWith("save_original_file:"));
  expect(note).toMatch(/4 of 8 original files not copied \(1 missing, 3 refused/);
  for (const name of ["loopback", "metadata", "redirect", "missing"]) expect(note).toContain(uris[name]);
  expect(forbiddenHits).toEqual([]);
}

describe("media sources in a job", () => {
  it("a COCO export with save_original_file copies from s3, http, https and file sources and notes the rest", async () => {
    const { export: created } = await stack.exports.createExport({
      datasetId,
      format: "coco",
      saveOriginalFile: true,
    });
    expectCopiedAndNoted(await finalState(created?.id ?? ""));
  });

  it("a developer-API export with include_images does the same", async () => {
    const res = await fetch(`${stack.orchestrator.url}/api/v1/developer/exports/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dataset_name: "media-sources", name: "with-images", include_images: true }),
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expectCopiedAndNoted(await finalState(id));
  });
});
