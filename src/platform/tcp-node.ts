// TCP through node:net, for Node and Bun (Bun's node:net measured well:
// reference/runtime-feasibility.md section 3). Adapts net.Socket to TcpSocket.

import net from "node:net";
import type { DialTcpOptions, ListenTcpOptions, TcpListener, TcpSocket, TcpSocketHandlers } from "./types.ts";
import { dialError, dialTimeoutError, listenError, socketError } from "./common.ts";

class NodeTcpSocket implements TcpSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  #socket: net.Socket;
  #handlers: TcpSocketHandlers | undefined;
  #error: Error | undefined;
  /** close happened before start(): delivered by start(). */
  #closedEarly = false;
  #closeDelivered = false;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.remoteAddress = socket.remoteAddress ?? "";
    this.remotePort = socket.remotePort ?? 0;
    // Without an 'error' listener Node throws the error; keep it for close.
    socket.on("error", (error) => {
      this.#error ??= socketError(error);
    });
    socket.on("close", () => {
      if (this.#handlers === undefined) this.#closedEarly = true;
      else this.#deliverClose();
    });
  }

  #deliverClose(): void {
    if (this.#closeDelivered) return;
    this.#closeDelivered = true;
    this.#handlers!.close(this.#error);
  }

  start(handlers: TcpSocketHandlers): void {
    if (this.#handlers !== undefined) throw new Error("TcpSocket.start() was already called");
    this.#handlers = handlers;
    const s = this.#socket;
    if (this.#closedEarly) {
      queueMicrotask(() => this.#deliverClose());
      return;
    }
    s.on("data", (chunk: Buffer) => handlers.data(chunk));
    s.on("end", () => handlers.end());
    s.on("drain", () => handlers.drain());
    s.resume();
  }

  write(chunk: Uint8Array): boolean {
    if (this.#socket.destroyed || this.#socket.writableEnded) return false;
    return this.#socket.write(chunk);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (this.#handlers !== undefined) this.#socket.resume();
  }

  end(): void {
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

function configure(socket: net.Socket): void {
  // Small frames of an interactive protocol should not wait for Nagle.
  socket.setNoDelay(true);
}

export function listenTcp(options: ListenTcpOptions, onSocket: (socket: TcpSocket) => void): Promise<TcpListener> {
  // allowHalfOpen: a peer's FIN must not end our side (TcpSocket half-close).
  // pauseOnConnect: no read until start() (https://nodejs.org/api/net.html#netcreateserveroptions-connectionlistener).
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    configure(socket);
    onSocket(new NodeTcpSocket(socket));
  });
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(listenError(options.hostname, options.port, error));
    server.once("error", onError);
    server.listen(options.port, options.hostname, () => {
      server.off("error", onError);
      server.on("error", () => {});
      const address = server.address() as net.AddressInfo;
      let closed: Promise<void> | undefined;
      resolve({
        port: address.port,
        hostname: options.hostname,
        close() {
          // server.close()'s callback waits for every accepted socket to end; the
          // contract only stops accepting, which happens at once (the handle closes).
          closed ??= new Promise((done) => {
            server.close();
            setImmediate(done);
          });
          return closed;
        },
      });
    });
  });
}

export function dialTcp(options: DialTcpOptions): Promise<TcpSocket> {
  const { hostname, port, timeoutMs } = options;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port, allowHalfOpen: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fail = (error: Error): void => {
      if (timer !== undefined) clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const onError = (error: Error): void => fail(dialError(hostname, port, error));
    socket.once("error", onError);
    if (timeoutMs !== undefined) timer = setTimeout(() => fail(dialTimeoutError(hostname, port, timeoutMs)), timeoutMs);
    socket.once("connect", () => {
      if (timer !== undefined) clearTimeout(timer);
      socket.off("error", onError);
      // Flowing starts with start(); until then Node buffers at most its high-water mark.
      socket.pause();
      configure(socket);
      resolve(new NodeTcpSocket(socket));
    });
  });
}
