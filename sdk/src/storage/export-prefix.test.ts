import { describe, expect, it } from "vitest";
import { isInvalidStorageKey } from "./errors.ts";
import { exportPrefix, isOwnExportPrefix, ownExportPrefix, snapshotPrefix } from "./export-prefix.ts";

const A = "0b8e2a4c-1111-4222-8333-444455556666";
const B = "7f1d0c3e-aaaa-4bbb-8ccc-ddddeeeeffff";

describe("export prefixes", () => {
  it("derives the prefix from the id and nests a caller's folder under it", () => {
    expect(exportPrefix(A)).toBe(`exports/${A}`);
    expect(exportPrefix(A, "coco/train")).toBe(`exports/${A}/coco/train`);
    expect(exportPrefix(A, "coco/")).toBe(`exports/${A}/coco`);
    expect(exportPrefix(A, "exports")).toBe(`exports/${A}/exports`);
    expect(snapshotPrefix(A)).toBe(`exports/snapshots/${A}`);
  });

  it("refuses absolute, traversing and empty-segment folders", () => {
    for (const path of ["/exports", "..", "a/../..", "a//b", "./a", "%2e%2e", "a\\b"]) {
      expect(() => exportPrefix(A, path), path).toThrow(expect.objectContaining({ name: "InvalidStorageKeyError" }));
    }
  });

  it("refuses ids that are not one segment, or that would alias the snapshots folder", () => {
    for (const id of ["", "a/b", "..", "snapshots"]) {
      expect(() => exportPrefix(id), id).toThrow(expect.objectContaining({ name: "InvalidStorageKeyError" }));
    }
  });

  it("owns exactly its own prefixes", () => {
    expect(isOwnExportPrefix(A, `exports/${A}`)).toBe(true);
    expect(isOwnExportPrefix(A, `exports/${A}/x/y`)).toBe(true);
    expect(isOwnExportPrefix(A, `exports/snapshots/${A}`)).toBe(true);
    for (const prefix of [
      "exports",
      `exports/${B}`,
      `exports/${A}x`,
      `exports/snapshots/${B}`,
      `exports/${A}/../${B}`,
      "",
    ]) {
      expect(isOwnExportPrefix(A, prefix), prefix).toBe(false);
    }
    expect(ownExportPrefix(A, `exports/${A}`)).toBe(`exports/${A}`);
    expect(() => ownExportPrefix(A, "exports")).toThrow(expect.toSatisfy(isInvalidStorageKey));
  });
});
