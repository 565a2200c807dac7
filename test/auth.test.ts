// Every RPC and every REST route refuses a missing or wrong key (Unauthenticated / 401) and a
// key whose role is too low (PermissionDenied / 403). Routes are enumerated from the server,
// so a route added later is covered without editing this file.
import { createHash } from "node:crypto";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  AuthService,
  DatasetService,
  ExportService,
  ImportService,
  ItemService,
  VersionService,
} from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobStack, startJobStack } from "./support/job-stack.ts";

const KEYS = { viewer: "viewer-key-123", editor: "editor-key-456", admin: "admin-key-789" };
const rank = { public: 0, viewer: 1, editor: 2, admin: 3 } as const;
type Role = keyof typeof KEYS;

let stack: JobStack;
beforeAll(async () => {
  stack = await startJobStack({
    API_KEYS: `ann:viewer:${KEYS.viewer},ed:editor:${KEYS.editor},ad:admin:sha256:${sha256(KEYS.admin)}`,
  });
});
afterAll(() => stack?.close());

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function transport(key?: string, header = "x-api-key"): Transport {
  return createConnectTransport({
    baseUrl: stack.orchestrator.url,
    httpVersion: "2",
    interceptors: [
      (next) => (req) => {
        if (key) req.header.set(header, header === "authorization" ? `Bearer ${key}` : key);
        return next(req);
      },
    ],
  });
}

function requiredRole(method: DescMethod): Role {
  if (/^Delete/.test(method.name)) return "admin";
  if (/^(Get|List|Count|Stream|Split|Watch|Diff)/.test(method.name) || method.name === "WhoAmI") return "viewer";
  return "editor";
}

async function call(service: DescService, method: DescMethod, t: Transport): Promise<Code | undefined> {
  const client = createClient(service, t) as unknown as Record<string, (input: unknown) => unknown>;
  const fn = client[method.localName];
  if (!fn) throw new Error(`client has no ${method.localName}`);
  try {
    if (method.methodKind === "server_streaming") {
      for await (const _ of fn({}) as AsyncIterable<unknown>) break;
    } else if (method.methodKind === "client_streaming") {
      await fn((async function* () {})());
    } else {
      await fn({});
    }
    return undefined;
  } catch (err) {
    return ConnectError.from(err).code;
  }
}

const services = [DatasetService, ItemService, ImportService, ExportService, VersionService, AuthService];
const methods = services.flatMap((service) => service.methods.map((method) => ({ service, method })));

describe("every RPC", () => {
  it.each(methods.map((m) => [`${m.service.name}.${m.method.name}`, m] as const))(
    "%s checks the key and the role",
    async (_name, { service, method }) => {
      expect(await call(service, method, transport())).toBe(Code.Unauthenticated);
      expect(await call(service, method, transport("not-a-key"))).toBe(Code.Unauthenticated);
      const needed = requiredRole(method);
      for (const role of ["viewer", "editor", "admin"] as const) {
        const code = await call(
          service,
          method,
          transport(KEYS[role], role === "editor" ? "authorization" : "x-api-key"),
        );
        if (rank[role] < rank[needed]) expect(code, `${role} on ${method.name}`).toBe(Code.PermissionDenied);
        else expect([Code.Unauthenticated, Code.PermissionDenied], `${role} on ${method.name}`).not.toContain(code);
      }
    },
  );
});

describe("every REST route", () => {
  it("is listed, and each protected one answers 401 without a key and 403 for a lower role", async () => {
    const routes = stack.orchestrator.restRoutes;
    expect(routes.length).toBeGreaterThan(3);
    for (const route of routes) {
      if (route.role === "public") continue;
      const path = route.path.replace(/:[A-Za-z_]+/g, "x").replace(/\*/g, "x");
      const url = `${stack.orchestrator.url}${path}`;
      const anonymous = await fetch(url, { method: route.method });
      expect(anonymous.status, `${route.method} ${route.path} without a key`).toBe(401);
      expect(await anonymous.json()).toMatchObject({ message: expect.stringMatching(/API key/) });
      const wrong = await fetch(url, { method: route.method, headers: { "x-api-key": "nope" } });
      expect(wrong.status, `${route.method} ${route.path} with a wrong key`).toBe(401);
      for (const role of ["viewer", "editor"] as const) {
        if (rank[role] >= rank[route.role]) continue;
        const res = await fetch(url, { method: route.method, headers: { "x-api-key": KEYS[role] } });
        expect(res.status, `${route.method} ${route.path} as ${role}`).toBe(403);
      }
      const allowed = await fetch(url, { method: route.method, headers: { "x-api-key": KEYS.admin } });
      expect([401, 403], `${route.method} ${route.path} as admin`).not.toContain(allowed.status);
      await allowed.arrayBuffer();
    }
  });
});
