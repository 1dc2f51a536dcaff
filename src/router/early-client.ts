// A client connection whose first bytes travel with the stream's Open.
//
// Why: the far site answers an Open only once it has reached its server. If
// the client's bytes waited for that answer, the request of a client that
// speaks first (HTTP, most database protocols) would cross the network one
// round trip later. So they are read at once and sent right behind the Open;
// the far site holds them until its server is reached. They are also kept
// here until then: a connection refused before it was accepted is tried at
// another site with the same bytes, and the client does not notice.

import type { TcpSocket, TcpSocketHandlers } from "../platform/types.ts";

/**
 * Bytes read from a client before the far end accepted its connection. At
 * this many the client is read no further until then. A request's first
 * bytes fit (HTTP headers, a TLS ClientHello, a database's startup message),
 * and what a site holds for clients that wait stays small: the bytes count
 * towards the site's pending limit (RouterOptions.maxPendingBytes) here and
 * at the far site, until it has reached its server.
 */
export const EARLY_DATA_BYTES = 16 * 1024;

/** Where the client's early bytes go during one attempt. */
export interface EarlySink {
  data(chunk: Uint8Array): void;
  /** The client sent FIN. */
  end(): void;
  /** The client's connection closed or failed before the far end accepted it. */
  closed(error?: Error): void;
}

/**
 * Wraps the client's socket. While an attempt runs (`readEarly`), its bytes go
 * to that attempt's sink and are kept; `start()` hands the socket to a bridge
 * once the connection is carried, as a socket that was never read.
 */
export class EarlyClient implements TcpSocket {
  readonly #socket: TcpSocket;
  readonly #kept: Uint8Array[] = [];
  #keptBytes = 0;
  /** The client sent FIN before the hand-over. */
  #ended = false;
  /** The client's connection closed before the hand-over (`error` when it failed). */
  #closed: { error: Error | undefined } | undefined;
  #reading = false;
  #pausedAtLimit = false;
  #sink: EarlySink | undefined;
  #handlers: TcpSocketHandlers | undefined;

  constructor(socket: TcpSocket) {
    this.#socket = socket;
  }

  get remoteAddress(): string {
    return this.#socket.remoteAddress;
  }

  get remotePort(): number {
    return this.#socket.remotePort;
  }

  /**
   * Send the client's bytes to `sink` from now on: first every byte read so
   * far (and the client's FIN or close, if they came), then each chunk as it
   * arrives, until the hand-over or the next call.
   */
  readEarly(sink: EarlySink): void {
    this.#sink = sink;
    for (const chunk of this.#kept) sink.data(chunk);
    if (this.#ended) sink.end();
    if (this.#closed !== undefined) {
      sink.closed(this.#closed.error);
      return;
    }
    this.#startReading();
  }

  /** Bytes read from the client and kept for another attempt. */
  get keptBytes(): number {
    return this.#keptBytes;
  }

  /** The attempt ended: nothing more goes to its sink. */
  detach(): void {
    this.#sink = undefined;
  }

  /**
   * The far end accepted the bytes sent so far: they need not be kept for
   * another attempt, and `start()` must not deliver them again.
   */
  forgetKept(): void {
    this.#kept.length = 0;
    this.#keptBytes = 0;
  }

  /**
   * Hand the socket over. The handlers receive what was read and kept (unless
   * forgotten), the FIN and close that came already, then the rest as it comes.
   */
  start(handlers: TcpSocketHandlers): void {
    if (this.#handlers !== undefined) throw new Error("TcpSocket.start() was already called");
    this.#sink = undefined;
    this.#handlers = handlers;
    const kept = this.#kept.splice(0);
    this.#keptBytes = 0;
    for (const chunk of kept) handlers.data(chunk);
    if (this.#ended) handlers.end();
    if (this.#closed !== undefined) {
      const { error } = this.#closed;
      queueMicrotask(() => handlers.close(error));
      return;
    }
    if (this.#pausedAtLimit) {
      this.#pausedAtLimit = false;
      this.#socket.resume();
    }
    this.#startReading();
  }

  write(chunk: Uint8Array): boolean {
    return this.#socket.write(chunk);
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #startReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    this.#socket.start({
      data: (chunk) => {
        if (this.#handlers !== undefined) {
          this.#handlers.data(chunk);
          return;
        }
        this.#kept.push(chunk);
        this.#keptBytes += chunk.byteLength;
        if (this.#keptBytes >= EARLY_DATA_BYTES && !this.#pausedAtLimit) {
          this.#pausedAtLimit = true;
          this.#socket.pause();
        }
        this.#sink?.data(chunk);
      },
      end: () => {
        if (this.#handlers !== undefined) {
          this.#handlers.end();
          return;
        }
        this.#ended = true;
        this.#sink?.end();
      },
      drain: () => this.#handlers?.drain(),
      close: (error) => {
        if (this.#handlers !== undefined) {
          this.#handlers.close(error);
          return;
        }
        this.#closed = { error };
        this.#sink?.closed(error);
      },
    });
  }
}
