// The built-in plugins' export and import workers on a test stack's NATS, as the plugin user, the
// way `npm start` runs them (and `labelport-plugin run` runs any plugin).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadPlugin } from "@labelport/sdk/plugin-cli";
import { natsConnectOptions, PLUGIN_INBOX_PREFIX, startImportWorker, startWorker } from "@labelport/sdk/runtime";
import { connect } from "nats";
import type { JobStack } from "./job-stack.ts";
import { ROOT } from "./process.ts";

export const BUILTIN_PLUGINS = JSON.parse(readFileSync(join(ROOT, "plugins", "builtin.json"), "utf8")) as string[];

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export interface PluginWorkers {
  /** Idempotent. */
  stop(): Promise<void>;
}

/** Workers of the given plugin packages (default: every built-in), exporters and importers. */
export async function startPluginWorkers(
  stack: JobStack,
  packages: readonly string[] = BUILTIN_PLUGINS,
  { exporters = true, importers = true } = {},
): Promise<PluginWorkers> {
  const nats = await connect({
    ...natsConnectOptions(stack.nats.urlFor("plugin")),
    inboxPrefix: PLUGIN_INBOX_PREFIX,
    name: "test-plugin-workers",
  });
  const workers: Array<{ stop(): Promise<void> }> = [];
  for (const name of packages) {
    const plugin = await loadPlugin(name);
    if (exporters && plugin.exporter) workers.push(await startWorker({ nats, exporter: plugin.exporter, log: quiet }));
    if (importers) {
      for (const importer of plugin.importers) workers.push(await startImportWorker({ nats, importer, log: quiet }));
    }
  }
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        await Promise.all(workers.map((w) => w.stop()));
        await nats.drain();
      })();
      return stopped;
    },
  };
}
