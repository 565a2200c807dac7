// The storage layer's surface: the driver contract, the drivers, keys and errors, and
// createStorage() for building a driver from validated configuration.
import { z } from "zod";
import type { StorageDriver } from "./driver.ts";
import { createLocalStorage } from "./local.ts";
import { createS3Storage, type S3StorageOptions } from "./s3.ts";

export type { ListOptions, ObjectInfo, PutResult, StorageBody, StorageCapabilities, StorageDriver } from "./driver.ts";
export * from "./errors.ts";
export {
  EXPORTS_FOLDER,
  exportPrefix,
  isOwnExportPrefix,
  ownExportPrefix,
  SNAPSHOTS_FOLDER,
  snapshotPrefix,
} from "./export-prefix.ts";
export {
  type CommittableExportStorage,
  createExportStorage,
  type ExportCommit,
  type ExportManifest,
  type ExportManifestFields,
  type ExportStorageOptions,
  guessContentType,
  MANIFEST_KEY,
  type ManifestArtifact,
  WRITES_IN_FLIGHT,
} from "./export-storage.ts";
export { compareKeys, joinKey, MAX_KEY_BYTES, validateKey, validatePrefix } from "./keys.ts";
export { createLocalStorage, type LocalStorageOptions } from "./local.ts";
export {
  loadMediaSources,
  MEDIA_SOURCES_ENV,
  type MediaSources,
  type MediaSourcesConfig,
  MediaSourcesConfigError,
  parseMediaSources,
} from "./media-sources.ts";
export { attachmentDisposition, createS3Storage, type S3StorageOptions } from "./s3.ts";

export const storageConfigSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("local"),
    root: z.string().min(1),
  }),
  z
    .object({
      kind: z.literal("s3"),
      bucket: z.string().min(1),
      region: z.string().min(1),
      endpoint: z.url().optional(),
      forcePathStyle: z.boolean().optional(),
      accessKeyId: z.string().min(1).optional(),
      secretAccessKey: z.string().min(1).optional(),
      /** Key prefix inside the bucket, to share one bucket between stores. */
      prefix: z.string().min(1).optional(),
    })
    // Half a key pair would silently fall back to the default credential chain.
    .refine((c) => (c.accessKeyId === undefined) === (c.secretAccessKey === undefined), {
      message: "accessKeyId and secretAccessKey go together",
      path: ["secretAccessKey"],
    }),
]);

export type StorageConfig = z.infer<typeof storageConfigSchema>;

/** Validates `config` (throws a ZodError) and builds the driver; nothing connects until first use. */
export function createStorage(config: z.input<typeof storageConfigSchema>): StorageDriver {
  const parsed = storageConfigSchema.parse(config);
  if (parsed.kind === "local") return createLocalStorage({ root: parsed.root });
  const options: S3StorageOptions = { bucket: parsed.bucket, region: parsed.region };
  if (parsed.endpoint !== undefined) options.endpoint = parsed.endpoint;
  if (parsed.forcePathStyle !== undefined) options.forcePathStyle = parsed.forcePathStyle;
  if (parsed.prefix !== undefined) options.prefix = parsed.prefix;
  if (parsed.accessKeyId !== undefined && parsed.secretAccessKey !== undefined) {
    options.credentials = { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey };
  }
  return createS3Storage(options);
}
