// The SDK's error vocabulary: option errors name their fields, and guards go by name and code so
// errors from another copy of the SDK (or of connect) are recognised.
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  isLabelportError,
  isManifestError,
  isOptionsError,
  isPermanentError,
  ManifestError,
  OptionsError,
  PluginLoadError,
} from "./errors.ts";
import { parseOptions, z } from "./export-options.ts";
import { InvalidStorageKeyError, StorageNotFoundError } from "./storage/errors.ts";

/** An error as another copy of the SDK would throw it: same name and fields, another class. */
function fromAnotherCopy(name: string): Error {
  return Object.assign(new Error("from another copy"), { name });
}

describe("OptionsError", () => {
  const schema = z.strictObject({ resize: z.strictObject({ width: z.number().int() }).optional() });

  it("names the path of each option at fault", () => {
    let thrown: unknown;
    try {
      parseOptions(schema, { resize: { width: 1.5 }, extra: true });
    } catch (err) {
      thrown = err;
    }
    expect(isOptionsError(thrown)).toBe(true);
    const error = thrown as OptionsError;
    expect(error.field).toBe("resize.width");
    expect(error.issues.map((i) => i.path)).toEqual(["resize.width", ""]);
    expect(error.message).toMatch(/^invalid options: resize\.width: .+; \(root\): .*extra/);
  });

  it("returns the parsed options with defaults when they are valid", () => {
    expect(parseOptions(z.strictObject({ pretty: z.boolean().default(false) }), {})).toEqual({ pretty: false });
  });
});

describe("guards", () => {
  it("recognise the SDK's errors by name, from any copy", () => {
    expect(isManifestError(new ManifestError("formats[0]", "bad"))).toBe(true);
    expect(isManifestError(fromAnotherCopy("ManifestError"))).toBe(true);
    expect(isLabelportError(fromAnotherCopy("PluginLoadError"))).toBe(true);
    expect(isLabelportError(new Error("plain"))).toBe(false);
    expect(isOptionsError("OptionsError")).toBe(false);
  });

  it("call permanent what another attempt cannot fix, and nothing else", () => {
    for (const err of [
      new ManifestError("sdk", "needs another SDK"),
      new OptionsError([{ path: "x", message: "bad" }]),
      new PluginLoadError("no default export"),
      new InvalidStorageKeyError("../x", "traversal"),
      fromAnotherCopy("OptionsError"),
      new ConnectError("no such dataset", Code.NotFound),
      new ConnectError("token expired", Code.Unauthenticated),
    ]) {
      expect(isPermanentError(err), String(err)).toBe(true);
    }
    for (const err of [
      new Error("disk on fire"),
      new StorageNotFoundError("a.json"),
      new ConnectError("orchestrator restarting", Code.Unavailable),
      undefined,
    ]) {
      expect(isPermanentError(err), String(err)).toBe(false);
    }
  });
});
