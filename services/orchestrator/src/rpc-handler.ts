// The Connect services (gRPC, gRPC-Web, Connect) as a Node request handler. Like connect-node's
// connectNodeAdapter, except that the caller is authenticated on the headers before any byte of
// the body is read: Connect reads (and inflates) a unary request whole before interceptors run,
// so an anonymous caller could otherwise make the server buffer a message as large as the limit.
// An RPC to a path no service serves gets UNIMPLEMENTED in its protocol; other paths go to REST.
import type { DescService } from "@bufbuild/protobuf";
import {
  type ConnectError,
  type ConnectRouter,
  type ConnectRouterOptions,
  createConnectRouter,
} from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { type Authenticator, type Principal, principalContext, requiredRoleOf } from "./auth.ts";
import { invalidArgument, toConnectError } from "./errors.ts";
import { rpcProtocolOf, sendUnimplemented, unimplementedMessage } from "./grpc-unimplemented.ts";
import type { Logger } from "./logger.ts";
import { sendError } from "./rest/router.ts";
import type { RequestHandler } from "./server.ts";
import { observeRpcError, rpcErrorMetrics } from "./telemetry/metrics.ts";
import { rpcTracing } from "./telemetry/tracing.ts";

/** Responses smaller than this are not worth compressing. */
const COMPRESS_MIN_BYTES = 1024;

export interface RpcHandlerOptions {
  auth: Authenticator;
  log: Logger;
  /** Largest message, before and after decompression. */
  readMaxBytes: number;
  routes(router: ConnectRouter): void;
  /**
   * Services anyone may call, without an API key (health, reflection); they are
   * told the services `routes` registered.
   */
  publicRoutes(router: ConnectRouter, services: DescService[]): void;
  /** Requests for any other path. */
  fallback: RequestHandler;
}

export function createRpcHandler(options: RpcHandlerOptions): RequestHandler {
  const routerOptions: ConnectRouterOptions = {
    readMaxBytes: options.readMaxBytes,
    acceptCompression: [compressionGzip, compressionBrotli],
    compressMinBytes: COMPRESS_MIN_BYTES,
    // Tracing first: the errors the metrics see mark the RPC's span.
    interceptors: [rpcTracing, rpcErrorMetrics],
  };
  const router = createConnectRouter(routerOptions);
  options.routes(router);
  const publicRouter = createConnectRouter(routerOptions);
  options.publicRoutes(publicRouter, [...new Set(router.handlers.map((h) => h.service))]);
  const isPublic = new Set(publicRouter.handlers);
  const byPath = new Map<string, UniversalHandler>(
    [...router.handlers, ...publicRouter.handlers].map((h) => [h.requestPath, h]),
  );
  const servedServices = new Set([...byPath.values()].map((h) => h.service.typeName));
  return (req, res) => {
    const path = req.url?.split("?", 1)[0] ?? "";
    const handler = byPath.get(path);
    if (!handler) {
      const contentType = req.headers["content-type"];
      const protocol = rpcProtocolOf(req.method, path, contentType, req.url?.split("?")[1]);
      if (protocol) sendUnimplemented(res, protocol, contentType ?? "", unimplementedMessage(path, servedServices));
      else options.fallback(req, res);
      return;
    }
    let refusal: ConnectError | undefined;
    let principal: Principal | undefined;
    try {
      if (!isPublic.has(handler)) {
        principal = options.auth.authorize(req.headers, requiredRoleOf(handler.method.name), handler.method.name);
      }
    } catch (err) {
      refusal = toConnectError(err);
      observeRpcError(`${handler.service.typeName}/${handler.method.name}`, refusal);
    }
    let request: ReturnType<typeof universalRequestFromNodeRequest>;
    try {
      // The caller is known from the headers already: handlers read it from their context.
      request = universalRequestFromNodeRequest(req, res, undefined, principal && principalContext(principal));
    } catch (err) {
      sendError(res, invalidArgument(toConnectError(err).rawMessage));
      return;
    }
    // A refused caller's body is never read: the protocol handler meets the refusal where it would
    // read the first byte and answers it in the caller's protocol (HTTP status, trailer, end-stream).
    // Its Content-Length goes too: a refusal must not be answered with the size limit instead.
    const call = refusal ? { ...request, header: withoutLength(request.header), body: refused(refusal) } : request;
    handler(call)
      .then((response) => universalResponseToNodeResponse(response, res))
      .catch((reason: unknown) => {
        // A client that went away mid-response is not an error of the server.
        options.log.debug({ err: reason, rpc: handler.method.name }, "rpc response not delivered");
      });
  };
}

async function* refused(error: ConnectError): AsyncIterable<Uint8Array> {
  yield* [];
  throw error;
}

function withoutLength(header: Headers): Headers {
  const copy = new Headers(header);
  copy.delete("content-length");
  return copy;
}
