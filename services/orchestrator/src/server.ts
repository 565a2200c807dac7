// One port for gRPC (HTTP/2), gRPC-Web, Connect and REST (HTTP/1.1 or HTTP/2).
// Cleartext: the first bytes of each connection pick the protocol (the HTTP/2 client preface);
// with TLS, ALPN does it (allowHTTP1).
import { readFileSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

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

export interface ServeOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
}

export async function serve(handler: RequestHandler, options: ServeOptions): Promise<ListeningServer> {
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  let front: net.Server;
  let h1: http.Server | undefined;
  let h2: http2.Http2Server | http2.Http2SecureServer;
  if (options.tls) {
    h2 = http2.createSecureServer({
      allowHTTP1: true,
      cert: readFileSync(options.tls.certFile),
      key: readFileSync(options.tls.keyFile),
    });
    h2.on("request", handler);
    front = h2;
  } else {
    h1 = http.createServer(handler);
    // Streaming responses (WatchExport, downloads) can be long: no request timeout.
    h1.requestTimeout = 0;
    const h2c = http2.createServer();
    h2c.on("request", handler);
    h2 = h2c;
    const http1 = h1;
    front = net.createServer((socket) => {
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const n = Math.min(buffered.length, PREFACE.length);
        const isH2 = buffered.subarray(0, n).equals(PREFACE.subarray(0, n));
        if (isH2 && buffered.length < PREFACE.length) return; // wait for the whole preface
        socket.off("data", onData);
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
  });
  front.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(options.port, options.host, () => resolve());
  });
  const address = front.address() as net.AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `${options.tls ? "https" : "http"}://${host}:${address.port}`,
    port: address.port,
    close(graceMs = 5000) {
      closing ??= new Promise<void>((resolve) => {
        front.close(() => resolve());
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
 * The HTTP/2 server reads a native socket's handle directly, so bytes put back with unshift()
 * would be lost. Hand it a JS stream that replays the sniffed bytes, then relays the socket.
 */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.once("end", () => duplex.push(null));
  socket.once("close", () => duplex.destroy());
  socket.once("error", (err) => duplex.destroy(err));
  return duplex;
}
