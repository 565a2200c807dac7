// The web console: static files built by Vite (web/dist, or CONSOLE_DIR), served at / and
// /assets/*. The page carries no data, so the routes are public; its API calls carry the key.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import type http from "node:http";
import { extname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { FeatureModule } from "./context.ts";
import type { RestContext, RestRouter } from "./rest/router.ts";
import { sendJson } from "./rest/router.ts";

const REPO_ROOT = resolve(import.meta.dirname, "..", "..", "..");

/** Where the built console is: CONSOLE_DIR, else web/dist of this repository. */
export function consoleDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.CONSOLE_DIR ? resolve(env.CONSOLE_DIR) : join(REPO_ROOT, "web", "dist");
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
};

/** Vite names bundled assets `<name>-<8-char hash>.<ext>`: those never change, so cache for good. */
const HASHED = /-[A-Za-z0-9_-]{8}\.[a-z0-9]+$/;

/** The page runs only its own bundle and talks only to this origin. */
const PAGE_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

interface Cached {
  mtimeMs: number;
  size: number;
  body: Buffer;
  etag: string;
}

const NOT_BUILT = (dir: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Labelport console not built</title></head>
<body><h1>The Labelport web console is not built</h1>
<p>No built console was found in <code>${escapeHtml(dir)}</code>.</p>
<p>Build it with <code>npm run build:web</code> (or let <code>npm start</code> do it), or point
<code>CONSOLE_DIR</code> at a built console. The API on this port works without it.</p>
</body></html>
`;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface ConsoleOptions {
  /** The built console; default `consoleDir()`. */
  dir?: string;
}

export async function startConsole(options: ConsoleOptions = {}): Promise<FeatureModule> {
  return {
    register: (_router, rest) => registerConsole(rest, options.dir ?? consoleDir()),
    close: async () => undefined,
  };
}

function registerConsole(rest: RestRouter, dir: string): void {
  const cache = new Map<string, Cached>();

  /** The file's bytes and a content hash ETag, re-read only when its size or mtime changed. */
  async function load(path: string): Promise<Cached | undefined> {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const hit = cache.get(path);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit;
    const body = await readFile(path);
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`;
    const entry = { mtimeMs: info.mtimeMs, size: info.size, body, etag };
    cache.set(path, entry);
    return entry;
  }

  function send(
    ctx: RestContext,
    file: Cached,
    path: string,
    cacheControl: string,
    extra: Record<string, string> = {},
  ) {
    const req = ctx.req as http.IncomingMessage;
    const res = ctx.res as http.ServerResponse;
    const headers: Record<string, string> = {
      "content-type": CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream",
      etag: file.etag,
      "cache-control": cacheControl,
      "x-content-type-options": "nosniff",
      ...extra,
    };
    const inm = req.headers["if-none-match"];
    if (inm?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === file.etag)) {
      res.writeHead(304, { etag: file.etag, "cache-control": cacheControl });
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "content-length": String(file.body.length) });
    res.end(req.method === "HEAD" ? undefined : file.body);
  }

  rest.on(["GET", "HEAD"], "/", "public", async (ctx) => {
    const path = join(dir, "index.html");
    const file = await load(path);
    if (!file) {
      const body = NOT_BUILT(dir);
      const res = ctx.res as http.ServerResponse;
      res.writeHead(503, {
        "content-type": "text/html; charset=utf-8",
        "content-length": String(Buffer.byteLength(body)),
        "cache-control": "no-store",
      });
      res.end(ctx.req.method === "HEAD" ? undefined : body);
      return;
    }
    // no-cache: revalidated on every load (cheap with the ETag), so a new build shows at once.
    send(ctx, file, path, "no-cache", PAGE_HEADERS);
  });

  rest.on(["GET", "HEAD"], "/assets/*", "public", async (ctx) => {
    const name = ctx.params["*"] ?? "";
    const assets = join(dir, "assets");
    const path = resolve(assets, name);
    const inside = relative(assets, path);
    // Refuse anything that leaves assets/ (.., absolute paths, NUL, backslashes, dot files).
    if (
      name === "" ||
      name.includes("\0") ||
      name.includes("\\") ||
      inside === "" ||
      inside.startsWith("..") ||
      isAbsolute(inside) ||
      inside.split(sep).some((part) => part.startsWith("."))
    ) {
      sendJson(ctx.res, 403, { error: "Forbidden", message: "invalid asset path" });
      return;
    }
    const file = await load(path);
    if (!file) {
      sendJson(ctx.res, 404, { error: "Not Found", message: "no such asset" });
      return;
    }
    send(ctx, file, path, HASHED.test(path) ? "public, max-age=31536000, immutable" : "no-cache");
  });
}
