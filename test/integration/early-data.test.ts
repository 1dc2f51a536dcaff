// A client that speaks first: its bytes travel right behind the stream's
// Open, before the far site has answered, and the far site holds them until
// its server is reached. West dials east through a proxy that can hold back
// everything east sends, or cut the link; a dearer site, east2, serves the
// same key.

import net from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RUNTIMES, type RuntimeName } from "../helpers/runtimes.ts";
import { type SiteProcess, startSites } from "../helpers/sites.ts";
import { type TestServer, tcpProxy, waitForRoute } from "../helpers/traffic.ts";

const PAIRS: [RuntimeName, RuntimeName][] = (
  [
    ["node", "deno"],
    ["deno", "bun"],
    ["bun", "node"],
  ] as [RuntimeName, RuntimeName][]
).filter(([a, b]) => RUNTIMES.includes(a) && RUNTIMES.includes(b));

/** An echo server that also reports the first bytes of each connection as they arrive. */
async function firstBytesServer(): Promise<TestServer & { nextFirstBytes(timeoutMs: number): Promise<string>; forgetEarlier(): void }> {
  const arrived: string[] = [];
  const waiting: ((bytes: string) => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket)).on("error", () => socket.destroy());
    socket.once("data", (d) => {
      const waiter = waiting.shift();
      if (waiter) waiter(d.toString());
      else arrived.push(d.toString());
    });
    socket.pipe(socket);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
    forgetEarlier: () => void arrived.splice(0),
    nextFirstBytes: (timeoutMs) => {
      const ready = arrived.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no bytes reached the server within ${timeoutMs} ms`)), timeoutMs);
        waiting.push((bytes) => {
          clearTimeout(timer);
          resolve(bytes);
        });
      });
    },
  };
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.each(PAIRS)("a client of a %s site that speaks first, to a server behind a %s site", (westRuntime, eastRuntime) => {
  let server: Awaited<ReturnType<typeof firstBytesServer>>;
  let other: Awaited<ReturnType<typeof firstBytesServer>>;
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let west: SiteProcess, east: SiteProcess, east2: SiteProcess;
  let port: number;

  beforeAll(async () => {
    [server, other] = await Promise.all([firstBytesServer(), firstBytesServer()]);
    proxy = await tcpProxy();
    [east, east2] = await startSites([
      {
        name: "east",
        runtime: eastRuntime,
        acceptLinks: true,
        siteSpec: { publicUrl: `ws://127.0.0.1:${proxy.port}/skiff` },
        connectors: [{ name: "svc", routingKey: "svc", port: server.port }],
      },
      { name: "east2", runtime: westRuntime, acceptLinks: true, connectors: [{ name: "svc", routingKey: "svc", port: other.port }] },
    ]);
    proxy.target(Number((await east!.waitFor(/accepting links on [\d.]+:(\d+)/))[1]));
    [west] = await startSites([
      {
        name: "west",
        runtime: westRuntime,
        listeners: [{ name: "svc", routingKey: "svc" }],
        // east2 is dear: an idle network sends every connection to east.
        links: [
          { name: "to-east", url: await east!.linkUrl() },
          { name: "to-east2", url: await east2!.linkUrl(), cost: 50 },
        ],
      },
    ]);
    port = await west!.listenerPort("svc");
    await waitForRoute(port);
    await eventually("west reaches both east sites", async () => (await west.status()).services[0]!.servedBy.length === 2, 20_000);
  });

  beforeEach(() => {
    server.forgetEarlier();
    other.forgetEarlier();
  });

  afterAll(async () => {
    const codes = await Promise.all([west?.stop(), east?.stop(), east2?.stop()]);
    await Promise.all([server?.close(), other?.close(), proxy?.close()]);
    expect(codes).toEqual([0, 0, 0]);
  });

  it("reaches the server while the far site's answer to the Open is still on its way", async () => {
    proxy.holdReplies();
    const client = net.connect({ port, host: "127.0.0.1" });
    try {
      client.on("connect", () => client.write("GET / HTTP/1.1\r\n\r\n"));
      // East's Accept cannot reach west now: only bytes sent without waiting for it get through.
      expect(await server.nextFirstBytes(5000)).toBe("GET / HTTP/1.1\r\n\r\n");
    } finally {
      proxy.releaseReplies();
    }
    const echoed = await new Promise<string>((resolve, reject) => {
      client.once("data", (d) => resolve(d.toString()));
      client.once("error", reject);
    });
    client.destroy();
    expect(echoed).toBe("GET / HTTP/1.1\r\n\r\n");
  });

  it("leaves nothing open when the client goes away before the far site answered", async () => {
    const failedBefore = (await west.status()).services[0]!.listeners[0]!.failed;
    proxy.holdReplies();
    try {
      const client = net.connect({ port, host: "127.0.0.1" });
      client.on("connect", () => client.write("hello"));
      expect(await server.nextFirstBytes(5000)).toBe("hello");
      client.resetAndDestroy();
      await new Promise((r) => client.once("close", r));
      await eventually("west counts no open connection", async () => (await west.status()).services[0]!.listeners[0]!.active === 0);
    } finally {
      proxy.releaseReplies();
    }
    await eventually("east counts no open connection", async () => (await east.status()).services[0]!.connectors[0]!.active === 0);
    expect((await west.status()).services[0]!.listeners[0]!.failed, west.output).toBe(failedBefore);
  });

  it("does not send a request to a second server when the link broke after the first may have got it", async () => {
    proxy.holdReplies();
    const client = net.connect({ port, host: "127.0.0.1" });
    const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
    client.on("error", () => {});
    client.on("connect", () => client.write("pay once"));
    expect(await server.nextFirstBytes(5000)).toBe("pay once");
    const from = west.outputLength;
    proxy.cut(); // east's Accept is lost with the link
    await closed;
    await expect(other.nextFirstBytes(1000)).rejects.toThrow(/no bytes/);
    await west.waitFor(/not tried elsewhere, as the server there may have received the client's first 8 bytes/, 5000, from);
    proxy.releaseReplies();
    proxy.restore();
  });
});
