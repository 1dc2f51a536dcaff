// Skiff's platform on Bun: node:net for TCP, Bun.serve with its native WebSocket
// server, the global WebSocket as client.

import process from "node:process";
import { rootCertificates } from "node:tls";
import { fetchHttpRequest } from "./http-fetch.ts";
import type {
  ConnectWebSocketOptions,
  HttpServer,
  Platform,
  ServeHttpOptions,
  WebSocketConn,
  WebSocketHandlers,
} from "./types.ts";
import { DrainWaiters, isHandlers, isWebSocketUpgrade, listenError, OpenSockets, textEncoder, webSocketError } from "./common.ts";
import { fileOps } from "./files.ts";
import { processOps } from "./process-node.ts";
import { shrinkWhenQuiet } from "./shrink-when-quiet.ts";
import { collectWhenHeavy } from "./collect-when-heavy.ts";
import { nodeNetTcp } from "./tcp-node.ts";
import { WebWebSocketConn } from "./ws-web.ts";

// The few Bun APIs used here (https://bun.sh/docs/api/websockets), declared locally
// so tsc needs no bun-types package.
interface BunServerWebSocket {
  readonly data: SocketData;
  readonly readyState: number;
  /** Bytes sent (> 0), -1 queued under backpressure, 0 dropped. */
  send(data: Uint8Array): number;
  close(code?: number, reason?: string): void;
  terminate(): void;
  getBufferedAmount(): number;
}
interface BunServer {
  readonly port: number;
  upgrade(request: Request, options: { data: SocketData }): boolean;
  requestIP(request: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunServeOptions {
  development: boolean;
  error(error: Error): Response;
  hostname: string;
  port: number;
  tls?: { cert: string; key: string };
  fetch(request: Request, server: BunServer): Response | undefined | Promise<Response | undefined>;
  websocket: {
    maxPayloadLength: number;
    backpressureLimit: number;
    closeOnBackpressureLimit: boolean;
    perMessageDeflate: boolean;
    open(ws: BunServerWebSocket): void;
    message(ws: BunServerWebSocket, message: string | Uint8Array): void;
    close(ws: BunServerWebSocket, code: number, reason: string): void;
    drain(ws: BunServerWebSocket): void;
  };
}
declare const Bun: {
  readonly version: string;
  serve(options: BunServeOptions): BunServer;
  /** Frees what JavaScriptCore holds and does not use, the next time it is idle (bun-types). */
  shrink?(): void;
  /** Runs the collector; `true` waits for a full collection to finish (bun-types). */
  gc(force: boolean): void;
};

interface SocketData {
  handlers: WebSocketHandlers;
  conn?: BunWebSocketConn;
}

/**
 * Bun's ServerWebSocket.send() returns 0 and DROPS the message once more than
 * `backpressureLimit` bytes are queued (default 16 MiB; 43 of 64 x 1 MiB lost in
 * runtime-feasibility.md section 1). Skiff raises the limit far above what a link keeps
 * in flight and treats a drop as fatal.
 */
const BACKPRESSURE_LIMIT = 1024 * 1024 * 1024;

class BunWebSocketConn implements WebSocketConn {
  #ws: BunServerWebSocket;
  #handlers: WebSocketHandlers;
  #closing = false;
  #closed = false;
  #local: { code: number; reason: string } | undefined;
  readonly drain: DrainWaiters;

  constructor(ws: BunServerWebSocket, handlers: WebSocketHandlers) {
    this.#ws = ws;
    this.#handlers = handlers;
    // Bun's drain handler fires when its queue empties; poll too, for thresholds above 0.
    this.drain = new DrainWaiters(() => ws.getBufferedAmount(), true);
  }

  send(data: Uint8Array, written?: () => void): void {
    if (this.#closing || this.#closed) return;
    // 0 means dropped, except for an empty message, where it is the 0 bytes sent.
    if (this.#ws.send(data) === 0 && (data.byteLength > 0 || this.#ws.getBufferedAmount() >= BACKPRESSURE_LIMIT)) {
      // Dropped: the stream of messages now has a hole, so the socket cannot go on.
      this.close(1011, "send buffer overflow: message dropped");
      return;
    }
    // Bun writes what the socket takes and copies the rest into its own queue.
    written?.();
  }

  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#ws.getBufferedAmount();
  }

  waitForDrain(threshold: number): Promise<void> {
    return this.drain.wait(threshold);
  }

  close(code = 1000, reason = ""): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#local = { code, reason };
    this.#ws.close(code, reason);
  }

  terminate(): void {
    if (!this.#closed) this.#ws.terminate();
  }

  onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.drain.closeAll();
    // Bun reports 1006 for closes it started itself: after a message over maxPayloadLength it
    // sends 1009 "Received too big message" to the peer but tells us 1006 with that reason.
    const local = this.#local;
    if (local !== undefined && (code === 1005 || code === 1006)) this.#handlers.close(local.code, local.reason);
    else if (code === 1006 && reason === "Received too big message") this.#handlers.close(1009, reason);
    else this.#handlers.close(code, reason);
  }
}

async function serveHttp(options: ServeHttpOptions): Promise<HttpServer> {
  const open = new OpenSockets<BunWebSocketConn>();
  let closing = false;

  let server: BunServer;
  try {
    server = Bun.serve({
      // Development mode (the default unless NODE_ENV=production) answers a throwing
      // handler with an error page that shows the stack (https://bun.sh/docs/api/http#error-handling).
      development: false,
      error(error) {
        console.error(error);
        return new Response("Internal Server Error", { status: 500 });
      },
      hostname: options.hostname,
      port: options.port,
      ...(options.tls ? { tls: { cert: options.tls.certificatePem, key: options.tls.privateKeyPem } } : {}),
      async fetch(request, srv) {
        const info = { remoteAddress: srv.requestIP(request)?.address ?? "" };
        if (!isWebSocketUpgrade(request)) return await options.fetch(request, info);
        if (closing) return new Response("Server closing", { status: 503 });
        let answer: WebSocketHandlers | Response;
        try {
          answer = await options.upgrade(request, info);
        } catch {
          return new Response("Internal Server Error", { status: 500 });
        }
        if (!isHandlers(answer)) return answer;
        // upgrade() after an await works in Bun as long as no Response was returned.
        if (srv.upgrade(request, { data: { handlers: answer } })) return undefined;
        return new Response("WebSocket upgrade failed", { status: 400 });
      },
      websocket: {
        // Bun refuses a larger message itself, before buffering it, and closes with 1009.
        maxPayloadLength: options.maxMessageBytes,
        backpressureLimit: BACKPRESSURE_LIMIT,
        closeOnBackpressureLimit: false,
        perMessageDeflate: false,
        open(ws) {
          const conn = new BunWebSocketConn(ws, ws.data.handlers);
          ws.data.conn = conn;
          open.add(conn);
          ws.data.handlers.open(conn);
          if (closing) conn.close(1001, "server closing");
        },
        message(ws, message) {
          // Binary messages arrive as a Buffer of their own (offset 0, exact length).
          if (typeof message === "string") ws.data.handlers.message(textEncoder.encode(message), true);
          else ws.data.handlers.message(message, false);
        },
        close(ws, code, reason) {
          const conn = ws.data.conn;
          if (conn === undefined) return;
          open.delete(conn);
          conn.onClose(code, reason);
        },
        drain(ws) {
          ws.data.conn?.drain.check();
        },
      },
    });
  } catch (error) {
    throw listenError(options.hostname, options.port, error);
  }

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    await open.closeAll((conn) => conn.terminate());
    await server.stop(true);
  }
  return {
    port: server.port,
    hostname: options.hostname,
    close: () => (closed ??= close()),
  };
}

function connectWebSocket(url: string, options: ConnectWebSocketOptions): Promise<WebSocketConn> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (reason: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(webSocketError(url, reason));
    };
    let ws: WebSocket;
    try {
      // Bun's WebSocket takes {headers, tls: {ca}} as the second argument (not in the DOM types).
      const init = {
        headers: options.headers,
        // Like Node's, Bun's `ca` replaces the default roots; keep them alongside the private CA.
        ...(options.caCertificates?.length ? { tls: { ca: [...rootCertificates, ...options.caCertificates] } } : {}),
      };
      ws = new WebSocket(url, init as unknown as string[]);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    new WebWebSocketConn(
      ws,
      options.handlers,
      {},
      (conn) => {
        if (settled) return conn.close();
        settled = true;
        clearTimeout(timer);
        resolve(conn);
      },
      // e.g. "WebSocket connection to 'ws://...' failed: Expected 101 status code: 403"
      (message) => fail(message.replace(/^WebSocket connection to '[^']*' failed: /, "")),
    );
    if (options.timeoutMs !== undefined) {
      const ms = options.timeoutMs;
      timer = setTimeout(() => {
        fail(`timed out after ${ms} ms`);
        ws.close();
      }, ms);
    }
  });
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

export function createBunPlatform(): Platform {
  // Give back what start-up and each burst left behind, once the site is quiet (shrink-when-quiet.ts):
  // start-up's compiled code once, then only what a full collection frees.
  const collectFully = () => Bun.gc(true);
  shrinkWhenQuiet({ first: typeof Bun.shrink === "function" ? () => Bun.shrink?.() : collectFully, afterBusy: collectFully }, cpuMicros);
  // Free the buffers a slow reader leaves for a full collection before they pile up (collect-when-heavy.ts).
  collectWhenHeavy(() => Bun.gc(true), () => process.memoryUsage().external, cpuMicros);
  return {
    runtime: "bun",
    version: Bun.version,
    ...nodeNetTcp({ copyQueuedWrites: true }),
    serveHttp,
    connectWebSocket,
    // Bun's fetch takes tls.ca; like Node it replaces the system roots, so keep them.
    httpRequest: (url, options) => fetchHttpRequest(url, options, (ca) => ({ tls: { ca: [...rootCertificates, ...ca] } })),
    ...fileOps,
    ...processOps,
  };
}
