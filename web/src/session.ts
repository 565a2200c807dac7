// Who the console speaks as: the API key the user entered and who the server says that key is
// (AuthService.WhoAmI). The role is never picked or guessed: it only hides buttons, and the server
// enforces roles on every call anyway.

export type Role = "viewer" | "editor" | "admin";

const rank: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

/** The server's answer to WhoAmI. */
export interface Identity {
  name: string;
  role: Role;
  permissions: readonly string[];
  /** False when the server runs without API keys: everyone is an anonymous admin. */
  authEnabled: boolean;
}

/** `auth`: "unknown" until the server answered, "off" when it runs without keys. */
export type AuthState = "unknown" | "off" | "on";

export interface Session {
  readonly key: string;
  /** Who the server says the caller is; undefined while signed out or not yet asked. */
  readonly identity: Identity | undefined;
  readonly role: Role;
  readonly auth: AuthState;
  /** True when the server said this caller has at least `role`. */
  can(role: Role): boolean;
  /** A key the server accepted (WhoAmI answered), or no key on a server without keys. */
  signIn(key: string, identity: Identity): void;
  signOut(): void;
  /** The server refused calls without a key: it has keys, and we have none that works. */
  needsKey(): void;
  onChange(listener: () => void): void;
}

const KEY = "labelport.apiKey";

export function isRole(value: unknown): value is Role {
  return value === "viewer" || value === "editor" || value === "admin";
}

/** Kept in sessionStorage: the key lives as long as the tab, not on disk for ever. */
export function createSession(storage: Storage = sessionStorage): Session {
  let key = storage.getItem(KEY) ?? "";
  let identity: Identity | undefined;
  let auth: AuthState = "unknown";
  const listeners: Array<() => void> = [];
  const changed = () => {
    if (key) storage.setItem(KEY, key);
    else storage.removeItem(KEY);
    for (const listener of listeners) listener();
  };
  return {
    get key() {
      return key;
    },
    get identity() {
      return identity;
    },
    get role() {
      return identity?.role ?? "viewer";
    },
    get auth() {
      return auth;
    },
    can(needed) {
      return identity !== undefined && rank[identity.role] >= rank[needed];
    },
    signIn(newKey, who) {
      key = who.authEnabled ? newKey.trim() : "";
      identity = who;
      auth = who.authEnabled ? "on" : "off";
      changed();
    },
    signOut() {
      key = "";
      identity = undefined;
      changed();
    },
    needsKey() {
      if (auth === "on" && identity === undefined && key === "") return;
      auth = "on";
      key = "";
      identity = undefined;
      changed();
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
