// A site survives hostile or broken peers, before and after authentication,
// and flow control holds memory bounded when a server does not read.

import net from "node:net";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, FrameType } from "../../src/protocol/frames.ts";
import { encodeHello } from "../../src/protocol/messages.ts";
import { authenticatedPeer } from "../helpers/peer.ts";
import { RUNTIMES } from "../helpers/runtimes.ts";
import { SiteProcess, startSites } from "../helpers/sites.ts";
import { exchange, pattern, sha256 } from "../helpers/traffic.ts";
import { type EchoPair, startEchoPair } from "../helpers/pair.ts";

const MiB = 1024 * 1024;

/** Connect to a link URL as an unauthenticated WebSocket peer; resolves with how the site closed it. */
function rawPeer(url: string, messages: (Uint8Array | string)[]): Promise<{ code: number; reason: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const ws = new WebSocket(url);
    const timer = setTimeout(() => reject(new Error("the site did not close the misbehaving link")), 15_000);
    ws.on("open", () => {
      for (const m of messages) ws.send(m);
    });
    ws.on("error", () => {});
    ws.on("close", (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString(), ms: Date.now() - started });
    });
  });
}

const hello = encodeFrame(
  FrameType.Hello,
  0,
  encodeHello({ protocol: 1, site: "mallory", runtime: "node", version: "0", windowBytes: 65536, maxStreams: 10 }),
);

describe.each(RUNTIMES)("a %s site facing a misbehaving peer", (runtime) => {
  let pair: EchoPair;
  let east: SiteProcess;
  let linkUrl: string;
  let port: number;

  beforeAll(async () => {
    pair = await startEchoPair({ east: runtime, eastSettings: { "link-handshake-timeout": "2s" } });
    ({ east, linkUrl, port } = pair);
  });

  afterAll(async () => {
    await pair?.stop();
  });

  async function goodLinkStillWorks(): Promise<void> {
    const request = pattern(7, 256 * 1024);
    expect(sha256(await exchange(port, request))).toBe(sha256(request));
    expect(east.child.exitCode).toBeNull();
  }

  const unauthenticated: [string, (Uint8Array | string)[], RegExp][] = [
    ["link frames without a handshake", [hello], /refused a link from 127\.0\.0\.1: /],
    ["random bytes", [pattern(3, 100)], /refused a link from 127\.0\.0\.1: /],
    ["a text message", ["hello"], /refused a link from 127\.0\.0\.1: /],
    ["an oversized message", [new Uint8Array(200_000)], /refused a link from 127\.0\.0\.1: /],
  ];

  it.each(unauthenticated)("refuses an unauthenticated peer that sends %s, logs why, and keeps serving", async (_name, messages, logged) => {
    const from = east.output.length;
    const closed = await rawPeer(linkUrl, messages);
    expect(closed.code).not.toBe(1000);
    await east.waitFor(logged, 5000, from);
    await goodLinkStillWorks();
  });

  it("drops a handshake that never finishes at the timeout, holding nothing", async () => {
    const from = east.output.length;
    const closed = await rawPeer(linkUrl, []);
    expect(closed.ms).toBeGreaterThanOrEqual(1900);
    expect(closed.ms).toBeLessThan(5000);
    await east.waitFor(/did not finish within 2 s/, 5000, from);
    await goodLinkStillWorks();
  });

  const authenticated: [string, Uint8Array[], RegExp][] = [
    ["an unknown frame type", [hello, new Uint8Array([0x7f, 0, 0, 0, 1, 0, 0, 0, 0])], /unknown frame type 0x7f/],
    ["a truncated frame", [hello, new Uint8Array([0x12, 0, 0])], /truncated frame header/],
    ["data for a stream that was never opened", [hello, encodeFrame(FrameType.Data, 5, new Uint8Array(10))], /never opened/],
    ["an Open before Hello", [encodeFrame(FrameType.Open, 1, new TextEncoder().encode('{"routingKey":"echo","origin":"mallory","path":["east"]}'))], /Open frame before Hello/],
    ["a malformed Hello", [encodeFrame(FrameType.Hello, 0, new TextEncoder().encode('{"protocol":1}'))], /malformed Hello/],
    ["a Hello naming another site", [encodeFrame(FrameType.Hello, 0, encodeHello({ protocol: 1, site: "west", runtime: "node", version: "0", windowBytes: 65536, maxStreams: 10 }))], /authenticated as "mallory"/],
  ];

  it.each(authenticated)("closes an authenticated link that sends %s, logs why, and keeps serving", async (_name, messages, reason) => {
    const from = east.output.length;
    const peer = await authenticatedPeer(east);
    for (const m of messages) peer.send(m);
    const closed = await peer.closed;
    expect(closed.reason).toMatch(reason);
    await east.waitFor(/protocol error from peer/, 5000, from);
    await goodLinkStillWorks();
  });
});

describe.each(RUNTIMES)("flow control between two %s sites", (runtime) => {
  let stalled: net.Server;
  let stalledPort: number;
  let sites: SiteProcess[];

  beforeAll(async () => {
    // A server that accepts and never reads.
    stalled = net.createServer((socket) => socket.pause());
    await new Promise<void>((r) => stalled.listen(0, "127.0.0.1", () => r()));
    stalledPort = (stalled.address() as net.AddressInfo).port;
    const [east] = await startSites([{ name: "east", runtime, acceptLinks: true, connectors: [{ name: "sink", routingKey: "sink", port: stalledPort }] }]);
    const west = new SiteProcess({ name: "west", runtime, listeners: [{ name: "sink", routingKey: "sink" }], links: [{ name: "to-east", url: await east!.linkUrl() }] });
    await west.waitFor(/link to-east is up/);
    sites = [east!, west];
  });

  afterAll(async () => {
    await Promise.all(sites.map((s) => s.stop()));
    stalled.close();
  });

  it("lets a client push only windows' worth into a server that does not read, and memory stays flat", async () => {
    const [east, west] = sites as [SiteProcess, SiteProcess];
    const before = await Promise.all([east.status(), west.status()]);
    const port = await west.listenerPort("sink");
    const chunk = Buffer.alloc(MiB, 1);
    // Write as fast as the network accepts for 4 seconds, 10 GiB at most.
    const pushed = await new Promise<number>((resolve) => {
      const socket = net.connect({ port, host: "127.0.0.1" });
      let accepted = 0;
      const pump = () => {
        while (accepted < 10 * 1024 * MiB) {
          accepted += chunk.length;
          if (!socket.write(chunk)) return;
        }
      };
      socket.on("connect", pump);
      socket.on("drain", pump);
      socket.on("error", () => {});
      setTimeout(() => {
        socket.destroy();
        resolve(accepted);
      }, 4000);
    });
    const after = await Promise.all([east.status(), west.status()]);
    // Kernel buffers on four sockets plus one stream window: tens of MiB at most, never gigabytes.
    expect(pushed).toBeLessThan(128 * MiB);
    for (let i = 0; i < 2; i++) expect(after[i]!.site.rssBytes - before[i]!.site.rssBytes).toBeLessThan(64 * MiB);
  });
});
