// NATS connection options from one URL. nats.js ignores credentials in a server URL, but NATS_URL
// is the one setting every process takes, so `nats://user:password@host:port` (or
// `nats://token@host:port`) is split here into the servers and the credentials nats.js wants.
import type { ConnectionOptions } from "nats";

export type NatsCredentialOptions = Pick<
  ConnectionOptions,
  "servers" | "user" | "pass" | "token" | "pingInterval" | "maxPingOut"
>;

/**
 * A server that stops answering (a crashed host, a partition, SIGSTOP) keeps its TCP connection
 * open; only unanswered pings reveal it. nats.js pings every 2 minutes by default; this notices it
 * within about 6 s and moves to another server of the list. A job's in-progress acks are then
 * lost for at most that long, well inside ack_wait (30 s).
 */
const LIVENESS = { pingInterval: 2000, maxPingOut: 2 } as const;

/**
 * Reply subjects of plugin workers. The stack's `plugin` user may only receive here, and the
 * `trigger` user may not: claim replies carry job tokens that only the claiming worker may see.
 */
export const PLUGIN_INBOX_PREFIX = "_INBOX_plugin";

/**
 * `servers` without credentials, plus `user`/`pass` (or `token`) from the first URL that has them,
 * and pings that notice an unresponsive server in seconds.
 */
export function natsConnectOptions(url: string): NatsCredentialOptions {
  const options: NatsCredentialOptions = { ...LIVENESS };
  const servers = url
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((server) => {
      const parsed = URL.canParse(server) ? new URL(server) : undefined;
      if (!parsed?.username) return server;
      if (options.user === undefined && options.token === undefined) {
        const user = decodeURIComponent(parsed.username);
        if (parsed.password) {
          options.user = user;
          options.pass = decodeURIComponent(parsed.password);
        } else {
          options.token = user;
        }
      }
      return `${parsed.protocol}//${parsed.host}`;
    });
  options.servers = servers.length === 1 ? (servers[0] ?? url) : servers;
  return options;
}

/** A server URL (or a comma-separated list) with its user and password masked, for logs and errors. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/,]*@/g, "//***@");
}
