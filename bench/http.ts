// Plain node:http calls for the two REST measurements: a multipart POST /api/import streamed from
// disk (no client-side header timeout, however long the import takes) and the time to first byte
// of GET /api/export.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { request } from "node:http";
import { basename } from "node:path";
import { pipeline } from "node:stream/promises";

export interface ImportReply {
  status: number;
  body: Record<string, unknown>;
}

/** POST /api/import with `file` (from `path`) and the given form fields. */
export async function postImport(baseUrl: string, path: string, fields: Record<string, string>): Promise<ImportReply> {
  const boundary = `----labelport-bench-${Date.now().toString(16)}`;
  let head = "";
  for (const [name, value] of Object.entries(fields)) {
    head += `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  }
  head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${basename(path)}"\r\n`;
  head += `Content-Type: ${path.endsWith(".zip") ? "application/zip" : "application/x-ndjson"}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  const size = (await stat(path)).size;
  const url = new URL("/api/import", baseUrl);
  return new Promise<ImportReply>((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      headers: {
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(Buffer.byteLength(head) + size + Buffer.byteLength(tail)),
      },
    });
    req.on("response", (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        text += chunk;
      });
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: { message: text.slice(0, 500) } });
        }
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.write(head);
    pipeline(createReadStream(path), req, { end: false })
      .then(() => req.end(tail))
      .catch(reject);
  });
}

export interface TimedGet {
  status: number;
  /** Request sent to response headers. */
  headersMs: number;
  /** Request sent to the first byte of the body (undefined for an empty body). */
  firstByteMs: number | undefined;
  seconds: number;
  bytes: number;
}

/**
 * GET `path`, reading the whole body (or with `firstByteOnly`, leaving at its first byte) and
 * timing its first byte; bounded by `timeoutMs`.
 */
export function timedGet(
  baseUrl: string,
  path: string,
  timeoutMs: number,
  options: { firstByteOnly?: boolean } = {},
): Promise<TimedGet> {
  const url = new URL(path, baseUrl);
  return new Promise<TimedGet>((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { method: "GET" });
    const timer = setTimeout(() => req.destroy(new Error(`GET ${path} took longer than ${timeoutMs} ms`)), timeoutMs);
    req.on("response", (res) => {
      const headersMs = performance.now() - started;
      let firstByteMs: number | undefined;
      let bytes = 0;
      const done = () => {
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          headersMs,
          firstByteMs,
          seconds: (performance.now() - started) / 1000,
          bytes,
        });
      };
      res.on("data", (chunk: Buffer) => {
        firstByteMs ??= performance.now() - started;
        bytes += chunk.length;
        if (options.firstByteOnly) {
          done();
          req.destroy();
        }
      });
      res.on("end", done);
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
