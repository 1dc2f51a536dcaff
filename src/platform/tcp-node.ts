// TCP through node:net, for Node and Bun (Bun's node:net measured well:
// reference/runtime-feasibility.md section 3). Adapts net.Socket to TcpSocket.

import net from "node:net";
import type { DialTcpOptions, ListenTcpOptions, Platform, TcpListener, TcpSocket, TcpSocketHandlers } from "./types.ts";
import { BufferPool } from "./buffer-pool.ts";
import { dialError, dialTimeoutError, listenError, socketError } from "./common.ts";

export interface NodeNetTcpOptions {
  /**
   * Copy a large chunk that has to wait in a socket's write queue into a
   * reused buffer, given back once the socket has written it (Bun's choice).
   *
   * Why: a socket whose reader is slower than the link has a window of data
   * queued, and each chunk waits there for tens of milliseconds. On Bun,
   * JavaScriptCore's young-generation collections find it still alive, and it
   * is freed only by a full collection, which comes once the heap has grown
   * several times over: a Bun site carrying 1 GiB to a reader taking 64 MiB/s
   * grew by 49-70 MiB, and by 26-31 with the copies (docs/benchmarks.md). The
   * chunk itself, a view of an opened link record, now dies young. On Node the
   * copies changed nothing (its sites grew by 37-41 MiB either way), so Node
   * writes chunks as they are.
   */
  copyQueuedWrites: boolean;
}

/**
 * Chunks from 32 KiB are copied: a queued chunk never pins more than twice its
 * size, and smaller ones are cheap for any collector. The link's Data frames,
 * the bulk of what a site writes, carry up to 64 KiB less a frame header.
 */
const COPIED_FROM = 32 * 1024;

let queuedWritePool: BufferPool | undefined;

class NodeTcpSocket implements TcpSocket {
  #socket: net.Socket;
  /** Asked of the kernel on first use (getpeername), not for every connection. */
  #peer: { address: string; port: number } | undefined;
  #handlers: TcpSocketHandlers | undefined;
  #error: Error | undefined;
  /** close happened before start(): delivered by start(). */
  #closedEarly = false;
  #closeDelivered = false;
  readonly #copies: BufferPool | undefined;

  constructor(socket: net.Socket, copies: BufferPool | undefined) {
    this.#socket = socket;
    this.#copies = copies;
    // Without an 'error' listener Node throws the error; keep it for close.
    socket.on("error", (error) => {
      this.#error ??= socketError(error);
    });
    socket.on("close", () => {
      if (this.#handlers === undefined) this.#closedEarly = true;
      else this.#deliverClose();
    });
  }

  get remoteAddress(): string {
    return this.#peerAddress().address;
  }

  get remotePort(): number {
    return this.#peerAddress().port;
  }

  #peerAddress(): { address: string; port: number } {
    this.#peer ??= { address: this.#socket.remoteAddress ?? "", port: this.#socket.remotePort ?? 0 };
    return this.#peer;
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
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return false;
    const copies = this.#copies;
    // writableLength > 0: bytes are already waiting, so this chunk will wait too.
    if (copies !== undefined && socket.writableLength > 0 && chunk.byteLength >= COPIED_FROM && chunk.byteLength <= copies.bufferBytes) {
      const copy = new Uint8Array(copies.take(), 0, chunk.byteLength);
      copy.set(chunk);
      // Called once the socket has written the copy, or has dropped it (destroyed).
      return socket.write(copy, () => copies.give(copy.buffer as ArrayBuffer));
    }
    return socket.write(chunk);
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

/** listenTcp and dialTcp of a platform, through node:net. */
export function nodeNetTcp(options: NodeNetTcpOptions): Pick<Platform, "listenTcp" | "dialTcp"> {
  const copies = options.copyQueuedWrites
    ? (queuedWritePool ??= new BufferPool({ bufferBytes: 64 * 1024, maxFree: 64, idleReleaseMs: 10_000 }))
    : undefined;
  return {
    listenTcp: (listenOptions, onSocket) => listenTcp(listenOptions, onSocket, copies),
    dialTcp: (dialOptions) => dialTcp(dialOptions, copies),
  };
}

function listenTcp(options: ListenTcpOptions, onSocket: (socket: TcpSocket) => void, copies: BufferPool | undefined): Promise<TcpListener> {
  // allowHalfOpen: a peer's FIN must not end our side (TcpSocket half-close).
  // pauseOnConnect: no read until start() (https://nodejs.org/api/net.html#netcreateserveroptions-connectionlistener).
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    configure(socket);
    onSocket(new NodeTcpSocket(socket, copies));
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

function dialTcp(options: DialTcpOptions, copies: BufferPool | undefined): Promise<TcpSocket> {
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
      resolve(new NodeTcpSocket(socket, copies));
    });
  });
}
