// The console's way to the server: Connect clients over fetch (same origin, the generated types
// of @labelport/sdk/contracts) and the two multipart REST routes that imports are by design.
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  AuthService,
  DatasetService,
  ExportService,
  ImportService,
  ItemService,
  VersionService,
} from "@labelport/sdk/contracts";
import type { Session } from "./session.ts";

/** What went wrong, in the few kinds the console reacts to. */
export type Trouble =
  | { kind: "offline"; message: string }
  | { kind: "unauthenticated"; message: string }
  | { kind: "denied"; message: string }
  | { kind: "other"; message: string };

export interface Hooks {
  /** A call could not reach the server at all. */
  offline(message: string): void;
  /** A call reached the server. */
  online(): void;
  unauthenticated(message: string): void;
}

/** A REST error answer (`{error, message}`) or a Connect error. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly trouble: Trouble,
    readonly status = 0,
    readonly body: unknown = undefined,
  ) {
    super(trouble.message);
  }
}

const OFFLINE = "Cannot reach the Labelport server: it may be down or restarting.";

export function troubleOf(err: unknown): Trouble {
  if (err instanceof ApiError) return err.trouble;
  if (err instanceof TypeError) return { kind: "offline", message: OFFLINE };
  const connect = ConnectError.from(err);
  if (connect.cause instanceof TypeError) return { kind: "offline", message: OFFLINE };
  if (connect.code === Code.Unauthenticated) return { kind: "unauthenticated", message: connect.rawMessage };
  if (connect.code === Code.PermissionDenied) return { kind: "denied", message: connect.rawMessage };
  if (connect.code === Code.Canceled) return { kind: "other", message: "canceled" };
  return { kind: "other", message: connect.rawMessage || Code[connect.code] || "request failed" };
}

/** One line for the user. */
export function messageOf(err: unknown): string {
  return troubleOf(err).message;
}

/** The fate of every annotation of an upload: received = written + merged + skipped + dropped. */
export interface AnnotationAccountingJson {
  received: number;
  written: number;
  merged: number;
  skipped: number;
  dropped: number;
  droppedByReason: Record<string, number>;
  changed: Record<string, number>;
}

/** What the import routes add to the seed's fields: the outcome and the accounting. */
export interface ImportAccountingJson {
  status: "completed" | "completed_with_losses" | "failed";
  annotations: AnnotationAccountingJson;
  notes: string[];
}

export interface PreviewResult extends ImportAccountingJson {
  counts: { annotations: number; totalKeyframes: number; singleKeyframeSequences: number; items?: number };
  conflicts: Array<{
    type: string;
    annotationId: string;
    existingAnnotationId?: string;
    message: string;
    line?: number;
  }>;
  warnings: string[];
  errors: string[];
  omitted?: { warnings: number; errors: number; conflicts: number };
}

export interface ImportIssueJson {
  line: number;
  type?: string;
  message: string;
}

export interface ImportResult extends ImportAccountingJson {
  importId: string;
  success: boolean;
  summary: {
    totalLines: number;
    processedLines: number;
    importedItems: { annotations: number; totalKeyframes: number; singleKeyframeSequences: number; items?: number };
    skippedItems: { annotations: number; items?: number };
  };
  warnings: ImportIssueJson[];
  errors: ImportIssueJson[];
  conflicts: PreviewResult["conflicts"];
  message?: string;
}

export function createApi(session: Session, hooks: Hooks) {
  const withKey: Interceptor = (next) => async (req) => {
    if (session.key) req.header.set("x-api-key", session.key);
    try {
      const res = await next(req);
      hooks.online();
      return res;
    } catch (err) {
      notice(err);
      throw err;
    }
  };
  // A refusal for the role (PermissionDenied) is the caller's to show: the role came from the server.
  const notice = (err: unknown) => {
    const trouble = troubleOf(err);
    if (trouble.kind === "offline") hooks.offline(trouble.message);
    else hooks.online();
    if (trouble.kind === "unauthenticated") hooks.unauthenticated(trouble.message);
  };
  const transport = createConnectTransport({ baseUrl: location.origin, interceptors: [withKey] });

  /** fetch with the key; REST errors become ApiError with the server's message. */
  async function rest<T>(method: string, path: string, body?: FormData): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (session.key) headers["x-api-key"] = session.key;
    let res: Response;
    try {
      res = await fetch(path, { method, headers, ...(body ? { body } : {}) });
    } catch (err) {
      notice(err);
      throw new ApiError(troubleOf(err));
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok) {
      hooks.online();
      return json as T;
    }
    const message =
      (json as { message?: string } | undefined)?.message ?? `${res.status} ${res.statusText || "error"}`.trim();
    let trouble: Trouble;
    if (res.status === 401) trouble = { kind: "unauthenticated", message };
    else if (res.status === 403) trouble = { kind: "denied", message };
    else if (res.status === 502 || res.status === 504) trouble = { kind: "offline", message: OFFLINE };
    else trouble = { kind: "other", message };
    const err = new ApiError(trouble, res.status, json);
    notice(err);
    throw err;
  }

  return {
    auth: createClient(AuthService, transport),
    datasets: createClient(DatasetService, transport),
    items: createClient(ItemService, transport),
    exports: createClient(ExportService, transport),
    imports: createClient(ImportService, transport),
    versions: createClient(VersionService, transport),
    previewImport: (form: FormData) => rest<PreviewResult>("POST", "/api/import/preview", form),
    commitImport: (form: FormData) => rest<ImportResult>("POST", "/api/import", form),
    /** 200 when MongoDB and NATS answer; 503 with which one does not. */
    async health(): Promise<{ ok: boolean; detail: string }> {
      const res = await fetch("/healthz", { cache: "no-store" });
      const body = (await res.json().catch(() => ({}))) as Record<string, { ok?: boolean; error?: string }>;
      const down = ["mongodb", "nats"]
        .filter((name) => body[name] && !body[name]?.ok)
        .map((name) => `${name === "mongodb" ? "MongoDB" : "NATS"}: ${body[name]?.error ?? "not answering"}`);
      return { ok: res.ok, detail: down.join("; ") };
    },
  };
}

export type Api = ReturnType<typeof createApi>;
