import { describe, expect, it } from "vitest";
import { GROW_AFTER_WINDOWS, LATE_CREDITS_TO_SHRINK, LINK_WINDOW_GROWTH, MAX_WINDOW_GROWTH, Mux, type MuxStream, QUEUED_DATA_HIGH_WATER, SPARE_MESSAGE_BYTES, type StreamHandlers } from "../../../src/mux/mux.ts";
import { encodeFrame, FRAME_HEADER_BYTES, FrameType, encodeU32, MAX_MESSAGE_BYTES } from "../../../src/protocol/frames.ts";
import { encodeOpen, type Open, ResetCode } from "../../../src/protocol/messages.ts";
import { ProtocolError } from "../../../src/errors.ts";
import { muxPair } from "../../helpers/mux-pair.ts";

const WINDOW = 65536;
const open = (routingKey: string): Open => ({ routingKey, origin: "west", path: ["east"] });

/** Two muxes joined in memory; pump() moves messages until both are quiet. */
function pair(options: { window?: number; maxStreams?: number } = {}) {
  return muxPair({ window: options.window ?? WINDOW, maxStreams: options.maxStreams });
}

function recorder(stream: MuxStream, options: { autoConsume?: boolean } = {}) {
  const log = { bytes: 0, chunks: [] as Uint8Array[], ended: false, drains: 0, reset: undefined as undefined | { code: number; reason: string }, accepted: false };
  const handlers: StreamHandlers = {
    data(chunk) {
      log.bytes += chunk.byteLength;
      log.chunks.push(chunk.slice());
      if (options.autoConsume ?? true) stream.consumed(chunk.byteLength);
    },
    end: () => (log.ended = true),
    drain: () => log.drains++,
    reset: (code, reason) => (log.reset = { code, reason }),
    accepted: () => (log.accepted = true),
  };
  stream.setHandlers(handlers);
  return log;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of chunks) (out.set(c, o), (o += c.byteLength));
  return out;
}

describe("Mux", () => {
  it("opens a stream and carries data both ways with the routing key", () => {
    const { a, accepted, pump } = pair();
    const s = a.openStream(open("backend"));
    const fromB = recorder(s);
    s.write(new TextEncoder().encode("hello"));
    pump();
    expect(accepted).toHaveLength(1);
    expect(accepted[0]!.open).toEqual(open("backend"));
    const peer = accepted[0]!.stream;
    const fromA = recorder(peer);
    peer.accept();
    peer.write(new TextEncoder().encode("world"));
    pump();
    expect(new TextDecoder().decode(concat(fromA.chunks))).toBe("hello");
    expect(new TextDecoder().decode(concat(fromB.chunks))).toBe("world");
    expect(fromB.accepted).toBe(true);
  });

  it("holds data that arrives before the handlers are set", () => {
    const { a, accepted, pump } = pair();
    const s = a.openStream(open("k"));
    recorder(s);
    s.write(new Uint8Array([1, 2, 3]));
    s.end();
    pump();
    const log = recorder(accepted[0]!.stream);
    expect(concat(log.chunks)).toEqual(new Uint8Array([1, 2, 3]));
    expect(log.ended).toBe(true);
  });

  it("keeps half-close: the side that ended still receives the whole reply", () => {
    const { a, accepted, pump } = pair();
    const s = a.openStream(open("k"));
    const atA = recorder(s);
    s.write(new Uint8Array(10));
    s.end();
    pump();
    const peer = accepted[0]!.stream;
    const atB = recorder(peer);
    expect(atB.ended).toBe(true);
    const reply = new Uint8Array(200_000).map((_, i) => i & 0xff);
    for (let o = 0; o < reply.length; o += 50_000) peer.write(reply.subarray(o, o + 50_000));
    peer.end();
    pump();
    expect(concat(atA.chunks)).toEqual(reply);
    expect(atA.ended).toBe(true);
    expect(s.isDone).toBe(true);
    expect(peer.isDone).toBe(true);
    expect(a.streamCount).toBe(0);
  });

  it("stops a writer at the peer's window and drains when the reader consumes", () => {
    const { a, accepted, pump } = pair();
    const s = a.openStream(open("k"));
    const atA = recorder(s);
    expect(s.write(new Uint8Array(WINDOW / 2))).toBe(true);
    expect(s.write(new Uint8Array(WINDOW))).toBe(false);
    pump();
    const peer = accepted[0]!.stream;
    const atB = recorder(peer, { autoConsume: false });
    expect(atB.bytes).toBe(WINDOW);
    expect(s.pendingBytes).toBe(WINDOW / 2);
    peer.consumed(WINDOW);
    pump();
    expect(atB.bytes).toBe(WINDOW + WINDOW / 2);
    expect(atA.drains).toBe(1);
  });

  it("keeps the bytes its streams hold for credit as one total, which falls as credit comes and when a stream is reset or the link is lost", () => {
    const { a, accepted, pump } = pair();
    const [s1, s2, s3] = [a.openStream(open("x")), a.openStream(open("y")), a.openStream(open("z"))];
    for (const s of [s1, s2, s3]) recorder(s);
    s1.write(new Uint8Array(WINDOW + 1000));
    s2.write(new Uint8Array(WINDOW + 3000));
    s3.write(new Uint8Array(WINDOW + 5000));
    expect(a.pendingBytes).toBe(9000);
    pump();
    accepted[0]!.stream.consumed(WINDOW); // credit for s1
    pump();
    expect(s1.pendingBytes).toBe(0);
    expect(a.pendingBytes).toBe(8000);
    s2.reset(ResetCode.Cancelled, "client went away");
    expect(a.pendingBytes).toBe(5000);
    a.abort("keepalive timeout");
    expect(a.pendingBytes).toBe(0);
    expect(s3.write(new Uint8Array(10))).toBe(false);
    expect(a.pendingBytes).toBe(0);
  });

  it("Mux.takeMessage() packs bulk data into full messages of one Data frame each, in order", () => {
    const { a, b, accepted, pump } = pair({ window: 1 << 20 });
    const s = a.openStream(open("k"));
    recorder(s);
    pump();
    const atB = recorder(accepted[0]!.stream);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 8; i++) {
      const chunk = crypto.getRandomValues(new Uint8Array(65536));
      sent.push(chunk);
      s.write(chunk);
    }
    const messages: Uint8Array[] = [];
    for (let m = a.takeMessage(); m !== undefined; m = a.takeMessage()) messages.push(m);
    // 512 KiB in 65,527-byte frames: 8 full messages and one short one, each a single Data frame.
    expect(messages.length).toBe(9);
    for (const m of messages) {
      expect(m[0]).toBe(FrameType.Data);
      expect(new DataView(m.buffer, m.byteOffset).getUint32(5)).toBe(m.byteLength - 9);
    }
    for (const m of messages.slice(0, 8)) expect(m.byteLength).toBe(65536);
    for (const m of messages) b.receive(m);
    expect(concat(atB.chunks)).toEqual(concat(sent));
  });

  it("Mux.takeMessage() gives streams that take turns messages of their own: the rest of a split frame goes with that stream's next one", () => {
    const { a, b, accepted, pump } = pair({ window: 1 << 20 });
    const streams = ["k0", "k1", "k2"].map((key) => a.openStream(open(key)));
    pump();
    const logs = accepted.map(({ stream }) => recorder(stream));
    const sent: Uint8Array[][] = streams.map(() => []);
    for (let read = 0; read < 4; read++) {
      streams.forEach((s, i) => {
        const chunk = crypto.getRandomValues(new Uint8Array(65536));
        sent[i]!.push(chunk);
        s.write(chunk);
      });
    }
    const messages: Uint8Array[] = [];
    for (let m = a.takeMessage(); m !== undefined; m = a.takeMessage()) messages.push(m);
    const frameCount = (m: Uint8Array) => {
      let frames = 0;
      for (let o = 0; o < m.byteLength; o += FRAME_HEADER_BYTES + new DataView(m.buffer, m.byteOffset).getUint32(o + 5)) frames++;
      return frames;
    };
    // Each stream's 256 KiB is four full frames and 36 bytes. Until the last reads' rests, every message is one full frame.
    for (const m of messages.slice(0, 10)) {
      expect(m.byteLength).toBe(MAX_MESSAGE_BYTES);
      expect(frameCount(m)).toBe(1);
    }
    expect(messages.length).toBe(13);
    for (const m of messages) b.receive(m);
    logs.forEach((log, i) => expect(concat(log.chunks)).toEqual(concat(sent[i]!)));
  });

  it("Mux.takeMessage() keeps a stream's rest in front of its Fin", () => {
    const { a, b, accepted, pump } = pair({ window: 1 << 20 });
    const [first, second] = ["k0", "k1"].map((key) => a.openStream(open(key)));
    pump();
    const [atFirst, atSecond] = accepted.map(({ stream }) => recorder(stream));
    first!.write(new Uint8Array(65536).fill(1));
    first!.end();
    second!.write(new Uint8Array(65536).fill(2));
    pump();
    expect(atFirst!.bytes).toBe(65536);
    expect(atFirst!.ended).toBe(true);
    expect(atSecond!.bytes).toBe(65536);
    expect(b.pacedBytesQueued + a.pacedBytesQueued).toBe(0);
  });

  it("Mux.takeMessage() puts the largest payload at its source offset modulo 16, so copying it is aligned", () => {
    const { a, pump } = pair({ window: 1 << 20 });
    const s = a.openStream(open("k"));
    pump();
    for (const start of [0, 3, 9, 16, 100]) {
      const source = new Uint8Array(40000);
      s.write(source.subarray(start));
      const m = a.takeMessage()!;
      expect((m.byteOffset + 9) % 16).toBe(start % 16);
    }
  });

  it("never queues more than one window per stream however much is written", () => {
    const { a, accepted, pump } = pair();
    const s = a.openStream(open("k"));
    recorder(s);
    pump();
    const atB = recorder(accepted[0]!.stream, { autoConsume: false });
    // A writer that ignores write()'s false still only gets one window onto the wire.
    for (let i = 0; i < 64; i++) s.write(new Uint8Array(65536));
    let onWire = 0;
    for (let m = a.takeMessage(); m !== undefined; m = a.takeMessage()) onWire += m.byteLength;
    expect(onWire).toBeLessThanOrEqual(WINDOW + 1024);
    expect(atB.bytes).toBe(0);
  });

  it("closes the link when the peer sends past its credit", () => {
    const { a, b, accepted, pump } = pair();
    recorder(a.openStream(open("k")));
    pump();
    recorder(accepted[0]!.stream, { autoConsume: false });
    b.receive(encodeFrame(FrameType.Data, 1, new Uint8Array(WINDOW / 2)));
    b.receive(encodeFrame(FrameType.Data, 1, new Uint8Array(WINDOW / 2)));
    expect(() => b.receive(encodeFrame(FrameType.Data, 1, new Uint8Array(1)))).toThrow(
      new ProtocolError(`stream 1 sent 1 bytes with only 0 bytes of credit left (window ${WINDOW})`),
    );
  });

  it("rejects frames for streams that were never opened, and reused or wrong-parity ids", () => {
    const { b } = pair();
    expect(() => b.receive(encodeFrame(FrameType.Data, 9, new Uint8Array(1)))).toThrow(
      "Data frame for stream 9, which was never opened",
    );
    expect(() => b.receive(encodeFrame(FrameType.Open, 2, encodeOpen(open("k"))))).toThrow(
      "peer opened stream 2, which has our parity",
    );
    b.receive(encodeFrame(FrameType.Open, 3, encodeOpen(open("k"))));
    expect(() => b.receive(encodeFrame(FrameType.Open, 3, encodeOpen(open("k"))))).toThrow(
      "peer reopened stream 3 (ids must increase)",
    );
    expect(() => b.receive(encodeFrame(FrameType.Credit, 3, encodeU32(0x7fff_ffff)))).toThrow(/credit overflow/);
  });

  it("ignores frames that cross a reset", () => {
    const { a, b, accepted, pump } = pair();
    const s = a.openStream(open("k"));
    recorder(s);
    pump();
    accepted[0]!.stream.reset(ResetCode.Cancelled, "client went away");
    pump();
    expect(() => b.receive(encodeFrame(FrameType.Data, 1, new Uint8Array(5)))).not.toThrow();
  });

  it("delivers a reset with its reason and frees the stream", () => {
    const { a, accepted, pump } = pair();
    const s = a.openStream(open("k"));
    const log = recorder(s);
    pump();
    accepted[0]!.stream.reset(ResetCode.ConnectFailed, "connect to 127.0.0.1:1 failed: connection refused");
    pump();
    expect(log.reset).toEqual({ code: ResetCode.ConnectFailed, reason: "connect to 127.0.0.1:1 failed: connection refused" });
    expect(a.streamCount).toBe(0);
    expect(s.write(new Uint8Array(1))).toBe(false);
  });

  it("refuses streams beyond the limit with a Limit reset, keeping the link", () => {
    const { a, b, pump } = pair({ maxStreams: 2 });
    a.setPeerLimits(WINDOW, 10); // a believes it may open more than b accepts
    const logs = [0, 1, 2].map(() => recorder(a.openStream(open("k"))));
    pump();
    expect(logs[2]!.reset?.code).toBe(ResetCode.Limit);
    expect(logs[2]!.reset?.reason).toMatch(/at most 2 streams/);
    expect(b.counters.streamsRefused).toBe(1);
    expect(logs[0]!.reset).toBeUndefined();
  });

  it("abort() resets every stream with the link's reason", () => {
    const { a, pump } = pair();
    const logs = [recorder(a.openStream(open("x"))), recorder(a.openStream(open("y")))];
    pump();
    a.abort("keepalive timeout");
    expect(logs.map((l) => l.reset)).toEqual([
      { code: ResetCode.LinkLost, reason: "link lost: keepalive timeout" },
      { code: ResetCode.LinkLost, reason: "link lost: keepalive timeout" },
    ]);
    expect(() => a.openStream(open("z"))).toThrow(/link is closed/);
  });

  it("moves 8 MiB through a small window intact", () => {
    const { a, accepted, pump } = pair({ window: 16384 });
    const s = a.openStream(open("k"));
    recorder(s);
    const data = new Uint8Array(8 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
    pump();
    const atB = recorder(accepted[0]!.stream);
    let offset = 0;
    const writeSome = () => {
      while (offset < data.length) {
        const more = s.write(data.subarray(offset, offset + 100_000));
        offset += 100_000;
        if (!more) return;
      }
      s.end();
    };
    writeSome();
    for (let rounds = 0; !atB.ended && rounds < 100_000; rounds++) {
      pump();
      writeSome();
    }
    // Compare as Buffers: element-wise deep equality on 8 MiB is needlessly slow.
    expect(Buffer.from(concat(atB.chunks)).equals(Buffer.from(data))).toBe(true);
  });
});

describe("the link's queue", () => {
  const CHUNK = 65536;
  /** A pair whose windows are large enough that credit never stops a writer here. */
  const roomy = () => pair({ window: 4 * QUEUED_DATA_HIGH_WATER });
  /** Let the microtasks run that tell waiting streams of room. */
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  /** A stream of `mux` paced to its link, as a socket's bridge makes it. */
  const paced = (mux: Mux, key = "k") => {
    const s = mux.openStream(open(key));
    s.paceToLink();
    return s;
  };
  /** Write CHUNKs until write() says wait; returns how many it took. */
  const fill = (s: MuxStream) => {
    let chunks = 1;
    while (s.write(new Uint8Array(CHUNK))) chunks++;
    return chunks;
  };
  /** Take messages (as the link's socket would) until at most `bytes` of data are queued. */
  const takeDownTo = (mux: Mux, bytes: number) => {
    while (mux.pacedBytesQueued > bytes && mux.takeMessage() !== undefined);
  };

  it("asks a paced writer with credit left to wait once QUEUED_DATA_HIGH_WATER bytes are queued for the link", () => {
    const { a } = roomy();
    const s = paced(a);
    recorder(s);
    expect(fill(s)).toBe(QUEUED_DATA_HIGH_WATER / CHUNK);
    expect(a.pacedBytesQueued).toBe(QUEUED_DATA_HIGH_WATER);
    expect(s.pendingBytes).toBe(0); // accepted and queued, not held back for credit
  });

  it("drains the writer only once the link has taken the queue down to half", async () => {
    const { a } = roomy();
    const s = paced(a);
    const atA = recorder(s);
    fill(s);
    takeDownTo(a, QUEUED_DATA_HIGH_WATER / 2 + CHUNK);
    await settle();
    expect(atA.drains).toBe(0);
    takeDownTo(a, QUEUED_DATA_HIGH_WATER / 2);
    await settle();
    expect(atA.drains).toBe(1);
    expect(s.write(new Uint8Array(CHUNK))).toBe(true);
  });

  it("tells every stream that waited, in the order they were told to wait", async () => {
    const { a } = roomy();
    const order: string[] = [];
    const streams = ["first", "second", "third"].map((name) => {
      const s = paced(a, name);
      s.setHandlers({ data: () => {}, end: () => {}, drain: () => order.push(name), reset: () => {} });
      return s;
    });
    fill(streams[0]!);
    for (const s of streams.slice(1)) expect(s.write(new Uint8Array(CHUNK))).toBe(false);
    takeDownTo(a, 0);
    await settle();
    expect(order).toEqual(["first", "second", "third"]);
  });

  it("keeps every byte a writer gives it past the mark, in order", () => {
    const { a, accepted, pump } = roomy();
    const s = paced(a);
    recorder(s);
    pump();
    const atB = recorder(accepted[0]!.stream);
    const data = new Uint8Array(QUEUED_DATA_HIGH_WATER + 5 * CHUNK);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    for (let o = 0; o < data.length; o += CHUNK) s.write(data.subarray(o, o + CHUNK));
    expect(a.pacedBytesQueued).toBe(data.length);
    pump();
    expect(Buffer.from(concat(atB.chunks)).equals(Buffer.from(data))).toBe(true);
    expect(a.pacedBytesQueued).toBe(0);
  });

  it("does not drain a stream that was reset while it waited, and forgets its queued data", async () => {
    const { a } = roomy();
    const waiting = paced(a, "gone");
    const atWaiting = recorder(waiting);
    const other = paced(a);
    const atOther = recorder(other);
    fill(other);
    expect(waiting.write(new Uint8Array(CHUNK))).toBe(false);
    waiting.reset(ResetCode.Cancelled, "client went away");
    takeDownTo(a, 0);
    await settle();
    expect(atWaiting.drains).toBe(0);
    expect(atOther.drains).toBe(1);
  });

  it("counts the bytes a stream's next frame carries for it until they are sent, and forgets them when the stream is reset", () => {
    const { a } = roomy();
    const [kept, gone] = [paced(a, "kept"), paced(a, "gone")];
    recorder(kept);
    recorder(gone);
    a.takeMessage(); // the Open frames
    for (let read = 0; read < 2; read++) for (const s of [gone, kept]) s.write(new Uint8Array(CHUNK));
    // The first message leaves 9 bytes of gone's first read, carried by its second one.
    a.takeMessage();
    expect(a.pacedBytesQueued).toBe(4 * CHUNK - (MAX_MESSAGE_BYTES - FRAME_HEADER_BYTES));
    gone.reset(ResetCode.Cancelled, "client went away");
    takeDownTo(a, 0);
    expect(a.pacedBytesQueued).toBe(0);
    expect(a.takeMessage()).toBeUndefined();
  });

  it("leaves a stream that is not paced (a relay's) to its credit alone", () => {
    const { a } = roomy();
    const filler = paced(a, "filler");
    recorder(filler);
    fill(filler);
    const relayed = a.openStream(open("relayed"));
    recorder(relayed);
    for (let bytes = 0; bytes < 2 * QUEUED_DATA_HIGH_WATER; bytes += CHUNK) expect(relayed.write(new Uint8Array(CHUNK))).toBe(true);
    expect(a.pacedBytesQueued).toBe(QUEUED_DATA_HIGH_WATER);
  });

  it("does not count a relay's bytes against paced streams, so a busy relay cannot hold the site's own connections back", () => {
    const { a } = roomy();
    const relayed = a.openStream(open("relayed"));
    recorder(relayed);
    for (let bytes = 0; bytes < 2 * QUEUED_DATA_HIGH_WATER; bytes += CHUNK) relayed.write(new Uint8Array(CHUNK));
    const own = paced(a, "own");
    recorder(own);
    expect(own.write(new Uint8Array(CHUNK))).toBe(true);
    expect(fill(own)).toBe(QUEUED_DATA_HIGH_WATER / CHUNK - 1);
  });
});

describe("stream receive windows", () => {
  /** Writes `bytes` through `s` in 16 KiB chunks, pumping whenever the window is used up. */
  const carry = (s: MuxStream, pump: () => void, bytes: number) => {
    for (let left = bytes; left > 0; ) {
      const chunk = Math.min(left, 16384);
      left -= chunk;
      if (!s.write(new Uint8Array(chunk))) pump();
    }
    pump();
  };

  /**
   * A stream from a to b whose reader at b either passes bytes on as they arrive
   * (`reader.prompt`, the default) or holds them until `release()`, as a socket that pushes back.
   */
  const streamWithReader = (link = pair()) => {
    const { a, accepted, pump } = link;
    const s = a.openStream(open("k"));
    recorder(s);
    pump();
    const peer = accepted.at(-1)!.stream;
    const reader = {
      prompt: true,
      held: 0,
      release() {
        const bytes = reader.held;
        reader.held = 0;
        peer.consumed(bytes);
      },
    };
    peer.setHandlers({
      data(chunk) {
        if (reader.prompt) peer.consumed(chunk.byteLength);
        else reader.held += chunk.byteLength;
      },
      end() {},
      drain() {},
      reset() {},
    });
    return { s, peer, pump, reader };
  };

  it("lets the streams of one link grow by LINK_WINDOW_GROWTH windows together: one stream alone reaches the maximum, eight share it", () => {
    const alone = streamWithReader();
    carry(alone.s, alone.pump, 256 * WINDOW);
    expect(alone.peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);

    const link = pair();
    const eight = Array.from({ length: 8 }, () => streamWithReader(link));
    for (let round = 0; round < 32; round++) for (const { s, pump } of eight) carry(s, pump, 8 * WINDOW);
    const windows = eight.map(({ peer }) => peer.windowBytes);
    for (const window of windows) expect(window).toBeGreaterThanOrEqual(WINDOW);
    expect(windows.reduce((sum, w) => sum + w, 0)).toBe(8 * WINDOW + LINK_WINDOW_GROWTH * WINDOW);
  });

  it("gives a finished stream's growth back to the link, for the streams after it", () => {
    const link = pair();
    const first = streamWithReader(link);
    carry(first.s, first.pump, 256 * WINDOW);
    expect(first.peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
    const second = streamWithReader(link);
    carry(second.s, second.pump, 256 * WINDOW);
    expect(second.peer.windowBytes).toBe(WINDOW);

    first.s.reset(ResetCode.Cancelled, "done");
    first.pump();
    carry(second.s, second.pump, 256 * WINDOW);
    expect(second.peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
  });

  it("keeps the window a whole number of bytes when it halves from an odd size", () => {
    const { s, peer, pump, reader } = streamWithReader();
    carry(s, pump, 256 * WINDOW);
    expect(peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
    reader.prompt = false;
    const takenLate = (bytes: number) => {
      for (let sent = 0; sent < bytes; sent += 16384) s.write(new Uint8Array(Math.min(16384, bytes - sent)));
      pump();
      reader.release();
      pump();
    };
    // The third late credit in a row shrinks the window by what it credits: an odd number of bytes.
    for (let late = 0; late < LATE_CREDITS_TO_SHRINK; late++) takenLate(5 * WINDOW + 1);
    expect(peer.windowBytes % 2).toBe(1);
    // A whole window taken late then halves it.
    takenLate(peer.windowBytes);
    expect(Number.isInteger(peer.windowBytes)).toBe(true);
    expect(peer.windowBytes).toBeLessThan(MAX_WINDOW_GROWTH * WINDOW);
  });

  it("doubles while the reader takes every byte as it arrives, up to MAX_WINDOW_GROWTH times the announced window", () => {
    const { s, peer, pump } = streamWithReader();
    expect(peer.windowBytes).toBe(WINDOW);
    carry(s, pump, 64 * WINDOW);
    expect(peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
  });

  it("keeps the announced window until GROW_AFTER_WINDOWS windows have gone straight on, as a slow reader's socket buffers take its first megabytes", () => {
    const { s, peer, pump } = streamWithReader();
    carry(s, pump, (GROW_AFTER_WINDOWS - 2) * WINDOW);
    expect(peer.windowBytes).toBe(WINDOW);
    carry(s, pump, 4 * WINDOW);
    expect(peer.windowBytes).toBeGreaterThan(WINDOW);
  });

  it("lets the writer have the grown window in flight", () => {
    const { s, pump, reader } = streamWithReader();
    carry(s, pump, 64 * WINDOW);
    reader.prompt = false;
    for (let i = 0; i < (8 * WINDOW) / 16384; i++) s.write(new Uint8Array(16384));
    pump();
    // The last credit was sent before the window had reached its maximum, or after: either way at least 2x.
    expect(reader.held).toBeGreaterThanOrEqual(2 * WINDOW);
    expect(reader.held).toBeLessThanOrEqual(MAX_WINDOW_GROWTH * WINDOW);
  });

  it("keeps its grown window through one late credit among prompt ones", () => {
    const { s, peer, pump, reader } = streamWithReader();
    carry(s, pump, 64 * WINDOW);
    expect(peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
    // The reader takes one window's worth late, once.
    reader.prompt = false;
    while (s.write(new Uint8Array(16384)));
    pump();
    reader.release();
    pump();
    reader.prompt = true;
    carry(s, pump, 2 * WINDOW);
    expect(peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
  });

  it("shrinks for a reader whose socket takes some bytes at once and pushes back on every third credit's", () => {
    const { s, peer, pump, reader } = streamWithReader();
    carry(s, pump, 64 * WINDOW);
    expect(peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
    for (let credits = 0; credits < 60; credits++) {
      const quarter = peer.windowBytes / 4;
      if (credits % 3 === 2) {
        reader.prompt = false;
        for (let sent = 0; sent < quarter; sent += 16384) s.write(new Uint8Array(16384));
        pump();
        reader.release();
        pump();
        reader.prompt = true;
      } else carry(s, pump, quarter);
    }
    expect(peer.windowBytes).toBe(WINDOW);
  });

  it("stays at the announced window for a reader that pushes back", () => {
    const { s, peer, pump, reader } = streamWithReader();
    reader.prompt = false;
    let consumed = 0;
    for (let rounds = 0; rounds < 200; rounds++) {
      while (s.write(new Uint8Array(16384)));
      pump();
      // Bytes go on only later, as after a socket's drain.
      consumed += reader.held;
      reader.release();
      pump();
    }
    expect(consumed).toBeGreaterThan(64 * WINDOW);
    expect(peer.windowBytes).toBe(WINDOW);
  });

  it("halves towards the announced window once a grown stream's reader pushes back, crediting less than it took", () => {
    const { s, peer, pump, reader } = streamWithReader();
    carry(s, pump, 64 * WINDOW);
    expect(peer.windowBytes).toBe(MAX_WINDOW_GROWTH * WINDOW);
    reader.prompt = false;
    for (let rounds = 0; rounds < 50; rounds++) {
      while (s.write(new Uint8Array(16384)));
      pump();
      reader.release();
      pump();
    }
    expect(peer.windowBytes).toBe(WINDOW);
    // With everything taken and credited, the writer gets no more than the announced window in flight.
    while (s.write(new Uint8Array(16384)));
    pump();
    const heldBefore = reader.held;
    reader.release();
    pump();
    expect(reader.held + heldBefore).toBeGreaterThan(0);
    expect(reader.held).toBeLessThanOrEqual(WINDOW);
  });
});

describe("a spare message buffer", () => {
  it("takes a full message whatever the alignment of the bytes in it, and the peer reads them as written", () => {
    const { a, b, accepted, pump } = pair({ window: 1024 * 1024 });
    const s = a.openStream(open("backend"));
    pump();
    const reader = recorder(accepted[0]!.stream);
    const spare = new ArrayBuffer(SPARE_MESSAGE_BYTES);
    const written: Uint8Array[] = [];
    // Each chunk starts at another offset modulo 16 and fills a whole message with its frame header.
    for (let shift = 0; shift < 16; shift++) {
      const source = new Uint8Array(MAX_MESSAGE_BYTES + 16);
      for (let i = 0; i < source.byteLength; i++) source[i] = (i * 13 + shift) & 255;
      const chunk = source.subarray(shift, shift + MAX_MESSAGE_BYTES - FRAME_HEADER_BYTES);
      written.push(chunk);
      s.write(chunk);
      const message = a.takeMessage(undefined, spare)!;
      expect(message.buffer).toBe(spare);
      b.receive(message.slice());
    }
    expect(concat(reader.chunks)).toEqual(concat(written));
  });

  it("is left alone when the message does not fit in it", () => {
    const { a } = pair();
    a.openStream(open("backend")).write(new Uint8Array(4096).fill(7));
    const spare = new ArrayBuffer(1024);
    const message = a.takeMessage(undefined, spare)!;
    expect(message.buffer).not.toBe(spare);
    expect(message.byteLength).toBeGreaterThan(4096);
    expect(new Uint8Array(spare).every((byte) => byte === 0)).toBe(true);
  });
});
