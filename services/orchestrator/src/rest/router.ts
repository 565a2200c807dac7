// The REST surface: small JSON routes beside the Connect services (curl and the compatible APIs' examples).
import type http from "node:http";
import type { JsonValue } from "@bufbuild/protobuf";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import createRouter, { type HTTPMethod } from "find-my-way";
import type { Authenticator, Principal, Role } from "../auth.ts";
import { httpError, invalidArgument, notFound, resourceExhausted } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { observeHttpError } from "../telemetry/metrics.ts";

type NodeHandler = ReturnType<typeof connectNodeAdapter>;
export type RestRequest = Parameters<NodeHandler>[0];
export type RestResponse = Parameters<NodeHandler>[1];

export interface RestContext {
  req: RestRequest;
  res: RestResponse;
  params: Record<string, string | undefined>;
  query: URLSearchParams;
  principal: Principal;
}

export type RestHandler = (ctx: RestContext) => Promise<void> | void;

export interface RestRouteOptions {
  /** Largest body this route takes; default the router's (REST_MAX_BODY_BYTES). */
  maxBodyBytes?: number;
}

export interface RestRouter {
  /**
   * `role` is what the caller's API key needs; "public" skips auth (health, signed downloads).
   * The key and the declared body size are checked on the headers, before the handler runs; a
   * handler that reads a body without Content-Length caps it while reading.
   */
  on(
    method: HTTPMethod | HTTPMethod[],
    path: string,
    role: Role | "public",
    handler: RestHandler,
    options?: RestRouteOptions,
  ): void;
  handle(req: RestRequest, res: RestResponse): void;
  /** Every registered route with the role it needs (for docs and the auth coverage test). */
  routes(): ReadonlyArray<RestRoute>;
}

export interface RestRoute {
  method: string;
  path: string;
  role: Role | "public";
}

export function createRestRouter(
  log: Logger,
  auth: Authenticator,
  defaults: { maxBodyBytes: number } = { maxBodyBytes: 1024 * 1024 },
): RestRouter {
  const router = createRouter({
    ignoreTrailingSlash: true,
    defaultRoute: (_req, res) => sendError(res, notFound("no such route")),
    onBadUrl: (path, _req, res) => sendError(res, invalidArgument(`malformed URL path "${path.slice(0, 200)}"`)),
  });
  const registered: RestRoute[] = [];
  return {
    routes: () => registered,
    on(method, path, role, handler, options = {}) {
      const maxBodyBytes = options.maxBodyBytes ?? defaults.maxBodyBytes;
      for (const m of Array.isArray(method) ? method : [method]) registered.push({ method: m, path, role });
      router.on(method, path, (req, res, params) => {
        const url = URL.parse(req.url ?? "/", "http://localhost");
        if (!url) {
          sendError(res, invalidArgument("malformed request URL"));
          return;
        }
        Promise.resolve()
          .then(() => {
            const principal: Principal =
              role === "public"
                ? { name: "public", role: "viewer" }
                : auth.authorize(req.headers, role, `${req.method} ${path}`);
            checkBodyHeaders(req.headers, maxBodyBytes);
            return handler({ req, res, params, query: url.searchParams, principal });
          })
          .catch((err: unknown) => {
            const { status, body } = httpError(err);
            // A client that went away (aborted upload, reset) is not a fault of the server.
            const clientGone = req.destroyed || res.destroyed;
            if (!clientGone) observeHttpError(req.method ?? "", path, status);
            if (clientGone) log.debug({ err, path: url.pathname }, "client went away");
            else if (status >= 500) log.error({ err, path: url.pathname }, "request failed");
            if (res.headersSent || res.writableEnded) {
              res.destroy?.();
              return;
            }
            sendJson(res, status, body);
          });
      });
    },
    handle(req, res) {
      router.lookup(req as http.IncomingMessage, res as http.ServerResponse);
    },
  };
}

/** Refuses, on the headers alone, a body larger than the route takes or one that is compressed. */
function checkBodyHeaders(headers: http.IncomingHttpHeaders, maxBodyBytes: number): void {
  const encoding = headers["content-encoding"]?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    throw invalidArgument(`Content-Encoding "${encoding}" is not accepted on REST routes: send the body uncompressed`);
  }
  const declared = Number(headers["content-length"] ?? 0);
  if (declared > maxBodyBytes) {
    throw resourceExhausted(`request body is ${declared} bytes; this route takes at most ${maxBodyBytes} bytes`);
  }
}

export function sendJson(res: RestResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  (res as http.ServerResponse).writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

/**
 * A JSON request body, read up to `maxBytes` (also when no Content-Length was sent); undefined
 * when the body is empty. Errors name the body as `field` does ("body", "request body").
 */
/** Answers a REST request with the status and body the error catalogue (errors.ts) gives `err`. */
export function sendError(res: RestResponse, err: unknown): void {
  const { status, body } = httpError(err);
  sendJson(res, status, body);
}

export async function readJsonBody(
  req: RestRequest,
  options: { maxBytes: number; field: string },
): Promise<JsonValue | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > options.maxBytes) {
      throw resourceExhausted(`${options.field}: at most ${options.maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as JsonValue;
  } catch (err) {
    throw invalidArgument(`${options.field}: not valid JSON (${(err as Error).message})`);
  }
}
