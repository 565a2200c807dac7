// Import failures that cross the REST and gRPC boundaries: narrow classes mapped to a Connect code
// here and to the import API's HTTP bodies in rest.ts.
import { Code, ConnectError } from "@connectrpc/connect";

/** The file is not readable as JSON lines (the import API's "Parse Error"). */
export class ImportParseError extends Error {
  override name = "ImportParseError";
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/** The upload went over the size limit while it was streaming. */
export class ImportTooLargeError extends Error {
  override name = "ImportTooLargeError";
  constructor(readonly limitBytes: number) {
    super(`File exceeds the ${Math.round(limitBytes / (1024 * 1024))} MB import limit`);
  }
}

/** The database could not apply the import (the import API's 500 "Database transaction failed"). */
export class ImportDatabaseError extends Error {
  override name = "ImportDatabaseError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const isImportError = (err: unknown, name: string): boolean =>
  typeof err === "object" && err !== null && (err as { name?: unknown }).name === name;

/** The Connect form of an import failure (gRPC callers). */
export function toConnectError(err: unknown): ConnectError {
  if (isImportError(err, "ImportEmptyFileError")) {
    return new ConnectError((err as Error).message, Code.InvalidArgument);
  }
  if (isImportError(err, "ImportParseError")) return new ConnectError((err as Error).message, Code.InvalidArgument);
  if (isImportError(err, "ImportTooLargeError")) {
    return new ConnectError((err as Error).message, Code.ResourceExhausted);
  }
  if (isImportError(err, "ImportDatabaseError")) {
    return new ConnectError((err as Error).message, Code.Internal, undefined, undefined, err);
  }
  return ConnectError.from(err);
}

/** The upload held no records (400 Bad Request). */
export class ImportEmptyFileError extends Error {
  override name = "ImportEmptyFileError";
  constructor() {
    super("File is empty: no JSON records found");
  }
}
