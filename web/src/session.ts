// Who the console speaks as: the API key the user entered and the role it is believed to have.
// The role is the one the user picked with the key, lowered whenever the server refuses a call
// with PermissionDenied (the refusal names the key's real role); it only hides buttons, the
// server enforces roles on every call anyway.

export type Role = "viewer" | "editor" | "admin";

export const ROLES: readonly Role[] = ["viewer", "editor", "admin"];

const rank: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

/** Mirrors the server's rule: Delete* needs admin, reads viewer, other writes editor. */
export function requiredRoleOf(method: string): Role {
  if (/^Delete/i.test(method)) return "admin";
  if (/^(Get|List|Count|Stream|Watch)/i.test(method)) return "viewer";
  return "editor";
}

/** `auth`: "unknown" until the server answered, "off" when it took a call without a key. */
export type AuthState = "unknown" | "off" | "on";

export interface Session {
  readonly key: string;
  readonly role: Role;
  readonly auth: AuthState;
  /** True when the current key (or no key, with auth off) may do what `role` may. */
  can(role: Role): boolean;
  signIn(key: string, role: Role): void;
  signOut(): void;
  setAuth(state: AuthState): void;
  /** A call was refused: learn the role from the message, else lower it below what was needed. */
  refused(method: string, message: string): void;
  onChange(listener: () => void): void;
}

const KEY = "labelport.apiKey";
const ROLE = "labelport.role";

function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}

/** Kept in sessionStorage: the key lives as long as the tab, not on disk for ever. */
export function createSession(storage: Storage = sessionStorage): Session {
  let key = storage.getItem(KEY) ?? "";
  const stored = storage.getItem(ROLE);
  let role: Role = isRole(stored) ? stored : "viewer";
  let auth: AuthState = "unknown";
  const listeners: Array<() => void> = [];
  const changed = () => {
    if (key) {
      storage.setItem(KEY, key);
      storage.setItem(ROLE, role);
    } else {
      storage.removeItem(KEY);
      storage.removeItem(ROLE);
    }
    for (const listener of listeners) listener();
  };
  return {
    get key() {
      return key;
    },
    get role() {
      return auth === "off" ? "admin" : role;
    },
    get auth() {
      return auth;
    },
    can(needed) {
      if (auth === "off") return true;
      return key !== "" && rank[role] >= rank[needed];
    },
    signIn(newKey, newRole) {
      key = newKey.trim();
      role = newRole;
      changed();
    },
    signOut() {
      key = "";
      role = "viewer";
      changed();
    },
    setAuth(state) {
      if (state === auth) return;
      auth = state;
      changed();
    },
    refused(method, message) {
      const named = /has role (viewer|editor|admin)\b/.exec(message)?.[1];
      let learned: Role;
      if (isRole(named)) learned = named;
      else {
        const needed = requiredRoleOf(method);
        learned = needed === "admin" ? "editor" : "viewer";
      }
      if (rank[learned] < rank[role]) {
        role = learned;
        changed();
      }
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
