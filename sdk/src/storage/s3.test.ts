// The S3 driver against a real S3 API: versitygw over a temp directory, started for this file.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, ListMultipartUploadsCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATA_DIR } from "../../../scripts/stack/index.ts";
import { type RunningS3, startS3 } from "../../../scripts/stack/servers.ts";
import { testStorageDriver } from "../testing/storage-driver-suite.ts";
import { isStorageError } from "./errors.ts";
import { attachmentDisposition, createS3Storage, type S3StorageOptions } from "./s3.ts";

const BUCKET = "labelport-test";
let dir: string;
let server: RunningS3;
let admin: S3Client;

function options(extra: Partial<S3StorageOptions> = {}): S3StorageOptions {
  return {
    bucket: BUCKET,
    region: server.region,
    endpoint: server.url,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    ...extra,
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "labelport-s3-"));
  server = await startS3({ dir, dataDir: DATA_DIR });
  admin = new S3Client(options());
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
}, 300_000);

afterAll(async () => {
  admin?.destroy();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

testStorageDriver("s3 (versitygw)", async () => createS3Storage(options()));
testStorageDriver("s3 (versitygw) under a bucket prefix", async () => createS3Storage(options({ prefix: "tenant-a" })));

describe("s3 storage specifics", () => {
  it("leaves no multipart upload behind after the contract suite's aborts", async () => {
    const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    expect(uploads.Uploads ?? []).toEqual([]);
  });

  it("keeps a bucket prefix out of the keys it returns, and in the bucket", async () => {
    const storage = createS3Storage(options({ prefix: "tenant-b/" }));
    await storage.put("p/x.txt", "x");
    const keys: string[] = [];
    for await (const o of storage.list("p/")) keys.push(o.key);
    expect(keys).toEqual(["p/x.txt"]);
    expect(await createS3Storage(options()).head("tenant-b/p/x.txt")).toEqual({ key: "tenant-b/p/x.txt", size: 1 });
    expect(await storage.deletePrefix("p/")).toBe(1);
    await storage.dispose();
  });

  it("reports a missing bucket as a StorageError, not as a missing object", async () => {
    const storage = createS3Storage(options({ bucket: "no-such-bucket" }));
    const err = await storage.get("a").catch((e: unknown) => e);
    expect(isStorageError(err)).toBe(true);
    expect((err as Error).name).toBe("StorageError");
    await storage.dispose();
  });

  it("connects lazily: a driver for an unreachable endpoint is built without error", async () => {
    const storage = createS3Storage(options({ endpoint: "http://127.0.0.1:9" }));
    expect(storage.kind).toBe("s3");
    await storage.dispose();
  });
});

describe("attachmentDisposition", () => {
  it.each([
    ["report.json", 'attachment; filename="report.json"'],
    ["résumé.pdf", `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`],
    ['a "quoted" \\name', `attachment; filename="a _quoted_ _name"; filename*=UTF-8''a%20%22quoted%22%20%5Cname`],
    ["it's (1)*.txt", `attachment; filename="it's (1)*.txt"`],
    ["日本.txt", `attachment; filename="__.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt`],
  ])("%s", (name, expected) => {
    expect(attachmentDisposition(name)).toBe(expected);
  });
});
