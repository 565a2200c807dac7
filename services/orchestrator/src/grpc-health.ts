// grpc.health.v1.Health: what Kubernetes gRPC probes, grpc-health-probe and load balancers ask.
// Every Labelport service needs MongoDB and NATS, so each one (and "", the server as a whole) is
// SERVING exactly when /healthz would answer 200. Public, like /healthz.

import type { DescService } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { healthV1 } from "@labelport/sdk/grpc-contracts";
import { notFound } from "./errors.ts";
import { checkDependencies, type HealthOptions } from "./health.ts";

const { Health, HealthCheckResponseSchema, HealthCheckResponse_ServingStatus: ServingStatus } = healthV1;
type HealthCheckResponse_ServingStatus = healthV1.HealthCheckResponse_ServingStatus;

/** How often a Watch stream re-checks MongoDB and NATS. */
const WATCH_INTERVAL_MS = 2_000;
/** How long one check's answer is reused. */
const CHECK_REUSE_MS = 1_000;

/** `services` are the Labelport services whose health is reported; "" stands for all of them. */
export function registerGrpcHealth(router: ConnectRouter, services: DescService[], options: HealthOptions): void {
  const known = new Set(["", ...services.map((s) => s.typeName)]);
  // One check serves every caller for CHECK_REUSE_MS: anonymous Watch streams and probes cannot
  // multiply the pings MongoDB and NATS get.
  let lastCheck: { at: number; status: Promise<HealthCheckResponse_ServingStatus> } | undefined;
  const current = () => {
    const now = performance.now();
    if (!lastCheck || now - lastCheck.at >= CHECK_REUSE_MS) {
      const status = checkDependencies(options).then(({ mongodb, nats }) =>
        mongodb.ok && nats.ok ? ServingStatus.SERVING : ServingStatus.NOT_SERVING,
      );
      lastCheck = { at: now, status };
    }
    return lastCheck.status;
  };
  router.service(Health, {
    async check({ service }) {
      if (!known.has(service)) throw notFound(unknownServiceMessage(service, known));
      return { status: await current() };
    },
    async list() {
      const status = await current();
      return {
        statuses: Object.fromEntries([...known].map((name) => [name, create(HealthCheckResponseSchema, { status })])),
      };
    },
    async *watch({ service }, context: HandlerContext) {
      if (!known.has(service)) {
        // The protocol: say SERVICE_UNKNOWN and keep the stream open (this server's set never changes).
        yield { status: ServingStatus.SERVICE_UNKNOWN };
        await abortedOf(context.signal);
        return;
      }
      let last: number | undefined;
      while (!context.signal.aborted) {
        const status = await current();
        if (status !== last) yield { status };
        last = status;
        await sleep(WATCH_INTERVAL_MS, context.signal);
      }
    },
  });
}

function unknownServiceMessage(service: string, known: Set<string>): string {
  const names = [...known].filter(Boolean).join(", ");
  return `service "${service}" is not served here: ask for "" (the whole server) or one of ${names}`;
}

function abortedOf(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
