// Networks of several real site processes on mixed runtimes: a chain of four,
// a star of five and a ring of four. Connections go in any direction, over
// as many hops as the shape needs, whatever the direction links were made in.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RuntimeName, RUNTIMES } from "../helpers/runtimes.ts";
import { type SiteProcess, type SiteSpec, startSites } from "../helpers/sites.ts";
import { exchange, nameServer, pattern, readAll, sha256, stalledServer, tcpProxy, type TestServer } from "../helpers/traffic.ts";
import { echoServer } from "../helpers/traffic.ts";
import net from "node:net";
import { MAX_WINDOW_GROWTH } from "../../src/mux/mux.ts";

/** Short keepalives so a lost link is noticed in about a second. */
const FAST = { keepaliveIntervalSeconds: 0.2, keepaliveTimeoutSeconds: 1 };
const MiB = 1024 * 1024;

/** The i-th runtime of a rotation through the runtimes under test. */
function rt(i: number): RuntimeName {
  return RUNTIMES[i % RUNTIMES.length]!;
}

/** Retry a small echo until it comes back, i.e. until the route is known everywhere along the path. */
async function waitForEcho(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await exchange(port, Buffer.from("ping"), 2000)).toString() === "ping") return;
    } catch {
      // not routed yet
    }
    if (Date.now() > deadline) throw new Error(`no route through port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Retry until a connection reaches a server that answers with `expected`. */
async function waitForName(port: number, expected: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await readAll(port, 2000).catch(() => "");
    if (got === expected) return;
    if (Date.now() > deadline) throw new Error(`port ${port} never reached ${expected} within ${timeoutMs} ms (last: "${got}")`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopAll(sites: (SiteProcess | undefined)[]): Promise<(number | null | undefined)[]> {
  return Promise.all(sites.map((s) => s?.stop()));
}

describe("a chain of four sites", () => {
  // a - b - c - d. Links: a dials b, c dials b, c dials d: mixed directions.
  // A listener and a connector at each end, so connections cross the chain both ways.
  let echoAtD: TestServer;
  let echoAtA: TestServer;
  let stalled: Awaited<ReturnType<typeof stalledServer>>;
  let a: SiteProcess, b: SiteProcess, c: SiteProcess, d: SiteProcess;
  const port: Record<string, number> = {};

  beforeAll(async () => {
    [echoAtD, echoAtA, stalled] = await Promise.all([echoServer(), echoServer(), stalledServer()]);
    [b, d] = await startSites([
      { name: "b", runtime: rt(1), acceptLinks: true, siteSpec: FAST },
      {
        name: "d",
        runtime: rt(3),
        acceptLinks: true,
        siteSpec: FAST,
        connectors: [
          { name: "echo-d", routingKey: "echo-d", port: echoAtD.port },
          { name: "slow", routingKey: "slow", port: stalled.port },
        ],
        listeners: [{ name: "echo-a", routingKey: "echo-a" }],
      },
    ]);
    const [bUrl, dUrl] = await Promise.all([b!.linkUrl(), d!.linkUrl()]);
    [a, c] = await startSites([
      {
        name: "a",
        runtime: rt(0),
        siteSpec: FAST,
        listeners: [
          { name: "echo-d", routingKey: "echo-d" },
          { name: "slow", routingKey: "slow" },
        ],
        connectors: [{ name: "echo-a", routingKey: "echo-a", port: echoAtA.port }],
        links: [{ name: "to-b", url: bUrl }],
      },
      { name: "c", runtime: rt(2), siteSpec: FAST, links: [{ name: "to-b", url: bUrl }, { name: "to-d", url: dUrl }] },
    ]);
    port.echoD = await a!.listenerPort("echo-d");
    port.slow = await a!.listenerPort("slow");
    port.echoA = await d!.listenerPort("echo-a");
    await Promise.all([waitForEcho(port.echoD), waitForEcho(port.echoA)]);
  });

  afterAll(async () => {
    const codes = await stopAll([a, b, c, d]);
    await Promise.all([echoAtD?.close(), echoAtA?.close(), stalled?.close()]);
    expect(codes).toEqual([0, 0, 0, 0]);
  });

  it("carries connections from one end to the other and back, through two sites with no listener or connector", async () => {
    const requests = Array.from({ length: 20 }, (_, i) => pattern(10 + i, 100_000 + i));
    const there = await Promise.all(requests.map((r) => exchange(port.echoD!, r)));
    const back = await Promise.all(requests.map((r) => exchange(port.echoA!, r)));
    there.forEach((reply, i) => expect(sha256(reply), `a -> d connection ${i}`).toBe(sha256(requests[i]!)));
    back.forEach((reply, i) => expect(sha256(reply), `d -> a connection ${i}`).toBe(sha256(requests[i]!)));
    const [sb, sc] = await Promise.all([b.status(), c.status()]);
    expect(sb.counters.streamsForwarded).toBeGreaterThanOrEqual(40);
    expect(sc.counters.streamsForwarded).toBeGreaterThanOrEqual(40);
  });

  it("shows the whole network and each key's path in every site's status", async () => {
    const sa = await a.status();
    const sites = sa.network.map((n) => [n.site, n.cost, n.runtime]);
    expect(sites).toEqual([
      ["a", 0, rt(0)],
      ["b", 1, rt(1)],
      ["c", 2, rt(2)],
      ["d", 3, rt(3)],
    ]);
    expect(sa.network.find((n) => n.site === "d")!.path).toEqual(["b", "c", "d"]);
    expect(sa.network.find((n) => n.site === "c")!.links.every((l) => l.up)).toBe(true);
    const echoD = sa.services.find((s) => s.routingKey === "echo-d")!;
    expect(echoD.newConnectionsGoTo).toEqual(["d"]);
    expect(echoD.servedBy).toEqual([{ site: "d", connectors: 1, cost: 3, outstanding: 0, next: true }]);
    expect(echoD.listenerSites.map((l) => l.site)).toEqual(["a"]);
  });

  it("shows in every site's status where the listeners of a key are, not only on the site that has them", async () => {
    const sb = await b.status();
    const echoA = sb.services.find((s) => s.routingKey === "echo-a")!;
    expect(echoA.listenerSites).toEqual([{ site: "d", listeners: 1, cost: 2 }]);
    expect(echoA.servedBy.map((s) => s.site)).toEqual(["a"]);
  });

  it("slows the sender at one end when the reader at the other end is slow, without intermediate sites buffering more than their windows", async () => {
    const total = 128 * MiB;
    const data = pattern(7, total);
    const client = net.connect({ port: port.slow!, host: "127.0.0.1", allowHalfOpen: true });
    let written = 0;
    let finished = false;
    const reply: Buffer[] = [];
    client.on("data", (d) => reply.push(d));
    const ended = new Promise<void>((resolve, reject) => {
      client.on("end", () => resolve());
      client.on("error", reject);
    });
    const pump = () => {
      while (written < total) {
        const piece = data.subarray(written, Math.min(total, written + 64 * 1024));
        written += piece.length;
        if (!client.write(piece)) return;
      }
      if (!finished) {
        finished = true;
        client.end();
      }
    };
    client.on("connect", pump);
    client.on("drain", pump);
    await stalled.connected;
    // Let the pipeline fill up, then look: the client is held back.
    let last = -1;
    while (written !== last) {
      last = written;
      await new Promise((r) => setTimeout(r, 750));
    }
    // Socket buffers on loopback take some megabytes; the rest waits in the client.
    expect(written).toBeLessThan(48 * MiB);
    const [sb, sc] = await Promise.all([b.status(), c.status()]);
    // The default streamWindowBytes, which a stream's window may have doubled twice while the reader still kept up.
    const window = MAX_WINDOW_GROWTH * 1_048_576;
    for (const s of [sb, sc]) {
      expect(s.counters.pendingBytes, `${s.site.name} holds at most one window per direction`).toBeLessThanOrEqual(2 * window);
    }
    stalled.resume();
    await ended;
    const [count, hash] = Buffer.concat(reply).toString().split(" ");
    expect(Number(count)).toBe(total);
    expect(hash).toBe(sha256(data));
  });
});

describe("a star of five sites", () => {
  // A hub with four spokes; every spoke dials the hub. Each spoke has a server
  // and a listener for every other spoke's server.
  const spokes = ["s1", "s2", "s3", "s4"];
  let servers: (TestServer & { connections: number })[] = [];
  let hub: SiteProcess;
  let sites: SiteProcess[] = [];

  beforeAll(async () => {
    servers = await Promise.all(spokes.map((s) => nameServer(s)));
    [hub] = await startSites([{ name: "hub", runtime: rt(0), acceptLinks: true, siteSpec: FAST }]);
    const url = await hub!.linkUrl();
    sites = await startSites(
      spokes.map(
        (name, i): SiteSpec => ({
          name,
          runtime: rt(i + 1),
          siteSpec: FAST,
          connectors: [{ name: `at-${name}`, routingKey: `at-${name}`, port: servers[i]!.port }],
          listeners: spokes.filter((o) => o !== name).map((o) => ({ name: `to-${o}`, routingKey: `at-${o}` })),
          links: [{ name: "to-hub", url }],
        }),
      ),
    );
  });

  afterAll(async () => {
    const codes = await stopAll([...sites, hub]);
    await Promise.all(servers.map((s) => s.close()));
    expect(codes.every((c) => c === 0)).toBe(true);
  });

  it("connects every spoke to every other spoke through the hub", async () => {
    for (const [i, from] of sites.entries()) {
      for (const to of spokes) {
        if (to === spokes[i]) continue;
        await waitForName(await from.listenerPort(`to-${to}`), to);
      }
    }
    const status = await hub.status();
    expect(status.counters.streamsForwarded).toBeGreaterThanOrEqual(12);
    expect(status.network.map((n) => n.site).sort()).toEqual(["hub", ...spokes]);
  });
});

describe("a ring of four sites", () => {
  // a - b - c - d - a, with the a-d link dear (cost 5): from a, c is cheaper by way of b.
  // b accepts one link only, c's, and it reaches b through a proxy (b's publicUrl)
  // that the test can cut. Links: b and d dial a; c dials b and d.
  let server: TestServer & { connections: number };
  let proxy: Awaited<ReturnType<typeof tcpProxy>>;
  let a: SiteProcess, b: SiteProcess, c: SiteProcess, d: SiteProcess;
  let listener: number;

  beforeAll(async () => {
    server = await nameServer("c");
    proxy = await tcpProxy();
    [a] = await startSites([{ name: "a", runtime: rt(0), acceptLinks: true, siteSpec: FAST, listeners: [{ name: "svc", routingKey: "svc" }] }]);
    const aUrl = await a!.linkUrl();
    [b, d] = await startSites([
      {
        name: "b",
        runtime: rt(1),
        acceptLinks: true,
        siteSpec: { ...FAST, publicUrl: `ws://127.0.0.1:${proxy.port}/skiff` },
        links: [{ name: "to-a", url: aUrl }],
      },
      { name: "d", runtime: rt(3), acceptLinks: true, siteSpec: FAST, links: [{ name: "to-a", url: aUrl, cost: 5 }] },
    ]);
    const linkPort = Number((await b!.waitFor(/accepting links on [\d.]+:(\d+)/))[1]);
    proxy.target(linkPort);
    [c] = await startSites([
      {
        name: "c",
        runtime: rt(2),
        siteSpec: FAST,
        connectors: [{ name: "svc", routingKey: "svc", port: server.port }],
        links: [
          { name: "to-b", url: await b!.linkUrl() },
          { name: "to-d", url: await d!.linkUrl() },
        ],
      },
    ]);
    listener = await a!.listenerPort("svc");
    await waitForName(listener, "c");
  });

  afterAll(async () => {
    const codes = await stopAll([a, b, c, d]);
    await Promise.all([server?.close(), proxy?.close()]);
    expect(codes).toEqual([0, 0, 0, 0]);
  });

  /** Wait until a's route to c has the given path. */
  async function waitForPath(path: string[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await a.status();
      const route = status.network.find((n) => n.site === "c")?.path;
      if (JSON.stringify(route) === JSON.stringify(path)) return;
      if (Date.now() > deadline) throw new Error(`a's path to c is ${JSON.stringify(route)}, not ${JSON.stringify(path)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function forwardedBy(site: SiteProcess): Promise<number> {
    return (await site.status()).counters.streamsForwarded;
  }

  it("takes the cheaper way round", async () => {
    await waitForPath(["b", "c"]);
    const [b0, d0] = await Promise.all([forwardedBy(b), forwardedBy(d)]);
    for (let i = 0; i < 10; i++) expect(await readAll(listener)).toBe("c");
    expect((await forwardedBy(b)) - b0).toBe(10);
    expect((await forwardedBy(d)) - d0).toBe(0);
  });

  it("goes the other way round once the cheap link is cut, and back when it heals", async () => {
    proxy.cut();
    await waitForPath(["d", "c"]);
    const [b0, d0] = await Promise.all([forwardedBy(b), forwardedBy(d)]);
    for (let i = 0; i < 10; i++) expect(await readAll(listener)).toBe("c");
    expect((await forwardedBy(d)) - d0).toBe(10);
    expect((await forwardedBy(b)) - b0).toBe(0);
    const sa = await a.status();
    expect(sa.network.find((n) => n.site === "c")!.cost).toBe(6);

    // b redials by itself with backoff; the network heals without a restart.
    proxy.restore();
    await waitForPath(["b", "c"], 30_000);
    const b1 = await forwardedBy(b);
    expect(await readAll(listener)).toBe("c");
    expect((await forwardedBy(b)) - b1).toBe(1);
  });
});
