// API keys with roles (viewer < editor < admin), hashed at load and compared in constant time.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";

export type Role = "viewer" | "editor" | "admin";

const rank: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export interface Principal {
  name: string;
  role: Role;
  /** Set for job tokens: the dataset the token may read. */
  datasetId?: string;
}

export interface Authenticator {
  /** False when no keys are configured: every caller is an anonymous admin (loopback only). */
  readonly enabled: boolean;
  /** Resolves the caller from request headers; throws Unauthenticated/PermissionDenied. */
  authorize(headers: Headers | Record<string, string | string[] | undefined>, required: Role): Principal;
  /** A short-lived token a plugin uses to stream one dataset's items. */
  issueJobToken(datasetId: string, ttlSeconds: number): string;
}

const sha256 = (value: string) => createHash("sha256").update(value).digest();

export function createAuthenticator(
  keys: ReadonlyArray<{ name: string; role: Role; key: string }>,
  secret: string,
): Authenticator {
  // Plaintext keys are dropped here; only digests stay in memory. `sha256:<hex>` entries are pre-hashed.
  const hashed = keys.map((k) => ({
    name: k.name,
    role: k.role,
    digest: k.key.startsWith("sha256:") ? Buffer.from(k.key.slice(7), "hex") : sha256(k.key),
  }));
  const sign = (payload: string) => createHmac("sha256", secret).update(payload).digest("base64url");
  return {
    enabled: hashed.length > 0,
    authorize(headers, required) {
      const presented = credentialOf(headers);
      const token = presented?.startsWith("job.") ? verifyJobToken(presented, sign) : undefined;
      if (token) {
        if (required !== "viewer") throw new ConnectError("job tokens may only read", Code.PermissionDenied);
        return token;
      }
      if (hashed.length === 0) return { name: "anonymous", role: "admin" };
      if (!presented) {
        throw new ConnectError("missing API key: send X-API-Key or Authorization: Bearer <key>", Code.Unauthenticated);
      }
      const digest = sha256(presented);
      // Compare against every key so timing does not reveal which one matched.
      let match: (typeof hashed)[number] | undefined;
      for (const candidate of hashed) {
        if (candidate.digest.length === digest.length && timingSafeEqual(candidate.digest, digest)) match ??= candidate;
      }
      if (!match) throw new ConnectError("invalid API key", Code.Unauthenticated);
      if (rank[match.role] < rank[required]) {
        throw new ConnectError(
          `API key "${match.name}" has role ${match.role}; this needs ${required}`,
          Code.PermissionDenied,
        );
      }
      return { name: match.name, role: match.role };
    },
    issueJobToken(datasetId, ttlSeconds) {
      const payload = Buffer.from(
        JSON.stringify({ d: datasetId, e: Math.floor(Date.now() / 1000) + ttlSeconds }),
      ).toString("base64url");
      return `job.${payload}.${sign(payload)}`;
    },
  };
}

function verifyJobToken(token: string, sign: (payload: string) => string): Principal {
  const [, payload = "", signature = ""] = token.split(".");
  const expected = Buffer.from(sign(payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new ConnectError("invalid job token", Code.Unauthenticated);
  }
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { d: string; e: number };
  if (claims.e < Date.now() / 1000) throw new ConnectError("job token expired", Code.Unauthenticated);
  return { name: "job", role: "viewer", datasetId: claims.d };
}

function credentialOf(headers: Headers | Record<string, string | string[] | undefined>): string | undefined {
  const get = (name: string) => {
    if (headers instanceof Headers) return headers.get(name) ?? undefined;
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const apiKey = get("x-api-key");
  if (apiKey) return apiKey;
  const authorization = get("authorization");
  const match = authorization?.match(/^Bearer\s+(.+)$/i);
  return match?.[1];
}

/** The role each RPC needs: reads are viewer, writes editor, deletes admin. */
export function requiredRoleOf(methodName: string): Role {
  if (/^Delete/.test(methodName)) return "admin";
  if (/^(Get|List|Count|Stream|Watch)/.test(methodName)) return "viewer";
  return "editor";
}

const principalKey = createContextKey<Principal>({ name: "anonymous", role: "admin" });

export function authInterceptor(auth: Authenticator): Interceptor {
  return (next) => async (req) => {
    req.contextValues.set(principalKey, auth.authorize(req.header, requiredRoleOf(req.method.name)));
    return next(req);
  };
}

export function principalOf(ctx: HandlerContext): Principal {
  return ctx.values.get(principalKey);
}
