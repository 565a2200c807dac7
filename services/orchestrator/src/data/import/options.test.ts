// Options of the video annotation import: defaults, unknown keys and bad values named.
import { ConnectError } from "@connectrpc/connect";
import { DuplicateIds, MissingDependencies } from "@labelport/sdk/contracts";
import { describe, expect, it } from "vitest";
import { defaultImportOptions, importOptionsFromMessage, importOptionsMessage, parseImportOptions } from "./options.ts";

const messageOf = (text: string) => {
  try {
    parseImportOptions(text);
    return "";
  } catch (err) {
    return ConnectError.from(err).rawMessage;
  }
};

describe("import options", () => {
  it("fills every documented default", () => {
    expect(defaultImportOptions).toEqual({
      conflictResolution: { duplicateIds: "skip", overlappingFrames: "merge", missingDependencies: "skip" },
      validation: { strictMode: false, requireKeyframes: true },
      transaction: { atomic: true },
    });
    expect(parseImportOptions(undefined)).toEqual(defaultImportOptions);
    expect(parseImportOptions('{"conflictResolution":{"duplicateIds":"overwrite"}}')).toEqual({
      ...defaultImportOptions,
      conflictResolution: { ...defaultImportOptions.conflictResolution, duplicateIds: "overwrite" },
    });
  });

  it("names unknown keys and bad values", () => {
    expect(messageOf('{"conflictResolution":{"duplicateId":"skip"}}')).toBe(
      'Unknown option "conflictResolution.duplicateId"',
    );
    expect(messageOf('{"atomic":true}')).toBe('Unknown option "atomic"');
    expect(messageOf('{"conflictResolution":{"duplicateIds":"replace"}}')).toBe(
      'Invalid option "conflictResolution.duplicateIds": expected one of skip, overwrite, merge, fail (got "replace")',
    );
    expect(messageOf('{"validation":{"strictMode":"yes"}}')).toBe(
      'Invalid option "validation.strictMode": expected a boolean (got "yes")',
    );
    expect(messageOf('{"transaction":[]}')).toBe('Invalid option "transaction": expected an object (got [])');
    expect(messageOf("[1]")).toBe("Invalid options: expected a JSON object");
    expect(messageOf("{oops")).toMatch(/^Invalid options: not valid JSON/);
  });

  it("maps the protobuf options both ways", () => {
    const options = importOptionsFromMessage({
      $typeName: "labelport.v1.ImportOptions",
      duplicateIds: DuplicateIds.MERGE,
      overlappingFrames: 0,
      missingDependencies: MissingDependencies.CREATE,
      atomic: false,
    });
    expect(options).toEqual({
      conflictResolution: { duplicateIds: "merge", overlappingFrames: "merge", missingDependencies: "create" },
      validation: { strictMode: false, requireKeyframes: true },
      transaction: { atomic: false },
    });
    expect(importOptionsFromMessage(importOptionsMessage(options))).toEqual(options);
  });
});
