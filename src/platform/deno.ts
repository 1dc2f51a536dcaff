// Skiff's platform on Deno 2: native Deno.listen/connect for TCP, Deno.serve +
// Deno.upgradeWebSocket for the server, the global WebSocket as client.

import type {
  ConnectWebSocketOptions,
  DialTcpOptions,
  HttpServer,
  ListenTcpOptions,
  Platform,
  ServeHttpOptions,
  Signal,
  TcpListener,
  TcpSocket,
  TcpSocketHandlers,
  WebSocketConn,
  WebSocketHandlers,
} from "./types.ts";
import {
  dialError,
  dialTimeoutError,
  isHandlers,
  isWebSocketUpgrade,
  listenError,
  socketError,
  webSocketError,
} from "./common.ts";
import { fileOps } from "./files.ts";
import { WebWebSocketConn } from "./ws-web.ts";

// The few Deno APIs used here (https://docs.deno.com/api/deno/), declared locally so
// tsc needs no Deno type package.
interface DenoNetAddr {
  hostname: string;
  port: number;
}
interface DenoConn {
  readonly remoteAddr: DenoNetAddr;
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
  setNoDelay(noDelay?: boolean): void;
}
interface DenoListener extends AsyncIterable<DenoConn> {
  readonly addr: DenoNetAddr;
  close(): void;
}
interface DenoHttpClient {
  close(): void;
}
interface DenoServeOptions {
  hostname: string;
  port: number;
  cert?: string;
  key?: string;
  onListen?: (addr: DenoNetAddr) => void;
  onError?: (error: unknown) => Response | Promise<Response>;
}
interface DenoHttpServer {
  readonly addr: DenoNetAddr;
  shutdown(): Promise<void>;
}
declare const Deno: {
  readonly version: { deno: string };
  readonly args: string[];
  listen(options: { hostname: string; port: number; transport: "tcp" }): DenoListener;
  connect(options: { hostname: string; port: number; transport: "tcp" }): Promise<DenoConn>;
  serve(
    options: DenoServeOptions,
    handler: (request: Request, info: { remoteAddr: DenoNetAddr }) => Response | Promise<Response>,
  ): DenoHttpServer;
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
  createHttpClient(options: { caCerts?: string[] }): DenoHttpClient;
  env: { get(name: string): string | undefined };
  addSignalListener(signal: Signal, handler: () => void): void;
  removeSignalListener(signal: Signal, handler: () => void): void;
  exit(code: number): never;
  memoryUsage(): { rss: number };
  stdout: { writeSync(data: Uint8Array): number };
  stderr: { writeSync(data: Uint8Array): number };
};

/** Bytes per read. A short read is copied out so a small chunk does not pin 64 KiB. */
const READ_SIZE = 64 * 1024;
/** write() returns false once this much is queued (Node's default is 16 KiB; Skiff's frames are bigger). */
const HIGH_WATER_MARK = 64 * 1024;
/** Queued chunks smaller than this are merged into one write of at most MAX_COALESCED bytes. */
const COALESCE_BELOW = 16 * 1024;
const MAX_COALESCED = 64 * 1024;
const CLOSE_GRACE_MS = 1000;

/**
 * TcpSocket over a Deno.Conn. Deno.Conn is pull-based (read/write promises), so
 * this class supplies what node:net has built in: a read loop that honours
 * pause(), a write queue with a high-water mark and `drain`, and half-close via
 * closeWrite(). Native instead of node:net because Deno's node:net server grew
 * to ~400 MB RSS on a 1 GiB transfer, native stayed at 47 MB (runtime-feasibility.md section 3).
 */
class DenoTcpSocket implements TcpSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  #conn: DenoConn;
  #handlers: TcpSocketHandlers | undefined;
  #paused = false;
  #resumed: (() => void) | undefined;
  #readDone = false;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #needDrain = false;
  #endRequested = false;
  #writeDone = false;
  #destroyed = false;
  #closeState: "open" | "pending" | "delivered" = "open";
  #closeError: Error | undefined;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    this.remoteAddress = conn.remoteAddr.hostname;
    this.remotePort = conn.remoteAddr.port;
  }

  start(handlers: TcpSocketHandlers): void {
    if (this.#handlers !== undefined) throw new Error("TcpSocket.start() was already called");
    this.#handlers = handlers;
    if (this.#closeState === "pending") {
      this.#scheduleClose();
      return;
    }
    void this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const handlers = this.#handlers!;
    while (!this.#destroyed) {
      const buffer = new Uint8Array(READ_SIZE);
      let n: number | null;
      try {
        n = await this.#conn.read(buffer);
      } catch (error) {
        this.#fail(error);
        return;
      }
      // Bytes read while paused are held until resume(), as node:net does.
      while (this.#paused && !this.#destroyed) await new Promise<void>((resolve) => (this.#resumed = resolve));
      if (this.#destroyed) return;
      if (n === null) {
        this.#readDone = true;
        handlers.end();
        this.#maybeFinish();
        return;
      }
      handlers.data(n < READ_SIZE / 4 ? buffer.slice(0, n) : buffer.subarray(0, n));
    }
  }

  write(chunk: Uint8Array): boolean {
    if (this.#destroyed || this.#endRequested) return false;
    if (chunk.byteLength > 0) {
      this.#queue.push(chunk);
      this.#queued += chunk.byteLength;
      if (!this.#writing) void this.#writeLoop();
    }
    if (this.#queued >= HIGH_WATER_MARK) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  #takeNext(): Uint8Array {
    const queue = this.#queue;
    const first = queue.shift()!;
    if (first.byteLength >= COALESCE_BELOW || queue.length === 0) return first;
    let total = first.byteLength;
    let count = 0;
    while (count < queue.length && total + queue[count].byteLength <= MAX_COALESCED) total += queue[count++].byteLength;
    if (count === 0) return first;
    const merged = new Uint8Array(total);
    merged.set(first);
    let offset = first.byteLength;
    for (const chunk of queue.splice(0, count)) {
      merged.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return merged;
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#destroyed) {
        let chunk = this.#takeNext();
        while (chunk.byteLength > 0) {
          // Deno.Conn.write may write only part of the chunk.
          const n = await this.#conn.write(chunk);
          if (this.#destroyed) return;
          this.#queued -= n;
          chunk = chunk.subarray(n);
        }
      }
    } catch (error) {
      this.#fail(error);
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#destroyed) return;
    if (this.#needDrain) {
      this.#needDrain = false;
      this.#handlers?.drain();
    }
    void this.#maybeCloseWrite();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const resumed = this.#resumed;
    this.#resumed = undefined;
    resumed?.();
  }

  end(): void {
    if (this.#destroyed || this.#endRequested) return;
    this.#endRequested = true;
    void this.#maybeCloseWrite();
  }

  async #maybeCloseWrite(): Promise<void> {
    if (!this.#endRequested || this.#writeDone || this.#writing || this.#queue.length > 0 || this.#destroyed) return;
    this.#writeDone = true;
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#maybeFinish();
  }

  /** Both directions are done: release the conn and report a clean close. */
  #maybeFinish(): void {
    if (this.#readDone && this.#writeDone && !this.#writing && !this.#destroyed) this.#teardown(undefined);
  }

  #fail(error: unknown): void {
    if (!this.#destroyed) this.#teardown(socketError(error));
  }

  destroy(): void {
    if (!this.#destroyed) this.#teardown(undefined);
  }

  #teardown(error: Error | undefined): void {
    this.#destroyed = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.resume(); // let a paused read loop see #destroyed and exit
    this.#closeError = error;
    this.#closeState = "pending";
    if (this.#handlers !== undefined) this.#scheduleClose();
  }

  /** close is delivered once, asynchronously like node:net, and only after start(). */
  #scheduleClose(): void {
    queueMicrotask(() => {
      if (this.#closeState !== "pending") return;
      this.#closeState = "delivered";
      this.#handlers!.close(this.#closeError);
    });
  }
}

async function listenTcp(options: ListenTcpOptions, onSocket: (socket: TcpSocket) => void): Promise<TcpListener> {
  let listener: DenoListener;
  try {
    listener = Deno.listen({ hostname: options.hostname, port: options.port, transport: "tcp" });
  } catch (error) {
    throw listenError(options.hostname, options.port, error);
  }
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        onSocket(new DenoTcpSocket(conn));
      }
    } catch {
      // the listener was closed
    }
  })();
  let closed: Promise<void> | undefined;
  return {
    port: listener.addr.port,
    hostname: options.hostname,
    close() {
      closed ??= (async () => {
        try {
          listener.close();
        } catch {
          // already closed
        }
        // The socket stays bound until the pending accept() ends: a dial right after
        // close() was accepted by the kernel and then reset. Wait for the loop to finish.
        await accepting;
      })();
      return closed;
    },
  };
}

async function dialTcp(options: DialTcpOptions): Promise<TcpSocket> {
  const { hostname, port, timeoutMs } = options;
  const connecting = Deno.connect({ hostname, port, transport: "tcp" });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  try {
    const conn = await (timeoutMs === undefined
      ? connecting
      : Promise.race([
          connecting,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              timedOut = true;
              reject(dialTimeoutError(hostname, port, timeoutMs));
            }, timeoutMs);
          }),
        ]));
    conn.setNoDelay(true);
    return new DenoTcpSocket(conn);
  } catch (error) {
    // Deno.connect cannot be aborted: close a connection that arrives after the timeout.
    connecting.then((conn) => conn.close()).catch(() => {});
    throw timedOut ? error : dialError(hostname, port, error);
  } finally {
    clearTimeout(timer);
  }
}

async function serveHttp(options: ServeHttpOptions): Promise<HttpServer> {
  const open = new Set<WebWebSocketConn>();
  const closedWaiters = new Set<() => void>();
  let closing = false;
  const forget = (conn: WebWebSocketConn): void => {
    open.delete(conn);
    if (open.size === 0) for (const done of closedWaiters) done();
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
    if (open.size > 0) {
      const allClosed = new Promise<void>((resolve) => closedWaiters.add(resolve));
      for (const conn of open) conn.close(1001, "server closing");
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([allClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
      clearTimeout(timer);
      for (const conn of open) conn.forceClosed();
    }
    await server.shutdown();
  }
  return {
    port: server.addr.port,
    hostname: options.hostname,
    close: () => (closed ??= close()),
  };
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
  return {
    runtime: "deno",
    version: Deno.version.deno,
    listenTcp,
    dialTcp,
    serveHttp,
    connectWebSocket,
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
