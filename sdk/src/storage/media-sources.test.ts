// Media sources against real servers: versitygw (a media bucket beside the export bucket, with
// credentials read from named environment variables), a plain HTTP server, an HTTPS server with a
// self-signed certificate made by the openssl CLI, and local roots. What is refused is never fetched:
// the servers count the requests they receive.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR } from "../../../scripts/stack/index.ts";
import { type RunningS3, startS3 } from "../../../scripts/stack/servers.ts";
import type { MediaProblem } from "../exporter.ts";
import type { StorageDriver } from "./driver.ts";
import { createExportStorage, type ExportManifestFields } from "./export-storage.ts";
import { loadMediaSources, type MediaSources, MediaSourcesConfigError, parseMediaSources } from "./media-sources.ts";
import { forbiddenAddressReason } from "./media-sources-address.ts";
import { createS3Storage } from "./s3.ts";

const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(2000, 7)]);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const MB = 1024 * 1024;

let dir: string;
let s3: RunningS3;
let exportsDriver: StorageDriver;
let plain: http.Server;
let secure: https.Server;
let target: http.Server;
let plainUrl: string;
let secureUrl: string;
let targetPort: number;
/** "METHOD path" of every request each server received, in order. */
const seen = { plain: [] as string[], secure: [] as string[], target: [] as string[] };
let flaky = 0;
let sources: MediaSources;

const env = {
  MEDIA_S3_KEY: "",
  MEDIA_S3_SECRET: "",
  MEDIA_TOKEN: "Bearer not-in-any-uri",
};

function listen(server: http.Server | https.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));
}

function plainHandler(req: http.IncomingMessage, res: http.ServerResponse): void {
  seen.plain.push(`${req.method} ${req.url}`);
  const url = req.url ?? "";
  if (url === "/img/cat.png") {
    res.writeHead(200, { "content-type": "image/png", "content-length": PNG.length }).end(PNG);
  } else if (url === "/img/blob") {
    res.writeHead(200, { "content-type": "image/webp; charset=binary" }).end(PNG);
  } else if (url === "/private/auth.png") {
    const ok = req.headers.authorization === env.MEDIA_TOKEN;
    res.writeHead(ok ? 200 : 403).end(ok ? PNG : "no");
  } else if (url === "/img/flaky.png") {
    flaky += 1;
    if (flaky < 3) res.writeHead(503).end("busy");
    else res.writeHead(200).end(PNG);
  } else if (url === "/img/down.png") {
    res.writeHead(502).end("down");
  } else if (url === "/img/huge.png") {
    // No Content-Length: the cap can only act while the body streams.
    res.writeHead(200, { "content-type": "image/png" });
    const chunk = Buffer.alloc(64 * 1024, 1);
    let sent = 0;
    const more = () => {
      while (sent < 4 * MB) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", more);
      }
      res.end();
    };
    more();
  } else if (url === "/img/declared-huge.png") {
    res.writeHead(200, { "content-length": 4 * MB }).end(Buffer.alloc(4 * MB));
  } else if (url === "/img/silent.png") {
    // Headers never come: the connect/response timeout ends it.
    req.socket.setTimeout(0);
  } else if (url === "/redirect/ok") {
    res.writeHead(302, { location: "/img/cat.png" }).end();
  } else if (url === "/redirect/private") {
    res.writeHead(302, { location: `http://localhost:${targetPort}/secret.png` }).end();
  } else if (url === "/redirect/metadata") {
    res.writeHead(301, { location: "http://169.254.169.254/latest/meta-data/" }).end();
  } else if (url === "/redirect/elsewhere") {
    res.writeHead(307, { location: "https://media.example.invalid/cat.png" }).end();
  } else if (url.startsWith("/redirect/loop")) {
    res.writeHead(302, { location: `/redirect/loop${url.length}` }).end();
  } else {
    res.writeHead(404).end("not found");
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "labelport-media-sources-"));
  s3 = await startS3({ dir, dataDir: DATA_DIR });
  env.MEDIA_S3_KEY = s3.accessKeyId;
  env.MEDIA_S3_SECRET = s3.secretAccessKey;
  const admin = new S3Client({
    endpoint: s3.url,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  await admin.send(new CreateBucketCommand({ Bucket: "exports" }));
  await admin.send(new CreateBucketCommand({ Bucket: "raw-media" }));
  await admin.send(new PutObjectCommand({ Bucket: "raw-media", Key: "raw/img 00001.jpg", Body: PNG }));
  admin.destroy();
  exportsDriver = createS3Storage({
    bucket: "exports",
    region: s3.region,
    endpoint: s3.url,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });

  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  plain = http.createServer(plainHandler);
  secure = https.createServer(
    { key: await readFile(join(dir, "key.pem")), cert: await readFile(join(dir, "cert.pem")) },
    (req, res) => {
      seen.secure.push(`${req.method} ${req.url}`);
      if (req.url === "/secure/cat.png") res.writeHead(200).end(PNG);
      else res.writeHead(404).end();
    },
  );
  target = http.createServer((req, res) => {
    seen.target.push(`${req.method} ${req.url}`);
    res.writeHead(200).end("secret");
  });
  plainUrl = `http://127.0.0.1:${await listen(plain)}`;
  secureUrl = `https://localhost:${await listen(secure)}`;
  targetPort = await listen(target);

  await mkdir(join(dir, "root", "images"), { recursive: true });
  await writeFile(join(dir, "root", "images", "dog 1.png"), PNG);
  await writeFile(join(dir, "outside.png"), PNG);
  await symlink(join(dir, "outside.png"), join(dir, "root", "images", "link.png"));

  sources = parseMediaSources(
    {
      sources: [
        {
          name: "raw",
          kind: "s3",
          buckets: ["raw-media"],
          endpoint: s3.url,
          region: s3.region,
          forcePathStyle: true,
          accessKeyIdEnv: "MEDIA_S3_KEY",
          secretAccessKeyEnv: "MEDIA_S3_SECRET",
        },
        {
          name: "lab-http",
          kind: "http",
          prefixes: [`${plainUrl}/img/`, `${plainUrl}/redirect/`, `${plainUrl}/private/`],
          headersFromEnv: { Authorization: "MEDIA_TOKEN" },
          allowPrivateNetwork: true,
          maxBytes: MB,
          connectTimeoutMs: 1000,
        },
        {
          name: "lab-https",
          kind: "http",
          prefixes: [`${secureUrl}/secure/`],
          caFile: join(dir, "cert.pem"),
          allowPrivateNetwork: true,
        },
        // Served, but on loopback without allowPrivateNetwork: every request is refused.
        { name: "public-only", kind: "http", hosts: [`localhost:${targetPort}`] },
        {
          name: "metadata",
          kind: "http",
          hosts: ["169.254.169.254", "[::ffff:a9fe:a9fe]"],
          allowPrivateNetwork: true,
        },
        { name: "files", kind: "local", root: join(dir, "root") },
      ],
    },
    env,
  );
}, 300_000);

afterAll(async () => {
  await exportsDriver?.dispose();
  for (const server of [plain, secure, target]) {
    server?.closeAllConnections();
    server?.close();
  }
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const fields: ExportManifestFields = {
  exportId: "exp-media",
  format: "coco",
  plugin: { name: "coco", version: "1.0.0" },
  dataset: { id: "ds", name: "media" },
  exportedAt: "2025-01-01T00:00:00.000Z",
  itemCount: 0,
  annotationCount: 0,
  annotationsReceived: 0,
  dropped: {},
  changed: {},
  notes: [],
};

/** An export storage on the S3 exports bucket with the test's sources; problems collected. */
function exportStorage(prefix: string) {
  const problems: MediaProblem[] = [];
  const storage = createExportStorage(exportsDriver, prefix, {
    mediaSources: sources,
    mediaRetryDelayMs: 10,
    onMediaProblem: (p) => problems.push(p),
  });
  return { storage, problems };
}

async function stored(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await exportsDriver.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("copyMedia through media sources", () => {
  it("copies from s3://, http://, https:// (self-signed CA) and file:/// sources, recording size, sha256 and type", async () => {
    const { storage, problems } = exportStorage("exports/ok");
    const copies: Array<[string, string]> = [
      ["s3://raw-media/raw/img 00001.jpg", "images/a.jpg"],
      [`${plainUrl}/img/cat.png`, "images/b.png"],
      [`${plainUrl}/img/blob`, "images/c"],
      [`${plainUrl}/private/auth.png`, "images/d.png"],
      [`${plainUrl}/redirect/ok`, "images/e.png"],
      [`${secureUrl}/secure/cat.png`, "images/f.png"],
      [`file://${join(dir, "root", "images", "dog%201.png")}`, "images/g.png"],
    ];
    for (const [uri, key] of copies) expect([uri, await storage.copyMedia(uri, key)]).toEqual([uri, true]);
    expect(problems).toEqual([]);
    const { artifacts } = await storage.commit(fields);
    expect(artifacts.map((a) => [a.key, a.size, a.sha256, a.contentType])).toEqual([
      ["images/a.jpg", BigInt(PNG.length), sha256(PNG), "image/jpeg"],
      ["images/b.png", BigInt(PNG.length), sha256(PNG), "image/png"],
      // No extension: the type the server declared.
      ["images/c", BigInt(PNG.length), sha256(PNG), "image/webp"],
      ["images/d.png", BigInt(PNG.length), sha256(PNG), "image/png"],
      ["images/e.png", BigInt(PNG.length), sha256(PNG), "image/png"],
      ["images/f.png", BigInt(PNG.length), sha256(PNG), "image/png"],
      ["images/g.png", BigInt(PNG.length), sha256(PNG), "image/png"],
    ]);
    expect(sha256(await stored("exports/ok/images/f.png"))).toBe(sha256(PNG));
    // The header's value came from the environment variable named in the configuration.
    expect(seen.plain).toContain("GET /private/auth.png");
    await storage.dispose();
  });

  it("refuses forbidden addresses, unmatched URIs and paths outside the root, and never fetches them", async () => {
    const { storage, problems } = exportStorage("exports/refused");
    const before = { plain: seen.plain.length, target: seen.target.length };
    const refused = [
      `http://localhost:${targetPort}/direct.png`, // loopback, source without allowPrivateNetwork
      "http://169.254.169.254/latest/meta-data/", // metadata, even with allowPrivateNetwork
      "http://[::ffff:169.254.169.254]/latest/", // the same, as IPv6
      `${plainUrl}/redirect/private`, // a redirect to a loopback host its source may not reach
      `${plainUrl}/redirect/metadata`,
      `${plainUrl}/redirect/elsewhere`, // a redirect no source matches
      `${plainUrl}/redirect/loop`, // more than 3 redirects
      `${plainUrl}/other/cat.png`, // outside every prefix
      "https://user:pw@example.com/cat.png",
      "s3://other-bucket/raw/img 00001.jpg",
      "gs://bucket/cat.png",
      `file://${join(dir, "outside.png")}`,
      `file://${dir}/root/../outside.png`,
      `file://${join(dir, "root", "images", "link.png")}`, // a symlink out of the root
    ];
    for (const [n, uri] of refused.entries()) {
      expect([uri, await storage.copyMedia(uri, `images/${n}.png`)]).toEqual([uri, false]);
    }
    expect(problems.map((p) => [p.uri, p.kind])).toEqual(refused.map((uri) => [uri, "refused"]));
    expect(problems[0]?.reason).toMatch(/resolves to 127\.0\.0\.1, a loopback address/);
    expect(problems[1]?.reason).toMatch(/cloud metadata/);
    expect(problems[2]?.reason).toMatch(/cloud metadata/);
    expect(problems[6]?.reason).toBe("more than 3 redirects");
    expect(seen.target.length).toBe(before.target);
    // Only the redirecting hops reached the allowed server: 1 + 1 + 1 + 4 (the loop: 3 redirects followed).
    expect(seen.plain.slice(before.plain)).toEqual([
      "GET /redirect/private",
      "GET /redirect/metadata",
      "GET /redirect/elsewhere",
      "GET /redirect/loop",
      "GET /redirect/loop14",
      "GET /redirect/loop16",
      "GET /redirect/loop16",
    ]);
    const { fileCount } = await storage.commit(fields);
    expect(fileCount).toBe(0);
    await storage.dispose();
  });

  it("reports missing files as missing, retries transient failures, and gives up after three tries", async () => {
    const { storage, problems } = exportStorage("exports/missing");
    expect(await storage.copyMedia("s3://raw-media/raw/none.jpg", "images/1.jpg")).toBe(false);
    expect(await storage.copyMedia(`${plainUrl}/img/none.png`, "images/2.png")).toBe(false);
    expect(await storage.copyMedia(`file://${join(dir, "root", "none.png")}`, "images/3.png")).toBe(false);
    expect(await storage.copyMedia("images/not-in-media-storage.png", "images/4.png")).toBe(false);
    const flakyBefore = flaky;
    expect(await storage.copyMedia(`${plainUrl}/img/flaky.png`, "images/5.png")).toBe(true);
    expect(flaky - flakyBefore).toBe(3);
    const downBefore = seen.plain.filter((r) => r === "GET /img/down.png").length;
    expect(await storage.copyMedia(`${plainUrl}/img/down.png`, "images/6.png")).toBe(false);
    expect(seen.plain.filter((r) => r === "GET /img/down.png").length - downBefore).toBe(3);
    expect(await storage.copyMedia(`${plainUrl}/img/silent.png`, "images/7.png")).toBe(false);
    expect(problems.map((p) => [p.kind, p.reason])).toEqual([
      ["missing", expect.stringContaining("raw/none.jpg")],
      ["missing", "HTTP 404"],
      ["missing", expect.stringContaining("ENOENT")],
      ["missing", expect.stringContaining("not-in-media-storage.png")],
      ["failed", "HTTP 502"],
      ["failed", "no response within 1000 ms"],
    ]);
    const { artifacts } = await storage.commit(fields);
    expect(artifacts.map((a) => a.key)).toEqual(["images/5.png"]);
    await storage.dispose();
  });

  it("refuses a file over the source's cap, by its declared size or while it streams, leaving nothing", async () => {
    const { storage, problems } = exportStorage("exports/cap");
    expect(await storage.copyMedia(`${plainUrl}/img/declared-huge.png`, "images/a.png")).toBe(false);
    expect(await storage.copyMedia(`${plainUrl}/img/huge.png`, "images/b.png")).toBe(false);
    expect(problems.map((p) => [p.kind, p.reason])).toEqual([
      ["refused", `${4 * MB} bytes, larger than the source's limit of ${MB} bytes`],
      ["refused", `larger than the source's limit of ${MB} bytes`],
    ]);
    expect(await exportsDriver.head("exports/cap/images/b.png")).toBeNull();
    expect((await storage.commit(fields)).fileCount).toBe(0);
    await storage.dispose();
  });

  it("reads byte ranges through the same sources (image headers)", async () => {
    const { storage } = exportStorage("exports/range");
    for (const uri of [
      "s3://raw-media/raw/img 00001.jpg",
      `${secureUrl}/secure/cat.png`,
      `file://${join(dir, "root", "images", "dog%201.png")}`,
    ]) {
      const body = await storage.readMedia(uri, { start: 0, end: 7 });
      const chunks: Buffer[] = [];
      for await (const chunk of body ?? []) chunks.push(chunk as Buffer);
      // A source may ignore the range (the test HTTPS server does): the header is what counts.
      expect(Buffer.concat(chunks).subarray(0, 8)).toEqual(PNG.subarray(0, 8));
    }
    expect(await storage.readMedia(`http://localhost:${targetPort}/x.png`, { start: 0, end: 7 })).toBeNull();
    await storage.dispose();
  });
});

describe("media source configuration", () => {
  it("reads LABELPORT_MEDIA_SOURCES as JSON or @file, and names what is wrong", async () => {
    const config = { sources: [{ name: "files", kind: "local", root: "/data/media" }] };
    expect(loadMediaSources({}).names).toEqual([]);
    expect(loadMediaSources({ LABELPORT_MEDIA_SOURCES: JSON.stringify(config) }).local).toEqual([
      { name: "files", root: "/data/media", limits: expect.objectContaining({ maxBytes: 1024 * MB }) },
    ]);
    await writeFile(join(dir, "sources.json"), JSON.stringify(config));
    expect(loadMediaSources({ LABELPORT_MEDIA_SOURCES: `@${join(dir, "sources.json")}` }).names).toEqual(["files"]);
    const error = (value: string, extra: Record<string, string> = {}) => {
      try {
        loadMediaSources({ LABELPORT_MEDIA_SOURCES: value, ...extra });
      } catch (err) {
        expect(err).toBeInstanceOf(MediaSourcesConfigError);
        return (err as Error).message;
      }
      throw new Error("no error");
    };
    expect(error("{")).toMatch(/^LABELPORT_MEDIA_SOURCES: not valid JSON/);
    expect(error('{"sources":[{"name":"x","kind":"local","root":"rel"}]}')).toBe(
      "LABELPORT_MEDIA_SOURCES: sources[0].root: an absolute path",
    );
    expect(error('{"sources":[{"name":"x","kind":"http"}]}')).toBe(
      "LABELPORT_MEDIA_SOURCES: sources[0].hosts: give prefixes or hosts",
    );
    expect(
      error('{"sources":[{"name":"x","kind":"s3","buckets":["b"],"accessKeyIdEnv":"K","secretAccessKeyEnv":"S"}]}', {
        K: "k",
      }),
    ).toBe('LABELPORT_MEDIA_SOURCES: source "x": environment variable S (secretAccessKeyEnv) is not set');
    expect(error("@/no/such/file.json")).toMatch(/^LABELPORT_MEDIA_SOURCES file \/no\/such\/file\.json: ENOENT/);
  });

  it.each([
    ["127.0.0.1", false, "a loopback address"],
    ["::1", false, "a loopback address"],
    ["10.1.2.3", false, "a private address"],
    ["172.20.0.1", false, "a private address"],
    ["192.168.1.1", false, "a private address"],
    ["fd12::1", false, "a private (unique local) address"],
    ["169.254.1.1", false, "a link-local address"],
    ["fe80::1", false, "a link-local address"],
    ["169.254.169.254", true, "a cloud metadata address"],
    ["fd00:ec2::254", true, "a cloud metadata address"],
    ["0.0.0.0", true, "an unspecified address"],
    ["::", true, "an unspecified address"],
    ["::ffff:127.0.0.1", false, "a loopback address"],
    ["64:ff9b::a00:1", false, "a private address"],
    ["127.0.0.1", true, undefined],
    ["93.184.215.14", false, undefined],
    ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", false, undefined],
  ])("address %s (private allowed: %s) -> %s", (address, allowPrivate, reason) => {
    expect(forbiddenAddressReason(address, allowPrivate)).toBe(reason);
  });
});
