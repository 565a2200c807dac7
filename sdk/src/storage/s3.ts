// A StorageDriver over S3 or an S3-compatible server (AWS SDK v3). Bodies stream through a
// multipart Upload and are hashed on the way, so a put never buffers or re-reads the whole object.

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { _Error, _Object, ListObjectsV2CommandOutput, S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { createBodyMeter, toReadable, validateRange } from "./body.ts";
import type { ObjectInfo, PutResult, StorageBody, StorageDriver } from "./driver.ts";
import { InvalidStorageKeyError, isStorageError, StorageError, StorageNotFoundError } from "./errors.ts";
import { joinKey, validatePrefix } from "./keys.ts";

export interface S3StorageOptions {
  bucket: string;
  region: string;
  /** For S3-compatible servers (MinIO, versitygw, R2, ...); AWS when absent. */
  endpoint?: string;
  /** Path-style URLs (http://host/bucket/key), which most S3-compatible servers need. */
  forcePathStyle?: boolean;
  /** Static credentials; without them the AWS default chain (environment, profile, IMDS, ...) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Key prefix inside the bucket, so several stores can share one; keys in and out are relative to it. */
  prefix?: string;
}

/** SigV4 presigned URLs live at most 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/**
 * The AWS SDK, imported on first use: it costs a plugin process ~13 MB and start-up time, and most
 * run on local storage.
 */
async function loadAws() {
  const [s3, storage, presigner] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("@aws-sdk/lib-storage"),
    import("@aws-sdk/s3-request-presigner"),
  ]);
  return { ...s3, Upload: storage.Upload, getSignedUrl: presigner.getSignedUrl };
}
type Aws = Awaited<ReturnType<typeof loadAws>>;
let awsLoading: Promise<Aws> | undefined;

/** DeleteObjects takes at most 1000 keys, which is also ListObjectsV2's largest page. */
const PAGE_SIZE = 1000;

export function createS3Storage(options: S3StorageOptions): StorageDriver {
  const { bucket } = options;
  const base = options.prefix?.replace(/\/$/, "") ?? "";
  if (base !== "") validatePrefix(base);
  let client: S3Client | undefined;

  // Lazily, so constructing a driver (at config load, in tests) loads and opens nothing and needs
  // no credentials.
  async function s3(): Promise<{ client: S3Client; aws: Aws }> {
    awsLoading ??= loadAws().catch((err: unknown) => {
      awsLoading = undefined;
      throw err;
    });
    const sdk = await awsLoading;
    if (!client) {
      const config: S3ClientConfig = { region: options.region };
      if (options.endpoint !== undefined) config.endpoint = options.endpoint;
      if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
      if (options.credentials !== undefined) config.credentials = options.credentials;
      client = new sdk.S3Client(config);
    }
    return { client, aws: sdk };
  }

  function objectKey(key: string): string {
    return joinKey(base, key);
  }

  function listPrefix(prefix: string): string {
    validatePrefix(prefix);
    return base === "" ? prefix : `${base}/${prefix}`;
  }

  function relative(objectKey: string): string {
    return base === "" ? objectKey : objectKey.slice(base.length + 1);
  }

  function fail(op: string, key: string, err: unknown): Error {
    if (isStorageError(err)) return err;
    if (errorName(err) === "NoSuchBucket") {
      return new StorageError(`s3 bucket ${JSON.stringify(bucket)} does not exist`, { key, cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new StorageError(`s3 ${op} of ${JSON.stringify(key)} failed: ${message}`, { key, cause: err });
  }

  async function put(
    key: string,
    body: StorageBody,
    putOptions: { contentType?: string; signal?: AbortSignal } = {},
  ): Promise<PutResult> {
    const Key = objectKey(key);
    const { signal, contentType } = putOptions;
    signal?.throwIfAborted();
    const source = toReadable(body);
    const meter = createBodyMeter();
    // A failing body or an abort destroys meter.stream, which fails the Upload reading from it: one
    // error path, and Upload aborts a started multipart upload before done() settles. Aborting
    // Upload directly would settle done() while a part or PutObject is still in flight.
    const { client, aws } = await s3();
    pipeline(source, meter.stream, signal ? { signal } : {}).catch(() => undefined);
    const upload = new aws.Upload({
      client,
      params: {
        Bucket: bucket,
        Key,
        Body: meter.stream,
        ...(contentType === undefined ? {} : { ContentType: contentType }),
      },
    });
    try {
      await upload.done();
    } catch (err) {
      meter.stream.destroy();
      if (signal?.aborted) throw signal.reason;
      throw fail("put", key, err);
    }
    return { key, ...meter.result() };
  }

  async function get(key: string, range: { start?: number; end?: number } = {}): Promise<Readable> {
    const Key = objectKey(key);
    validateRange(range);
    const ranged = range.start !== undefined || range.end !== undefined;
    const Range = ranged ? `bytes=${range.start ?? 0}-${range.end ?? ""}` : undefined;
    try {
      const { client, aws } = await s3();
      const res = await client.send(new aws.GetObjectCommand({ Bucket: bucket, Key, ...(Range ? { Range } : {}) }));
      if (!(res.Body instanceof Readable))
        throw new StorageError(`s3 get of ${JSON.stringify(key)} returned no stream`, { key });
      return res.Body;
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(key, { cause: err });
      // 416: the range starts at or after the end of an object that exists.
      if (ranged && (errorName(err) === "InvalidRange" || statusOf(err) === 416)) return Readable.from([]);
      throw fail("get", key, err);
    }
  }

  async function head(key: string): Promise<ObjectInfo | null> {
    const Key = objectKey(key);
    try {
      const { client, aws } = await s3();
      const res = await client.send(new aws.HeadObjectCommand({ Bucket: bucket, Key }));
      return { key, size: res.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw fail("head", key, err);
    }
  }

  async function* pages(prefix: string): AsyncGenerator<_Object[]> {
    const Prefix = listPrefix(prefix);
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        const { client, aws } = await s3();
        page = await client.send(
          new aws.ListObjectsV2Command({
            Bucket: bucket,
            Prefix,
            MaxKeys: PAGE_SIZE,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (err) {
        throw fail("list", prefix, err);
      }
      yield page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async function* list(prefix: string): AsyncGenerator<ObjectInfo> {
    for await (const page of pages(prefix)) {
      for (const object of page) {
        if (object.Key !== undefined) yield { key: relative(object.Key), size: object.Size ?? 0 };
      }
    }
  }

  return {
    kind: "s3",
    capabilities: { presign: true },
    put,
    get,
    head,
    list,
    async delete(key: string) {
      const Key = objectKey(key);
      try {
        const { client, aws } = await s3();
        await client.send(new aws.DeleteObjectCommand({ Bucket: bucket, Key }));
      } catch (err) {
        if (isNotFound(err)) return;
        throw fail("delete", key, err);
      }
    },
    async deletePrefix(prefix: string) {
      if (prefix === "") throw new InvalidStorageKeyError(prefix, "empty prefix (would delete everything)");
      let count = 0;
      for await (const page of pages(prefix)) {
        const keys = page.flatMap((object) => (object.Key === undefined ? [] : [{ Key: object.Key }]));
        if (keys.length === 0) continue;
        let errors: _Error[];
        try {
          const { client, aws } = await s3();
          const res = await client.send(
            new aws.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }),
          );
          errors = res.Errors ?? [];
        } catch (err) {
          throw fail("deletePrefix", prefix, err);
        }
        const [first] = errors;
        if (first) {
          throw new StorageError(
            `s3 could not delete ${errors.length} of ${keys.length} objects under ${JSON.stringify(prefix)}; ` +
              `first: ${first.Key ?? "?"}: ${first.Code ?? "?"} ${first.Message ?? ""}`.trim(),
            { key: prefix },
          );
        }
        count += keys.length;
      }
      return count;
    },
    async presignGet(key: string, presign: { expiresInSeconds: number; fileName?: string }) {
      const Key = objectKey(key);
      const { expiresInSeconds, fileName } = presign;
      if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS) {
        throw new RangeError(
          `expiresInSeconds must be an integer from 1 to ${MAX_PRESIGN_SECONDS}, got ${expiresInSeconds}`,
        );
      }
      const { client, aws } = await s3();
      const command = new aws.GetObjectCommand({
        Bucket: bucket,
        Key,
        ...(fileName === undefined ? {} : { ResponseContentDisposition: attachmentDisposition(fileName) }),
      });
      return aws.getSignedUrl(client, command, { expiresIn: expiresInSeconds });
    },
    async dispose() {
      client?.destroy();
      client = undefined;
    },
  };
}

/**
 * `Content-Disposition: attachment` for a download name (RFC 6266): a quoted ASCII fallback, plus
 * `filename*` (RFC 8187, UTF-8) when the name has anything the fallback cannot carry.
 */
export function attachmentDisposition(fileName: string): string {
  const wellFormed = fileName.replace(/\p{Surrogate}/gu, "\ufffd");
  const fallback = wellFormed.replace(/[^\x20-\x7e]|["\\]/g, "_");
  if (fallback === fileName) return `attachment; filename="${fallback}"`;
  const encoded = encodeURIComponent(wellFormed).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

function errorName(err: unknown): string | undefined {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === "string" ? name : undefined;
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === "NoSuchKey" || name === "NotFound" || (name !== "NoSuchBucket" && statusOf(err) === 404);
}
