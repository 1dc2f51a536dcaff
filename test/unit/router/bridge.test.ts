// Bridges and the link's queue: a socket is read no faster than its link
// sends, while a relay is held back by credit alone.

import { describe, expect, it } from "vitest";
import { Mux, type MuxStream, QUEUED_DATA_HIGH_WATER } from "../../../src/mux/mux.ts";
import type { TcpSocket, TcpSocketHandlers } from "../../../src/platform/types.ts";
import { bridgeSocketToStream, bridgeStreams } from "../../../src/router/bridge.ts";

const CHUNK = 65536;
/** Windows large enough that credit never stops a writer in these tests. */
const WINDOW = 4 * QUEUED_DATA_HIGH_WATER;

/** A mux whose peer has announced WINDOW; nothing takes its messages until the test does. */
function link(): Mux {
  const mux = new Mux({ role: "dialer", windowBytes: WINDOW, maxStreams: 100, onOutput: () => {}, onStream: () => {}, onControl: () => {} });
  mux.setPeerLimits(WINDOW, 100);
  return mux;
}

const stream = (mux: Mux): MuxStream => mux.openStream({ routingKey: "k", origin: "west", path: ["east"] });

/** A TcpSocket the test feeds by hand, recording whether it is paused. */
function fakeSocket() {
  let handlers: TcpSocketHandlers | undefined;
  const socket = {
    paused: false,
    remoteAddress: "127.0.0.1",
    remotePort: 5555,
    start: (h: TcpSocketHandlers) => void (handlers = h),
    write: () => true,
    pause: () => void (socket.paused = true),
    resume: () => void (socket.paused = false),
    end: () => {},
    destroy: () => {},
    /** Deliver `bytes` as if read from the network. */
    receive: (bytes: number) => handlers!.data(new Uint8Array(bytes)),
  };
  return socket satisfies TcpSocket;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const done = { done: () => {} };

describe("a socket's bridge", () => {
  it("pauses the socket while the link's queue is full, though the stream has credit, and resumes it once the link has taken the queue down", async () => {
    const mux = link();
    const socket = fakeSocket();
    bridgeSocketToStream(socket, stream(mux), done);
    while (!socket.paused) socket.receive(CHUNK);
    expect(mux.pacedBytesQueued).toBe(QUEUED_DATA_HIGH_WATER);
    while (mux.pacedBytesQueued > QUEUED_DATA_HIGH_WATER / 2) mux.takeMessage();
    await settle();
    expect(socket.paused).toBe(false);
  });
});

describe("a relay between two streams", () => {
  it("keeps forwarding while the outbound link holds its fill of paced bytes, and passes credit back at once", () => {
    const inboundLink = link();
    const outboundLink = link();
    const inbound = stream(inboundLink);
    const outbound = stream(outboundLink);
    bridgeStreams(inbound, outbound, done);
    const filler = stream(outboundLink);
    filler.paceToLink();
    while (filler.write(new Uint8Array(CHUNK)));
    // Data arriving on the inbound stream goes on, and its credit goes back, as credit allows.
    const credits = () => {
      let frames = 0;
      for (let m = inboundLink.takeMessage(); m !== undefined; m = inboundLink.takeMessage()) frames++;
      return frames;
    };
    credits(); // the Open frame
    let bytes = 0;
    for (; bytes < WINDOW; bytes += CHUNK) inbound.receiveData(new Uint8Array(CHUNK));
    expect(bytes).toBe(WINDOW);
    expect(outboundLink.pacedBytesQueued).toBe(QUEUED_DATA_HIGH_WATER);
    expect(outbound.pendingBytes).toBe(0); // all of it queued for the link, none held back
    expect(credits()).toBeGreaterThan(0);
  });
});
