// The orchestrator's spans: a server span per RPC (a Connect interceptor) that continues the
// caller's trace (W3C traceparent in the request headers; a worker's StreamItems call carries its
// job's), the job's publish, and each worker event applied. NATS headers carry the context both
// ways, through the SDK's helpers (@labelport/sdk/runtime tracing.ts).
import type { Interceptor } from "@connectrpc/connect";
import type { JobEvent } from "@labelport/sdk/contracts";
import {
  inMessageSpan,
  inSpan,
  markFailed,
  natsTraceHeaders,
  SpanKind,
  TraceAttributes,
  tracer,
} from "@labelport/sdk/runtime";
import { context, propagation, type TextMapGetter, type Context as TraceContext, trace } from "@opentelemetry/api";
import type { MsgHdrs } from "nats";

/**
 * A server span per RPC, continuing the caller's trace, active while the implementation runs: for
 * a streaming response, around each step of its messages (their generator runs in whichever
 * context pulls it), ending with the last one.
 */
export const rpcTracing: Interceptor = (next) => async (req) => {
  const attributes = {
    "rpc.system": "connect_rpc",
    "rpc.service": req.service.typeName,
    "rpc.method": req.method.name,
  };
  const parent = propagation.extract(context.active(), req.header, HEADERS_GETTER);
  const span = tracer.startSpan(
    `${req.service.typeName}/${req.method.name}`,
    { kind: SpanKind.SERVER, attributes },
    parent,
  );
  const active = trace.setSpan(parent, span);
  try {
    const res = await context.with(active, () => next(req));
    if (!res.stream) span.end();
    return res.stream ? { ...res, message: stepsIn(active, res.message, () => span.end()) } : res;
  } catch (err) {
    markFailed(span, err);
    span.end();
    throw err;
  }
};

const HEADERS_GETTER: TextMapGetter<Headers> = {
  get: (headers, key) => headers.get(key) ?? undefined,
  keys: (headers) => [...headers.keys()],
};

/** `messages`, each step of which runs in `active`; `onEnd` once they end, fail or are abandoned. */
function stepsIn<T>(active: TraceContext, messages: AsyncIterable<T>, onEnd: () => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const steps = messages[Symbol.asyncIterator]();
      const step = async (call: () => Promise<IteratorResult<T>>) => {
        try {
          const result = await context.with(active, call);
          if (result.done) onEnd();
          return result;
        } catch (err) {
          onEnd();
          throw err;
        }
      };
      return {
        next: () => step(() => steps.next()),
        return: (value?: unknown) =>
          step(() => steps.return?.(value) ?? Promise.resolve({ done: true, value } as IteratorResult<T>)),
      };
    },
  };
}

/** Publishes an export's job in a producer span whose context the job message carries to the worker. */
export function inJobPublishSpan<T>(
  doc: { _id: string; format: string },
  publish: (headers: MsgHdrs | undefined) => Promise<T>,
): Promise<T> {
  const attributes = { [TraceAttributes.exportId]: doc._id, [TraceAttributes.format]: doc.format };
  return inSpan("publish export job", { kind: SpanKind.PRODUCER, attributes }, () => publish(natsTraceHeaders()));
}

/** Applies a worker's job event in a span continuing the worker's trace (carried in the event's headers). */
export function inJobEventSpan<T>(headers: MsgHdrs | undefined, event: JobEvent, apply: () => Promise<T>): Promise<T> {
  const attributes = {
    [TraceAttributes.exportId]: event.exportId,
    [TraceAttributes.attempt]: event.attempt,
    [TraceAttributes.event]: event.event.case ?? "unknown",
  };
  return inMessageSpan("apply job event", headers, attributes, apply);
}
