import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  aborted,
  httpError,
  ImportDatabaseError,
  ImportEmptyFileError,
  ImportParseError,
  ImportTooLargeError,
  internal,
  invalidArgument,
  notFound,
  permissionDenied,
  resourceExhausted,
  toConnectError,
  UnsupportedMediaTypeError,
  unauthenticated,
  unavailable,
} from "./errors.ts";

describe("the error catalogue", () => {
  it("gives each Connect code its HTTP status and title", () => {
    expect(httpError(invalidArgument("limit: too big"))).toEqual({
      status: 400,
      body: { error: "Bad Request", message: "limit: too big" },
    });
    expect(httpError(unauthenticated("invalid API key")).body.error).toBe("Unauthenticated");
    expect(httpError(permissionDenied("no")).status).toBe(403);
    expect(httpError(permissionDenied("no")).body.error).toBe("Permission Denied");
    expect(httpError(notFound("no such route")).body).toEqual({ error: "Not Found", message: "no such route" });
    expect(httpError(aborted("retry")).body.error).toBe("Aborted");
    expect(httpError(resourceExhausted("too big")).body).toEqual({ error: "Payload Too Large", message: "too big" });
    expect(httpError(unavailable("start the plugin")).body.error).toBe("Internal Server Error");
    expect(httpError(unavailable("start the plugin")).status).toBe(503);
    expect(httpError(internal("oops")).status).toBe(500);
    expect(httpError(new Error("plain")).body).toEqual({ error: "Internal Server Error", message: "plain" });
  });

  it("maps the import API's domain errors to the bodies it documents", () => {
    expect(httpError(new ImportParseError("Line 3: Invalid JSON", 3))).toEqual({
      status: 400,
      body: { error: "Parse Error", message: "Line 3: Invalid JSON" },
    });
    expect(httpError(new ImportEmptyFileError())).toEqual({
      status: 400,
      body: { error: "Bad Request", message: "File is empty: no JSON records found" },
    });
    expect(httpError(new ImportTooLargeError(2 * 1024 * 1024))).toEqual({
      status: 413,
      body: { error: "Payload Too Large", message: "File exceeds the 2 MB import limit" },
    });
    expect(httpError(new ImportDatabaseError({ cause: new Error("WriteConflict") }))).toEqual({
      status: 500,
      body: { error: "Internal Server Error", message: "Database transaction failed" },
    });
    expect(httpError(new UnsupportedMediaTypeError("send multipart"))).toEqual({
      status: 415,
      body: { error: "Unsupported Media Type", message: "send multipart" },
    });
  });

  it("gives domain errors their Connect code for gRPC callers, by name", () => {
    const copy = Object.assign(new Error("Line 1: x"), { name: "ImportParseError" });
    expect(toConnectError(copy).code).toBe(Code.InvalidArgument);
    expect(toConnectError(new ImportTooLargeError(1)).code).toBe(Code.ResourceExhausted);
    const database = toConnectError(new ImportDatabaseError({ cause: new Error("x") }));
    expect([database.code, database.rawMessage]).toEqual([Code.Internal, "Database transaction failed"]);
    const connect = notFound("gone");
    expect(toConnectError(connect)).toBe(connect);
    expect(toConnectError(new Error("plain"))).toBeInstanceOf(ConnectError);
  });
});
