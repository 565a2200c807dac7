// The environment becomes a Config, or one ConfigError naming the variable; the import variables
// (LABELPORT_IMPORT_*) are part of it.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.ts";
import { importSettingsOf } from "./data/index.ts";

const required = { MONGODB_URL: "mongodb://127.0.0.1:27017", NATS_URL: "nats://127.0.0.1:4222" };

describe("loadConfig", () => {
  it("gives the import settings their defaults", () => {
    const settings = importSettingsOf(loadConfig(required));
    expect(settings).toMatchObject({ atomicMode: "auto", batchSize: 1000 });
    expect(settings.transactionMaxBytes).toBeUndefined();
  });

  it("reads the import variables", () => {
    const config = loadConfig({
      ...required,
      LABELPORT_IMPORT_ATOMIC_MODE: "journal",
      LABELPORT_IMPORT_BATCH_SIZE: "2",
      LABELPORT_IMPORT_TRANSACTION_MAX_BYTES: "1048576",
    });
    expect(importSettingsOf(config)).toMatchObject({
      atomicMode: "journal",
      batchSize: 2,
      transactionMaxBytes: 1_048_576,
    });
  });

  it.each([
    ["LABELPORT_IMPORT_ATOMIC_MODE", "sometimes"],
    ["LABELPORT_IMPORT_BATCH_SIZE", "0"],
    ["LABELPORT_IMPORT_BATCH_SIZE", "10001"],
    ["LABELPORT_IMPORT_TRANSACTION_MAX_BYTES", "-1"],
  ])("refuses %s=%s with a ConfigError naming the variable and the value", (variable, value) => {
    const load = () => loadConfig({ ...required, [variable]: value });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(new RegExp(`^invalid configuration: ${variable}: .*\\(got "${value}"\\)$`));
  });
});
