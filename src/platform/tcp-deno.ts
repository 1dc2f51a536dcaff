// TCP on Deno through the native Deno.listen/Deno.connect, adapted to TcpSocket
// (Deno's node:net server grew to ~400 MB RSS on 1 GiB; runtime-feasibility.md section 3).

import type { DialTcpOptions, ListenTcpOptions, TcpListener, TcpSocket, TcpSocketHandlers } from "./types.ts";
import { dialError, dialTimeoutError, listenError, socketError } from "./common.ts";
import { Deno, type DenoConn, type DenoListener } from "./deno-api.ts";
import { FRAME_HEADER_BYTES, MAX_MESSAGE_BYTES } from "../protocol/frames.ts";

/**
 * Bytes per read: from MIN_READ up to MAX_READ, doubling after a read that
 * filled the buffer and halving after a short one. A pending read holds its
 * buffer, so an idle connection costs MIN_READ, not 64 KiB (10,000 idle
 * connections held 50 KiB each with a fixed 64 KiB read: docs/benchmarks.md).
 */
const MIN_READ = 4 * 1024;
/**
 * A full read and its Data frame's header fill one link message. With 64 KiB
 * reads and 8 streams, the 9 bytes that did not fit in one record began the
 * next, so most records carried two frames, one of them tiny: the sending
 * site spent 1.69-1.74 CPU-s/GiB instead of 1.60-1.61 (docs/benchmarks.md).
 */
const MAX_READ = MAX_MESSAGE_BYTES - FRAME_HEADER_BYTES;
/**
 * write() returns false once this much is queued. node:net writes to the
 * kernel at once and queues only what the kernel refused, so there a false
 * means the reader is behind. Here every write waits for a turn of the event
 * loop, and a site busy opening link records queues hundreds of KiB for a
 * reader that keeps up. At 64 KiB that looked like a slow reader to the
 * stream window (src/mux/mux.ts), which then never grew: one Deno stream ran
 * at 283-314 MiB/s, against 390-437 with this mark. A reader that really is
 * behind still stops the stream, one mark (and its window) later.
 */
export const HIGH_WATER_MARK = 1024 * 1024;
/** Queued chunks smaller than this are merged into one write of at most MAX_COALESCED bytes. */
const COALESCE_BELOW = 16 * 1024;
const MAX_COALESCED = 64 * 1024;

/**
 * TcpSocket over a Deno.Conn. Deno.Conn is pull-based (read/write promises), so
 * this class supplies what node:net has built in: a read loop that honours
 * pause(), a write queue with a high-water mark and `drain`, and half-close via
 * closeWrite(). Native instead of node:net because Deno's node:net server grew
 * to ~400 MB RSS on a 1 GiB transfer, native stayed at 47 MB (runtime-feasibility.md section 3).
 */
export class DenoTcpSocket implements TcpSocket {
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
    let size = MIN_READ;
    while (!this.#destroyed) {
      const buffer = new Uint8Array(size);
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
      // A short read is copied out so a small chunk does not pin the whole buffer.
      handlers.data(n < size / 4 ? buffer.slice(0, n) : buffer.subarray(0, n));
      if (n === size) size = Math.min(MAX_READ, size * 2);
      else if (n < size / 4) size = Math.max(MIN_READ, size / 2);
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
        this.#drainBelowHighWater();
      }
    } catch (error) {
      this.#fail(error);
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#destroyed) return;
    this.#drainBelowHighWater();
    void this.#maybeCloseWrite();
  }

  /**
   * Tell a writer that write() turned away as soon as the queue is below the
   * high-water mark again, not only once it is empty: every write here is
   * asynchronous, and while a busy peer keeps the queue from emptying, a
   * writer waiting for it to empty (a stream holding back its credit) stalls.
   */
  #drainBelowHighWater(): void {
    if (!this.#needDrain || this.#queued >= HIGH_WATER_MARK) return;
    this.#needDrain = false;
    this.#handlers?.drain();
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

export async function listenTcp(options: ListenTcpOptions, onSocket: (socket: TcpSocket) => void): Promise<TcpListener> {
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

export async function dialTcp(options: DialTcpOptions): Promise<TcpSocket> {
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
