// What the feature modules share, and the one shape every feature module has. app.ts builds the
// context and wires the modules; a module takes only the parts of the context it uses.
import type { ConnectRouter } from "@connectrpc/connect";
import type { NatsConnection } from "nats";
import type { Authenticator } from "./auth.ts";
import type { Config } from "./config.ts";
import type { VersionReads } from "./data/versions.ts";
import type { Database } from "./db.ts";
import type { Storages } from "./exports/storages.ts";
import type { Logger } from "./logger.ts";
import type { RestRouter } from "./rest/router.ts";

/** When a dataset's next export is prepared: "now" after an import, "soon" (a while later) after smaller writes. */
export type PrepareWhen = "now" | "soon";

export interface Context {
  config: Config;
  log: Logger;
  database: Database;
  nats: NatsConnection;
  auth: Authenticator;
  /** The configured storages: export targets, and where uploads and their media go. */
  storages: Storages;
  /** HMAC secret for download links and job tokens. */
  signingSecret: string;
  /** Dataset versions, for the areas that read one (exports, stats). */
  versions: VersionReads;
  /** Where clients reach this server (for links). */
  publicUrl(): string;
  /** Called once a write to a dataset's annotations has ended: prepares what its next export reads. */
  prepareExport(datasetId: string, when: PrepareWhen): void;
}

/**
 * A feature area, started by `startX(options)`: it adds its Connect services and REST routes in
 * `register`, and stops what it started (subscriptions, timers, clients) in `close`.
 */
export interface FeatureModule {
  register(router: ConnectRouter, rest: RestRouter): void;
  close(): Promise<void>;
}
