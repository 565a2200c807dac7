// Stock gRPC tools work without the .proto files: server reflection (grpcurl list, describe and
// calls; v1 and v1alpha), grpc.health.v1.Health (grpc-health-probe, Check, List, Watch turning
// NOT_SERVING when NATS stops), both readable without an API key, and UNIMPLEMENTED in the
// caller's protocol for an RPC nobody serves. The tools are built from pinned Go modules.
import { execFile } from "node:child_process";
import http2 from "node:http2";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { healthV1, reflectionV1alpha } from "@labelport/sdk/grpc-contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureGoTool } from "../scripts/stack/binaries.ts";
import { DATA_DIR } from "../scripts/stack/index.ts";
import { type RunningServer, startNats } from "../scripts/stack/servers.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

const API_KEY = "grpc-tools-editor-key";
const { Health, HealthCheckResponse_ServingStatus: ServingStatus } = healthV1;

let nats: RunningServer;
let orchestrator: TestOrchestrator;
let address: string;
let grpcurl: string;
let healthProbe: string;

beforeAll(async () => {
  [grpcurl, healthProbe] = await Promise.all([
    ensureGoTool(DATA_DIR, "grpcurl"),
    ensureGoTool(DATA_DIR, "grpc-health-probe"),
  ]);
  // A NATS of its own: the last test stops it.
  nats = await startNats({ dir: join(DATA_DIR, "test-runs", `grpc-tools-${process.pid}`), dataDir: DATA_DIR });
  orchestrator = await startTestOrchestrator({ NATS_URL: nats.url, API_KEYS: `tools:editor:${API_KEY}` });
  address = new URL(orchestrator.url).host;
}, 600_000);
afterAll(async () => {
  await orchestrator?.close();
  await nats?.stop();
});

interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function tool(bin: string, args: string[]): Promise<ToolResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(bin, args, { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

const grpcTransport = () => createGrpcTransport({ baseUrl: orchestrator.url });

describe("server reflection", () => {
  it("grpcurl lists every service without proto files or an API key", async () => {
    const listed = await tool(grpcurl, ["-plaintext", address, "list"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trim().split("\n").sort()).toEqual([
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "labelport.v1.AuthService",
      "labelport.v1.DatasetService",
      "labelport.v1.ExportService",
      "labelport.v1.ImportService",
      "labelport.v1.ItemService",
      "labelport.v1.VersionService",
    ]);
  });

  it("grpcurl describes a service and a message that imports google/protobuf types", async () => {
    const service = await tool(grpcurl, ["-plaintext", address, "describe", "labelport.v1.ExportService"]);
    expect(service.code, service.stderr).toBe(0);
    expect(service.stdout).toContain("service ExportService {");
    expect(service.stdout).toMatch(/rpc ListFormats \( \.labelport\.v1\.ListFormatsRequest \)/);
    expect(service.stdout).toMatch(/rpc WatchExport \( .* \) returns \( stream /);

    const message = await tool(grpcurl, ["-plaintext", address, "describe", "labelport.v1.Export"]);
    expect(message.code, message.stderr).toBe(0);
    expect(message.stdout).toContain(".google.protobuf.Timestamp");
  });

  it("grpcurl calls RPCs with only reflection to encode them, and the API key still applies", async () => {
    const key = ["-H", `x-api-key: ${API_KEY}`];
    const request = JSON.stringify({ name: "made-by-grpcurl", categories: [{ name: "cat" }] });
    const created = await tool(grpcurl, [
      "-plaintext",
      ...key,
      "-d",
      request,
      address,
      "labelport.v1.DatasetService/CreateDataset",
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({
      dataset: { name: "made-by-grpcurl", categories: [{ name: "cat" }] },
    });

    const formats = await tool(grpcurl, ["-plaintext", ...key, address, "labelport.v1.ExportService/ListFormats"]);
    expect(formats.code, formats.stderr).toBe(0);

    const anonymous = await tool(grpcurl, ["-plaintext", address, "labelport.v1.ExportService/ListFormats"]);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/Code: Unauthenticated/);
  });

  it("answers the v1alpha protocol that older tools speak", async () => {
    const client = createClient(reflectionV1alpha.ServerReflection, grpcTransport());
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "labelport.v1.ExportService" } };
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "labelport.v1.NoSuchThing" } };
    }
    const answers = [];
    for await (const answer of client.serverReflectionInfo(requests())) answers.push(answer.messageResponse);
    expect(answers[0]).toMatchObject({ case: "listServicesResponse" });
    expect(answers[1]).toMatchObject({ case: "fileDescriptorResponse" });
    expect(answers[2]).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound } });
  });
});

describe("UNIMPLEMENTED for an RPC nobody serves", () => {
  function grpcCall(path: string): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(orchestrator.url);
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
      });
      let headers: Record<string, unknown> = {};
      stream.on("response", (h) => {
        headers = h;
      });
      stream.on("trailers", (trailers) => {
        headers = { ...headers, ...trailers };
      });
      stream.on("error", reject);
      stream.on("close", () => {
        session.close();
        resolve(headers);
      });
      stream.resume();
      stream.end(Buffer.alloc(5)); // one empty message
    });
  }

  it("answers gRPC with grpc-status 12 and says what is missing", async () => {
    const method = await grpcCall("/labelport.v1.ExportService/NoSuchMethod");
    expect(method).toMatchObject({ ":status": 200, "grpc-status": "12" });
    expect(decodeURIComponent(String(method["grpc-message"]))).toBe(
      "labelport.v1.ExportService has no method NoSuchMethod",
    );

    const service = await grpcCall("/acme.v1.Nothing/Call");
    expect(service).toMatchObject({ ":status": 200, "grpc-status": "12" });
    expect(decodeURIComponent(String(service["grpc-message"]))).toMatch(/acme\.v1\.Nothing is not served here.*list/);
  });

  it("answers gRPC-Web with grpc-status 12 in the headers", async () => {
    const res = await fetch(`${orchestrator.url}/acme.v1.Nothing/Call`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: new Uint8Array(5),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("grpc-status")).toBe("12");
  });

  it("answers Connect unary with 404 and code unimplemented", async () => {
    for (const contentType of ["application/json", "application/proto"]) {
      const res = await fetch(`${orchestrator.url}/labelport.v1.ExportService/NoSuchMethod`, {
        method: "POST",
        headers: { "content-type": contentType },
        body: "{}",
      });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({
        code: "unimplemented",
        message: "labelport.v1.ExportService has no method NoSuchMethod",
      });
    }
    const get = await fetch(
      `${orchestrator.url}/labelport.v1.ExportService/NoSuchMethod?connect=v1&encoding=json&message=%7B%7D`,
    );
    expect(get.status).toBe(404);
    expect(await get.json()).toMatchObject({ code: "unimplemented" });
  });

  it("answers a Connect stream with an end-stream message carrying unimplemented", async () => {
    const res = await fetch(`${orchestrator.url}/acme.v1.Nothing/Watch`, {
      method: "POST",
      headers: { "content-type": "application/connect+json" },
      body: new Uint8Array(5),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body[0]).toBe(2); // the end-stream flag
    expect(JSON.parse(body.subarray(5).toString())).toMatchObject({ error: { code: "unimplemented" } });
  });

  it("leaves other unknown paths to REST", async () => {
    const res = await fetch(`${orchestrator.url}/no/such/page`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "Not Found" });
  });
});

describe("grpc.health.v1.Health", () => {
  it("grpc-health-probe sees SERVING for the server and for each service, and refuses an unknown one", async () => {
    for (const service of ["", "labelport.v1.ExportService", "labelport.v1.ImportService"]) {
      const probe = await tool(healthProbe, [`-addr=${address}`, `-service=${service}`]);
      expect(probe.code, `${service}: ${probe.stderr}`).toBe(0);
      expect(probe.stdout + probe.stderr).toContain("SERVING");
    }
    const unknown = await tool(healthProbe, [`-addr=${address}`, "-service=acme.v1.Nothing"]);
    expect(unknown.code).not.toBe(0);
  });

  it("Check and List report every Labelport service", async () => {
    const client = createClient(Health, grpcTransport());
    expect((await client.check({ service: "labelport.v1.DatasetService" })).status).toBe(ServingStatus.SERVING);
    const listed = await client.list({});
    expect(Object.keys(listed.statuses).sort()).toEqual([
      "",
      "labelport.v1.AuthService",
      "labelport.v1.DatasetService",
      "labelport.v1.ExportService",
      "labelport.v1.ImportService",
      "labelport.v1.ItemService",
      "labelport.v1.VersionService",
    ]);
    const unknown = await client.check({ service: "acme.v1.Nothing" }).catch((err) => ConnectError.from(err));
    expect(unknown).toMatchObject({ code: Code.NotFound });
  });

  it("Watch streams NOT_SERVING once NATS is gone, and the probe fails", async () => {
    const client = createClient(Health, grpcTransport());
    const watching = new AbortController();
    const statuses = client.watch({ service: "labelport.v1.ExportService" }, { signal: watching.signal });
    const seen: number[] = [];
    for await (const { status } of statuses) {
      seen.push(status);
      if (status === ServingStatus.SERVING) await nats.stop();
      if (status === ServingStatus.NOT_SERVING) break;
    }
    watching.abort();
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);

    const probe = await tool(healthProbe, [`-addr=${address}`]);
    expect(probe.code).not.toBe(0);
    expect(probe.stdout + probe.stderr).toContain("NOT_SERVING");
  }, 120_000);
});
