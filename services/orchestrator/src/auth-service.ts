// AuthService: tells a client who the server takes it for, so the console shows the key's name and
// role as the server sees them instead of asking the user to pick one.
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { AuthService, WhoAmIResponseSchema } from "@labelport/sdk/contracts";
import { type Authenticator, permissionsOf, principalOf } from "./auth.ts";
import type { Context, FeatureModule } from "./context.ts";

export function createAuthService(auth: Pick<Authenticator, "enabled">): ServiceImpl<typeof AuthService> {
  return {
    whoAmI(_req, ctx) {
      // The RPC handler authorized the caller already: a wrong key never gets here.
      const principal = principalOf(ctx);
      return create(WhoAmIResponseSchema, {
        name: principal.name,
        role: principal.role,
        permissions: [...permissionsOf(principal.role)],
        authEnabled: auth.enabled,
      });
    },
  };
}

export async function startAuthService(options: Pick<Context, "auth">): Promise<FeatureModule> {
  return {
    register: (router) => router.service(AuthService, createAuthService(options.auth)),
    close: async () => undefined,
  };
}
