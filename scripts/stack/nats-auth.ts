// NATS users of the local stack, generated on first start and kept in the server's state
// directory: each with only the subjects its part of Labelport uses.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type NatsUserName = "orchestrator" | "plugin" | "trigger";

export interface NatsUser {
  user: NatsUserName;
  password: string;
}

export type NatsUsers = Record<NatsUserName, NatsUser>;

interface Permissions {
  publish: string[];
  subscribe: string[];
  /** May answer requests it received (claims, triggers) without publishing to `_INBOX`. */
  allowResponses?: boolean;
}

const STREAMS = ["LABELPORT_JOBS", "LABELPORT_EVENTS", "LABELPORT_EXPORTS"];

/**
 * Reply subjects: the orchestrator's requests (including its pull consumer of job events, which
 * carry job tokens) are answered on `_INBOX.`, which no other user may read; plugins and triggers
 * each get their own prefix (nats.js `inboxPrefix`, `nats --inbox-prefix`).
 */
export const INBOX_PREFIXES: Record<NatsUserName, string> = {
  orchestrator: "_INBOX",
  plugin: "_INBOX_plugin",
  trigger: "_INBOX_trigger",
};

/** What each user may do; see docs/security.md. */
export const NATS_PERMISSIONS: Record<NatsUserName, Permissions> = {
  // The control plane: owns the streams and consumers, answers claims and triggers.
  orchestrator: {
    publish: ["labelport.>", "$JS.API.>", "$JS.ACK.>"],
    // It may also run workers itself (tests do), whose replies come on the plugin prefix.
    subscribe: ["labelport.>", "_INBOX.>", "_INBOX_plugin.>", "$JS.EVENT.ADVISORY.>"],
    allowResponses: true,
  },
  // Exporter workers: what sdk/src/runtime/worker.ts does, and no more.
  plugin: {
    publish: [
      "labelport.plugins.register",
      "labelport.claims",
      "labelport.events.>",
      "labelport.import-events.>",
      "$JS.API.INFO",
      // ensureStreams({ createOnly: true }): look up, and create when missing; never reconfigure.
      ...STREAMS.flatMap((s) => [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.CREATE.${s}`]),
      // ensureJobConsumer and the pull loop on the jobs stream only.
      "$JS.API.CONSUMER.CREATE.LABELPORT_JOBS.>",
      "$JS.API.CONSUMER.DURABLE.CREATE.LABELPORT_JOBS.>",
      "$JS.API.CONSUMER.INFO.LABELPORT_JOBS.>",
      "$JS.API.CONSUMER.MSG.NEXT.LABELPORT_JOBS.>",
      "$JS.ACK.LABELPORT_JOBS.>",
      // A worker coordinating a split export: its shards' tasks (never jobs), news and stop, and
      // removing the tasks no shard has taken when the export fails or is canceled.
      "labelport.jobs.*.shards",
      "labelport.shard-news.>",
      "labelport.shard-stop.>",
      "$JS.API.STREAM.MSG.DELETE.LABELPORT_JOBS",
    ],
    subscribe: [
      "labelport.cancel.>",
      "labelport.shard-news.>",
      "labelport.shard-stop.>",
      "labelport.plugins.discover",
      `${INBOX_PREFIXES.plugin}.>`,
      // Importer workers: import jobs (request/reply in a queue group) and their cancels.
      "labelport.imports.>",
      "labelport.import-cancel.>",
    ],
    // The reply to an import job request, which arrives with the orchestrator's inbox.
    allowResponses: true,
  },
  // Other systems: trigger exports and read their outcomes (core or through a consumer).
  trigger: {
    publish: [
      "labelport.triggers.export",
      "$JS.API.INFO",
      "$JS.API.STREAM.INFO.LABELPORT_EXPORTS",
      "$JS.API.CONSUMER.CREATE.LABELPORT_EXPORTS",
      "$JS.API.CONSUMER.CREATE.LABELPORT_EXPORTS.>",
      "$JS.API.CONSUMER.DURABLE.CREATE.LABELPORT_EXPORTS.>",
      "$JS.API.CONSUMER.INFO.LABELPORT_EXPORTS.>",
      "$JS.API.CONSUMER.MSG.NEXT.LABELPORT_EXPORTS.>",
      "$JS.API.CONSUMER.DELETE.LABELPORT_EXPORTS.>",
      "$JS.ACK.LABELPORT_EXPORTS.>",
    ],
    subscribe: ["labelport.exports.completed", "labelport.exports.failed", `${INBOX_PREFIXES.trigger}.>`],
  },
};

/** The users of the server in `dir`: read from `users.json`, or generated there on first start. */
export function natsUsers(dir: string): NatsUsers {
  const file = join(dir, "users.json");
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as NatsUsers;
  const password = () => randomBytes(24).toString("base64url");
  const users: NatsUsers = {
    orchestrator: { user: "orchestrator", password: password() },
    plugin: { user: "plugin", password: password() },
    trigger: { user: "trigger", password: password() },
  };
  writeFileSync(file, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
  return users;
}

/**
 * nats-server configuration (JSON is valid NATS config) with those users and permissions, plus
 * `extra` settings (a cluster node's name, ports and routes); rewritten at every start so
 * permissions follow the code. No user means no connection.
 */
export function writeNatsConfig(dir: string, users: NatsUsers, extra: Record<string, unknown> = {}): string {
  const file = join(dir, "nats.conf");
  const config = {
    ...extra,
    authorization: {
      users: Object.values(users).map(({ user, password }) => {
        const { publish, subscribe, allowResponses } = NATS_PERMISSIONS[user];
        return {
          user,
          password,
          permissions: {
            publish: { allow: publish },
            subscribe: { allow: subscribe },
            ...(allowResponses ? { allow_responses: true } : {}),
          },
        };
      }),
    },
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** `nats://user:password@host:port`: NATS_URL for that user (natsConnectOptions() splits it). */
export function natsUrlFor(base: string, user: NatsUser): string {
  const url = new URL(base);
  url.username = encodeURIComponent(user.user);
  url.password = encodeURIComponent(user.password);
  return url.toString().replace(/\/$/, "");
}
