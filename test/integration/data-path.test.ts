// Two real site processes on 127.0.0.1, for every pair of runtimes: a client
// connects to a listener on "west", the connector on "east" dials the server.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RUNTIMES, type RuntimeName } from "../helpers/runtimes.ts";
import { type SiteProcess, startSites, SiteProcess as Site } from "../helpers/sites.ts";
import { closedPort, echoServer, exchange, exchangeServer, pattern, sha256, type TestServer, timeUntilClosed, waitForRoute } from "../helpers/traffic.ts";

const MiB = 1024 * 1024;
const PAIRS: [RuntimeName, RuntimeName][] = (
  [
    ["node", "deno"],
    ["deno", "bun"],
    ["bun", "node"],
    ["node", "node"],
    ["deno", "deno"],
    ["bun", "bun"],
  ] as [RuntimeName, RuntimeName][]
).filter(([a, b]) => RUNTIMES.includes(a) && RUNTIMES.includes(b));

describe.each(PAIRS)("a client on a %s site reaches a server behind a %s site", (westRuntime, eastRuntime) => {
  let bulk: TestServer & { received: string[] };
  let echo: TestServer;
  let east: SiteProcess;
  let west: SiteProcess;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    bulk = await exchangeServer(64 * MiB);
    echo = await echoServer();
    const refusedPort = await closedPort();
    [east] = await startSites([
      {
        name: "east",
        runtime: eastRuntime,
        acceptLinks: true,
        connectors: [
          { name: "bulk", routingKey: "bulk", port: bulk.port },
          { name: "echo", routingKey: "echo", port: echo.port },
          { name: "refused", routingKey: "refused", port: refusedPort },
        ],
      },
    ]);
    west = new Site({
      name: "west",
      runtime: westRuntime,
      listeners: [
        { name: "bulk", routingKey: "bulk" },
        { name: "echo", routingKey: "echo" },
        { name: "refused", routingKey: "refused" },
      ],
      links: [{ name: "to-east", url: await east!.linkUrl() }],
    });
    await west.started();
    for (const name of ["bulk", "echo", "refused"]) ports[name] = await west.listenerPort(name);
    await west.waitFor(/link to-east is up/);
    await waitForRoute(ports.echo!);
  });

  afterAll(async () => {
    const codes = await Promise.all([west?.stop(), east?.stop()]);
    await Promise.all([bulk?.close(), echo?.close()]);
    // Both sites shut down cleanly on SIGTERM.
    expect(codes).toEqual([0, 0]);
  });

  it("moves 64 MiB each way with matching checksums", async () => {
    const request = pattern(1, 64 * MiB);
    const reply = await exchange(ports.bulk!, request);
    expect(reply.length).toBe(64 * MiB);
    expect(sha256(reply)).toBe(sha256(pattern(2, 64 * MiB)));
    expect(bulk.received.at(-1)).toBe(sha256(request));
  });

  it("carries 100 concurrent connections, each intact", async () => {
    const requests = Array.from({ length: 100 }, (_, i) => pattern(100 + i, 32 * 1024 + i));
    const replies = await Promise.all(requests.map((r) => exchange(ports.echo!, r)));
    replies.forEach((reply, i) => expect(sha256(reply), `connection ${i}`).toBe(sha256(requests[i]!)));
  });

  it("keeps half-close: a client that shut its write side still gets the whole reply", async () => {
    // The exchange server replies only after it has seen the client's FIN.
    const reply = await exchange(ports.bulk!, Buffer.from("GET /after-eof"));
    expect(reply.length).toBe(64 * MiB);
    expect(bulk.received.at(-1)).toBe(sha256(Buffer.from("GET /after-eof")));
  });

  it("closes the client within a second when the connector's server refuses, and counts the error", async () => {
    const { ms, bytes } = await timeUntilClosed(ports.refused!);
    expect(bytes).toBe(0);
    expect(ms).toBeLessThan(1000);
    const status = await east.status();
    const refused = status.services.find((s) => s.routingKey === "refused")!;
    expect(refused.connectors[0]!.errors).toBeGreaterThanOrEqual(1);
    expect(refused.connectors[0]!.lastError).toMatch(/refused/i);
    const westStatus = await west.status();
    expect(westStatus.services.find((s) => s.routingKey === "refused")!.listeners[0]!.failed).toBeGreaterThanOrEqual(1);
  });
});
