// An export's files in storage: removing them (cancel, delete) without touching another export's,
// and checking they are all still there before a download is offered or served.
import type { Readable } from "node:stream";
import { isStorageNotFound, type StorageDriver } from "@labelport/sdk";
import { isOwnExportPrefix, MANIFEST_KEY } from "@labelport/sdk/runtime";
import { notFound } from "../errors.ts";
import type { ExportDoc } from "./repository.ts";

/**
 * Deletes the export's files. Exports created before prefixes were derived from ids may hold a
 * caller-chosen prefix shared with others ("exports"): those lose only the files they list.
 */
export async function removeExportFiles(driver: StorageDriver, doc: ExportDoc): Promise<void> {
  if (isOwnExportPrefix(doc._id, doc.path)) {
    await driver.deletePrefix(`${doc.path}/`);
    return;
  }
  for (const key of [...doc.artifacts.map((a) => a.key), MANIFEST_KEY]) await driver.delete(`${doc.path}/${key}`);
}

/** NotFound naming the artifact, for an export whose files were removed behind its back. */
export function missingArtifact(doc: ExportDoc, key: string) {
  return notFound(
    `artifact "${key}" of export ${doc._id} is missing from storage (${doc.storage}:${doc.path}/); create the export again`,
  );
}

/** Throws missingArtifact unless the manifest and the artifact `key` (when given) are in storage. */
export async function assertFilesPresent(driver: StorageDriver, doc: ExportDoc, key?: string): Promise<void> {
  for (const wanted of key === undefined || key === MANIFEST_KEY ? [MANIFEST_KEY] : [MANIFEST_KEY, key]) {
    if (!(await driver.head(`${doc.path}/${wanted}`))) throw missingArtifact(doc, wanted);
  }
}

/**
 * The first `maxBytes` bytes of the export's small file `key`, or undefined when its storage has
 * no cheaper way to read one than a stream; missingArtifact when storage no longer has it.
 */
export function artifactBytesReader(
  driver: StorageDriver,
  doc: ExportDoc,
): ((key: string, maxBytes: number) => Promise<Buffer>) | undefined {
  const getBytes = driver.getBytes?.bind(driver);
  if (!getBytes) return undefined;
  return async (key, maxBytes) => {
    try {
      return await getBytes(`${doc.path}/${key}`, maxBytes);
    } catch (err) {
      if (isStorageNotFound(err)) throw missingArtifact(doc, key);
      throw err;
    }
  };
}

/** A read stream of the export's file `key`; missingArtifact when storage no longer has it. */
export async function openArtifact(driver: StorageDriver, doc: ExportDoc, key: string): Promise<Readable> {
  try {
    return await driver.get(`${doc.path}/${key}`);
  } catch (err) {
    if (isStorageNotFound(err)) throw missingArtifact(doc, key);
    throw err;
  }
}
