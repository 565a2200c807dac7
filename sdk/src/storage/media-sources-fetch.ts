// Reading one media file from a source: the problem vocabulary (missing, refused, failed), the
// guard every body streams through (size cap, idle timeout, the source's own errors recorded
// apart from the destination's), and the safe HTTP(S) fetch: checked and pinned addresses,
// redirects followed by hand and re-checked, connect and read timeouts.
import { lookup } from "node:dns/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { pipeline, Readable, Transform } from "node:stream";
import { forbiddenAddressReason } from "./media-sources-address.ts";

export type MediaProblemKind = "missing" | "refused" | "failed";

/** Why a media file was not copied; `transient` ones are worth another try. */
export class MediaProblemError extends Error {
  override name = "MediaProblemError";
  readonly kind: MediaProblemKind;
  readonly transient: boolean;

  constructor(kind: MediaProblemKind, message: string, options: { transient?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.transient = options.transient ?? false;
  }
}

export const refused = (message: string) => new MediaProblemError("refused", message);

/** The limits of one source. */
export interface FetchLimits {
  maxBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
}

/** A media file being read; `problem()` tells whether its body failed because of the source. */
export interface OpenedMedia {
  body: Readable;
  /** The type the source declared (HTTP Content-Type), if any and well-formed. */
  contentType?: string;
  problem(): MediaProblemError | undefined;
}

const TRANSIENT_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);
const TRANSIENT_S3_NAMES = new Set([
  "SlowDown",
  "InternalError",
  "ServiceUnavailable",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "ThrottlingException",
]);

/** What an error reading a source means for the copy. Abort reasons are not classified here. */
export function classifyMediaError(err: unknown): MediaProblemError {
  if (err instanceof MediaProblemError) return err;
  const name = String((err as { name?: unknown } | null)?.name ?? "");
  const message = err instanceof Error ? err.message : String(err);
  if (name === "StorageNotFoundError") return new MediaProblemError("missing", message, { cause: err });
  if (name === "InvalidStorageKeyError") return new MediaProblemError("refused", message, { cause: err });
  for (let cause: unknown = err, depth = 0; cause && depth < 5; depth++) {
    const c = cause as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } };
    if (c.code === "ENOENT" || c.code === "ENOTDIR") return new MediaProblemError("missing", message, { cause: err });
    const status = c.$metadata?.httpStatusCode;
    if (
      TRANSIENT_CODES.has(String(c.code)) ||
      TRANSIENT_S3_NAMES.has(String(c.name)) ||
      (status !== undefined && status >= 500)
    ) {
      return new MediaProblemError("failed", message, { transient: true, cause: err });
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return new MediaProblemError("failed", message, { cause: err });
}

/**
 * `source` as a stream that fails once it passes `maxBytes` or stays silent for `readTimeoutMs`;
 * the source's failures are recorded (not the reader's), so a failed put can tell whose fault it was.
 */
export function guardBody(
  source: Readable,
  limits: Pick<FetchLimits, "maxBytes" | "readTimeoutMs">,
  contentType?: string,
): OpenedMedia {
  let problem: MediaProblemError | undefined;
  let bytes = 0;
  let idle: NodeJS.Timeout | undefined;
  const fail = (error: MediaProblemError) => {
    problem ??= error;
    source.destroy(problem);
  };
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => fail(new MediaProblemError("failed", `no data for ${limits.readTimeoutMs} ms`, { transient: true })),
      limits.readTimeoutMs,
    );
  };
  const guard = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) {
        fail(refused(`larger than the source's limit of ${limits.maxBytes} bytes`));
        callback(problem);
        return;
      }
      arm();
      callback(null, chunk);
    },
  });
  source.on("error", (err) => {
    // Once the reader gave up (the destination failed), the source only hears about it.
    if (!guard.destroyed) problem ??= classifyMediaError(err);
  });
  arm();
  pipeline(source, guard, () => clearTimeout(idle));
  return { body: guard, ...(contentType ? { contentType } : {}), problem: () => problem };
}

/** An HTTP(S) source as the fetch needs it. */
export interface HttpSourceRuntime {
  readonly name: string;
  readonly allowPrivateNetwork: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly limits: FetchLimits;
  agent(protocol: "http:" | "https:"): http.Agent;
}

export const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A URI as an http(s) URL, refused when it carries credentials or another scheme. */
export function parseHttpUrl(uri: string | URL): URL {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw refused("not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw refused(`unsupported scheme ${url.protocol}`);
  if (url.username || url.password) throw refused("URLs with credentials are not fetched");
  return url;
}

/**
 * GETs `uri` from the source `match` finds for it, hop by hop: each URL (the first and every
 * redirect target) must match a source, and resolve only to addresses that source may reach; the
 * connection goes to the address that was checked, so DNS cannot answer differently in between.
 */
export async function fetchHttp(
  uri: string,
  match: (url: URL) => HttpSourceRuntime | undefined,
  options: { signal?: AbortSignal | undefined; range?: { start: number; end: number } | undefined } = {},
): Promise<OpenedMedia> {
  const { signal, range } = options;
  let url = parseHttpUrl(uri);
  for (let hop = 0; ; hop++) {
    const source = match(url);
    if (!source) throw refused(`no media source matches ${url.origin}${hop > 0 ? " (redirect target)" : ""}`);
    const address = await checkedAddress(url.hostname, source.allowPrivateNetwork);
    const res = await request(url, source, address, range, signal);
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status)) {
      res.destroy();
      const location = res.headers.location;
      if (!location) throw new MediaProblemError("failed", `HTTP ${status} without a Location`);
      if (hop >= MAX_REDIRECTS) throw refused(`more than ${MAX_REDIRECTS} redirects`);
      url = parseHttpUrl(new URL(location, url));
      continue;
    }
    if (status === 416 && range) {
      // The range starts at or after the end of a file that exists: no bytes, as the drivers answer.
      res.destroy();
      return guardBody(Readable.from([]), source.limits);
    }
    if (status < 200 || status > 299) {
      res.destroy();
      if (status === 404 || status === 410) throw new MediaProblemError("missing", `HTTP ${status}`);
      const transient = status >= 500 || status === 408 || status === 429;
      throw new MediaProblemError("failed", `HTTP ${status}`, { transient });
    }
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > source.limits.maxBytes) {
      res.destroy();
      throw refused(`${declared} bytes, larger than the source's limit of ${source.limits.maxBytes} bytes`);
    }
    return guardBody(res, source.limits, mediaType(res.headers["content-type"]));
  }
}

/** The one address a fetch of `hostname` will connect to; every address it resolves to is checked. */
async function checkedAddress(
  hostname: string,
  allowPrivateNetwork: boolean,
): Promise<{ address: string; family: number }> {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(bare)) {
    addresses = [{ address: bare, family: isIP(bare) }];
  } else {
    try {
      addresses = await lookup(bare, { all: true, verbatim: true });
    } catch (err) {
      throw classifyMediaError(err);
    }
  }
  for (const { address } of addresses) {
    const reason = forbiddenAddressReason(address, allowPrivateNetwork);
    if (reason) throw refused(`${bare} resolves to ${address}, ${reason}`);
  }
  const [first] = addresses;
  if (!first) throw new MediaProblemError("failed", `${bare} resolves to no address`);
  return first;
}

function request(
  url: URL,
  source: HttpSourceRuntime,
  pinned: { address: string; family: number },
  range: { start: number; end: number } | undefined,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  const protocol = url.protocol as "http:" | "https:";
  // Node asks for one address or all of them (happy eyeballs); either way it gets the checked one.
  const pin: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
    } else {
      callback(null, pinned.address, pinned.family);
    }
  };
  return new Promise((resolve, reject) => {
    const req = (protocol === "https:" ? https : http).request({
      protocol,
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port || (protocol === "https:" ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: "GET",
      headers: {
        ...source.headers,
        "accept-encoding": "identity",
        "user-agent": "labelport-media-fetch",
        ...(range ? { range: `bytes=${range.start}-${range.end}` } : {}),
      },
      agent: source.agent(protocol),
      lookup: pin,
      ...(signal ? { signal } : {}),
    });
    const timer = setTimeout(
      () =>
        req.destroy(
          new MediaProblemError("failed", `no response within ${source.limits.connectTimeoutMs} ms`, {
            transient: true,
          }),
        ),
      source.limits.connectTimeoutMs,
    );
    req.on("response", (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(signal?.aborted ? signal.reason : classifyMediaError(err));
    });
    req.end();
  });
}

/** `type/subtype` of a Content-Type header, lower-cased; undefined when absent or malformed. */
function mediaType(header: string | undefined): string | undefined {
  const type = header?.split(";")[0]?.trim().toLowerCase();
  return type && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : undefined;
}
