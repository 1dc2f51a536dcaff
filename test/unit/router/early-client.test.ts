// A client's bytes read before the far end accepted: sent to the attempt at
// once, kept for the next attempt, handed over to the bridge without loss
// or repetition.

import { describe, expect, it } from "vitest";
import { EARLY_DATA_BYTES, EarlyClient, type EarlySink } from "../../../src/router/early-client.ts";
import type { TcpSocket, TcpSocketHandlers } from "../../../src/platform/types.ts";

class FakeSocket implements TcpSocket {
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 40000;
  handlers: TcpSocketHandlers | undefined;
  paused = false;
  pauses = 0;
  start(handlers: TcpSocketHandlers): void {
    if (this.handlers !== undefined) throw new Error("started twice");
    this.handlers = handlers;
  }
  write(): boolean {
    return true;
  }
  pause(): void {
    this.paused = true;
    this.pauses++;
  }
  resume(): void {
    this.paused = false;
  }
  end(): void {}
  destroy(): void {}
}

/** A sink that writes down what it was given. */
function recorder(): EarlySink & { got: string[] } {
  const got: string[] = [];
  return {
    got,
    data: (chunk) => got.push(new TextDecoder().decode(chunk)),
    end: () => got.push("<fin>"),
    closed: (error) => got.push(`<closed${error ? `: ${error.message}` : ""}>`),
  };
}

/** Handlers of a bridge that write down what they were given. */
function bridgeHandlers(): TcpSocketHandlers & { got: string[] } {
  const got: string[] = [];
  return {
    got,
    data: (chunk) => got.push(new TextDecoder().decode(chunk)),
    end: () => got.push("<fin>"),
    drain: () => got.push("<drain>"),
    close: (error) => got.push(`<close${error ? `: ${error.message}` : ""}>`),
  };
}

const bytes = (text: string) => new TextEncoder().encode(text);

describe("EarlyClient", () => {
  it("sends what the client says to the attempt at once, and again, in order, to the next attempt", () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    const first = recorder();
    client.readEarly(first);
    socket.handlers!.data(bytes("GET / "));
    socket.handlers!.data(bytes("HTTP/1.1"));
    socket.handlers!.end();
    expect(first.got).toEqual(["GET / ", "HTTP/1.1", "<fin>"]);

    client.detach(); // refused: the connection is tried elsewhere
    const second = recorder();
    client.readEarly(second);
    expect(second.got).toEqual(["GET / ", "HTTP/1.1", "<fin>"]);
    expect(first.got).toHaveLength(3);
  });

  it(`reads no further than ${EARLY_DATA_BYTES} bytes before the far end accepts, and on from the hand-over`, () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    client.readEarly(recorder());
    socket.handlers!.data(new Uint8Array(EARLY_DATA_BYTES - 1));
    expect(socket.paused).toBe(false);
    socket.handlers!.data(new Uint8Array(1));
    expect(socket.paused).toBe(true);
    socket.handlers!.data(new Uint8Array(10)); // already on its way when the socket paused
    expect(socket.pauses).toBe(1);
    client.forgetKept();
    client.start(bridgeHandlers());
    expect(socket.paused).toBe(false);
  });

  it("hands over to the bridge of an accepted stream only what comes after, and the FIN that came before", () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    client.readEarly(recorder());
    socket.handlers!.data(bytes("request"));
    socket.handlers!.end();
    client.forgetKept(); // the far end accepted the bytes sent so far
    const bridge = bridgeHandlers();
    client.start(bridge);
    expect(bridge.got).toEqual(["<fin>"]);
  });

  it("hands every kept byte to a bridge that did not get them (a local connector after a refused remote one)", () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    client.readEarly(recorder());
    socket.handlers!.data(bytes("one "));
    client.detach();
    socket.handlers!.data(bytes("two")); // read while the local connector dials
    const bridge = bridgeHandlers();
    client.start(bridge);
    socket.handlers!.data(bytes(" three"));
    expect(bridge.got).toEqual(["one ", "two", " three"]);
  });

  it("starts the socket only once, when the first attempt is a local one", () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    const bridge = bridgeHandlers();
    client.start(bridge);
    socket.handlers!.data(bytes("hello"));
    expect(bridge.got).toEqual(["hello"]);
    expect(() => client.start(bridgeHandlers())).toThrow(/already/);
  });

  it("tells the attempt when the client goes away, and the next one too", () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    const first = recorder();
    client.readEarly(first);
    socket.handlers!.close(new Error("connection reset"));
    expect(first.got).toEqual(["<closed: connection reset>"]);
    const second = recorder();
    client.readEarly(second);
    expect(second.got).toEqual(["<closed: connection reset>"]);
  });

  it("tells a bridge of a close that came while no attempt was listening, after start() returned", async () => {
    const socket = new FakeSocket();
    const client = new EarlyClient(socket);
    client.readEarly(recorder());
    client.detach();
    socket.handlers!.close(new Error("connection reset"));
    const bridge = bridgeHandlers();
    client.start(bridge);
    expect(bridge.got).toEqual([]);
    await Promise.resolve();
    expect(bridge.got).toEqual(["<close: connection reset>"]);
  });
});
