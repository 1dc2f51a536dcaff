// Reused buffers of one size, for data that stays alive a while and then is
// done with at a known moment (a sealed record, once the socket has written it).
//
// Why: on V8, a 64 KiB buffer that waits in a socket's queue long enough to
// survive two young-generation collections is promoted, and promoted buffers
// count towards the old generation's limit. At link speed that limit is met
// every 20-30 ms, and a site spends more time in full collections than in
// AES-GCM (docs/benchmarks.md, "Node's full-collection mode"). Buffers that go
// round a pool are allocated once.

import { unrefTimer } from "./common.ts";

export interface BufferPoolOptions {
  /** Bytes in every buffer. */
  bufferBytes: number;
  /** Free buffers kept at most; more given back are left to the collector. */
  maxFree: number;
  /** Free buffers are dropped after this long without a take() (milliseconds). */
  idleReleaseMs: number;
}

export class BufferPool {
  readonly #options: BufferPoolOptions;
  readonly #free: ArrayBuffer[] = [];
  #takes = 0;
  #takesAtLastCheck = 0;
  #idleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: BufferPoolOptions) {
    this.#options = options;
  }

  get bufferBytes(): number {
    return this.#options.bufferBytes;
  }

  /** Free buffers held right now. */
  get free(): number {
    return this.#free.length;
  }

  /** A buffer of `bufferBytes`, reused when one is free. Its contents are whatever was left in it. */
  take(): ArrayBuffer {
    this.#takes++;
    return this.#free.pop() ?? new ArrayBuffer(this.#options.bufferBytes);
  }

  /**
   * Give back a buffer from take() that nothing reads or writes any more.
   * A buffer of another size, or one already given back, is ignored.
   */
  give(buffer: ArrayBuffer): void {
    const free = this.#free;
    if (buffer.byteLength !== this.#options.bufferBytes || free.length >= this.#options.maxFree) return;
    // Handing one buffer out twice would let two records overwrite each other.
    if (free.includes(buffer)) return;
    free.push(buffer);
    this.#watchIdle();
  }

  /** Drop every free buffer. */
  clear(): void {
    this.#free.length = 0;
    if (this.#idleTimer !== undefined) clearInterval(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /** While buffers are free, check now and then that the pool is still in use; a quiet site gives its memory back. */
  #watchIdle(): void {
    if (this.#idleTimer !== undefined) return;
    this.#takesAtLastCheck = this.#takes;
    this.#idleTimer = setInterval(() => {
      if (this.#takes === this.#takesAtLastCheck) this.clear();
      else this.#takesAtLastCheck = this.#takes;
    }, this.#options.idleReleaseMs);
    unrefTimer(this.#idleTimer);
  }
}
