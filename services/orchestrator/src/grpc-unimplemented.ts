// An RPC to a method this port does not serve gets UNIMPLEMENTED in the caller's own protocol, as
// a gRPC server would answer, not the REST fallback's HTTP 404 JSON (which gRPC clients report as
// "server closed the stream without sending trailers").
import type http from "node:http";
import type http2 from "node:http2";

export type RpcProtocol = "grpc" | "grpc-web" | "connect-stream" | "connect-unary";

/** /package.Service/Method: the path of every RPC. */
const RPC_PATH = /^\/([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\/([A-Za-z_]\w*)$/;

/** The RPC protocol the request speaks, or undefined for anything else (REST, the console). */
export function rpcProtocolOf(
  method: string | undefined,
  path: string,
  contentType: string | undefined,
  query = "",
): RpcProtocol | undefined {
  const type = (contentType ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type === "application/grpc" || type.startsWith("application/grpc+")) return "grpc";
  if (type.startsWith("application/connect+")) return "connect-stream";
  if (!RPC_PATH.test(path)) return undefined;
  if (method === "POST" && (type === "application/proto" || type === "application/json")) return "connect-unary";
  // Connect's GET form of a side-effect-free unary call: ?connect=v1&encoding=...&message=...
  if (method === "GET" && new URLSearchParams(query).get("connect") === "v1") return "connect-unary";
  return undefined;
}

/** Names the service or the method that is missing, and how to list what is served. */
export function unimplementedMessage(path: string, servedServices: ReadonlySet<string>): string {
  const [, service = "", method = ""] = RPC_PATH.exec(path) ?? [];
  if (servedServices.has(service)) return `${service} has no method ${method}`;
  const listed = `list the services with server reflection (grpcurl -plaintext <host:port> list)`;
  return service ? `service ${service} is not served here: ${listed}` : `no RPC at ${path}: ${listed}`;
}

export function sendUnimplemented(
  res: http.ServerResponse | http2.Http2ServerResponse,
  protocol: RpcProtocol,
  contentType: string,
  message: string,
): void {
  const status = { "grpc-status": "12", "grpc-message": encodeURIComponent(message) };
  const response = res as http.ServerResponse;
  switch (protocol) {
    case "grpc":
      // Headers, then the status in trailers: what every gRPC client reads.
      response.writeHead(200, { "content-type": contentType });
      response.addTrailers(status);
      response.end();
      return;
    case "grpc-web":
      // gRPC-Web's trailers-only form: the status in the headers, no body.
      response.writeHead(200, { "content-type": contentType, ...status });
      response.end();
      return;
    case "connect-stream": {
      // A Connect stream ends with an end-stream message (flag 2) carrying the error.
      const json = Buffer.from(JSON.stringify({ error: { code: "unimplemented", message } }));
      const prefix = Buffer.alloc(5);
      prefix.writeUInt8(2, 0);
      prefix.writeUInt32BE(json.length, 1);
      response.writeHead(200, { "content-type": contentType });
      response.end(Buffer.concat([prefix, json]));
      return;
    }
    case "connect-unary": {
      const body = JSON.stringify({ code: "unimplemented", message });
      response.writeHead(404, {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
      });
      response.end(body);
      return;
    }
  }
}
