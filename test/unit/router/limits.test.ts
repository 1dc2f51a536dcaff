// Router limits: at the pending-bytes cap, new connections and streams are
// refused with a reason a person can act on, and every refusal is counted.

import { describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/core/logger.ts";
import type { LinkSession } from "../../../src/link/session.ts";
import type { MuxStream } from "../../../src/mux/mux.ts";
import type { TcpSocket } from "../../../src/platform/types.ts";
import { ResetCode } from "../../../src/protocol/messages.ts";
import { DEFAULT_MAX_PENDING_BYTES, type ListenerCounters, Router } from "../../../src/router/router.ts";

function router(maxPendingBytes?: number): Router {
  return new Router({
    site: "east",
    runtime: "node",
    version: "0.1.0",
    logger: silentLogger(),
    dial: () => Promise.reject(new Error("no dialing in this test")),
    advertIntervalMs: 10_000,
    maxPendingBytes,
  });
}

function fakeSocket(): TcpSocket & { destroyed: boolean } {
  const socket = {
    remoteAddress: "127.0.0.1",
    remotePort: 5555,
    destroyed: false,
    start: () => {},
    write: () => true,
    pause: () => {},
    resume: () => {},
    end: () => {},
    destroy: () => {
      socket.destroyed = true;
    },
  };
  return socket;
}

describe("Router limits", () => {
  it("documents a default of 64 MiB held for slow readers", () => {
    expect(DEFAULT_MAX_PENDING_BYTES).toBe(64 * 1024 * 1024);
    expect(router().maxPendingBytes).toBe(DEFAULT_MAX_PENDING_BYTES);
  });

  it("refuses a new client connection at the pending-bytes cap, closes it and counts it", () => {
    const r = router(0);
    const socket = fakeSocket();
    const counters: ListenerCounters = { connections: 0, active: 0, failed: 0 };
    r.connect("db", socket, counters);
    expect(socket.destroyed).toBe(true);
    expect(counters).toMatchObject({ connections: 1, active: 0, failed: 1 });
    expect(counters.lastError).toMatch(/site east is at its limit of 0\.0 MiB held for connections whose readers are slow/);
    expect(r.counters.limitRefusals).toBe(1);
  });

  it("resets a stream arriving from a link at the cap with reason Limit", () => {
    const r = router(0);
    const resets: { code: number; reason: string }[] = [];
    const stream = { reset: (code: number, reason: string) => resets.push({ code, reason }) } as unknown as MuxStream;
    r.acceptStream({} as LinkSession, stream, { routingKey: "db", origin: "west", path: ["east"] });
    expect(resets).toHaveLength(1);
    expect(resets[0]!.code).toBe(ResetCode.Limit);
    expect(resets[0]!.reason).toMatch(/at its limit/);
    expect(r.counters).toMatchObject({ limitRefusals: 1, streamsRefused: 1 });
  });

  it("counts the bytes that came with a stream while its connector is dialed, and no longer once the dial ends", async () => {
    let refuse!: (err: Error) => void;
    const r = new Router({
      site: "east",
      runtime: "node",
      version: "0.1.0",
      logger: silentLogger(),
      dial: () => new Promise((_, reject) => (refuse = reject)),
      advertIntervalMs: 10_000,
    });
    r.addConnector({ name: "db", routingKey: "db", host: "127.0.0.1", port: 5432 });
    const stream = { heldBytes: 16_384, isDone: false, reset: () => {} } as unknown as MuxStream;
    r.acceptStream({} as LinkSession, stream, { routingKey: "db", origin: "west", path: ["east"] });
    expect(r.pendingBytes).toBe(16_384);
    refuse(new Error("connection refused"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(r.pendingBytes).toBe(0);
  });

  it("counts the bytes its links hold for credit, as each link totals them, and refuses new connections once they reach the cap", () => {
    const r = router(1_000_000);
    const link = (site: string, pendingBytes: number) =>
      ({ peer: { site }, state: "ready", pendingBytes, streamCount: 0, sendAdvert: () => {} }) as unknown as LinkSession & { pendingBytes: number };
    const west = link("west", 300_000);
    const north = link("north", 200_000);
    r.addSession(west, 1);
    r.addSession(north, 1);
    expect(r.pendingBytes).toBe(500_000);
    west.pendingBytes = 800_000;
    const socket = fakeSocket();
    const counters: ListenerCounters = { connections: 0, active: 0, failed: 0 };
    r.connect("db", socket, counters);
    expect(socket.destroyed).toBe(true);
    expect(counters.lastError).toMatch(/at its limit of 1\.0 MiB .* \(1\.0 MiB now\)/);
    r.removeSession(north);
    expect(r.pendingBytes).toBe(800_000);
  });

  it("lets connections in below the cap (no route here, so it fails for that reason instead)", () => {
    const r = router();
    const socket = fakeSocket();
    const counters: ListenerCounters = { connections: 0, active: 0, failed: 0 };
    r.connect("db", socket, counters);
    expect(counters.lastError).toBe('no reachable site serves routing key "db"');
    expect(r.counters).toMatchObject({ limitRefusals: 0, noRoute: 1 });
  });
});
