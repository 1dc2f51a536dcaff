// Skiff's platform on Deno 2: native Deno.listen/connect for TCP, Deno.serve +
// Deno.upgradeWebSocket for the server, the global WebSocket as client.

import type {
  ConnectWebSocketOptions,
  HttpServer,
  Platform,
  ServeHttpOptions,
  WebSocketConn,
  WebSocketHandlers,
} from "./types.ts";
import { isHandlers, isWebSocketUpgrade, listenError, OpenSockets, webSocketError } from "./common.ts";
import { Deno, type DenoHttpServer } from "./deno-api.ts";
import { fileOps } from "./files.ts";
import { fetchHttpRequest } from "./http-fetch.ts";
import { dialTcp, listenTcp } from "./tcp-deno.ts";
import { WebWebSocketConn } from "./ws-web.ts";
import { loadMallocTrim, trimPeriodically } from "./memory-trim-deno.ts";
import { noDelayTowards } from "./nodelay-deno.ts";

async function serveHttp(options: ServeHttpOptions): Promise<HttpServer> {
  const open = new OpenSockets<WebWebSocketConn>();
  let closing = false;
  const forget = (conn: WebWebSocketConn): void => {
    open.delete(conn);
  };

  const accept = (request: Request, handlers: WebSocketHandlers): Response => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    // Deno buffers a whole message (up to its own 64 MiB cap) before handing it over, so
    // maxMessageBytes is enforced after receipt, by closing with 1009.
    const conn: WebWebSocketConn = new WebWebSocketConn(
      socket,
      {
        open: (ws) => handlers.open(ws),
        message: (data, text) => handlers.message(data, text),
        close(code, reason) {
          forget(conn);
          handlers.close(code, reason);
        },
      },
      { maxMessageBytes: options.maxMessageBytes },
      () => {
        if (closing) conn.close(1001, "server closing");
      },
      () => forget(conn),
    );
    open.add(conn);
    return response;
  };

  let server: DenoHttpServer;
  try {
    server = Deno.serve(
      {
        hostname: options.hostname,
        port: options.port,
        ...(options.tls ? { cert: options.tls.certificatePem, key: options.tls.privateKeyPem } : {}),
        onListen() {}, // Deno prints "Listening on ..." by default
      },
      async (request, info) => {
        const requestInfo = { remoteAddress: info.remoteAddr.hostname };
        if (!isWebSocketUpgrade(request)) return await options.fetch(request, requestInfo);
        if (closing) return new Response("Server closing", { status: 503 });
        let answer: WebSocketHandlers | Response;
        try {
          answer = await options.upgrade(request, requestInfo);
        } catch {
          return new Response("Internal Server Error", { status: 500 });
        }
        return isHandlers(answer) ? accept(request, answer) : answer;
      },
    );
  } catch (error) {
    throw listenError(options.hostname, options.port, error);
  }

  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    closing = true;
    await open.closeAll((conn) => conn.forceClosed());
    await server.shutdown();
  }
  return {
    port: server.addr.port,
    hostname: options.hostname,
    close: () => (closed ??= close()),
  };
}

/** The TCP port a ws:// or wss:// URL connects to. */
function portOf(url: string): number {
  const parsed = new URL(url);
  return Number(parsed.port) || (parsed.protocol === "wss:" ? 443 : 80);
}

function connectWebSocket(url: string, options: ConnectWebSocketOptions): Promise<WebSocketConn> {
  return new Promise((resolve, reject) => {
    // A private CA is trusted per connection through an HTTP client (runtime-feasibility.md section 2).
    const client = options.caCertificates?.length ? Deno.createHttpClient({ caCerts: [...options.caCertificates] }) : undefined;
    const release = (): void => {
      try {
        client?.close();
      } catch {
        // already closed
      }
    };
    let settled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const handlers: WebSocketHandlers = {
      open: (ws) => options.handlers.open(ws),
      message: (data, text) => options.handlers.message(data, text),
      close(code, reason) {
        release();
        options.handlers.close(code, reason);
      },
    };
    const fail = (reason: string): void => {
      release();
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(webSocketError(url, reason));
    };
    let ws: WebSocket;
    try {
      // Deno's WebSocket takes {headers, client} as the second argument (not in the DOM types).
      const init = { headers: options.headers, ...(client ? { client } : {}) };
      ws = new WebSocket(url, init as unknown as string[]);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    new WebWebSocketConn(
      ws,
      handlers,
      {},
      (conn) => {
        if (settled) return conn.close();
        settled = true;
        clearTimeout(timer);
        // Deno's client leaves Nagle's algorithm on for the link (nodelay-deno.ts).
        noDelayTowards(portOf(url));
        resolve(conn);
      },
      // e.g. "NetworkError: failed to connect to WebSocket: Invalid status code: 403"
      (message) => fail(message.replace(/^NetworkError: /, "")),
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

const encoder = new TextEncoder();

/** writeSync may write part of the bytes; loop so a last line before exit is complete. */
function writeAll(target: { writeSync(data: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.byteLength > 0) bytes = bytes.subarray(target.writeSync(bytes));
}

export function createDenoPlatform(): Platform {
  // After a burst glibc keeps freed buffers; give them back (memory-trim-deno.ts).
  const trim = loadMallocTrim();
  if (trim !== undefined) trimPeriodically(trim);
  return {
    runtime: "deno",
    version: Deno.version.deno,
    listenTcp,
    dialTcp,
    serveHttp,
    connectWebSocket,
    httpRequest: (url, options) =>
      fetchHttpRequest(url, options, (ca) => {
        // Deno trusts a private CA per request through an HTTP client (added to its default roots).
        const client = Deno.createHttpClient({ caCerts: ca });
        return { client, release: () => client.close() };
      }),
    ...fileOps,
    env: (name) => Deno.env.get(name),
    args: () => [...Deno.args],
    onSignal(signal, handler) {
      const listener = (): void => handler();
      Deno.addSignalListener(signal, listener);
      return () => Deno.removeSignalListener(signal, listener);
    },
    exit: (code) => Deno.exit(code),
    memoryRss: () => Deno.memoryUsage().rss,
    writeStdout: (text) => writeAll(Deno.stdout, text),
    writeStderr: (text) => writeAll(Deno.stderr, text),
  };
}
