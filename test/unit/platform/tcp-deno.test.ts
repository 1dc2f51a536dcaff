// The Deno TCP adapter's write queue, over a Deno.Conn stand-in whose writes
// finish when the test says so: when a writer is asked to wait, and when it
// is told to go on. The platform contract runs the adapter on real sockets.

import { describe, expect, it } from "vitest";
import type { DenoConn } from "../../../src/platform/deno-api.ts";
import { DenoTcpSocket, HIGH_WATER_MARK } from "../../../src/platform/tcp-deno.ts";
import { FRAME_HEADER_BYTES, MAX_MESSAGE_BYTES } from "../../../src/protocol/frames.ts";

const CHUNK = 64 * 1024;

/** A connection that never has bytes to read and finishes each write only on `finishWrite()`. */
class ManualConn implements DenoConn {
  readonly remoteAddr = { hostname: "127.0.0.1", port: 9 };
  readonly written: Uint8Array[] = [];
  #pending: { data: Uint8Array; resolve: (n: number) => void }[] = [];

  read(): Promise<number | null> {
    return new Promise(() => {});
  }
  write(data: Uint8Array): Promise<number> {
    return new Promise((resolve) => this.#pending.push({ data: data.slice(), resolve }));
  }
  /** The kernel takes the oldest write in full; resolves once the adapter has seen it. */
  async finishWrite(): Promise<void> {
    const next = this.#pending.shift();
    if (next === undefined) throw new Error("no write is waiting");
    this.written.push(next.data);
    next.resolve(next.data.byteLength);
    await new Promise((r) => setTimeout(r, 0));
  }
  get writesWaiting(): number {
    return this.#pending.length;
  }
  closeWrite(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
  setNoDelay(): void {}
}

function started(conn: ManualConn) {
  const socket = new DenoTcpSocket(conn);
  const events = { drains: 0 };
  socket.start({ data() {}, end() {}, drain: () => events.drains++, close() {} });
  return { socket, events };
}

const chunk = (fill: number) => new Uint8Array(CHUNK).fill(fill);

describe("Deno TCP write queue", () => {
  it("takes writes up to its high-water mark before asking the writer to wait", () => {
    const { socket } = started(new ManualConn());
    const answers: boolean[] = [];
    for (let i = 0; i < HIGH_WATER_MARK / CHUNK; i++) answers.push(socket.write(chunk(i)));
    expect(answers.slice(0, -1).every((ok) => ok)).toBe(true);
    expect(answers.at(-1)).toBe(false);
    socket.destroy();
  });

  it("tells a writer it turned away to go on once the queue is below the mark, before the queue is empty", async () => {
    const conn = new ManualConn();
    const { socket, events } = started(conn);
    let n = 0;
    while (socket.write(chunk(n++)));
    expect(events.drains).toBe(0);
    await conn.finishWrite();
    expect(events.drains).toBe(1);
    // Still queued: everything but the chunk just written.
    expect(conn.written).toHaveLength(1);
    expect(socket.write(new Uint8Array(1024))).toBe(true);
    socket.destroy();
  });

  it("writes every byte in order while writers come and go", async () => {
    const conn = new ManualConn();
    const { socket } = started(conn);
    const total = (3 * HIGH_WATER_MARK) / CHUNK;
    let n = 0;
    while (n < total) {
      while (n < total && socket.write(chunk(n))) n++;
      if (n < total) n++; // the chunk turned away was still accepted
      while (conn.writesWaiting > 0) await conn.finishWrite();
    }
    expect(conn.written.map((c) => c[0])).toEqual(Array.from({ length: total }, (_, i) => i % 256));
    socket.destroy();
  });
});

/** A connection whose reads always fill the buffer they are given, `reads` times, then end. */
class FullConn extends ManualConn {
  readonly readSizes: number[] = [];
  #left: number;
  constructor(reads: number) {
    super();
    this.#left = reads;
  }
  override read(buffer?: Uint8Array): Promise<number | null> {
    if (this.#left-- === 0) return Promise.resolve(null);
    this.readSizes.push(buffer!.byteLength);
    return Promise.resolve(buffer!.byteLength);
  }
}

describe("Deno TCP reads", () => {
  it("grow while they come back full, up to what one Data frame of a full link message carries", async () => {
    const conn = new FullConn(12);
    const socket = new DenoTcpSocket(conn);
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    socket.start({ data() {}, end: () => ended(), drain() {}, close() {} });
    await end;
    expect(conn.readSizes[0]).toBeLessThan(MAX_MESSAGE_BYTES / 8);
    expect(conn.readSizes.at(-1)).toBe(MAX_MESSAGE_BYTES - FRAME_HEADER_BYTES);
    expect(Math.max(...conn.readSizes)).toBe(MAX_MESSAGE_BYTES - FRAME_HEADER_BYTES);
    socket.destroy();
  });
});
