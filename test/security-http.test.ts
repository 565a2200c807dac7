// The HTTP surface under hostile input (issue 13): no request takes the process down, callers are
// authenticated on the headers before a body is read, every body and connection is bounded, and
// with authentication off only loopback names and same-origin browsers are served.
// Orchestrators run as child processes where a crash must be observable.
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import http2 from "node:http2";
import net from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ExportService } from "@labelport/sdk/contracts";
import { seededRandom } from "@labelport/sdk/testing";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { type RunningNats, startNats } from "../scripts/stack/servers.ts";
import { type ExportDoc, queuedExportDoc } from "../services/orchestrator/src/exports/repository.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";
import { startPluginProcess } from "./support/plugin-process.ts";
import { type ChildOrchestrator, startOrchestratorProcess } from "./support/process.ts";

const EDITOR_KEY = "editor-key-0123456789";
const ALLOWED_ORIGIN = "http://allowed.example";

const baseEnv = () => ({
  MONGODB_URL: inject("mongoUrl"),
  NATS_URL: inject("natsUrl"),
  MONGODB_DB: `t_${randomUUID().slice(0, 8)}`,
  PORT: "0",
});

/** The NATS server of `open`: its own, so a plugin here takes no other test file's jobs. */
let nats: RunningNats;
/** Auth off (the default), one CORS origin allowed. */
let open: ChildOrchestrator;
/** Auth on. */
let keyed: ChildOrchestrator;
beforeAll(async () => {
  nats = await startNats({ dir: join(DATA_DIR, "test-runs", `nats-${randomUUID().slice(0, 8)}`), dataDir: DATA_DIR });
  [open, keyed] = await Promise.all([
    startOrchestratorProcess({ ...baseEnv(), NATS_URL: nats.url, CORS_ORIGINS: ALLOWED_ORIGIN }),
    startOrchestratorProcess({ ...baseEnv(), API_KEYS: `ed:editor:${EDITOR_KEY}` }),
  ]);
}, 120_000);
afterAll(async () => {
  for (const proc of [open, keyed]) {
    if (proc && proc.child.exitCode === null) {
      proc.child.kill("SIGTERM");
      await proc.exited;
    }
  }
  await nats?.stop();
});

/** Connect JSON call to `proc`, failing the test on an error answer. */
async function call<T>(proc: ChildOrchestrator, method: string, body: object): Promise<T> {
  const res = await fetch(`${proc.url}/labelport.v1.${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await res.json()) as T;
  expect(res.status, JSON.stringify(answer)).toBe(200);
  return answer;
}

/** A jsonl export of a small dataset runs to completion through a real plugin process. */
async function expectExportCompletes(proc: ChildOrchestrator): Promise<void> {
  const plugin = await startPluginProcess("@labelport/plugin-jsonl", { NATS_URL: nats.urlFor("plugin") });
  try {
    const { dataset } = await call<{ dataset: { id: string } }>(proc, "DatasetService/CreateDataset", {
      name: "after fuzz",
      categories: [{ name: "car" }],
    });
    await call(proc, "ItemService/UpsertItems", {
      datasetId: dataset.id,
      items: [
        {
          id: "f1",
          status: "ITEM_STATUS_APPROVED",
          annotations: [{ categoryId: 1, bbox: { x: 1, y: 2, width: 3, height: 4 } }],
        },
      ],
    });
    const created = await call<{ export: { id: string } }>(proc, "ExportService/CreateExport", {
      datasetId: dataset.id,
      format: "jsonl",
    });
    let status = "";
    for (let i = 0; i < 600 && !/COMPLETED|FAILED|CANCELED/.test(status); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (
        await call<{ export: { status: string } }>(proc, "ExportService/GetExport", { exportId: created.export.id })
      ).export.status;
    }
    expect(status).toBe("EXPORT_STATUS_COMPLETED");
  } finally {
    plugin.child.kill("SIGTERM");
    await plugin.exited;
  }
}

/** The process still runs and answers /healthz with 200. */
async function expectAlive(proc: ChildOrchestrator): Promise<void> {
  expect(proc.child.exitCode, proc.output()).toBeNull();
  const health = await fetch(`${proc.url}/healthz`);
  expect(health.status).toBe(200);
  expect(proc.output()).not.toMatch(/Unhandled|uncaught/i);
}

const portOf = (url: string) => Number(new URL(url).port);

interface RawExchange {
  /** Everything the server sent until it closed the connection. */
  received: Promise<string>;
  socket: net.Socket;
}

/** Sends raw bytes on a new connection; `end` half-closes after them (a body cut short). */
function raw(url: string, bytes: Buffer | string, options: { end?: boolean } = {}): RawExchange {
  const socket = net.connect(portOf(url), "127.0.0.1");
  const chunks: Buffer[] = [];
  const received = new Promise<string>((resolve) => {
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
  });
  socket.write(bytes);
  if (options.end) socket.end();
  return { received, socket };
}

/** The status line of the first response in `text`. */
const statusOf = (text: string) => Number(text.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);

/** Waits until the server has sent a complete response head (a refusal arrives before the body). */
function headOf(exchange: RawExchange): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    exchange.socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      if (text.includes("\r\n\r\n")) resolve(text);
    });
    exchange.socket.on("close", () => (text.includes("\r\n\r\n") ? resolve(text) : reject(new Error("closed"))));
  });
}

function multipart(boundary: string, fileText: string, complete: boolean): Buffer {
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n` +
    `Content-Type: application/octet-stream\r\n\r\n${fileText}`;
  return Buffer.from(complete ? `${head}\r\n--${boundary}--\r\n` : head);
}

function postRequest(url: string, path: string, headers: Record<string, string>, body: Buffer): string {
  const { host } = new URL(url);
  const lines = [`POST ${path} HTTP/1.1`, `Host: ${host}`, "Connection: close"];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (!("Content-Length" in headers)) lines.push(`Content-Length: ${body.length}`);
  return `${lines.join("\r\n")}\r\n\r\n${body.toString("latin1")}`;
}

describe("a truncated or aborted body", () => {
  it.each(["/api/import", "/api/import/preview"])("sent to %s is a 400 and the process lives on", async (path) => {
    const boundary = "b0undary";
    const body = multipart(boundary, '{"a":1}\n{"b":', false);
    const exchange = raw(
      open.url,
      postRequest(open.url, path, { "Content-Type": `multipart/form-data; boundary=${boundary}` }, body),
    );
    const response = await exchange.received;
    expect(statusOf(response), response).toBe(400);
    expect(response).toContain("Malformed multipart request: Unexpected end of form");
    await expectAlive(open);
  });

  it("cut off by a client that goes away mid-upload leaves the process alive", async () => {
    const boundary = "b0undary";
    for (const path of ["/api/import", "/api/import/preview"]) {
      const body = multipart(boundary, "x".repeat(64 * 1024), false);
      const request = postRequest(
        open.url,
        path,
        { "Content-Type": `multipart/form-data; boundary=${boundary}`, "Content-Length": String(10 * 1024 * 1024) },
        body,
      );
      const exchange = raw(open.url, request);
      // Let the server start reading the part, then vanish.
      await new Promise((resolve) => setTimeout(resolve, 200));
      exchange.socket.destroy();
      await exchange.received;
    }
    await expectAlive(open);
  });
});

describe("authentication before the body", () => {
  it("answers a REST caller without a key before reading a 200 MB body", async () => {
    const exchange = raw(
      keyed.url,
      postRequest(
        keyed.url,
        "/v1/ground-truths/snapshot",
        { "Content-Type": "application/json", "Content-Length": String(200 * 1024 * 1024) },
        Buffer.from('{"datasetId":'),
      ),
    );
    const head = await headOf(exchange);
    exchange.socket.destroy();
    expect(statusOf(head)).toBe(401);
  });

  it("refuses a REST body over the route's limit on its Content-Length, naming the limit", async () => {
    const exchange = raw(
      keyed.url,
      postRequest(
        keyed.url,
        "/v1/ground-truths/snapshot",
        { "Content-Type": "application/json", "Content-Length": String(200 * 1024 * 1024), "X-API-Key": EDITOR_KEY },
        Buffer.from('{"datasetId":'),
      ),
    );
    const head = await headOf(exchange);
    exchange.socket.destroy();
    expect(statusOf(head)).toBe(413);
    const imports = raw(
      keyed.url,
      postRequest(
        keyed.url,
        "/api/import",
        {
          "Content-Type": "multipart/form-data; boundary=b",
          "Content-Length": String(200 * 1024 * 1024),
          "X-API-Key": EDITOR_KEY,
        },
        Buffer.from("--b\r\n"),
      ),
    );
    const importHead = await headOf(imports);
    imports.socket.destroy();
    expect(statusOf(importHead)).toBe(413);
    expect(importHead).toMatch(/at most 105906176 bytes/);
  });

  it("answers a Connect caller without a key before reading a 200 MB body", async () => {
    const exchange = raw(
      keyed.url,
      postRequest(
        keyed.url,
        "/labelport.v1.DatasetService/CreateDataset",
        { "Content-Type": "application/json", "Content-Length": String(200 * 1024 * 1024) },
        Buffer.from('{"name":"'),
      ),
    );
    const head = await headOf(exchange);
    exchange.socket.destroy();
    expect(statusOf(head)).toBe(401);
  });

  it("refuses a gzip bomb: 401 without a key, the message limit with one, and memory stays flat", async () => {
    // Concatenated gzip members: about 1 MB that inflates to 1 GiB.
    const member = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 1024 }, () => member));
    const send = (headers: Record<string, string>) =>
      fetch(`${keyed.url}/labelport.v1.DatasetService/CreateDataset`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-encoding": "gzip", ...headers },
        body: bomb,
      });
    const anonymous = await send({});
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ code: "unauthenticated" });
    const keyedCall = await send({ "x-api-key": EDITOR_KEY });
    expect(await keyedCall.json()).toMatchObject({
      code: "resource_exhausted",
      message: expect.stringContaining(`readMaxBytes ${32 * 1024 * 1024}`),
    });
    // Peak resident memory of the whole process, so far: far below the bomb's 1 GiB.
    const status = await readFile(`/proc/${keyed.child.pid}/status`, "utf8");
    const peakKb = Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1]);
    expect(peakKb).toBeLessThan(512 * 1024);
    await expectAlive(keyed);
  });

  it("answers a gRPC caller of a 100 MB message without reading it: Unauthenticated, then the limit", async () => {
    const session = http2.connect(keyed.url);
    session.on("error", () => undefined);
    const call = (headers: Record<string, string>) =>
      new Promise<Record<string, string | string[] | undefined>>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/labelport.v1.DatasetService/CreateDataset",
          "content-type": "application/grpc",
          te: "trailers",
          ...headers,
        });
        const seen: Record<string, string | string[] | undefined> = {};
        // The status comes in the headers (trailers-only) or the trailers; the upload is still open.
        const onHeaders = (h: Record<string, string | string[] | undefined>) => {
          Object.assign(seen, h);
          if (seen["grpc-status"]) {
            resolve(seen);
            stream.close(http2.constants.NGHTTP2_CANCEL);
          }
        };
        stream.on("response", onHeaders);
        stream.on("trailers", onHeaders);
        stream.on("error", () => undefined);
        stream.on("close", () => reject(new Error("closed without a grpc-status")));
        stream.resume();
        // An envelope announcing 100 MB, and only its first 64 KB.
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(100 * 1024 * 1024, 1);
        stream.write(Buffer.concat([prefix, Buffer.alloc(64 * 1024)]));
      });
    try {
      const anonymous = await call({});
      expect(anonymous["grpc-status"]).toBe("16");
      const withKey = await call({ "x-api-key": EDITOR_KEY });
      expect(withKey["grpc-status"]).toBe("8");
      expect(decodeURIComponent(String(withKey["grpc-message"]))).toContain(String(32 * 1024 * 1024));
    } finally {
      session.close();
    }
    await expectAlive(keyed);
  });
});

describe("origins and hosts with authentication off", () => {
  const history = async () =>
    ((await (await fetch(`${open.url}/api/import/history`)).json()) as { total: number }).total;

  it("refuses a cross-site multipart import and stores nothing", async () => {
    const before = await history();
    const form = new FormData();
    form.append("file", new Blob(['{"x":1}\n']), "a.jsonl");
    const res = await fetch(`${open.url}/api/import`, {
      method: "POST",
      headers: { origin: "http://evil.example" },
      body: form,
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { message: string }).message).toContain("CORS_ORIGINS");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(await history()).toBe(before);
    const rpc = await fetch(`${open.url}/labelport.v1.DatasetService/ListDatasets`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example" },
      body: "{}",
    });
    expect(rpc.status).toBe(403);
  });

  it("refuses a foreign Host name (DNS rebinding) and says how to allow one", async () => {
    const exchange = raw(
      open.url,
      "GET /api/import/history HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    const response = await exchange.received;
    expect(statusOf(response)).toBe(403);
    expect(response).toContain("PUBLIC_URL");
  });

  it("serves loopback names, same-origin and no Origin, without CORS headers", async () => {
    const port = portOf(open.url);
    for (const headers of [
      {},
      { origin: open.url },
      { origin: `http://localhost:${port}`, host: `localhost:${port}` },
    ]) {
      const exchange = raw(
        open.url,
        `GET /api/import/history HTTP/1.1\r\nHost: ${headers.host ?? `127.0.0.1:${port}`}\r\n` +
          `${headers.origin ? `Origin: ${headers.origin}\r\n` : ""}Connection: close\r\n\r\n`,
      );
      const response = await exchange.received;
      expect(statusOf(response), JSON.stringify(headers)).toBe(200);
      expect(response.toLowerCase()).not.toContain("access-control-allow-origin");
    }
  });

  it("answers CORS only for the origins CORS_ORIGINS lists, preflight included", async () => {
    const preflight = await fetch(`${open.url}/labelport.v1.DatasetService/ListDatasets`, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,x-api-key",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(preflight.headers.get("access-control-allow-headers")).toMatch(/X-API-Key/i);
    const call = await fetch(`${open.url}/labelport.v1.DatasetService/ListDatasets`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: ALLOWED_ORIGIN },
      body: "{}",
    });
    expect(call.status).toBe(200);
    expect(call.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    const refused = await fetch(`${open.url}/labelport.v1.DatasetService/ListDatasets`, {
      method: "OPTIONS",
      headers: { origin: "http://evil.example", "access-control-request-method": "POST" },
    });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("connections", () => {
  let server: TestOrchestrator;
  beforeAll(async () => {
    server = await startTestOrchestrator({
      HTTP_HEADERS_TIMEOUT_MS: "500",
      HTTP_REQUEST_TIMEOUT_MS: "1000",
      HTTP_KEEP_ALIVE_TIMEOUT_MS: "500",
      HTTP_IDLE_TIMEOUT_MS: "500",
      HTTP2_MAX_CONCURRENT_STREAMS: "4",
    });
  });
  afterAll(() => server?.close());

  /** Resolves when the server has closed the connection (the test times out if it never does). */
  const closedByServer = (exchange: RawExchange) => exchange.received;

  it("closes a connection that sends nothing, slow headers, a slow body and an idle keep-alive", async () => {
    const silent = raw(server.url, Buffer.alloc(0));
    const slowHeaders = raw(server.url, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const slowBody = raw(
      server.url,
      "POST /api/import HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000\r\n\r\n--b",
    );
    const keepAlive = raw(server.url, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const [, headersAnswer, , keptAnswer] = await Promise.all([
      closedByServer(silent),
      closedByServer(slowHeaders),
      closedByServer(slowBody),
      closedByServer(keepAlive),
    ]);
    expect(headersAnswer === "" || statusOf(headersAnswer) === 408).toBe(true);
    expect(statusOf(keptAnswer)).toBe(200);
  });

  it("closes a refused request's connection soon even when its sender trickles the body", async () => {
    // Auth on, default timeouts: without the discard window this socket would stay for the 5-minute
    // request timeout after its 401.
    const trickle = raw(
      keyed.url,
      "POST /api/v1/developer/exports HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
    );
    const timer = setInterval(() => trickle.socket.write("x"), 1000);
    try {
      expect(statusOf(await closedByServer(trickle))).toBe(401);
    } finally {
      clearInterval(timer);
    }
  }, 30_000);

  it("closes an idle HTTP/2 connection and one whose request body never finishes", async () => {
    const idle = http2.connect(server.url);
    idle.on("error", () => undefined);
    await new Promise<void>((resolve) => idle.once("close", () => resolve()));
    const session = http2.connect(server.url);
    session.on("error", () => undefined);
    const stream = session.request({
      ":method": "POST",
      ":path": "/api/import",
      "content-type": "multipart/form-data; boundary=b",
    });
    stream.on("error", () => undefined);
    stream.write('--b\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nnever ends');
    await new Promise<void>((resolve) => stream.once("close", () => resolve()));
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
    session.close();
  });

  it("caps concurrent HTTP/2 streams", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => undefined);
    const settings = await new Promise<http2.Settings>((resolve) => session.once("remoteSettings", resolve));
    expect(settings.maxConcurrentStreams).toBe(4);
    session.close();
  });

  it("keeps a quiet stream that is being read open past every timeout", async () => {
    const exportId = randomUUID();
    await server.database.db.collection<ExportDoc>("exports").insertOne(
      queuedExportDoc(
        {
          _id: exportId,
          name: "quiet",
          description: "",
          datasetId: "none",
          datasetName: "none",
          format: "jsonl",
          filter: {},
          storage: "local",
          path: `exports/${exportId}`,
          saveOriginalFile: false,
          options: {},
          pluginName: "",
          pluginVersion: "",
          createdBy: "test",
        },
        new Date(),
      ),
    );
    for (const version of ["1.1", "2"] as const) {
      const client = createClient(ExportService, createConnectTransport({ baseUrl: server.url, httpVersion: version }));
      const abort = new AbortController();
      const stream = client.watchExport({ exportId }, { signal: abort.signal })[Symbol.asyncIterator]();
      expect((await stream.next()).value?.export?.status).toBeDefined();
      // Several idle, keep-alive and request timeouts pass while the stream waits for a change.
      const next = stream.next();
      const outcome = await Promise.race([
        next.then(
          () => "message",
          (err: Error) => `error: ${err.message}`,
        ),
        new Promise((resolve) => setTimeout(() => resolve("still open"), 3_000)),
      ]);
      expect(outcome, `HTTP/${version}`).toBe("still open");
      abort.abort();
      await next.catch(() => undefined);
    }
  });
});

describe("connections per client", () => {
  let server: TestOrchestrator;
  beforeAll(async () => {
    server = await startTestOrchestrator({ HTTP_MAX_CONNECTIONS_PER_CLIENT: "4", HTTP_HEADERS_TIMEOUT_MS: "120000" });
  });
  afterAll(() => server?.close());

  it("refuses connections over the cap and serves again once some close", async () => {
    const held = Array.from({ length: 4 }, () => raw(server.url, Buffer.alloc(0)));
    await Promise.all(held.map((h) => new Promise((resolve) => h.socket.once("connect", resolve))));
    const extra = raw(server.url, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect(await extra.received).toBe("");
    for (const h of held) h.socket.destroy();
    // The server notices the closed sockets asynchronously: poll until it serves again.
    for (;;) {
      const answer = await raw(server.url, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .received;
      if (statusOf(answer) === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});

describe("fuzz", () => {
  const PATHS = [
    "/api/import",
    "/api/import/preview",
    "/api/import/history?limit=x",
    "/v1/ground-truths/snapshot",
    "/api/export",
    "/api/export/stats",
    "/downloads/nope?expires=1&signature=x",
    "/assets/../../etc/passwd",
    "/",
    "/healthz",
    "/labelport.v1.DatasetService/CreateDataset",
    "/labelport.v1.ItemService/UpsertItems",
    "/labelport.v1.ImportService/Import",
    "/labelport.v1.ItemService/StreamItems",
    "/labelport.v1.ExportService/WatchExport",
    "/%zz",
  ];
  const CONTENT_TYPES = [
    "multipart/form-data; boundary=b",
    "multipart/form-data",
    "application/json",
    "application/proto",
    "application/connect+json",
    "application/grpc-web+proto",
    "application/grpc",
    "text/plain",
    "",
  ];

  it("survives random, truncated and malformed requests over HTTP/1.1 and HTTP/2", async () => {
    const random = seededRandom(13);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    const bodies = [
      () => bytes(Math.floor(random() * 4096)),
      () => Buffer.from('{"name": "x", "items": [{"id": '),
      () => multipart("b", '{"a":', false),
      () => multipart("b", bytes(512).toString("latin1"), true),
      () => Buffer.concat([Buffer.from([0, 0, 0, 0, 200]), bytes(100)]),
      () => Buffer.concat([Buffer.from([1, 0, 0, 1, 0]), bytes(256)]),
      () => gzipSync(Buffer.from('{"name":"fuzz"}')).subarray(0, 12),
    ];
    for (let i = 0; i < 160; i++) {
      const path = pick(PATHS);
      const body = pick(bodies)();
      const headers: Record<string, string> = {};
      const contentType = pick(CONTENT_TYPES);
      if (contentType) headers["Content-Type"] = contentType;
      if (random() < 0.3) headers["Content-Encoding"] = pick(["gzip", "br", "deflate", "bogus"]);
      if (random() < 0.2) headers["Connect-Content-Encoding"] = "gzip";
      if (random() < 0.1) headers["X-Huge"] = "h".repeat(pick([8 * 1024, 20 * 1024, 100 * 1024]));
      const truncated = random() < 0.3;
      if (truncated) headers["Content-Length"] = String(body.length + 1 + Math.floor(random() * 10_000));
      const method = pick(["POST", "POST", "GET", "PUT", "DELETE", "OPTIONS"]);
      const request = postRequest(open.url, path, headers, body).replace(/^POST/, method);
      const exchange = raw(open.url, request, { end: truncated });
      // A connection the server keeps open (a truncated stream it waits on) is dropped by us.
      const timer = setTimeout(() => exchange.socket.destroy(), 5_000);
      await exchange.received;
      clearTimeout(timer);
    }
    const session = http2.connect(open.url);
    session.on("error", () => undefined);
    for (let i = 0; i < 60; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": pick(PATHS),
        "content-type": pick(CONTENT_TYPES) || "application/grpc",
        ...(random() < 0.3 ? { "grpc-encoding": "gzip" } : {}),
      });
      stream.on("error", () => undefined);
      stream.resume();
      const done = new Promise((resolve) => stream.once("close", resolve));
      stream.write(pick(bodies)());
      if (random() < 0.5) stream.end();
      else stream.close(http2.constants.NGHTTP2_CANCEL);
      const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), 5_000);
      await done;
      clearTimeout(timer);
    }
    session.close();
    await expectAlive(open);
    await expectExportCompletes(open);
  }, 240_000);
});
