// @labelport/sdk/runtime: the internals the orchestrator and the plugin CLI run on (the job
// worker, NATS subjects and connection options, item streams, the storage drivers and export
// storage, runExport). Not the plugin author's API: it may change in any minor version.
export * from "../run-export.ts";
export * from "../storage/index.ts";
export * from "./heap-growth.ts";
export * from "./import-worker.ts";
export * from "./item-stream.ts";
export * from "./nats-connection.ts";
export * from "./subjects.ts";
export * from "./tracing.ts";
export * from "./worker.ts";
