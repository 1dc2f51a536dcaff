// Choice of destination and failover with real site processes: two sites
// serving one key share 1,000 connections; a site that hangs is detected and
// avoided, takes traffic back when it returns, and rejoins after a restart.

import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RuntimeName, RUNTIMES } from "../helpers/runtimes.ts";
import { type SiteProcess, startSites } from "../helpers/sites.ts";
import { closedPort, echoServer, exchange, nameServer, pattern, readAll, type TestServer } from "../helpers/traffic.ts";
import { EARLY_DATA_BYTES } from "../../src/router/early-client.ts";

const FAST = { keepaliveIntervalSeconds: 0.2, keepaliveTimeoutSeconds: 1 };

function rt(i: number): RuntimeName {
  return RUNTIMES[i % RUNTIMES.length]!;
}

/** Run `total` connections, `concurrency` at a time; each returns the name of the server it reached. */
async function spread(port: number, total: number, concurrency: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        const name = await readAll(port);
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
    }),
  );
  return counts;
}

/** A server that answers with its name and keeps the connection open until the client closes. */
async function holdServer(name: string): Promise<TestServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s)).on("error", () => s.destroy());
    s.write(name);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Open a connection and resolve with the first bytes it reads; the socket stays open. */
function openAndRead(port: number): Promise<{ name: string; socket: net.Socket }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    socket.once("data", (d) => resolve({ name: d.toString(), socket }));
    socket.once("error", reject);
    socket.once("close", () => reject(new Error("closed before any data")));
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("two sites serving one key", () => {
  // a has the listeners; b and c serve "svc" and each link to a. b and c run
  // on the same runtime so that they are equal: balancing by outstanding load
  // rightly gives a slower site fewer connections.
  let servers: Record<string, TestServer & { connections: number }> = {};
  let holds: TestServer[] = [];
  let a: SiteProcess, b: SiteProcess, c: SiteProcess;
  let svc: number;

  beforeAll(async () => {
    const refused = await closedPort();
    const [sb, sc, sb1, sb2] = await Promise.all(["b", "c", "b1", "b2"].map((n) => nameServer(n)));
    servers = { b: sb!, c: sc!, b1: sb1!, b2: sb2! };
    holds = await Promise.all([holdServer("a"), holdServer("c"), echoServer()]);
    [a] = await startSites([
      {
        name: "a",
        runtime: rt(0),
        acceptLinks: true,
        siteSpec: FAST,
        listeners: [
          { name: "svc", routingKey: "svc" },
          { name: "flaky", routingKey: "flaky" },
          { name: "flaky-echo", routingKey: "flaky-echo" },
          { name: "mixed", routingKey: "mixed" },
          { name: "pair", routingKey: "pair" },
        ],
        connectors: [{ name: "mixed-a", routingKey: "mixed", port: holds[0]!.port }],
      },
    ]);
    const url = await a!.linkUrl();
    [b, c] = await startSites([
      {
        name: "b",
        runtime: rt(1),
        siteSpec: FAST,
        connectors: [
          { name: "svc", routingKey: "svc", port: servers.b!.port },
          { name: "flaky", routingKey: "flaky", port: refused },
          { name: "flaky-echo", routingKey: "flaky-echo", port: refused },
          { name: "pair-1", routingKey: "pair", port: servers.b1!.port },
          { name: "pair-2", routingKey: "pair", port: servers.b2!.port },
        ],
        links: [{ name: "to-a", url }],
      },
      {
        name: "c",
        runtime: rt(1),
        siteSpec: FAST,
        connectors: [
          { name: "svc", routingKey: "svc", port: servers.c!.port },
          { name: "flaky", routingKey: "flaky", port: servers.c!.port },
          { name: "flaky-echo", routingKey: "flaky-echo", port: holds[2]!.port },
          { name: "mixed-c", routingKey: "mixed", port: holds[1]!.port },
        ],
        links: [{ name: "to-a", url }],
      },
    ]);
    svc = await a!.listenerPort("svc");
    await waitUntil("a routes svc to both b and c", async () => (await a.status()).services.find((s) => s.routingKey === "svc")?.servedBy.length === 2);
  });

  afterAll(async () => {
    c?.thaw();
    const codes = await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    await Promise.all([...Object.values(servers), ...holds].map((s) => s.close()));
    expect(codes).toEqual([0, 0, 0]);
  });

  it("spreads 1,000 connections about evenly over two equally cheap sites", async () => {
    const counts = await spread(svc, 1000, 20);
    expect((counts.get("b") ?? 0) + (counts.get("c") ?? 0)).toBe(1000);
    expect(counts.get("b")).toBeGreaterThanOrEqual(400);
    expect(counts.get("b")).toBeLessThanOrEqual(600);
    const status = await a.status();
    const service = status.services.find((s) => s.routingKey === "svc")!;
    expect(service.newConnectionsGoTo.sort()).toEqual(["b", "c"]);
    expect(service.listeners[0]).toMatchObject({ connections: 1000, failed: 0 });
  });

  it("retries a connection refused at one site at another site, so the client never notices", async () => {
    const port = await a.listenerPort("flaky");
    const replies = await Promise.all(Array.from({ length: 20 }, () => readAll(port)));
    expect(replies.every((r) => r === "c")).toBe(true);
    const status = await a.status();
    expect(status.services.find((s) => s.routingKey === "flaky")!.listeners[0]!.failed).toBe(0);
    expect(status.counters.retries).toBeGreaterThan(0);
    const bStatus = await b.status();
    expect(bStatus.services.find((s) => s.routingKey === "flaky")!.connectors[0]!.lastError).toMatch(/refused/i);
  });

  it("sends a retried connection's early bytes again, once, to the site that takes it", async () => {
    const port = await a.listenerPort("flaky-echo");
    const retriesBefore = (await a.status()).counters.retries;
    // Each client sends its whole request at once, more than is read before the far end accepts.
    const requests = Array.from({ length: 10 }, (_, i) => pattern(10 + i, EARLY_DATA_BYTES * 2 + 1000));
    const replies = await Promise.all(requests.map((request) => exchange(port, request)));
    replies.forEach((reply, i) => expect(reply.equals(requests[i]!)).toBe(true));
    expect((await a.status()).counters.retries).toBeGreaterThan(retriesBefore);
  });

  it("shares the load between a local connector and an idle remote one", async () => {
    const port = await a.listenerPort("mixed");
    const open = [];
    for (let i = 0; i < 20; i++) open.push(await openAndRead(port)); // one at a time, each stays open
    const names = open.map((o) => o.name);
    for (const o of open) o.socket.destroy();
    // Local costs 0, the remote 1: the local site takes the first and then they alternate.
    expect(names.filter((n) => n === "a").length).toBeGreaterThanOrEqual(10);
    expect(names.filter((n) => n === "c").length).toBeGreaterThanOrEqual(9);
  });

  it("shares the load among several connectors for one key on one site", async () => {
    const port = await a.listenerPort("pair");
    const counts = await spread(port, 40, 1);
    expect(counts.get("b1")).toBe(20);
    expect(counts.get("b2")).toBe(20);
  });

  it("stops sending new connections to a site that hangs once the loss is detected, and sends them again after it returns", async () => {
    const failures: number[] = [];
    const reached: { at: number; name: string }[] = [];
    let running = true;
    const load = Promise.all(
      Array.from({ length: 10 }, async () => {
        while (running) {
          try {
            reached.push({ at: Date.now(), name: await readAll(svc, 5000) });
          } catch {
            failures.push(Date.now());
          }
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    const from = a.outputLength;
    const frozenAt = Date.now();
    c.freeze();
    await a.waitFor(/link from site c is down: keepalive timeout/, 10_000, from);
    const detectedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    const afterDetection = reached.filter((r) => r.at > detectedAt);

    c.thaw();
    await waitUntil("c serves svc again", async () => (await a.status()).services.find((s) => s.routingKey === "svc")!.servedBy.length === 2, 30_000);
    const returnedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    running = false;
    await load;

    // Detected within the configured keepalive timeout (1 s) plus one interval and some slack.
    expect(detectedAt - frozenAt).toBeLessThan(3000);
    expect(failures.filter((t) => t > detectedAt), "connections that failed after detection").toEqual([]);
    expect(afterDetection.length).toBeGreaterThan(20);
    expect(afterDetection.filter((r) => r.at > detectedAt + 100 && r.at < returnedAt - 5000).every((r) => r.name === "b")).toBe(true);
    const afterReturn = reached.filter((r) => r.at > returnedAt);
    expect(afterReturn.filter((r) => r.name === "c").length).toBeGreaterThan(afterReturn.length / 4);
  });

  it("lets a restarted site rejoin under the same identity and take its share again", async () => {
    expect(await c.halt()).toBe(0);
    await waitUntil("a sees c gone", async () => (await a.status()).services.find((s) => s.routingKey === "svc")!.servedBy.length === 1);
    const before = await spread(svc, 20, 5);
    expect(before.get("b")).toBe(20);

    c = c.restart();
    await c.started();
    await c.waitFor(/link to-a is up/);
    await waitUntil("a routes to c again", async () => (await a.status()).services.find((s) => s.routingKey === "svc")!.servedBy.length === 2);
    const status = await a.status();
    expect(status.network.filter((n) => n.site === "c")).toHaveLength(1);
    expect(status.network.find((n) => n.site === "c")).toMatchObject({ reachable: true, runtime: rt(1), cost: 1 });
    const after = await spread(svc, 200, 10);
    expect(after.get("c")).toBeGreaterThan(50);
  });
});

describe("limits", () => {
  let x: SiteProcess, y: SiteProcess;
  let hold: TestServer;

  beforeAll(async () => {
    hold = await holdServer("y");
    [y] = await startSites([
      { name: "y", runtime: rt(1), acceptLinks: true, siteSpec: { ...FAST, maxStreamsPerLink: 4 }, connectors: [{ name: "svc", routingKey: "svc", port: hold.port }] },
    ]);
    [x] = await startSites([{ name: "x", runtime: rt(2), siteSpec: FAST, listeners: [{ name: "svc", routingKey: "svc" }], links: [{ name: "to-y", url: await y!.linkUrl() }] }]);
    await x!.waitFor(/link to-y is up/);
  });

  afterAll(async () => {
    const codes = await Promise.all([x?.stop(), y?.stop()]);
    await hold?.close();
    expect(codes).toEqual([0, 0]);
  });

  it("refuses a connection beyond a link's stream limit with a clear reason, and counts it", async () => {
    const port = await x.listenerPort("svc");
    await waitUntil("x routes svc", async () => (await x.status()).services.find((s) => s.routingKey === "svc")?.servedBy.length === 1);
    const open = [];
    for (let i = 0; i < 4; i++) open.push(await openAndRead(port));
    await expect(openAndRead(port)).rejects.toThrow(/closed before any data/);
    for (const o of open) o.socket.destroy();
    const status = await x.status();
    expect(status.counters.limitRefusals).toBe(1);
    const listener = status.services.find((s) => s.routingKey === "svc")!.listeners[0]!;
    expect(listener.failed).toBe(1);
    expect(listener.lastError).toMatch(/y: the peer accepts at most 4 streams on this link/);
    // The limit frees up as connections close.
    await waitUntil("x's streams to y are closed", async () => (await x.status()).links[0]!.streams === 0);
    expect((await openAndRead(port)).name).toBe("y");
  });
});
