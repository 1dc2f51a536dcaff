// BufferPool: reused buffers of one size, bounded, and released when a site goes quiet.

import { afterEach, describe, expect, it, vi } from "vitest";
import { BufferPool } from "../../../src/platform/buffer-pool.ts";

const options = { bufferBytes: 1024, maxFree: 2, idleReleaseMs: 1000 };

describe("BufferPool", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands out new buffers of its size while none is free", () => {
    const pool = new BufferPool(options);
    const a = pool.take();
    const b = pool.take();
    expect(a.byteLength).toBe(1024);
    expect(b).not.toBe(a);
  });

  it("hands a given-back buffer out again", () => {
    const pool = new BufferPool(options);
    const a = pool.take();
    pool.give(a);
    expect(pool.free).toBe(1);
    expect(pool.take()).toBe(a);
    expect(pool.free).toBe(0);
    pool.clear();
  });

  it("ignores buffers of another size and buffers given back twice", () => {
    const pool = new BufferPool(options);
    pool.give(new ArrayBuffer(512));
    expect(pool.free).toBe(0);
    const a = pool.take();
    pool.give(a);
    pool.give(a);
    expect(pool.free).toBe(1);
    expect(pool.take()).toBe(a);
    expect(pool.take()).not.toBe(a);
    pool.clear();
  });

  it("keeps at most maxFree buffers", () => {
    const pool = new BufferPool(options);
    const taken = [pool.take(), pool.take(), pool.take()];
    for (const buffer of taken) pool.give(buffer);
    expect(pool.free).toBe(2);
    pool.clear();
  });

  it("drops its free buffers after an idle period without take(), not while in use", () => {
    vi.useFakeTimers();
    const pool = new BufferPool(options);
    pool.give(pool.take());
    vi.advanceTimersByTime(900);
    pool.give(pool.take()); // in use within the first period
    vi.advanceTimersByTime(1000);
    expect(pool.free).toBe(1);
    vi.advanceTimersByTime(1000); // a whole period without take()
    expect(pool.free).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
