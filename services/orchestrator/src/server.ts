// One port for gRPC (HTTP/2), gRPC-Web, Connect and REST (HTTP/1.1 or HTTP/2).
// Cleartext: the first bytes of each connection pick the protocol (the HTTP/2 client preface);
// with TLS, ALPN does it (allowHTTP1).
// Every connection is bounded: time to send headers and the whole request, idle time, streams per
// HTTP/2 connection and connections per client address. A response being streamed is never cut.
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import type { Logger } from "./logger.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
/** After a response, this much of a body nobody read is read and dropped before the request is cut. */
const DISCARD_LIMIT_BYTES = 8 * 1024 * 1024;
/** ...and for at most this long: enough for a client to finish a write and read the answer. */
const DISCARD_WINDOW_MS = 5_000;
/** Dead peers of long streams are found by TCP keep-alive probes. */
const TCP_KEEP_ALIVE_MS = 30_000;

export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

export interface ListeningServer {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes the rest. */
  close(graceMs?: number): Promise<void>;
}

export interface ConnectionLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** An HTTP/2 session with no open stream. */
  idleTimeoutMs: number;
  maxConcurrentStreams: number;
  maxConnectionsPerClient: number;
}

export interface ServeOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  limits: ConnectionLimits;
  log: Logger;
}

export async function serve(handler: RequestHandler, options: ServeOptions): Promise<ListeningServer> {
  const { limits, log } = options;
  const guarded = guard(handler, log);
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  const perClient = new Map<string, number>();
  /** Addresses at the cap that were already logged (one line per episode, not per socket). */
  const atCap = new Set<string>();
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const http1Timeouts = {
    headersTimeout,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // How often the two timeouts above are checked.
    connectionsCheckingInterval: Math.max(100, Math.min(5_000, Math.floor(headersTimeout / 2))),
  };
  const h2Options: http2.ServerOptions = { settings: { maxConcurrentStreams: limits.maxConcurrentStreams } };
  let front: net.Server;
  let h1: http.Server | undefined;
  let h2: http2.Http2Server | http2.Http2SecureServer;
  if (options.tls) {
    const secure = http2.createSecureServer({
      ...h2Options,
      allowHTTP1: true,
      handshakeTimeout: headersTimeout,
      cert: readFileSync(options.tls.certFile),
      key: readFileSync(options.tls.keyFile),
    });
    // These apply to the HTTP/1.1 connections ALPN hands to the HTTP/1.1 code.
    Object.assign(secure, http1Timeouts);
    secure.on("request", guarded);
    h2 = secure;
    front = secure;
  } else {
    h1 = http.createServer(http1Timeouts, guarded);
    // This server never listens itself (the front socket does), but 'listening' is what starts
    // its checks of the headers and request timeouts.
    h1.emit("listening");
    const h2c = http2.createServer(h2Options);
    h2c.on("request", guarded);
    h2 = h2c;
    const http1 = h1;
    front = net.createServer((socket) => {
      if (socket.destroyed) return; // refused by the per-client cap
      // A connection that never sends its first bytes is closed like one that never sends headers.
      socket.setTimeout(headersTimeout, () => socket.destroy());
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const n = Math.min(buffered.length, PREFACE.length);
        const isH2 = buffered.subarray(0, n).equals(PREFACE.subarray(0, n));
        if (isH2 && buffered.length < PREFACE.length) return; // wait for the whole preface
        socket.off("data", onData);
        socket.setTimeout(0);
        socket.pause();
        if (isH2) {
          h2c.emit("connection", replaying(socket, buffered));
        } else {
          socket.unshift(buffered);
          http1.emit("connection", socket);
        }
        socket.resume();
      };
      socket.on("data", onData);
    });
  }
  h2.on("session", (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    closeWhenIdle(session, limits.idleTimeoutMs);
  });
  h2.on("stream", (stream: http2.ServerHttp2Stream) => cancelSlowRequest(stream, limits.requestTimeoutMs));
  const onConnection = (socket: net.Socket) => {
    // Errors of a socket nobody else listens to yet (sniffing, TLS handshake) must not be fatal.
    socket.on("error", () => undefined);
    const client = socket.remoteAddress ?? "";
    const open = perClient.get(client) ?? 0;
    if (open >= limits.maxConnectionsPerClient) {
      if (!atCap.has(client)) log.warn({ client, open }, "refusing connections: too many from this address");
      atCap.add(client);
      socket.destroy();
      return;
    }
    perClient.set(client, open + 1);
    sockets.add(socket);
    socket.setKeepAlive(true, TCP_KEEP_ALIVE_MS);
    socket.once("close", () => {
      sockets.delete(socket);
      const left = (perClient.get(client) ?? 1) - 1;
      if (left > 0) perClient.set(client, left);
      else perClient.delete(client);
      atCap.delete(client);
    });
  };
  // The TLS server's raw TCP connections arrive as "connection" too, before the handshake.
  front.prependListener("connection", onConnection);
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port, options.host, () => resolve());
  });
  // Once listening, errors such as EMFILE on accept are logged, not fatal.
  front.on("error", (err) => log.error({ err }, "server socket error"));
  const address = front.address() as net.AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${address.port}`,
    port: address.port,
    close(graceMs = 5000) {
      closing ??= new Promise<void>((resolve) => {
        front.close(() => resolve());
        // Stops the timeout checks started above; it was never listening, hence the ignored error.
        h1?.close(() => undefined);
        h1?.closeIdleConnections();
        for (const session of sessions) session.close();
        const timer = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
          for (const session of sessions) session.destroy();
        }, graceMs);
        timer.unref();
        // Idle HTTP/1.1 keep-alive sockets never emit 'close' on their own.
        const idle = setInterval(() => h1?.closeIdleConnections(), 100);
        idle.unref();
        front.once("close", () => {
          clearInterval(idle);
          clearTimeout(timer);
        });
      });
      return closing;
    },
  };
}

/**
 * Runs the handler so that no request can take the process down: a throw becomes a 500, errors
 * on the request and response objects are logged, and a body the handler left unread (a refusal
 * before reading) is dropped, up to a bound, so the client can read the answer.
 */
function guard(handler: RequestHandler, log: Logger): RequestHandler {
  return (req, res) => {
    req.on("error", (err) => log.debug({ err }, "request stream error"));
    res.on("error", (err: Error) => log.debug({ err }, "response stream error"));
    res.once("finish", () => discardUnread(req));
    try {
      handler(req, res);
    } catch (err) {
      log.error({ err, url: req.url }, "request handler threw");
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = JSON.stringify({ error: "Internal Server Error", message: "the request could not be handled" });
      res.writeHead(500, { "content-type": "application/json; charset=utf-8" });
      res.end(body);
    }
  };
}

function discardUnread(req: http.IncomingMessage | http2.Http2ServerRequest): void {
  if (req.readableEnded || req.destroyed) return;
  const cut = () => {
    if ("stream" in req) req.stream.close(http2.constants.NGHTTP2_CANCEL);
    else req.socket.destroy();
  };
  // A slow sender does not keep the connection either: whatever is unread after the window goes.
  const timer = setTimeout(cut, DISCARD_WINDOW_MS);
  timer.unref();
  req.once("end", () => clearTimeout(timer));
  req.once("close", () => clearTimeout(timer));
  let discarded = 0;
  req.on("data", (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) cut();
  });
  req.resume();
}

/** Closes an HTTP/2 session that has had no open stream for `idleMs`. */
function closeWhenIdle(session: http2.Http2Session, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => session.close(), idleMs);
    timer.unref();
  };
  session.on("stream", (stream: http2.Http2Stream) => {
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      open--;
      if (open === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once("close", () => clearTimeout(timer));
  arm();
}

/** Cancels an HTTP/2 stream whose request (headers and body) has not fully arrived in time. */
function cancelSlowRequest(stream: http2.ServerHttp2Stream, timeoutMs: number): void {
  if (stream.endAfterHeaders) return;
  const timer = setTimeout(() => {
    if (!stream.closed && stream.state.remoteClose !== 1) stream.close(http2.constants.NGHTTP2_CANCEL);
  }, timeoutMs);
  timer.unref();
  stream.once("close", () => clearTimeout(timer));
}

/**
 * The HTTP/2 server reads a native socket's handle directly, so bytes put back with unshift()
 * would be lost. Hand it a JS stream that replays the sniffed bytes, then relays the socket.
 */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    // A write to a socket that went away is not an error of the session: 'close' follows.
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, () => callback());
    },
    final(callback) {
      socket.end(() => callback());
    },
    destroy(_err, callback) {
      socket.destroy();
      callback(null);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once("end", () => duplex.push(null));
  // The socket's own error is already swallowed; the session only needs to know it is gone.
  socket.once("close", () => duplex.destroy());
  return duplex;
}
