// One port, every caller: gRPC over HTTP/2 (grpc-js), Connect JSON over HTTP/1.1 (fetch), gRPC-Web.
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ExportService } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

let orchestrator: TestOrchestrator;
beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
});
afterAll(() => orchestrator?.close());

describe("transport", () => {
  it("answers a plain gRPC client (grpc-js) over HTTP/2", async () => {
    const definition = protoLoader.loadSync("labelport/v1/export_service.proto", {
      includeDirs: [join(import.meta.dirname, "..", "proto")],
      defaults: true,
    });
    const proto = grpc.loadPackageDefinition(definition) as unknown as {
      labelport: { v1: { ExportService: grpc.ServiceClientConstructor } };
    };
    type Unary = (req: object, cb: (err: grpc.ServiceError | null, value: { plugins: unknown[] }) => void) => void;
    const client = new proto.labelport.v1.ExportService(
      orchestrator.url.replace("http://", ""),
      grpc.credentials.createInsecure(),
    );
    try {
      const response = await new Promise<{ plugins: unknown[] }>((resolve, reject) =>
        (client.ListFormats as Unary).call(client, {}, (err, value) => (err ? reject(err) : resolve(value))),
      );
      expect(response.plugins).toEqual([]);
      // A method a service does not implement yet is a gRPC status, not a transport failure.
      const unknown = await new Promise<grpc.ServiceError>((resolve) =>
        client.makeUnaryRequest(
          "/labelport.v1.ExportService/NoSuchMethod",
          (x: Buffer) => x,
          (x: Buffer) => x,
          Buffer.alloc(0),
          (err) => resolve(err as grpc.ServiceError),
        ),
      );
      expect(unknown.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
    }
  });

  it("answers a Connect JSON call made with fetch (browser style, HTTP/1.1)", async () => {
    const res = await fetch(`${orchestrator.url}/labelport.v1.ExportService/ListFormats`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    const bad = await fetch(`${orchestrator.url}/labelport.v1.ExportService/GetExport`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"exportId": 42',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "invalid_argument" });
  });

  it("answers gRPC-Web", async () => {
    const client = createClient(
      ExportService,
      createGrpcWebTransport({ baseUrl: orchestrator.url, httpVersion: "1.1" }),
    );
    const response = await client.listFormats({});
    expect(response.plugins).toEqual([]);
  });

  it("serves REST routes and a JSON 404 on the same port", async () => {
    const health = await fetch(`${orchestrator.url}/healthz`);
    expect(health.status).toBe(200);
    const missing = await fetch(`${orchestrator.url}/no/such/route`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "Not Found" });
  });
});
