// `labelport-plugin run <package-or-path>`: runs an exporter plugin as its own process.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { connect } from "nats";
import type { ExporterClass } from "../exporter.ts";
import { checkManifest, startWorker } from "./worker.ts";

const USAGE = `usage: labelport-plugin run <package-or-path>

Loads a package (or a folder or file) whose default export is a BaseExporter subclass,
registers it with the orchestrator and takes its export jobs from NATS JetStream.

environment:
  NATS_URL      NATS server with JetStream (required), e.g. nats://127.0.0.1:4222
  ACK_WAIT_MS   redelivery timeout of the job consumer (default 30000)`;

/** Imports a plugin by package name (resolved from the working directory) or by path. */
export async function loadExporter(spec: string): Promise<ExporterClass> {
  const asPath = resolve(spec);
  const url = existsSync(asPath)
    ? pathToFileURL(createRequire(join(asPath, "noop.js")).resolve(asPath)).href
    : pathToFileURL(createRequire(join(process.cwd(), "noop.js")).resolve(spec)).href;
  const module = (await import(url)) as { default?: unknown };
  const exporter = module.default;
  if (typeof exporter !== "function") throw new Error(`${spec} has no default export (a BaseExporter subclass)`);
  checkManifest(exporter as ExporterClass);
  return exporter as ExporterClass;
}

async function main(argv: string[]): Promise<number> {
  const [command, spec] = argv;
  if (command !== "run" || !spec) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const natsUrl = process.env.NATS_URL;
  if (!natsUrl) {
    process.stderr.write("NATS_URL is not set: point it at the NATS server the orchestrator uses\n");
    return 2;
  }
  const exporter = await loadExporter(spec);
  const nats = await connect({
    servers: natsUrl,
    maxReconnectAttempts: -1,
    name: `labelport-plugin-${exporter.manifest.name}`,
  });
  const worker = await startWorker({
    nats,
    exporter,
    ...(process.env.ACK_WAIT_MS ? { ackWaitMs: Number(process.env.ACK_WAIT_MS) } : {}),
  });
  const { name, version, formats } = exporter.manifest;
  process.stdout.write(`plugin ${name}@${version} serving ${formats.join(", ")} as ${worker.workerId}\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      worker
        .stop()
        .then(() => nats.drain())
        .finally(done);
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`labelport-plugin: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
