// AuthService.WhoAmI against a real orchestrator: the server names the key and its role over Connect
// and gRPC, refuses an unknown key like every other call, and answers "anonymous admin" without keys.
import { Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { AuthService } from "@labelport/sdk/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestOrchestrator, type TestOrchestrator } from "../../../test/support/orchestrator.ts";

const KEYS = { viewer: "viewer-key-whoami", editor: "editor-key-whoami", admin: "admin-key-whoami" };

let withKeys: TestOrchestrator;
let withoutKeys: TestOrchestrator;

beforeAll(async () => {
  [withKeys, withoutKeys] = await Promise.all([
    startTestOrchestrator({
      API_KEYS: `ann:viewer:${KEYS.viewer},ed:editor:${KEYS.editor},root:admin:${KEYS.admin}`,
    }),
    startTestOrchestrator(),
  ]);
});
afterAll(() => Promise.all([withKeys?.close(), withoutKeys?.close()]));

function client(baseUrl: string, protocol: "connect" | "grpc", key?: string) {
  const withKey: Interceptor = (next) => (req) => {
    if (key) req.header.set("x-api-key", key);
    return next(req);
  };
  const transport: Transport =
    protocol === "grpc"
      ? createGrpcTransport({ baseUrl, interceptors: [withKey] })
      : createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: [withKey] });
  return createClient(AuthService, transport);
}

describe("AuthService.WhoAmI", () => {
  it.each(["connect", "grpc"] as const)("names each key and its role's permissions (%s)", async (protocol) => {
    const viewer = await client(withKeys.url, protocol, KEYS.viewer).whoAmI({});
    expect(viewer).toMatchObject({ name: "ann", role: "viewer", permissions: ["read"], authEnabled: true });
    const editor = await client(withKeys.url, protocol, KEYS.editor).whoAmI({});
    expect(editor).toMatchObject({
      name: "ed",
      role: "editor",
      permissions: ["read", "export", "import", "edit"],
      authEnabled: true,
    });
    const admin = await client(withKeys.url, protocol, KEYS.admin).whoAmI({});
    expect(admin).toMatchObject({
      name: "root",
      role: "admin",
      permissions: ["read", "export", "import", "edit", "delete"],
      authEnabled: true,
    });
  });

  it.each(["connect", "grpc"] as const)("refuses a wrong or missing key as UNAUTHENTICATED (%s)", async (protocol) => {
    for (const key of ["not-a-key", undefined]) {
      const err = await client(withKeys.url, protocol, key)
        .whoAmI({})
        .then(
          () => undefined,
          (e: unknown) => ConnectError.from(e),
        );
      expect(err?.code, String(key)).toBe(Code.Unauthenticated);
    }
  });

  it("answers an anonymous admin when the server runs without keys", async () => {
    expect(await client(withoutKeys.url, "connect").whoAmI({})).toMatchObject({
      name: "anonymous",
      role: "admin",
      permissions: ["read", "export", "import", "edit", "delete"],
      authEnabled: false,
    });
  });
});
