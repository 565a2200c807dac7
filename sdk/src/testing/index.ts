// The conformance kit for plugin and storage-driver authors (imports vitest): @labelport/sdk/testing.
export * from "./behaviour-checks.ts";
export * from "./exporter-suite.ts";
export * from "./fixture.ts";
export * from "./importer-suite.ts";
export * from "./run-sample-export.ts";
export * from "./run-sample-import.ts";
export * from "./seeded-random.ts";
export * from "./split-checks.ts";
export * from "./storage-driver-suite.ts";
