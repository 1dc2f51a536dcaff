// A link session's send pump writes every message into one buffer for as long
// as the channel is done with each message when send() returns (a synchronous
// cipher sealed it), and into a new buffer whenever the channel keeps one to
// seal later. Either way the peer gets every byte as it was written.

import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/logger.ts";
import type { ChannelReceiver, MessageChannel } from "../../../src/link/channel.ts";
import { LinkSession } from "../../../src/link/session.ts";
import { MAX_MESSAGE_BYTES } from "../../../src/protocol/frames.ts";

/** One end of a link in memory; messages reach the other end's receiver in order, a turn later. */
class MemoryChannel implements MessageChannel {
  /** Buffers of the full-size messages sent, one entry per message. */
  readonly fullMessageBuffers: ArrayBufferLike[] = [];
  peer: MemoryChannel | undefined;
  readonly bufferedAmount = 0;
  readonly #sealsAtOnce: boolean;
  #receiver: ChannelReceiver | undefined;
  #inbox: Uint8Array[] = [];

  /**
   * `sealsAtOnce`: done with each message before send() returns (it copies it), as with a
   * synchronous cipher; otherwise the channel keeps the message itself until it is delivered.
   */
  constructor(sealsAtOnce: boolean) {
    this.#sealsAtOnce = sealsAtOnce;
  }

  send(message: Uint8Array): boolean {
    if (message.byteLength >= MAX_MESSAGE_BYTES / 2) this.fullMessageBuffers.push(message.buffer);
    this.peer!.#arrive(this.#sealsAtOnce ? message.slice() : message);
    return this.#sealsAtOnce;
  }

  waitForDrain(): Promise<void> {
    return Promise.resolve();
  }

  attach(receiver: ChannelReceiver): void {
    this.#receiver = receiver;
    this.#deliverSoon();
  }

  close(): void {}

  #arrive(message: Uint8Array): void {
    this.#inbox.push(message);
    this.#deliverSoon();
  }

  #deliverSoon(): void {
    setTimeout(() => {
      if (this.#receiver === undefined) return;
      for (let message = this.#inbox.shift(); message !== undefined; message = this.#inbox.shift()) this.#receiver.message(message);
    }, 0);
  }
}

/** Two sessions joined in memory, ready, and one stream from the dialer to the acceptor. */
async function linkedPair(sealsAtOnce: boolean) {
  const dialerChannel = new MemoryChannel(sealsAtOnce);
  const acceptorChannel = new MemoryChannel(sealsAtOnce);
  dialerChannel.peer = acceptorChannel;
  acceptorChannel.peer = dialerChannel;
  const received: Uint8Array[] = [];
  let readyCount = 0;
  let ready!: () => void;
  const bothReady = new Promise<void>((resolve) => (ready = resolve));
  const session = (role: "dialer" | "acceptor", channel: MemoryChannel) =>
    new LinkSession({
      channel,
      role,
      local: { name: role === "dialer" ? "west" : "east", runtime: "test", version: "0" },
      windowBytes: 16 * 1024 * 1024,
      maxStreams: 10,
      keepaliveIntervalMs: 60_000,
      keepaliveTimeoutMs: 120_000,
      logger: silentLogger(),
      events: {
        ready: () => {
          if (++readyCount === 2) ready();
        },
        stream: (_session, stream) => {
          stream.setHandlers({
            data: (chunk) => {
              received.push(chunk.slice());
              stream.consumed(chunk.byteLength);
            },
            end: () => {},
            drain: () => {},
            reset: () => {},
          });
        },
        advert: () => {},
        closed: () => {},
      },
    });
  const dialer = session("dialer", dialerChannel);
  const acceptor = session("acceptor", acceptorChannel);
  dialer.start();
  acceptor.start();
  await bothReady;
  const stream = dialer.openStream({ routingKey: "db", origin: "west", path: ["east"] });
  return { dialer, acceptor, dialerChannel, stream, received };
}

/** 1 MiB in 64 KiB writes, every write with bytes of its own. */
function patternedWrites(): Uint8Array[] {
  return Array.from({ length: 16 }, (_, w) => Uint8Array.from({ length: 65536 }, (_, i) => (i * 7 + w * 31) & 255));
}

async function sendAndCollect(sealsAtOnce: boolean) {
  const { dialer, acceptor, dialerChannel, stream, received } = await linkedPair(sealsAtOnce);
  const writes = patternedWrites();
  for (const chunk of writes) stream.write(chunk);
  const total = writes.length * 65536;
  // Bytes that were overwritten before they left can break a frame, and then never arrive: wait a while, not forever.
  const deadline = Date.now() + 5000;
  while (received.reduce((n, c) => n + c.byteLength, 0) < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 1));
  const join = (chunks: Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
  const intact = join(received).equals(join(writes));
  dialer.close("done");
  acceptor.close("done");
  return { intact, buffers: dialerChannel.fullMessageBuffers };
}

describe("a link session's message buffers", () => {
  it("are one buffer, used again and again, while the channel is done with each message at once", async () => {
    const { intact, buffers } = await sendAndCollect(true);
    expect(intact).toBe(true);
    expect(buffers.length).toBeGreaterThanOrEqual(16);
    expect(new Set(buffers).size).toBe(1);
  });

  it("are new for every message while the channel keeps messages to seal later", async () => {
    const { intact, buffers } = await sendAndCollect(false);
    expect(intact).toBe(true);
    expect(buffers.length).toBeGreaterThanOrEqual(16);
    expect(new Set(buffers).size).toBe(buffers.length);
  });
});
