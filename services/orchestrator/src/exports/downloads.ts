// Signed, expiring download links and the route that serves them: one file as it is, several
// as a ZIP streamed entry by entry (stored, so its Content-Length is known up front).
import { createHmac, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ListOptions, StorageDriver } from "@labelport/sdk";
import { attachmentDisposition, guessContentType, MANIFEST_KEY, validateKey } from "@labelport/sdk/runtime";
import type { Context } from "../context.ts";
import { invalidArgument, notFound, permissionDenied } from "../errors.ts";
import type { RestHandler, RestResponse, RestRouter } from "../rest/router.ts";
import { artifactBytesReader, assertFilesPresent, missingArtifact, openArtifact } from "./export-files.ts";
import type { ExportDoc, ExportRepository } from "./repository.ts";
import type { Storages } from "./storages.ts";
import { type StoredZipEntry, type StoredZipSize, storedZipSize, storedZipStream } from "./stored-zip.ts";

const MAX_EXPIRY_S = 7 * 24 * 3600;

export interface DownloadLink {
  url: string;
  expiresAt: Date;
  size: number;
  fileName: string;
}

export interface Downloads {
  /** Adds GET /downloads/:exportId, the public route the signed links point at. */
  register(rest: RestRouter): void;
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
  /** Bytes of the whole-export ZIP the download of `doc` streams (wholeExportZipSize). */
  zipSize(doc: ExportDoc): Promise<number>;
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

const CLIENT_GONE = new Set(["ERR_STREAM_PREMATURE_CLOSE", "ECONNRESET", "EPIPE", "ERR_HTTP2_STREAM_ERROR"]);

/** True for the errors a pipeline into `res` ends with when the client went away (not the source failing). */
export function clientGone(err: unknown, res: RestResponse): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && CLIENT_GONE.has(code) && !(res as http.ServerResponse).writableFinished;
}

/**
 * Every file of a whole-export ZIP (artifacts, then manifest.json), as storage has them now:
 * one listing of the prefix, so a file removed behind the export's back is a NotFound naming it
 * before any byte is sent. Only for exports whose job lists every file (at most 1000).
 */
async function listedArtifacts(driver: StorageDriver, doc: ExportDoc): Promise<StoredZipEntry[]> {
  const stored = new Map<string, number>();
  for await (const object of driver.list(`${doc.path}/`))
    stored.set(object.key.slice(doc.path.length + 1), object.size);
  // Without its manifest an export is not whole, whichever file is missing besides.
  if (!stored.has(MANIFEST_KEY)) throw missingArtifact(doc, MANIFEST_KEY);
  const entries: StoredZipEntry[] = [];
  for (const { key } of [...doc.artifacts, { key: MANIFEST_KEY }]) {
    const size = stored.get(key);
    if (size === undefined) throw missingArtifact(doc, key);
    entries.push({ name: key, size });
  }
  return entries;
}

/** An export of more files than the job lists: NotFound unless storage lists them all and manifest.json. */
function assertAllListed(doc: ExportDoc, listed: number): void {
  if (listed < doc.counts.fileCount + 1) {
    throw notFound(
      `${doc.counts.fileCount + 1 - listed} of the ${doc.counts.fileCount} artifacts of export ${doc._id} are missing from storage (${doc.storage}:${doc.path}/); create the export again`,
    );
  }
}

/** What a whole-export ZIP download streams: its entries in order, and the ZIP's size over them. */
interface WholeExportZip {
  size: number;
  entries: Iterable<StoredZipEntry> | AsyncIterable<StoredZipEntry>;
}

/**
 * The whole-export ZIP of `doc` from the files storage holds now, checked before any byte is
 * sent (NotFound naming a file that is gone). An export of more files than its job lists is
 * sized over one listing and streamed from another, so no entry is held: the ZIP fails before
 * its end if the two differ. Its entries come in storage's listing order (S3: by name).
 */
async function wholeExportZip(driver: StorageDriver, doc: ExportDoc): Promise<WholeExportZip> {
  if (doc.artifacts.length === doc.counts.fileCount) {
    const entries = await listedArtifacts(driver, doc);
    const size = storedZipSize();
    for (const entry of entries) size.add(entry.name, entry.size);
    return { size: size.total(), entries };
  }
  // Summed as the listing arrives (a million entries held at once made the orchestrator's heap
  // grow by about 250 MB for a minute), and streamed in the order storage lists them unordered
  // (on local disk a folder's own order: sorting a folder of a million files held its names,
  // 100 MB or more). Past 4 GiB an entry's ZIP64 fields depend on the order: then sorted.
  const unordered = await listedZipSize(driver, doc, { unordered: true });
  if (unordered.sameInAnyOrder()) {
    return { size: unordered.total(), entries: listedEntries(driver, doc, { unordered: true }) };
  }
  return { size: (await listedZipSize(driver, doc, {})).total(), entries: listedEntries(driver, doc, {}) };
}

/**
 * Bytes of the ZIP a whole-export download of `doc` delivers, from the files storage holds now
 * (what the developer exports API reports as file_size). NotFound naming a file that is gone.
 */
export async function wholeExportZipSize(driver: StorageDriver, doc: ExportDoc): Promise<number> {
  return (await wholeExportZip(driver, doc)).size;
}

/** The whole-export ZIP's size over a listing of the export's folder (an export of more files than it lists). */
async function listedZipSize(driver: StorageDriver, doc: ExportDoc, options: ListOptions): Promise<StoredZipSize> {
  const size = storedZipSize();
  let listed = 0;
  let manifest = false;
  for await (const object of driver.list(`${doc.path}/`, options)) {
    const key = object.key.slice(doc.path.length + 1);
    if (key === MANIFEST_KEY) manifest = true;
    size.add(key, object.size);
    listed += 1;
  }
  if (!manifest) throw missingArtifact(doc, MANIFEST_KEY);
  assertAllListed(doc, listed);
  return size;
}

async function* listedEntries(
  driver: StorageDriver,
  doc: ExportDoc,
  options: ListOptions,
): AsyncGenerator<StoredZipEntry> {
  for await (const object of driver.list(`${doc.path}/`, options)) {
    yield { name: object.key.slice(doc.path.length + 1), size: object.size };
  }
}

export interface DownloadsOptions extends Pick<Context, "log" | "signingSecret" | "publicUrl"> {
  repo: ExportRepository;
  storages: Storages;
}

export function createDownloads(options: DownloadsOptions): Downloads {
  const { log, signingSecret, publicUrl, repo, storages } = options;
  const sign = (exportId: string, artifact: string, expires: number, zip = false) =>
    createHmac("sha256", signingSecret)
      .update(`${exportId}\n${artifact}\n${expires}${zip ? "\nzip" : ""}`)
      .digest("base64url");

  const serve: RestHandler = async ({ res, params, query }) => {
    const exportId = params.exportId ?? "";
    const artifact = query.get("artifact") ?? "";
    const expires = Number(query.get("expires"));
    const asZip = query.get("zip") === "1";
    const given = Buffer.from(query.get("signature") ?? "");
    const expected = Buffer.from(sign(exportId, artifact, expires, asZip));
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw permissionDenied("invalid download signature");
    }
    if (!(expires * 1000 > Date.now())) throw permissionDenied("download link expired");
    const doc = await repo.get(exportId);
    if (doc?.status !== "completed") throw notFound(`export "${exportId}" is not available`);
    const driver = storages.driver(doc.storage);
    const single = artifact
      ? await artifactOf(doc, artifact)
      : doc.counts.fileCount === 1 && !asZip
        ? doc.artifacts[0]
        : undefined;
    if (single) {
      // Checked before the headers: a missing file is a 404 naming it, not a 200 cut short, and an
      // export whose manifest is gone is no longer whole, whichever file is asked for.
      await assertFilesPresent(driver, doc, MANIFEST_KEY);
      const body = await openArtifact(driver, doc, single.key);
      res.writeHead(200, {
        "content-type": single.contentType || "application/octet-stream",
        "content-length": String(single.size),
        "content-disposition": attachmentDisposition(downloadFileName(doc, extensionOf(single.key))),
      });
      await send(body, res, exportId);
      return;
    }
    await sendZip(driver, doc, res);
  };

  /** Streams `body` into the response; a failure mid-way aborts this response only. */
  async function send(body: Readable, res: RestResponse, exportId: string): Promise<void> {
    try {
      await pipeline(body, res as NodeJS.WritableStream);
    } catch (err) {
      if (clientGone(err, res)) return;
      log.warn({ err, exportId }, "download aborted");
      throw err;
    }
  }

  async function sendZip(driver: StorageDriver, doc: ExportDoc, res: RestResponse) {
    const { size, entries } = await wholeExportZip(driver, doc);
    const zip = storedZipStream(entries, {
      mtime: doc.completedAt ?? doc.createdAt,
      size,
      open: (name) => openArtifact(driver, doc, name),
      read: artifactBytesReader(driver, doc),
    });
    res.writeHead(200, {
      "content-type": "application/zip",
      "content-length": String(size),
      "content-disposition": attachmentDisposition(downloadFileName(doc, "zip")),
    });
    await send(zip, res, doc._id);
  }

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

  return {
    register(rest) {
      rest.on("GET", "/downloads/:exportId", "public", serve);
    },
    zipSize: (doc) => wholeExportZipSize(storages.driver(doc.storage), doc),
    async link(doc, artifactKey, expiresInSeconds, linkOptions = {}) {
      if (expiresInSeconds > MAX_EXPIRY_S) throw invalidArgument(`expires_in_seconds: at most ${MAX_EXPIRY_S}`);
      const artifact = artifactKey ? await artifactOf(doc, artifactKey) : undefined;
      const asZip = !artifactKey && linkOptions.zip === true;
      const single = artifact ?? (doc.counts.fileCount === 1 && !asZip ? doc.artifacts[0] : undefined);
      const expiresAt = new Date(Date.now() + expiresInSeconds * 1000);
      const fileName = downloadFileName(doc, single ? extensionOf(single.key) : "zip");
      const driver = storages.driver(doc.storage);
      // A link to files that are gone would fail only when followed: say so now, naming the file.
      // A ZIP's size is the ZIP's, computed from the same listing the download streams.
      let size: number;
      if (single) {
        await assertFilesPresent(driver, doc, single.key);
        size = single.size;
      } else {
        size = await wholeExportZipSize(driver, doc);
      }
      if (single && driver.capabilities.presign && driver.presignGet) {
        const url = await driver.presignGet(`${doc.path}/${single.key}`, { expiresInSeconds, fileName });
        return { url, expiresAt, size, fileName };
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
        url: `${publicUrl()}/downloads/${encodeURIComponent(doc._id)}?${query}`,
        expiresAt,
        size,
        fileName,
      };
    },
  };
}
