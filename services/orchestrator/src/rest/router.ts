// The REST surface: small JSON routes beside the Connect services (curl and the seeds' examples).
import type http from "node:http";
import { ConnectError } from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import createRouter, { type HTTPMethod } from "find-my-way";
import type { Authenticator, Principal, Role } from "../auth.ts";
import { errorBody, httpStatus } from "../errors.ts";
import type { Logger } from "../logger.ts";

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

export interface RestRouter {
  /** `role` is what the caller's API key needs; "public" skips auth (health, signed downloads). */
  on(method: HTTPMethod | HTTPMethod[], path: string, role: Role | "public", handler: RestHandler): void;
  handle(req: RestRequest, res: RestResponse): void;
  /** Every registered route with the role it needs (for docs and the auth coverage test). */
  routes(): ReadonlyArray<RestRoute>;
}

export interface RestRoute {
  method: string;
  path: string;
  role: Role | "public";
}

export function createRestRouter(log: Logger, auth: Authenticator): RestRouter {
  const router = createRouter({
    ignoreTrailingSlash: true,
    defaultRoute: (_req, res) => sendJson(res, 404, { error: "Not Found", message: "no such route" }),
  });
  const registered: RestRoute[] = [];
  return {
    routes: () => registered,
    on(method, path, role, handler) {
      for (const m of Array.isArray(method) ? method : [method]) registered.push({ method: m, path, role });
      router.on(method, path, (req, res, params) => {
        const url = new URL(req.url ?? "/", "http://localhost");
        Promise.resolve()
          .then(() => {
            const principal: Principal =
              role === "public" ? { name: "public", role: "viewer" } : auth.authorize(req.headers, role);
            return handler({ req, res, params, query: url.searchParams, principal });
          })
          .catch((err: unknown) => {
            const connectErr = ConnectError.from(err);
            if (httpStatus(connectErr) >= 500) log.error({ err, path: url.pathname }, "request failed");
            if (res.headersSent) {
              res.destroy?.();
              return;
            }
            sendJson(res, httpStatus(connectErr), errorBody(connectErr));
          });
      });
    },
    handle(req, res) {
      router.lookup(req as http.IncomingMessage, res as http.ServerResponse);
    },
  };
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
