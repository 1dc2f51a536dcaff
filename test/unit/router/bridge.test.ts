// Bridges and the link's queue: a socket is read no faster than its link
// sends, while a relay is held back by credit alone. And what a bridge holds
// for a socket that pushes back, in the site's running total.

import { describe, expect, it } from "vitest";
import { Mux, type MuxStream, QUEUED_DATA_HIGH_WATER } from "../../../src/mux/mux.ts";
import type { TcpSocket, TcpSocketHandlers } from "../../../src/platform/types.ts";
import { bridgeSocketToStream, bridgeSockets, bridgeStreams, type HeldBytes } from "../../../src/router/bridge.ts";
import { muxPair } from "../../helpers/mux-pair.ts";

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
const open = { routingKey: "k", origin: "west", path: ["east"] };

/** Two muxes joined in memory: streams `a` opens arrive in `accepted`. */
const pair = () => muxPair({ window: WINDOW });

/** A TcpSocket the test feeds by hand, recording whether it is paused; `full` makes its writes push back. */
function fakeSocket() {
  let handlers: TcpSocketHandlers | undefined;
  const socket = {
    paused: false,
    full: false,
    remoteAddress: "127.0.0.1",
    remotePort: 5555,
    start: (h: TcpSocketHandlers) => void (handlers = h),
    write: () => !socket.full,
    pause: () => void (socket.paused = true),
    resume: () => void (socket.paused = false),
    end: () => {},
    destroy: () => {},
    /** Deliver `bytes` as if read from the network. */
    receive: (bytes: number) => handlers!.data(new Uint8Array(bytes)),
    /** The runtime wrote out what waited. */
    drained: () => handlers!.drain(),
    /** The connection closed (with `error` when it failed). */
    closed: (error?: Error) => handlers!.close(error),
  };
  return socket satisfies TcpSocket;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
const done = { done: () => {} };

describe("a socket's bridge", () => {
  it("pauses the socket while the link's queue is full, though the stream has credit, and resumes it once the link has taken the queue down", async () => {
    const mux = link();
    const socket = fakeSocket();
    bridgeSocketToStream(socket, stream(mux), done, { bytes: 0 });
    while (!socket.paused) socket.receive(CHUNK);
    expect(mux.pacedBytesQueued).toBe(QUEUED_DATA_HIGH_WATER);
    while (mux.pacedBytesQueued > QUEUED_DATA_HIGH_WATER / 2) mux.takeMessage();
    await settle();
    expect(socket.paused).toBe(false);
  });

  it("counts what it wrote to a socket that pushes back in the site's held bytes until the socket drains", () => {
    const { a, accepted, pump } = pair();
    const socket = fakeSocket();
    const held: HeldBytes = { bytes: 100 }; // other bridges' bytes
    bridgeSocketToStream(socket, a.openStream(open), done, held);
    pump();
    const far = accepted[0]!.stream;
    socket.full = true;
    far.write(new Uint8Array(3000));
    far.write(new Uint8Array(2000));
    pump();
    expect(held.bytes).toBe(5100);
    socket.full = false;
    socket.drained();
    expect(held.bytes).toBe(100);
  });

  it("takes what it held for a socket out of the site's held bytes when the connection fails", () => {
    const { a, accepted, pump } = pair();
    const socket = fakeSocket();
    const held: HeldBytes = { bytes: 0 };
    bridgeSocketToStream(socket, a.openStream(open), done, held);
    pump();
    socket.full = true;
    accepted[0]!.stream.write(new Uint8Array(4000));
    pump();
    expect(held.bytes).toBe(4000);
    socket.closed(new Error("connection reset by peer"));
    expect(held.bytes).toBe(0);
  });
});

describe("a bridge between two local sockets", () => {
  it("counts what waits in either socket until that socket drains or the bridge ends", () => {
    const client = fakeSocket();
    const server = fakeSocket();
    const held: HeldBytes = { bytes: 0 };
    bridgeSockets(client, server, done, held);
    server.full = true;
    client.receive(1500);
    expect(held.bytes).toBe(1500);
    expect(client.paused).toBe(true);
    client.full = true;
    server.receive(700);
    expect(held.bytes).toBe(2200);
    server.full = false;
    server.drained();
    expect(held.bytes).toBe(700);
    expect(client.paused).toBe(false);
    client.closed(new Error("connection reset by peer"));
    expect(held.bytes).toBe(0);
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
