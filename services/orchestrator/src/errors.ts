// One place that maps the closed error vocabulary (Connect codes) to HTTP statuses and bodies.
import { Code, ConnectError } from "@connectrpc/connect";

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

export function httpStatus(err: ConnectError): number {
  return httpStatusOf[err.code] ?? 500;
}

/** The REST error body of the compatible APIs: {"error": "<title>", "message": "..."}. */
export function errorBody(err: ConnectError): { error: string; message: string } {
  const status = httpStatus(err);
  const title =
    status === 400
      ? "Bad Request"
      : status === 413
        ? "Payload Too Large"
        : status >= 500
          ? "Internal Server Error"
          : codeTitle(err.code);
  return { error: title, message: err.rawMessage };
}

function codeTitle(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1 $2");
}

export const invalidArgument = (message: string) => new ConnectError(message, Code.InvalidArgument);
export const notFound = (message: string) => new ConnectError(message, Code.NotFound);
export const alreadyExists = (message: string) => new ConnectError(message, Code.AlreadyExists);
export const failedPrecondition = (message: string) => new ConnectError(message, Code.FailedPrecondition);
