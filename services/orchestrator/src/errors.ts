// The orchestrator's one error vocabulary: constructors for the Connect codes it answers with, its
// domain errors, the Connect code of each domain error, and the HTTP status and body of every error
// on the REST routes. Guards compare `name`, never classes, as the SDK's errors.ts does.
import { Code, ConnectError } from "@connectrpc/connect";

export const invalidArgument = (message: string) => new ConnectError(message, Code.InvalidArgument);
export const notFound = (message: string) => new ConnectError(message, Code.NotFound);
export const alreadyExists = (message: string) => new ConnectError(message, Code.AlreadyExists);
export const failedPrecondition = (message: string) => new ConnectError(message, Code.FailedPrecondition);
export const permissionDenied = (message: string) => new ConnectError(message, Code.PermissionDenied);
export const unauthenticated = (message: string) => new ConnectError(message, Code.Unauthenticated);
export const resourceExhausted = (message: string) => new ConnectError(message, Code.ResourceExhausted);
/** A write that lost a race with another one; the caller may retry. */
export const aborted = (message: string) => new ConnectError(message, Code.Aborted);
export const unavailable = (message: string) => new ConnectError(message, Code.Unavailable);
export const deadlineExceeded = (message: string) => new ConnectError(message, Code.DeadlineExceeded);
export const internal = (message: string) => new ConnectError(message, Code.Internal);

/** The file is not readable as JSON lines (the import API's 400 "Parse Error", naming the line). */
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

/** The upload held no records. */
export class ImportEmptyFileError extends Error {
  override name = "ImportEmptyFileError";
  constructor() {
    super("File is empty: no JSON records found");
  }
}

/**
 * The database could not apply the import. The import API answers it with a fixed message (500
 * "Database transaction failed"); what the database said stays in `cause`, for the log.
 */
export class ImportDatabaseError extends Error {
  override name = "ImportDatabaseError";
  constructor(options: { cause: unknown }) {
    super("Database transaction failed", options);
  }
}

/** A REST body in a media type the route does not read (415; the import API takes only multipart). */
export class UnsupportedMediaTypeError extends Error {
  override name = "UnsupportedMediaTypeError";
}

interface DomainErrorMapping {
  code: Code;
  /** HTTP status where the Connect code's (httpStatusOf) is not the one a documented API pins. */
  status?: number;
  /** REST title where a documented API pins its own ("error" of the body). */
  title?: string;
}

const DOMAIN_ERRORS: Readonly<Record<string, DomainErrorMapping>> = {
  ImportParseError: { code: Code.InvalidArgument, title: "Parse Error" },
  ImportEmptyFileError: { code: Code.InvalidArgument },
  ImportTooLargeError: { code: Code.ResourceExhausted },
  ImportDatabaseError: { code: Code.Internal },
  UnsupportedMediaTypeError: { code: Code.InvalidArgument, status: 415, title: "Unsupported Media Type" },
};

function nameOf(err: unknown): string | undefined {
  const name = typeof err === "object" && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === "string" ? name : undefined;
}

function domainMappingOf(err: unknown): DomainErrorMapping | undefined {
  const name = nameOf(err);
  return name !== undefined && Object.hasOwn(DOMAIN_ERRORS, name) ? DOMAIN_ERRORS[name] : undefined;
}

export const isImportParseError = (err: unknown): err is ImportParseError => nameOf(err) === "ImportParseError";
export const isImportTooLargeError = (err: unknown): err is ImportTooLargeError =>
  nameOf(err) === "ImportTooLargeError";
export const isImportEmptyFileError = (err: unknown): err is ImportEmptyFileError =>
  nameOf(err) === "ImportEmptyFileError";
export const isImportDatabaseError = (err: unknown): err is ImportDatabaseError =>
  nameOf(err) === "ImportDatabaseError";

/** Failures the import pipeline records in the import history itself (refusals before it are not). */
export const isImportPipelineError = (err: unknown): boolean =>
  isImportParseError(err) || isImportEmptyFileError(err) || isImportDatabaseError(err);

/** The Connect form of any error: a domain error gets its code, anything else ConnectError.from. */
export function toConnectError(err: unknown): ConnectError {
  const mapping = domainMappingOf(err);
  if (!mapping) return ConnectError.from(err);
  return new ConnectError((err as Error).message, mapping.code, undefined, undefined, err);
}

const httpStatusOf: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.OutOfRange]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.Aborted]: 409,
  [Code.FailedPrecondition]: 409,
  [Code.ResourceExhausted]: 413,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
};

/** The REST error body of the compatible APIs: {"error": "<title>", "message": "..."}. */
export interface HttpErrorBody {
  error: string;
  message: string;
}

/** The HTTP status and body of any error on a REST route. */
export function httpError(err: unknown): { status: number; body: HttpErrorBody } {
  const connectErr = toConnectError(err);
  const mapping = domainMappingOf(err);
  const status = mapping?.status ?? httpStatusOf[connectErr.code] ?? 500;
  const title = mapping?.title ?? titleOf(status, connectErr.code);
  return { status, body: { error: title, message: connectErr.rawMessage } };
}

function titleOf(status: number, code: Code): string {
  if (status === 400) return "Bad Request";
  if (status === 413) return "Payload Too Large";
  if (status >= 500) return "Internal Server Error";
  return Code[code].replace(/([a-z])([A-Z])/g, "$1 $2");
}
