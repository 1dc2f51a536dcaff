// The node:net TCP adapter with queued writes copied into reused buffers, as
// Bun's platform runs it: the same node:net code runs here on Node, over real
// sockets on 127.0.0.1. The platform contract runs each runtime's own choice.

import net from "node:net";
import { createHash } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { nodeNetTcp } from "../../../src/platform/tcp-node.ts";
import type { TcpSocket } from "../../../src/platform/types.ts";

const KiB = 1024;

/** A server that keeps what it reads and reads only when told to. */
class SlowReader {
  readonly server = net.createServer((socket) => this.#accept(socket));
  readonly chunks: Buffer[] = [];
  #socket: net.Socket | undefined;
  #ended: Promise<void> | undefined;
  #endedResolve = (): void => {};

  async listen(): Promise<number> {
    this.#ended = new Promise((resolve) => (this.#endedResolve = resolve));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  #accept(socket: net.Socket): void {
    this.#socket = socket;
    socket.pause();
    socket.on("data", (chunk: Buffer) => this.chunks.push(chunk));
    socket.on("end", () => this.#endedResolve());
  }

  /** Read for `ms`, then stop reading again. */
  async readFor(ms: number): Promise<void> {
    this.#socket?.resume();
    await new Promise((r) => setTimeout(r, ms));
    this.#socket?.pause();
  }

  /** Read everything until the peer ends. */
  async readToEnd(): Promise<Buffer> {
    this.#socket?.resume();
    await this.#ended;
    return Buffer.concat(this.chunks);
  }

  close(): Promise<void> {
    this.#socket?.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** `count` chunks of `size` bytes, each filled differently. */
function chunksOf(count: number, size: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const chunk = new Uint8Array(size);
    for (let j = 0; j < size; j += 251) chunk[j] = (i * 7 + j) & 0xff;
    chunk.fill(i & 0xff, 0, 8);
    return chunk;
  });
}

async function dial(port: number): Promise<TcpSocket> {
  const socket = await nodeNetTcp({ copyQueuedWrites: true }).dialTcp({ hostname: "127.0.0.1", port });
  socket.start({ data() {}, end() {}, drain() {}, close() {} });
  return socket;
}

describe("node:net TCP with queued writes copied (Bun's platform)", () => {
  let reader: SlowReader;
  afterEach(() => reader?.close());

  it("sends a large chunk that had to wait as it was when written, not as its buffer is later", async () => {
    reader = new SlowReader();
    const socket = await dial(await reader.listen());
    // Fill the kernel's buffers so that the chunks after them wait in the socket's queue.
    const filler = chunksOf(256, 64 * KiB);
    for (const chunk of filler) socket.write(chunk);
    const waiting = new Uint8Array(64 * KiB).fill(0xa5);
    socket.write(waiting);
    const expected = sha256(Buffer.concat([...filler, waiting]));
    // A caller that breaks the rule ("must not be changed afterwards") would change the bytes sent without the copy.
    waiting.fill(0x00);
    socket.end();
    expect(sha256(await reader.readToEnd())).toBe(expected);
  });

  it("carries 24 MiB written without waiting for drain to a reader that reads in bursts, every byte in order", async () => {
    reader = new SlowReader();
    const socket = await dial(await reader.listen());
    // Like a site bridging a link to a slow server: data keeps coming within the window, whatever write() answers.
    const chunks = chunksOf(384, 64 * KiB - 9);
    const expected = sha256(Buffer.concat(chunks));
    // The first 8 MiB fill the kernel's buffers; what follows waits in the socket's queue, copied.
    for (const chunk of chunks.slice(0, 128)) socket.write(chunk);
    for (let i = 128; i < chunks.length; i += 16) {
      for (const chunk of chunks.slice(i, i + 16)) socket.write(chunk);
      // Copies the socket has written go back to the pool, and the next batch takes them again.
      await reader.readFor(2);
    }
    socket.end();
    expect(sha256(await reader.readToEnd())).toBe(expected);
  });
});
