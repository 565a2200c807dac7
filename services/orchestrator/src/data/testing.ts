// Test helpers for the data area (used by data/*.test.ts and test/data-*.test.ts): Connect
// clients, video annotation fixtures, multipart uploads, and a fingerprint of a database.
import { createHash } from "node:crypto";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { DatasetService, ImportService, ItemService } from "@labelport/sdk/contracts";
import type { Db } from "mongodb";
import { Collections } from "./model.ts";

export interface DataClients {
  datasets: Client<typeof DatasetService>;
  items: Client<typeof ItemService>;
  imports: Client<typeof ImportService>;
}

export function dataClients(baseUrl: string, protocol: "connect" | "connect-json" | "grpc" = "connect"): DataClients {
  const transport =
    protocol === "grpc"
      ? createGrpcTransport({ baseUrl })
      : createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: protocol === "connect" });
  return {
    datasets: createClient(DatasetService, transport),
    items: createClient(ItemService, transport),
    imports: createClient(ImportService, transport),
  };
}

export interface TrackBox {
  frameNumber: number;
  x: number;
  y: number;
  width: number;
  height: number;
  isKeyframe: boolean;
  visible: boolean;
}

export function box(frameNumber: number, isKeyframe = true, x = 100): TrackBox {
  return { frameNumber, x, y: 100, width: 200, height: 150, isKeyframe, visible: true };
}

/** A video annotation line (as an object); frames are keyframes unless given as boxes. */
export function videoAnnotation(
  overrides: Record<string, unknown> & { frames?: number[] } = {},
): Record<string, unknown> {
  const { frames, ...rest } = overrides;
  return {
    id: "550e8400-e29b-41d4-a716-446655440000",
    videoId: "abc123def456",
    personaId: "660e8400-e29b-41d4-a716-446655440001",
    annotationType: "type",
    typeAssignment: { typeId: "entity-001", typeName: "Pitcher" },
    boundingBoxSequence: {
      interpolationMode: "linear",
      boxes: (frames ?? [0, 10]).map((f) => box(f)),
    },
    createdAt: "2025-10-06T14:30:00.000Z",
    updatedAt: "2025-10-06T14:30:00.000Z",
    ...rest,
  };
}

export const jsonl = (lines: ReadonlyArray<unknown>): string => `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`;

export interface UploadResult {
  status: number;
  body: Record<string, unknown> & {
    error?: string;
    message?: string;
  };
}

/** POSTs a multipart upload like curl -F does. */
export async function upload(
  url: string,
  file: string | Buffer | undefined,
  fields: Record<string, string> = {},
  fileName = "annotations.jsonl",
): Promise<UploadResult> {
  const form = new FormData();
  if (file !== undefined)
    form.append("file", new Blob([typeof file === "string" ? file : new Uint8Array(file)]), fileName);
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  const res = await fetch(url, { method: "POST", body: form });
  return { status: res.status, body: (await res.json()) as UploadResult["body"] };
}

/** What the service keeps about writes, not what they wrote: an undone import moves them on. */
const NOT_DATA = new Set<string>([Collections.annotationWrites, Collections.trackTotals]);

/** Counts and a sha256 of every document of every collection but NOT_DATA, in _id order. */
export async function fingerprint(db: Db): Promise<{ counts: Record<string, number>; sha256: string }> {
  const hash = createHash("sha256");
  const counts: Record<string, number> = {};
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  for (const name of names) {
    if (name.startsWith("system.") || NOT_DATA.has(name)) continue;
    let n = 0;
    hash.update(`\u0000${name}\u0000`);
    for await (const doc of db.collection(name).find({}).sort({ _id: 1 })) {
      hash.update(JSON.stringify(doc));
      n++;
    }
    counts[name] = n;
  }
  return { counts, sha256: hash.digest("hex") };
}
