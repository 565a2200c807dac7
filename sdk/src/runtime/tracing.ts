// OpenTelemetry traces across orchestrator -> NATS -> worker -> storage. The code makes spans with
// @opentelemetry/api only; without a registered provider those spans record nothing, so tracing
// costs nothing until `startTracing` finds an exporter configured by the standard OTEL_* variables
// (then the Node SDK's provider and OTLP/HTTP exporter are loaded). W3C trace context travels in
// NATS message headers and HTTP request headers.
import {
  type Attributes,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Context as TraceContext,
  trace,
} from "@opentelemetry/api";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-node";
import { type MsgHdrs, headers as natsHeaders } from "nats";

/** Span attribute names Labelport sets (the export's id, format and attempt on every job span). */
export const TraceAttributes = {
  exportId: "labelport.export_id",
  format: "labelport.format",
  attempt: "labelport.attempt",
  delivery: "labelport.delivery",
  event: "labelport.event",
} as const;

/** Labelport's tracer; a provider registered later (startTracing) takes effect for it too. */
export const tracer = trace.getTracer("labelport");

export interface Tracing {
  /** Exports the spans ended so far (call before the process exits). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** The exporter the OTEL_* variables ask for, or undefined when tracing is off. */
function tracesExporterOf(env: NodeJS.ProcessEnv): "otlp" | "console" | undefined {
  const chosen = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (chosen === "none" || env.OTEL_SDK_DISABLED === "true") return undefined;
  if (chosen === "otlp" || chosen === "console") return chosen;
  if (chosen) throw new Error(`OTEL_TRACES_EXPORTER="${chosen}": expected otlp, console or none`);
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? "otlp" : undefined;
}

let started: Promise<Tracing | undefined> | undefined;

/**
 * Registers the Node SDK's trace provider when OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
 * is set (the exporter reads its endpoint, headers and timeout from the same variables); otherwise
 * does nothing. Once per process: later calls return the first one's result.
 */
export function startTracing(serviceName: string): Promise<Tracing | undefined> {
  started ??= (async () => {
    const exporterKind = tracesExporterOf(process.env);
    if (!exporterKind) return undefined;
    const { BatchSpanProcessor, ConsoleSpanExporter } = await import("@opentelemetry/sdk-trace-node");
    const exporter =
      exporterKind === "console"
        ? new ConsoleSpanExporter()
        : new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter();
    return registerTracing(serviceName, [new BatchSpanProcessor(exporter)]);
  })();
  return started;
}

/**
 * Registers a trace provider with these span processors as the process's global one, with the
 * AsyncLocalStorage context manager and the W3C propagator (tests pass an in-memory exporter).
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override `serviceName`.
 */
export async function registerTracing(serviceName: string, spanProcessors: SpanProcessor[]): Promise<Tracing> {
  const { NodeTracerProvider } = await import("@opentelemetry/sdk-trace-node");
  const { detectResources, envDetector, resourceFromAttributes } = await import("@opentelemetry/resources");
  const resource = resourceFromAttributes({ "service.name": serviceName }).merge(
    detectResources({ detectors: [envDetector] }),
  );
  const provider = new NodeTracerProvider({ resource, spanProcessors });
  provider.register();
  return { flush: () => provider.forceFlush(), shutdown: () => provider.shutdown() };
}

/** Exports the spans ended so far (before the process exits); a no-op when tracing is off. */
export async function flushTracing(): Promise<void> {
  await (await started)?.flush();
}

/**
 * Runs `fn` in a new active span (child of `parent`, default the active context), marks the span
 * failed when `fn` throws, and ends it when `fn` settles.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: TraceContext },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes ? { attributes: options.attributes } : {}) },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        markFailed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Runs `fn` in a consumer span that continues the trace a NATS message carries in its headers. */
export function inMessageSpan<T>(
  name: string,
  headers: MsgHdrs | undefined,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return inSpan(name, { kind: SpanKind.CONSUMER, attributes, parent: traceContextOf(headers) }, fn);
}

/** Marks the span failed with the error's message. */
export function markFailed(span: Span | undefined, err: unknown): void {
  span?.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Sets attributes on the active span, if there is one that records. */
export function annotateActiveSpan(attributes: Attributes): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}

/** The active trace context as HTTP request headers (`traceparent`, `tracestate`); empty when tracing is off. */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Writes the active trace context into these NATS message headers (nothing when tracing is off). */
export function injectTraceContext(headers: MsgHdrs): void {
  propagation.inject(context.active(), headers, { set: (carrier, key, value) => carrier.set(key, value) });
}

/** NATS message headers carrying the active trace context, or undefined when there is none to carry. */
export function natsTraceHeaders(): MsgHdrs | undefined {
  const carried = traceHeaders();
  if (Object.keys(carried).length === 0) return undefined;
  const headers = natsHeaders();
  for (const [key, value] of Object.entries(carried)) headers.set(key, value);
  return headers;
}

/** The trace context a NATS message carries in its headers (the active one when it carries none). */
function traceContextOf(headers: MsgHdrs | undefined): TraceContext {
  if (!headers) return context.active();
  return propagation.extract(context.active(), headers, {
    get: (carrier, key) => (carrier.has(key) ? carrier.get(key) : undefined),
    keys: (carrier) => carrier.keys(),
  });
}

export { SpanKind };
