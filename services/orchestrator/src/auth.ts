// API keys with roles (viewer < editor < admin), hashed at load and compared in constant time.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { type ContextValues, createContextKey, createContextValues, type HandlerContext } from "@connectrpc/connect";
import { permissionDenied, unauthenticated } from "./errors.ts";

export type Role = "viewer" | "editor" | "admin";

const rank: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export interface Principal {
  name: string;
  role: Role;
  /** Set for job tokens: the dataset the token may read. */
  datasetId?: string;
  /** Set for job tokens: the export the token was issued for. */
  exportId?: string;
}

/**
 * The RPCs a plugin calls with its job token; a job token may call nothing else. SplitItems: a
 * worker plans a split export of its dataset before the shards stream their ranges.
 */
const JOB_TOKEN_RPCS = new Set(["StreamItems", "SplitItems"]);

export interface Authenticator {
  /** False when no keys are configured: every caller is an anonymous admin (loopback only). */
  readonly enabled: boolean;
  /**
   * Resolves the caller from request headers; throws Unauthenticated/PermissionDenied. `rpc` names
   * the RPC being called: a job token may only call the ones a plugin needs.
   */
  authorize(headers: Headers | Record<string, string | string[] | undefined>, required: Role, rpc?: string): Principal;
  /** A short-lived token a plugin uses to stream one dataset's items, naming the export it works on. */
  issueJobToken(datasetId: string, ttlSeconds: number, exportId?: string): string;
  /** True when `token` is a job token this orchestrator issued for `exportId` (expired or not). */
  isJobTokenFor(token: string, exportId: string): boolean;
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
    authorize(headers, required, rpc) {
      const presented = credentialOf(headers);
      const token = presented?.startsWith("job.") ? verifyJobToken(presented, sign) : undefined;
      if (token) {
        if (required !== "viewer") throw permissionDenied("job tokens may only read");
        if (rpc !== undefined && !JOB_TOKEN_RPCS.has(rpc)) {
          throw permissionDenied(`job tokens may only call ${[...JOB_TOKEN_RPCS].join(", ")}; not ${rpc}`);
        }
        return token;
      }
      if (hashed.length === 0) return { name: "anonymous", role: "admin" };
      if (!presented) {
        throw unauthenticated("missing API key: send X-API-Key or Authorization: Bearer <key>");
      }
      const digest = sha256(presented);
      // Compare against every key so timing does not reveal which one matched.
      let match: (typeof hashed)[number] | undefined;
      for (const candidate of hashed) {
        if (candidate.digest.length === digest.length && timingSafeEqual(candidate.digest, digest)) match ??= candidate;
      }
      if (!match) throw unauthenticated("invalid API key");
      if (rank[match.role] < rank[required]) {
        throw permissionDenied(`API key "${match.name}" has role ${match.role}; this needs ${required}`);
      }
      return { name: match.name, role: match.role };
    },
    issueJobToken(datasetId, ttlSeconds, exportId) {
      const claims: JobTokenClaims = {
        d: datasetId,
        e: Math.floor(Date.now() / 1000) + ttlSeconds,
        ...(exportId === undefined ? {} : { x: exportId }),
      };
      const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
      return `job.${payload}.${sign(payload)}`;
    },
    isJobTokenFor(token, exportId) {
      // Expiry is not checked: a worker still reports on an export after it finished reading items.
      return exportId !== "" && signedJobClaims(token, sign)?.x === exportId;
    },
  };
}

interface JobTokenClaims {
  /** export id; a token without one reads items but binds no events */
  x?: string;
  /** dataset id */
  d: string;
  /** expiry, seconds since the epoch */
  e: number;
}

/** The claims of a job token signed with this secret and naming an export, else undefined. */
function signedJobClaims(token: string, sign: (payload: string) => string): JobTokenClaims | undefined {
  const [prefix, payload = "", signature = ""] = token.split(".");
  if (prefix !== "job") return undefined;
  const expected = Buffer.from(sign(payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Partial<JobTokenClaims>;
    if (typeof claims.d !== "string" || typeof claims.e !== "number") return undefined;
    return claims as JobTokenClaims;
  } catch {
    return undefined;
  }
}

function verifyJobToken(token: string, sign: (payload: string) => string): Principal {
  const claims = signedJobClaims(token, sign);
  if (!claims) throw unauthenticated("invalid job token");
  if (claims.e < Date.now() / 1000) throw unauthenticated("job token expired");
  return {
    name: "job",
    role: "viewer",
    datasetId: claims.d,
    ...(claims.x === undefined ? {} : { exportId: claims.x }),
  };
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

/** The role each RPC needs: reads (and SplitItems, the plan of one; WhoAmI) are viewer, writes editor, deletes admin. */
export function requiredRoleOf(methodName: string): Role {
  if (/^Delete/.test(methodName)) return "admin";
  if (/^(Get|List|Count|Stream|Split|Watch|Diff)/.test(methodName) || methodName === "WhoAmI") return "viewer";
  return "editor";
}

/** What a caller may do, in WhoAmI's words; follows requiredRoleOf and the REST routes' roles. */
export type Permission = "read" | "export" | "import" | "edit" | "delete";

const PERMISSIONS: Record<Role, readonly Permission[]> = {
  viewer: ["read"],
  editor: ["read", "export", "import", "edit"],
  admin: ["read", "export", "import", "edit", "delete"],
};

export function permissionsOf(role: Role): readonly Permission[] {
  return PERMISSIONS[role];
}

const principalKey = createContextKey<Principal>({ name: "anonymous", role: "admin" });

/** What a handler's context carries about the caller the RPC handler authorized. */
export function principalContext(principal: Principal): ContextValues {
  return createContextValues().set(principalKey, principal);
}

export function principalOf(ctx: HandlerContext): Principal {
  return ctx.values.get(principalKey);
}

/** False for a job token and anything but the dataset it was issued for (also a record of none). */
export function mayAccessDataset(principal: Principal, datasetId: string | undefined): boolean {
  return principal.datasetId === undefined || principal.datasetId === datasetId;
}

/** Refuses a job token access to another dataset than its own. */
export function assertDatasetAccess(principal: Principal, datasetId: string): void {
  if (!mayAccessDataset(principal, datasetId)) {
    throw permissionDenied("this job token may only read its own dataset");
  }
}
