// A site with CPU to spare collects once ArrayBuffers pile up; a busy site,
// and memory that stays in use, are left alone.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  CHECKS_BETWEEN_COLLECTIONS,
  collectWhenHeavy,
  HEAVY_CHECK_MS,
  HEAVY_EXTERNAL_BYTES,
  SPARE_CPU_SHARE,
} from "../../../src/platform/collect-when-heavy.ts";

const MiB = 1024 * 1024;

describe("collectWhenHeavy", () => {
  let cpu: number;
  let external: number;
  /** What a collection leaves of external memory. */
  let leftAfterCollection: number;
  let collect: ReturnType<typeof vi.fn<() => void>>;
  let stop: () => void;
  /** One check interval in which the process used `share` of a core. */
  const check = (share: number) => {
    cpu += HEAVY_CHECK_MS * 1000 * share;
    vi.advanceTimersByTime(HEAVY_CHECK_MS);
  };

  beforeEach(() => {
    vi.useFakeTimers();
    cpu = 0;
    external = 4 * MiB;
    leftAfterCollection = 4 * MiB;
    collect = vi.fn<() => void>(() => {
      external = leftAfterCollection;
    });
    stop = collectWhenHeavy(collect, () => external, () => cpu);
  });

  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it("collects once external memory passes the mark while the site has CPU to spare", () => {
    external = HEAVY_EXTERNAL_BYTES - 1;
    check(0.1);
    expect(collect).not.toHaveBeenCalled();
    external = HEAVY_EXTERNAL_BYTES + 1;
    check(0.1);
    expect(collect).toHaveBeenCalledTimes(1);
    expect(external).toBe(leftAfterCollection);
  });

  it("leaves a busy site to the engine's own schedule, however much is piled up", () => {
    external = 200 * MiB;
    for (let i = 0; i < 20; i++) check(SPARE_CPU_SHARE);
    expect(collect).not.toHaveBeenCalled();
    check(SPARE_CPU_SHARE / 2); // the transfer slowed down
    expect(collect).toHaveBeenCalledTimes(1);
  });

  it("collects at most once in CHECKS_BETWEEN_COLLECTIONS checks, however fast memory piles up", () => {
    const rounds = 4;
    for (let i = 0; i < rounds * CHECKS_BETWEEN_COLLECTIONS; i++) {
      external += 2 * HEAVY_EXTERNAL_BYTES;
      check(0.1);
    }
    expect(collect).toHaveBeenCalledTimes(rounds);
  });

  it("counts from what the last collection left, so memory in use does not make it collect again and again", () => {
    leftAfterCollection = 3 * HEAVY_EXTERNAL_BYTES; // e.g. 10,000 open connections' buffers
    external = leftAfterCollection + 1;
    for (let i = 0; i < 20; i++) check(0.1);
    expect(collect).toHaveBeenCalledTimes(1);
    external = leftAfterCollection + HEAVY_EXTERNAL_BYTES; // a slow reader's buffers on top
    check(0.1);
    expect(collect).toHaveBeenCalledTimes(2);
  });

  it("lowers its mark again once memory that was in use is given back", () => {
    leftAfterCollection = 3 * HEAVY_EXTERNAL_BYTES;
    external = leftAfterCollection + 1;
    check(0.1);
    expect(collect).toHaveBeenCalledTimes(1);
    external = 4 * MiB; // the connections closed
    for (let i = 0; i < CHECKS_BETWEEN_COLLECTIONS; i++) check(0.1);
    external = 4 * MiB + HEAVY_EXTERNAL_BYTES;
    check(0.1);
    expect(collect).toHaveBeenCalledTimes(2);
  });

  it("stops when told to", () => {
    stop();
    external = 200 * MiB;
    for (let i = 0; i < 10; i++) check(0);
    expect(collect).not.toHaveBeenCalled();
  });
});
