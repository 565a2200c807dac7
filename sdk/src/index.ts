// @labelport/sdk: what a plugin author writes against (BaseExporter, its context and manifest,
// options, the export layout, item JSON, tracks, errors, and the storage contract a driver
// implements). The rest is a subpath: ./client (the API client), ./contracts (generated
// protobuf), ./testing (the conformance kit, needs vitest) and ./runtime (the worker, NATS and
// the storage drivers the orchestrator and plugin CLI run on), as nats.js keeps internal_mod apart.
export * from "./dm-schema.ts";
export * from "./errors.ts";
export * from "./export-layout.ts";
export * from "./export-options.ts";
export * from "./exporter.ts";
export type { Annotation, Category, Item } from "./gen/labelport/v1/dataset_pb.ts";
export * from "./import-source.ts";
export * from "./importer.ts";
export * from "./item-json.ts";
export * from "./manifest.ts";
export * from "./rle.ts";
export { ShardNamesCollideError } from "./run-export.ts";
export { createItemIds, type ImportConversion } from "./run-import.ts";
export * from "./seed-item.ts";
export { type GatheredFile, type GatheredFileFormat, joinGatheredFile, openGatheredFile } from "./shard-parts.ts";
export type {
  ListOptions,
  ObjectInfo,
  PutResult,
  StorageBody,
  StorageCapabilities,
  StorageDriver,
} from "./storage/driver.ts";
export * from "./storage/errors.ts";
export * from "./tracks.ts";
export { SDK_VERSION } from "./version.ts";
export * from "./video-annotation-json.ts";
