// Where original media are read from: named sources in the WORKER's own configuration
// (LABELPORT_MEDIA_SOURCES), never in a job's claim, so plugins never see the credentials. A URI
// resolves to the first source that matches it: s3://bucket/key to an S3 source serving that
// bucket, http(s):// to an HTTP source whose prefixes or hosts cover it, file:///path to a local
// root holding it; a relative key (or file://<key>) is read from the export's media driver as before.
import { readFileSync } from "node:fs";
import { open, realpath } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { isAbsolute, resolve, sep } from "node:path";
import { rootCertificates } from "node:tls";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import type { StorageDriver } from "./driver.ts";
import { InvalidStorageKeyError } from "./errors.ts";
import {
  classifyMediaError,
  type FetchLimits,
  fetchHttp,
  guardBody,
  type HttpSourceRuntime,
  type OpenedMedia,
  refused,
} from "./media-sources-fetch.ts";
import { createS3Storage } from "./s3.ts";

export {
  MAX_REDIRECTS,
  MediaProblemError,
  type MediaProblemKind,
  type OpenedMedia,
} from "./media-sources-fetch.ts";

/** The environment variable holding the configuration: JSON, or `@<path>` of a JSON file. */
export const MEDIA_SOURCES_ENV = "LABELPORT_MEDIA_SOURCES";

export const MEDIA_DEFAULTS: FetchLimits = {
  maxBytes: 1024 * 1024 * 1024,
  connectTimeoutMs: 10_000,
  readTimeoutMs: 30_000,
};

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name");
const limits = {
  /** Largest file this source may deliver; larger ones are refused, while streaming if need be. */
  maxBytes: z.number().int().positive().optional(),
  /** Time to connect and receive the response headers. */
  connectTimeoutMs: z.number().int().positive().optional(),
  /** Longest silence while reading a body. */
  readTimeoutMs: z.number().int().positive().optional(),
};
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' or '-'");

const s3SourceSchema = z
  .strictObject({
    name,
    kind: z.literal("s3"),
    /** The buckets this source serves: s3://<bucket>/<key>. */
    buckets: z.array(z.string().min(1)).min(1),
    region: z.string().min(1).default("us-east-1"),
    endpoint: z.url().optional(),
    forcePathStyle: z.boolean().optional(),
    /** Names of environment variables holding the credentials (the AWS default chain without them). */
    accessKeyIdEnv: envName.optional(),
    secretAccessKeyEnv: envName.optional(),
    sessionTokenEnv: envName.optional(),
    ...limits,
  })
  .refine((s) => (s.accessKeyIdEnv === undefined) === (s.secretAccessKeyEnv === undefined), {
    message: "accessKeyIdEnv and secretAccessKeyEnv go together",
    path: ["secretAccessKeyEnv"],
  });

const httpSourceSchema = z
  .strictObject({
    name,
    kind: z.literal("http"),
    /** URL prefixes served (same origin, path starting with the prefix's path). */
    prefixes: z.array(z.url({ protocol: /^https?$/ })).default([]),
    /** Host names (or host:port) served, over http and https. */
    hosts: z.array(z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, "a host name, IP or host:port")).default([]),
    /** Request headers whose values are read from environment variables: { "Authorization": "CDN_AUTH" }. */
    headersFromEnv: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "a header name"), envName).default({}),
    /** PEM file of extra certificate authorities to trust, for servers with a private or self-signed certificate. */
    caFile: z.string().refine(isAbsolute, "an absolute path").optional(),
    /** Lets this source's hosts be on loopback or private networks (never metadata addresses). */
    allowPrivateNetwork: z.boolean().default(false),
    ...limits,
  })
  .refine((s) => s.prefixes.length + s.hosts.length > 0, { message: "give prefixes or hosts", path: ["hosts"] });

const localSourceSchema = z.strictObject({
  name,
  kind: z.literal("local"),
  /** file:///<path> URIs under this directory are read; any other path is refused. */
  root: z.string().refine(isAbsolute, "an absolute path"),
  ...limits,
});

export const mediaSourcesSchema = z
  .strictObject({
    sources: z.array(z.discriminatedUnion("kind", [s3SourceSchema, httpSourceSchema, localSourceSchema])),
  })
  .refine((c) => new Set(c.sources.map((s) => s.name)).size === c.sources.length, {
    message: "source names must be unique",
    path: ["sources"],
  });

export type MediaSourcesConfig = z.input<typeof mediaSourcesSchema>;

type S3Source = z.infer<typeof s3SourceSchema>;
type HttpSource = z.infer<typeof httpSourceSchema>;

/** Validated sources with their secrets and CA files read: what a worker holds. */
export interface MediaSources {
  readonly s3: ReadonlyArray<{
    name: string;
    buckets: ReadonlySet<string>;
    region: string;
    endpoint?: string;
    forcePathStyle?: boolean;
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
    limits: FetchLimits;
  }>;
  readonly http: ReadonlyArray<{
    name: string;
    prefixes: readonly URL[];
    hosts: ReadonlySet<string>;
    headers: Readonly<Record<string, string>>;
    ca?: string;
    allowPrivateNetwork: boolean;
    limits: FetchLimits;
  }>;
  readonly local: ReadonlyArray<{ name: string; root: string; limits: FetchLimits }>;
  /** Names in configuration order; a URI goes to the first source of its scheme that matches. */
  readonly names: readonly string[];
}

export const NO_MEDIA_SOURCES: MediaSources = { s3: [], http: [], local: [], names: [] };

export class MediaSourcesConfigError extends Error {
  override name = "MediaSourcesConfigError";
}

/**
 * The sources in `env[LABELPORT_MEDIA_SOURCES]` (JSON or `@path`); none when it is unset. Throws
 * MediaSourcesConfigError naming the field, the source or the missing variable.
 */
export function loadMediaSources(env: Readonly<Record<string, string | undefined>> = process.env): MediaSources {
  const value = env[MEDIA_SOURCES_ENV]?.trim();
  if (!value) return NO_MEDIA_SOURCES;
  let text = value;
  let origin = MEDIA_SOURCES_ENV;
  if (value.startsWith("@")) {
    origin = `${MEDIA_SOURCES_ENV} file ${value.slice(1)}`;
    try {
      text = readFileSync(value.slice(1), "utf8");
    } catch (err) {
      throw new MediaSourcesConfigError(`${origin}: ${(err as Error).message}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MediaSourcesConfigError(`${origin}: not valid JSON: ${(err as Error).message}`);
  }
  return parseMediaSources(json, env, origin);
}

/** Validates a configuration and reads what it refers to (environment variables, CA files). */
export function parseMediaSources(
  config: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
  origin = MEDIA_SOURCES_ENV,
): MediaSources {
  const parsed = mediaSourcesSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("") ?? "";
    throw new MediaSourcesConfigError(`${origin}: ${path.replace(/^\./, "") || "value"}: ${issue?.message}`);
  }
  const fromEnv = (source: string, field: string, variable: string): string => {
    const found = env[variable];
    if (!found) {
      throw new MediaSourcesConfigError(
        `${origin}: source ${JSON.stringify(source)}: environment variable ${variable} (${field}) is not set`,
      );
    }
    return found;
  };
  const limitsOf = (s: { [K in keyof FetchLimits]?: number | undefined }): FetchLimits => ({
    maxBytes: s.maxBytes ?? MEDIA_DEFAULTS.maxBytes,
    connectTimeoutMs: s.connectTimeoutMs ?? MEDIA_DEFAULTS.connectTimeoutMs,
    readTimeoutMs: s.readTimeoutMs ?? MEDIA_DEFAULTS.readTimeoutMs,
  });
  const result = { s3: [], http: [], local: [], names: [] } as {
    s3: Array<MediaSources["s3"][number]>;
    http: Array<MediaSources["http"][number]>;
    local: Array<MediaSources["local"][number]>;
    names: string[];
  };
  for (const source of parsed.data.sources) {
    result.names.push(source.name);
    if (source.kind === "s3") result.s3.push(s3Runtime(source, fromEnv, limitsOf(source)));
    else if (source.kind === "http") result.http.push(httpRuntime(source, fromEnv, limitsOf(source), origin));
    else result.local.push({ name: source.name, root: resolve(source.root), limits: limitsOf(source) });
  }
  return result;
}

type FromEnv = (source: string, field: string, variable: string) => string;

function s3Runtime(source: S3Source, fromEnv: FromEnv, limits: FetchLimits): MediaSources["s3"][number] {
  const out: MediaSources["s3"][number] = {
    name: source.name,
    buckets: new Set(source.buckets),
    region: source.region,
    ...(source.endpoint !== undefined ? { endpoint: source.endpoint } : {}),
    ...(source.forcePathStyle !== undefined ? { forcePathStyle: source.forcePathStyle } : {}),
    limits,
  };
  if (source.accessKeyIdEnv && source.secretAccessKeyEnv) {
    out.credentials = {
      accessKeyId: fromEnv(source.name, "accessKeyIdEnv", source.accessKeyIdEnv),
      secretAccessKey: fromEnv(source.name, "secretAccessKeyEnv", source.secretAccessKeyEnv),
      ...(source.sessionTokenEnv
        ? { sessionToken: fromEnv(source.name, "sessionTokenEnv", source.sessionTokenEnv) }
        : {}),
    };
  }
  return out;
}

function httpRuntime(
  source: HttpSource,
  fromEnv: FromEnv,
  limits: FetchLimits,
  origin: string,
): MediaSources["http"][number] {
  const headers: Record<string, string> = {};
  for (const [header, variable] of Object.entries(source.headersFromEnv)) {
    headers[header.toLowerCase()] = fromEnv(source.name, `headersFromEnv.${header}`, variable);
  }
  let ca: string | undefined;
  if (source.caFile) {
    try {
      ca = readFileSync(source.caFile, "utf8");
    } catch (err) {
      throw new MediaSourcesConfigError(
        `${origin}: source ${JSON.stringify(source.name)}: caFile: ${(err as Error).message}`,
      );
    }
  }
  return {
    name: source.name,
    prefixes: source.prefixes.map((p) => new URL(p)),
    hosts: new Set(source.hosts.map((h) => h.toLowerCase())),
    headers,
    ...(ca !== undefined ? { ca } : {}),
    allowPrivateNetwork: source.allowPrivateNetwork,
    limits,
  };
}

/** Inclusive byte range, as in an HTTP Range; a source that ignores it sends the whole file. */
export interface MediaRange {
  start: number;
  end: number;
}

export interface MediaResolver {
  /** Opens `uri` for reading; rejects with MediaProblemError (missing, refused, failed) or an abort. */
  open(
    uri: string,
    options?: { signal?: AbortSignal | undefined; range?: MediaRange | undefined },
  ): Promise<OpenedMedia>;
  /** Closes connections and clients; idempotent. */
  dispose(): Promise<void>;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Silence allowed while reading the export's own media storage (its driver has its own timeouts). */
const DRIVER_READ_TIMEOUT_MS = 300_000;

/**
 * A resolver over `sources`, reading relative keys and file://<key> from `mediaDriver`. Clients and
 * connection pools are made on first use and closed by dispose().
 */
export function createMediaResolver(sources: MediaSources, mediaDriver: StorageDriver): MediaResolver {
  const s3Drivers = new Map<string, StorageDriver>();
  const agents = new Map<string, http.Agent>();
  const realRoots = new Map<string, Promise<string>>();

  const httpSources: HttpSourceRuntime[] = sources.http.map((source) => ({
    name: source.name,
    allowPrivateNetwork: source.allowPrivateNetwork,
    headers: source.headers,
    limits: source.limits,
    agent(protocol) {
      const id = `${source.name} ${protocol}`;
      let agent = agents.get(id);
      if (!agent) {
        const options = { keepAlive: true, maxSockets: 16 };
        agent =
          protocol === "https:"
            ? new https.Agent({ ...options, ...(source.ca ? { ca: [...rootCertificates, source.ca] } : {}) })
            : new http.Agent(options);
        agents.set(id, agent);
      }
      return agent;
    },
  }));

  function matchHttp(url: URL): HttpSourceRuntime | undefined {
    const index = sources.http.findIndex(
      (source) =>
        source.hosts.has(url.host.toLowerCase()) ||
        source.hosts.has(url.hostname.toLowerCase()) ||
        source.prefixes.some((p) => p.origin === url.origin && url.pathname.startsWith(p.pathname)),
    );
    return httpSources[index];
  }

  async function openS3(uri: string, range: MediaRange | undefined): Promise<OpenedMedia> {
    const rest = uri.slice("s3://".length);
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const key = slash < 0 ? "" : rest.slice(slash + 1);
    const source = sources.s3.find((s) => s.buckets.has(bucket));
    if (!source) throw refused(`no media source serves bucket ${JSON.stringify(bucket)}`);
    if (!key) throw refused("s3 URI without a key");
    const id = `${source.name}/${bucket}`;
    let driver = s3Drivers.get(id);
    if (!driver) {
      driver = createS3Storage({
        bucket,
        region: source.region,
        ...(source.endpoint !== undefined ? { endpoint: source.endpoint } : {}),
        ...(source.forcePathStyle !== undefined ? { forcePathStyle: source.forcePathStyle } : {}),
        ...(source.credentials ? { credentials: source.credentials } : {}),
      });
      s3Drivers.set(id, driver);
    }
    try {
      return guardBody(await driver.get(key, range), source.limits);
    } catch (err) {
      throw classifyMediaError(err);
    }
  }

  async function openLocal(uri: string, range: MediaRange | undefined): Promise<OpenedMedia> {
    let path: string;
    try {
      path = resolve(fileURLToPath(uri));
    } catch (err) {
      throw refused(`not a usable file URI: ${(err as Error).message}`);
    }
    const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
    const source = sources.local.find((s) => inside(s.root, path));
    if (!source) throw refused("outside every local media root");
    let real: string;
    let realRoot: string;
    try {
      [real, realRoot] = await Promise.all([realpath(path), rootOf(source.root)]);
    } catch (err) {
      throw classifyMediaError(err);
    }
    // A symlink inside the root may point anywhere; what counts is where the file really is.
    if (!inside(realRoot, real)) throw refused(`resolves outside the local media root of source ${source.name}`);
    const handle = await open(real, "r").catch((err: unknown) => {
      throw classifyMediaError(err);
    });
    const info = await handle.stat();
    if (!info.isFile()) {
      await handle.close();
      throw refused("not a regular file");
    }
    if (!range && info.size > source.limits.maxBytes) {
      await handle.close();
      throw refused(`${info.size} bytes, larger than the source's limit of ${source.limits.maxBytes} bytes`);
    }
    return guardBody(handle.createReadStream(range ? { start: range.start, end: range.end } : {}), source.limits);
  }

  function rootOf(root: string): Promise<string> {
    let real = realRoots.get(root);
    if (!real) {
      real = realpath(root);
      real.catch(() => realRoots.delete(root));
      realRoots.set(root, real);
    }
    return real;
  }

  async function openDriverKey(key: string, range: MediaRange | undefined): Promise<OpenedMedia> {
    try {
      // The export's own media storage: trusted like the export's storage, no cap (as before sources).
      const body = await mediaDriver.get(key, range);
      return guardBody(body, { maxBytes: Number.POSITIVE_INFINITY, readTimeoutMs: DRIVER_READ_TIMEOUT_MS });
    } catch (err) {
      throw classifyMediaError(err);
    }
  }

  return {
    async open(uri, { signal, range } = {}) {
      signal?.throwIfAborted();
      const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
      if (scheme === undefined) return openDriverKey(uri, range);
      if (scheme === "s3") return openS3(uri, range);
      if (scheme === "http" || scheme === "https") return fetchHttp(uri, matchHttp, { signal, range });
      if (scheme === "file") {
        if (uri.startsWith("file:///")) return openLocal(uri, range);
        let key: string;
        try {
          key = decodeURIComponent(uri.slice("file://".length));
        } catch {
          throw classifyMediaError(new InvalidStorageKeyError(uri, "malformed percent-encoding in file:// URI"));
        }
        return openDriverKey(key, range);
      }
      throw refused(`no media source for ${scheme}:// URIs`);
    },
    async dispose() {
      for (const agent of agents.values()) agent.destroy();
      agents.clear();
      await Promise.all([...s3Drivers.values()].map((d) => d.dispose()));
      s3Drivers.clear();
    },
  };
}
