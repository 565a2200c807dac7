// Signed, expiring download links and the route that serves them: one file as it is, several
// as a ZIP streamed entry by entry (stored, so its Content-Length is known up front).
import { createHmac, timingSafeEqual } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { attachmentDisposition, guessContentType, validateKey } from "@labelport/sdk";
import yazl from "yazl";
import type { Deps } from "../app.ts";
import { invalidArgument, notFound } from "../errors.ts";
import type { RestRouter } from "../rest/router.ts";
import type { ExportDoc, ExportRepository } from "./repository.ts";
import type { Storages } from "./storages.ts";

const MAX_EXPIRY_S = 7 * 24 * 3600;

export interface DownloadLink {
  url: string;
  expiresAt: Date;
  size: number;
  fileName: string;
}

export interface Downloads {
  /**
   * `artifactKey` empty: the single artifact, or a ZIP of everything when there are several;
   * `zip` asks for the ZIP even for a single artifact (the developer exports API always serves one).
   */
  link(
    doc: ExportDoc,
    artifactKey: string,
    expiresInSeconds: number,
    options?: { zip?: boolean },
  ): Promise<DownloadLink>;
}

/** `<dataset>-<exportId>-<UTC datetime>.<ext>`, e.g. street-scenes-1b2c...-20261127T101500Z.zip */
export function downloadFileName(doc: ExportDoc, ext: string): string {
  const when = (doc.completedAt ?? doc.createdAt)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const dataset = doc.datasetName.replace(/[\\/:*?"<>|\u0000-\u001f]+/g, "_");
  return `${dataset}-${doc._id}-${when}.${ext}`;
}

function extensionOf(key: string): string {
  const match = key.match(/\.([A-Za-z0-9]+)$/);
  return match?.[1] ?? "bin";
}

export function createDownloads(deps: Deps, repo: ExportRepository, storages: Storages, rest: RestRouter): Downloads {
  const sign = (exportId: string, artifact: string, expires: number, zip = false) =>
    createHmac("sha256", deps.signingSecret)
      .update(`${exportId}\n${artifact}\n${expires}${zip ? "\nzip" : ""}`)
      .digest("base64url");

  rest.on("GET", "/downloads/:exportId", "public", async ({ res, params, query }) => {
    const exportId = params.exportId ?? "";
    const artifact = query.get("artifact") ?? "";
    const expires = Number(query.get("expires"));
    const asZip = query.get("zip") === "1";
    const given = Buffer.from(query.get("signature") ?? "");
    const expected = Buffer.from(sign(exportId, artifact, expires, asZip));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new ConnectError("invalid download signature", Code.PermissionDenied);
    }
    if (!(expires * 1000 > Date.now())) throw new ConnectError("download link expired", Code.PermissionDenied);
    const doc = await repo.get(exportId);
    if (doc?.status !== "completed") throw notFound(`export "${exportId}" is not available`);
    const driver = storages.driver(doc.storage);
    const single = artifact
      ? await artifactOf(doc, artifact)
      : doc.counts.fileCount === 1 && !asZip
        ? doc.artifacts[0]
        : undefined;
    if (single) {
      const body = await driver.get(`${doc.path}/${single.key}`);
      res.writeHead(200, {
        "content-type": single.contentType || "application/octet-stream",
        "content-length": String(single.size),
        "content-disposition": attachmentDisposition(downloadFileName(doc, extensionOf(single.key))),
      });
      body.pipe(res as NodeJS.WritableStream);
      return;
    }
    const zip = new yazl.ZipFile();
    for await (const entry of zipEntries(doc)) {
      zip.addReadStreamLazy(
        entry.key,
        { size: entry.size, compress: false, mtime: doc.completedAt ?? doc.createdAt },
        (cb) => {
          driver.get(`${doc.path}/${entry.key}`).then(
            (stream) => cb(null, stream),
            (err: Error) => cb(err, undefined as never),
          );
        },
      );
    }
    const fail = (err: Error) => {
      deps.log.error({ err, exportId }, "ZIP download failed");
      res.destroy?.();
    };
    zip.on("error", fail);
    zip.outputStream.on("error", fail);
    // yazl passes the final size (known: every entry is stored with its size); @types/yazl omits it.
    // Its size calculation switches to the ZIP64 end record earlier than its writer does (for a
    // central directory over 64 KiB), so always write that record: then the two agree.
    const end = zip.end.bind(zip) as (options: object, onSize: (size: number) => void) => void;
    end({ forceZip64Format: true }, (size) => {
      res.writeHead(200, {
        "content-type": "application/zip",
        ...(size >= 0 ? { "content-length": String(size) } : {}),
        "content-disposition": attachmentDisposition(downloadFileName(doc, "zip")),
      });
      zip.outputStream.pipe(res as NodeJS.WritableStream);
    });
  });

  /** An artifact by key: from the job document, or from storage past the first 1000. */
  async function artifactOf(doc: ExportDoc, key: string): Promise<ExportDoc["artifacts"][number]> {
    const known = doc.artifacts.find((a) => a.key === key);
    if (known) return known;
    try {
      validateKey(key);
    } catch (err) {
      throw invalidArgument(`artifact_key: ${(err as Error).message}`);
    }
    const found =
      doc.artifacts.length < doc.counts.fileCount
        ? await storages.driver(doc.storage).head(`${doc.path}/${key}`)
        : null;
    if (!found || key === "manifest.json") throw notFound(`artifact "${key}" not found in export ${doc._id}`);
    return { key, size: found.size, sha256: "", contentType: guessContentType(key) };
  }

  /** What a whole-export ZIP holds: every artifact and manifest.json, read from storage when the job lists only some. */
  async function* zipEntries(doc: ExportDoc): AsyncGenerator<{ key: string; size: number }> {
    const driver = storages.driver(doc.storage);
    if (doc.artifacts.length === doc.counts.fileCount) {
      yield* doc.artifacts;
      const manifest = await driver.head(`${doc.path}/manifest.json`);
      if (manifest) yield { key: "manifest.json", size: manifest.size };
      return;
    }
    for await (const object of driver.list(`${doc.path}/`)) {
      yield { key: object.key.slice(doc.path.length + 1), size: object.size };
    }
  }

  return {
    async link(doc, artifactKey, expiresInSeconds, options = {}) {
      if (expiresInSeconds > MAX_EXPIRY_S) throw invalidArgument(`expires_in_seconds: at most ${MAX_EXPIRY_S}`);
      const artifact = artifactKey ? await artifactOf(doc, artifactKey) : undefined;
      const asZip = !artifactKey && options.zip === true;
      const single = artifact ?? (doc.counts.fileCount === 1 && !asZip ? doc.artifacts[0] : undefined);
      const expiresAt = new Date(Date.now() + expiresInSeconds * 1000);
      const fileName = downloadFileName(doc, single ? extensionOf(single.key) : "zip");
      const driver = storages.driver(doc.storage);
      if (single && driver.capabilities.presign && driver.presignGet) {
        const url = await driver.presignGet(`${doc.path}/${single.key}`, { expiresInSeconds, fileName });
        return { url, expiresAt, size: single.size, fileName };
      }
      const expires = Math.floor(expiresAt.getTime() / 1000);
      const key = artifactKey;
      const query = new URLSearchParams({
        ...(key ? { artifact: key } : {}),
        ...(asZip ? { zip: "1" } : {}),
        expires: String(expires),
        signature: sign(doc._id, key, expires, asZip),
      });
      return {
        url: `${deps.publicUrl()}/downloads/${encodeURIComponent(doc._id)}?${query}`,
        expiresAt,
        size: single?.size ?? doc.fileSize,
        fileName,
      };
    },
  };
}
