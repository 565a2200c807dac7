// validateManifest(): the one manifest rule of the runtime, the conformance kit and (for formats)
// the orchestrator's registration check; what it accepts really runs on NATS.
import { connect } from "nats";
import { describe, expect, inject, it } from "vitest";
import { isManifestError, type ManifestError } from "./errors.ts";
import { z } from "./export-options.ts";
import { BaseExporter } from "./exporter.ts";
import { isFormatName, validateManifest } from "./manifest.ts";
import { natsConnectOptions } from "./runtime/nats-connection.ts";
import { consumerName, ensureJobConsumer, ensureStreams, Streams } from "./runtime/subjects.ts";
import { startWorker } from "./runtime/worker.ts";

const valid = { name: "coco", version: "1.2.0-rc.1", formats: ["coco", "coco-v2"], sdk: "^0.1.0" };

/** The field validateManifest names for `manifest`, or undefined when it accepts it. */
function fieldAtFault(manifest: unknown): string | undefined {
  try {
    validateManifest(manifest);
    return undefined;
  } catch (err) {
    expect(isManifestError(err), String(err)).toBe(true);
    return (err as ManifestError).field;
  }
}

describe("validateManifest", () => {
  it("accepts a plugin's manifest and returns it", () => {
    expect(validateManifest(valid)).toBe(valid);
    expect(validateManifest({ ...valid, description: "COCO 1.0 JSON" })).toBeTruthy();
  });

  it("names the field at fault", () => {
    expect(fieldAtFault(undefined)).toBe("");
    expect(fieldAtFault({ ...valid, name: "" })).toBe("name");
    expect(fieldAtFault({ ...valid, name: "COCO" })).toBe("name");
    expect(fieldAtFault({ ...valid, version: "1.0" })).toBe("version");
    expect(fieldAtFault({ ...valid, formats: [] })).toBe("formats");
    expect(fieldAtFault({ ...valid, formats: ["coco", "Coco"] })).toBe("formats[1]");
    expect(fieldAtFault({ ...valid, formats: ["coco", "coco"] })).toBe("formats[1]");
    expect(fieldAtFault({ ...valid, sdk: "^9.0.0" })).toBe("sdk");
    expect(fieldAtFault({ ...valid, description: 1 })).toBe("description");
    expect(() => validateManifest({ ...valid, sdk: "^9.0.0" })).toThrow(
      /manifest sdk: plugin coco@1.2.0-rc.1 needs @labelport\/sdk "\^9.0.0"; this is /,
    );
  });

  it("refuses formats that are not one NATS subject token: a dot, wildcards, more than 64 characters", () => {
    for (const format of ["coco.v2", "coco*", ">", "-coco", "coco v2", "a".repeat(65)]) {
      expect(isFormatName(format), format).toBe(false);
      expect(fieldAtFault({ ...valid, formats: [format] }), format).toBe("formats[0]");
    }
    expect(isFormatName("a".repeat(64))).toBe(true);
  });
});

describe("a manifest the conformance kit accepts", () => {
  it("loads: a worker starts with it and gets a job consumer per format", async () => {
    const formats = [`manifest-${"f".repeat(55)}`, "0"];
    class EdgeExporter extends BaseExporter {
      static override manifest = { name: `m${"-".repeat(213)}`, version: "0.0.1", formats, sdk: "*" };
      readonly options = z.strictObject({});
      async export(): Promise<void> {}
    }
    validateManifest(EdgeExporter.manifest);
    const nats = await connect(natsConnectOptions(inject("natsUrl")));
    try {
      const jsm = await nats.jetstreamManager();
      await ensureStreams(jsm);
      const worker = await startWorker({ nats, exporter: EdgeExporter, log: silentLog });
      await worker.stop();
      for (const format of formats) {
        expect((await jsm.consumers.info(Streams.jobs, consumerName(format))).config.filter_subject).toBe(
          `labelport.jobs.${format}`,
        );
        await jsm.consumers.delete(Streams.jobs, consumerName(format));
      }
      // Why the rule refuses a dot: NATS cannot make the format's consumer.
      await expect(ensureJobConsumer(jsm, "coco.v2")).rejects.toThrow();
    } finally {
      await nats.drain();
    }
  });
});

const silentLog = { debug() {}, info() {}, warn() {}, error() {} };
