// ImportService over gRPC (HTTP/2) and Connect: the same pipeline as POST /api/import.

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  DuplicateIds,
  ImportRequestSchema,
  ImportStartSchema,
  ImportStatus,
  ItemStatus,
  PreviewImportRequestSchema,
} from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DataClients, dataClients, jsonl, videoAnnotation } from "../services/orchestrator/src/data/testing.ts";
import { startTestOrchestrator, type TestOrchestrator } from "./support/orchestrator.ts";

let orchestrator: TestOrchestrator;
let grpc: DataClients;
let connect: DataClients;

async function* messages(start: MessageInitShape<typeof ImportStartSchema>, content: string | Buffer, chunk = 1000) {
  yield create(ImportRequestSchema, { part: { case: "start", value: create(ImportStartSchema, start) } });
  const bytes = Buffer.from(content);
  for (let i = 0; i < bytes.length; i += chunk) {
    yield create(ImportRequestSchema, { part: { case: "chunk", value: bytes.subarray(i, i + chunk) } });
  }
}

async function* previewMessages(start: MessageInitShape<typeof ImportStartSchema>, content: string) {
  for await (const m of messages(start, content)) yield create(PreviewImportRequestSchema, { part: m.part });
}

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected a failure");
}

beforeAll(async () => {
  orchestrator = await startTestOrchestrator();
  grpc = dataClients(orchestrator.url, "grpc");
  connect = dataClients(orchestrator.url);
  await connect.datasets.createDataset({ name: "g" });
  await connect.items.upsertItems({
    datasetId: "g",
    items: [{ id: "abc123def456", kind: 2, status: ItemStatus.APPROVED }],
  });
  await orchestrator.database.db
    .collection("personas")
    .insertOne({ _id: "660e8400-e29b-41d4-a716-446655440001" as never, name: "A", placeholder: false });
});
afterAll(() => orchestrator?.close());

describe("ImportService", () => {
  it("imports from a client stream over gRPC and records history", async () => {
    const content = jsonl([videoAnnotation({ id: "g-1" }), videoAnnotation({ id: "g-2", frames: [50] })]);
    const res = await grpc.imports.import(messages({ datasetId: "g", fileName: "g.jsonl" }, content, 7));
    expect(res.success).toBe(true);
    expect(res.summary?.importedItems?.annotations).toBe(2n);
    expect(res.warnings.map((w) => [w.line, w.type])).toEqual([[2, "single_keyframe"]]);
    const { import: record } = await grpc.imports.getImport({ importId: res.importId });
    expect(record).toMatchObject({
      fileName: "g.jsonl",
      fileSize: BigInt(Buffer.byteLength(content)),
      status: ImportStatus.COMPLETED,
      success: true,
      itemsImported: 2n,
      actor: "anonymous",
    });
    expect(record?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(record?.warnings).toHaveLength(1);
    const listed = await grpc.imports.listImports({ limit: 10 });
    expect(listed.total).toBe(1n);
    expect(listed.imports[0]?.warnings).toEqual([]);
  });

  it("previews over Connect with options", async () => {
    const res = await connect.imports.previewImport(
      previewMessages(
        { datasetId: "g", options: { duplicateIds: DuplicateIds.OVERWRITE } },
        jsonl([videoAnnotation({ id: "g-1", frames: [300, 310] })]),
      ),
    );
    expect(res.counts?.annotations).toBe(1n);
    expect(res.conflicts.map((c) => c.type)).toEqual(["duplicate_id"]);
    expect((await grpc.imports.listImports({})).total).toBe(1n);
  });

  it("maps failures to codes", async () => {
    const parse = await failure(grpc.imports.import(messages({ datasetId: "g" }, '{"id": nope}\n')));
    expect(parse.code).toBe(Code.InvalidArgument);
    expect(parse.rawMessage).toMatch(/^Invalid JSON on line 1: /);
    const order = await failure(
      grpc.imports.import(
        (async function* () {
          yield { part: { case: "chunk" as const, value: new Uint8Array([1]) } };
        })(),
      ),
    );
    expect(order.code).toBe(Code.InvalidArgument);
    const missing = await failure(grpc.imports.import(messages({ datasetId: "nope" }, "{}\n")));
    expect(missing.code).toBe(Code.NotFound);
    const big = await failure(
      grpc.imports.import(messages({ datasetId: "g" }, Buffer.alloc(100 * 1024 * 1024 + 1, 32), 1024 * 1024)),
    );
    expect(big.code).toBe(Code.ResourceExhausted);
    expect(big.rawMessage).toBe("File exceeds the 100 MB import limit");
    const limit = await failure(grpc.imports.listImports({ limit: 101 }));
    expect(limit.code).toBe(Code.InvalidArgument);
    expect(limit.rawMessage).toContain("limit");
    const { imports } = await grpc.imports.listImports({ limit: 100 });
    expect(imports.filter((i) => !i.success)).toHaveLength(4);
  }, 120_000);
});
