// Who may call from where. With authentication off (no API_KEYS) only loopback Host names and
// PUBLIC_URL's host are served (a DNS-rebinding page cannot reach the API under its own name),
// and a browser request from another origin is refused (a cross-site form cannot import data).
// CORS headers go only to the origins CORS_ORIGINS lists.
import { cors } from "@connectrpc/connect";
import { sendJson } from "./rest/router.ts";
import type { RequestHandler } from "./server.ts";

type Request = Parameters<RequestHandler>[0];
type Response = Parameters<RequestHandler>[1];

export interface OriginPolicy {
  authEnabled: boolean;
  /** PUBLIC_URL: its host is served and its origin is same-origin. */
  publicUrl?: string;
  /** Exact origins (scheme://host[:port]) allowed to call cross-origin. */
  corsOrigins: ReadonlyArray<string>;
  tls: boolean;
}

const ALLOWED_METHODS = [...new Set([...cors.allowedMethods, "DELETE", "HEAD"])].join(", ");
const ALLOWED_HEADERS = [...cors.allowedHeaders, "X-API-Key", "Authorization"].join(", ");
const EXPOSED_HEADERS = [...cors.exposedHeaders, "Content-Disposition", "X-Export-Id", "X-Export-Size"].join(", ");
const PREFLIGHT_MAX_AGE_SECONDS = "600";

/** Returns a function that answers refused requests and preflights itself and returns false for them. */
export function createOriginGuard(policy: OriginPolicy): (req: Request, res: Response) => boolean {
  const publicUrl = policy.publicUrl ? new URL(policy.publicUrl) : undefined;
  const allowedOrigins = new Set(policy.corsOrigins);
  const scheme = policy.tls ? "https" : "http";

  const servedHost = (hostname: string) =>
    hostname === "localhost" ||
    hostname.endsWith(".localhost") ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname) ||
    hostname === "[::1]" ||
    hostname === publicUrl?.hostname;

  return (req, res) => {
    const authority = authorityOf(req);
    const origin = header(req, "origin");
    const requestUrl = parseUrl(`${scheme}://${authority ?? ""}`);
    if (!policy.authEnabled && !(requestUrl && servedHost(requestUrl.hostname))) {
      sendJson(res, 403, {
        error: "Forbidden",
        message:
          `Host "${authority ?? ""}" is not served: with authentication off (no API_KEYS) only localhost, ` +
          "127.x.x.x, [::1] and the host of PUBLIC_URL are accepted; set PUBLIC_URL to the address clients use, " +
          "or configure API_KEYS",
      });
      return false;
    }
    const listed = origin !== undefined && allowedOrigins.has(origin);
    if (req.method === "OPTIONS" && origin !== undefined && header(req, "access-control-request-method")) {
      if (!listed) {
        sendJson(res, 403, {
          error: "Forbidden",
          message: `CORS request from origin ${origin} refused: add it to CORS_ORIGINS to let browsers on that site call this API`,
        });
        return false;
      }
      res.writeHead(204, {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ALLOWED_METHODS,
        "access-control-allow-headers": ALLOWED_HEADERS,
        "access-control-max-age": PREFLIGHT_MAX_AGE_SECONDS,
        vary: "Origin",
      });
      res.end();
      return false;
    }
    if (listed) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
      res.setHeader("vary", "Origin");
      return true;
    }
    const sameOrigin =
      origin === undefined || origin === requestUrl?.origin || (publicUrl !== undefined && origin === publicUrl.origin);
    if (!policy.authEnabled && !sameOrigin) {
      sendJson(res, 403, {
        error: "Forbidden",
        message:
          `cross-origin request from ${origin} refused: with authentication off only same-origin requests are ` +
          "accepted; add the origin to CORS_ORIGINS to allow it",
      });
      return false;
    }
    return true;
  };
}

function header(req: Request, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The Host header (HTTP/1.1) or :authority (HTTP/2). */
function authorityOf(req: Request): string | undefined {
  return header(req, ":authority") ?? header(req, "host");
}

function parseUrl(text: string): URL | undefined {
  try {
    const url = new URL(text);
    // Anything beyond host[:port] (a path, user info) means the authority was not one.
    return url.pathname === "/" && url.username === "" && url.search === "" && url.hash === "" ? url : undefined;
  } catch {
    return undefined;
  }
}
