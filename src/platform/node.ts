// Skiff's platform on Node 20+: node:net for TCP, node:http(s) + `ws` for the
// HTTP/WebSocket server, `ws` (with bufferutil) as WebSocket client.

import http from "node:http";
import https from "node:https";
import { rootCertificates } from "node:tls";
import process from "node:process";
import type { Duplex } from "node:stream";
import { getRequestListener } from "@hono/node-server";
import WebSocket, { WebSocketServer } from "ws";
import type {
  ConnectWebSocketOptions,
  HttpServer,
  Platform,
  ServeHttpOptions,
  WebSocketConn,
  WebSocketHandlers,
} from "./types.ts";
import { isHandlers, isWebSocketUpgrade, OpenSockets, socketErrorReason, webSocketError } from "./common.ts";
import { fileOps } from "./files.ts";
import { processOps } from "./process-node.ts";
import { nodeNetTcp } from "./tcp-node.ts";
import { nodeHttpRequest } from "./http-request.ts";
import { NodeWebSocketConn } from "./ws-node.ts";
import { tuneHeapGrowth } from "./v8-heap-node.ts";


/** The Request an upgrade callback sees, built from Node's IncomingMessage. */
function toRequest(req: http.IncomingMessage, scheme: string, fallbackHost: string): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  return new Request(`${scheme}://${req.headers.host ?? fallbackHost}${req.url ?? "/"}`, {
    method: req.method,
    headers,
  });
}

/** Answer an upgrade request with an ordinary HTTP response on the raw socket, then close it. */
async function writeResponse(socket: Duplex, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  const lines = [`HTTP/1.1 ${response.status} ${response.statusText || http.STATUS_CODES[response.status] || ""}`];
  response.headers.forEach((value, name) => {
    if (name !== "content-length" && name !== "connection" && name !== "transfer-encoding") lines.push(`${name}: ${value}`);
  });
  lines.push(`content-length: ${body.length}`, "connection: close", "", "");
  if (!socket.writable) return void socket.destroy();
  socket.write(lines.join("\r\n"));
  socket.end(body);
}

async function serveHttp(options: ServeHttpOptions): Promise<HttpServer> {
  const listener = getRequestListener((request, env) =>
    options.fetch(request, { remoteAddress: env.incoming.socket.remoteAddress ?? "" }),
  );
  const server = options.tls
    ? https.createServer({ cert: options.tls.certificatePem, key: options.tls.privateKeyPem }, listener)
    : http.createServer(listener);
  // noServer: we own the 'upgrade' event and decide per request. perMessageDeflate off: Skiff
  // sends encrypted (incompressible) records. maxPayload: ws answers an oversize message with 1009.
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes, perMessageDeflate: false });
  const open = new OpenSockets<NodeWebSocketConn>();
  const scheme = options.tls ? "https" : "http";
  let closing = false;

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => {}); // a reset during the handshake must not crash the process
    void (async () => {
      let request: Request;
      try {
        request = toRequest(req, scheme, `${options.hostname}:${options.port}`);
      } catch {
        return writeResponse(socket, new Response("Bad Request", { status: 400 }));
      }
      if (closing) return writeResponse(socket, new Response("Server closing", { status: 503 }));
      if (!isWebSocketUpgrade(request)) return writeResponse(socket, new Response("Bad Request", { status: 400 }));
      let answer: WebSocketHandlers | Response;
      try {
        answer = await options.upgrade(request, { remoteAddress: req.socket.remoteAddress ?? "" });
      } catch {
        answer = new Response("Internal Server Error", { status: 500 });
      }
      if (!isHandlers(answer)) return writeResponse(socket, answer);
      const handlers = answer;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const conn = new NodeWebSocketConn(ws, {
          open: (ws) => handlers.open(ws),
          message: (data, text) => handlers.message(data, text),
          close(code, reason) {
            open.delete(conn);
            handlers.close(code, reason);
          },
        });
        open.add(conn);
        conn.opened(socket);
        if (closing) conn.close(1001, "server closing");
      });
    })().catch(() => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((error: unknown) => {
    throw new Error(`Cannot listen on ${options.hostname}:${options.port}: ${socketErrorReason(error)}`, { cause: error });
  });
  const port = (server.address() as { port: number }).port;

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await open.closeAll((conn) => conn.terminate());
    server.closeAllConnections();
    wss.close();
    await serverClosed;
  }
  return {
    port,
    hostname: options.hostname,
    close: () => (closed ??= close()),
  };
}

async function readBody(res: http.IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } catch {
    // the body is only a hint for the error message
  }
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8").trim();
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

function connectWebSocket(url: string, options: ConnectWebSocketOptions): Promise<WebSocketConn> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    // ws loads bufferutil by itself when installed (masking in C: 431-684 instead of 117 MB/s,
    // runtime-feasibility.md section 4). `ca` replaces Node's default roots, so they are
    // passed along to keep the system CAs too (https://nodejs.org/api/tls.html#tlscreatesecurecontextoptions).
    const ws = new WebSocket(url, {
      headers: options.headers,
      perMessageDeflate: false,
      // An all-zero mask lets ws skip the masking pass over every payload byte. Masking
      // (RFC 6455 section 10.3) keeps a script from choosing the bytes an intermediary
      // sees; a link's messages are handshake bytes and AES-GCM records, which no party
      // off the link can choose, so a fixed mask protects nothing here.
      generateMask: zeroMask,
      ...(options.caCertificates?.length ? { ca: [...rootCertificates, ...options.caCertificates] } : {}),
    });
    // Handlers are attached before the handshake ends: a Bun server sends its first
    // message in the same TCP segment as the 101 (runtime-feasibility.md section 1).
    const conn = new NodeWebSocketConn(ws, options.handlers);
    let socket: Duplex | undefined;
    ws.once("upgrade", (res: http.IncomingMessage) => {
      socket = res.socket;
    });
    ws.once("unexpected-response", (req: http.ClientRequest, res: http.IncomingMessage) => {
      void readBody(res, 300).then((body) => {
        req.destroy();
        const status = `HTTP ${res.statusCode} ${res.statusMessage ?? ""}`.trim();
        fail(webSocketError(url, body ? `${status}: ${body}` : status));
      });
    });
    ws.once("error", (error: Error) => fail(webSocketError(url, socketErrorReason(error), error)));
    ws.once("open", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.opened(socket); // ws emits "upgrade" (with the socket) before "open"
      resolve(conn);
    });
    if (options.timeoutMs !== undefined) {
      const ms = options.timeoutMs;
      timer = setTimeout(() => fail(webSocketError(url, `timed out after ${ms} ms`)), ms);
    }
  });
}


export function createNodePlatform(): Platform {
  // Bulk transfers otherwise push V8 into back-to-back full collections (v8-heap-node.ts).
  tuneHeapGrowth();
  return {
    runtime: "node",
    version: process.versions.node,
    ...nodeNetTcp({ copyQueuedWrites: false }),
    serveHttp,
    connectWebSocket,
    httpRequest: nodeHttpRequest,
    ...fileOps,
    ...processOps,
  };
}
