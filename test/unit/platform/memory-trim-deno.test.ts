// Deno sites give freed memory back on a timer; the timer never keeps a process alive.

import { afterEach, describe, expect, it, vi } from "vitest";
import { TRIM_INTERVAL_MS, trimPeriodically } from "../../../src/platform/memory-trim-deno.ts";

describe("trimPeriodically", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("trims once per interval until stopped", () => {
    vi.useFakeTimers();
    const trim = vi.fn();
    const stop = trimPeriodically(trim);
    vi.advanceTimersByTime(TRIM_INTERVAL_MS - 1);
    expect(trim).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(trim).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(2 * TRIM_INTERVAL_MS);
    expect(trim).toHaveBeenCalledTimes(3);
    stop();
    vi.advanceTimersByTime(5 * TRIM_INTERVAL_MS);
    expect(trim).toHaveBeenCalledTimes(3);
  });

  it("does not keep the process alive", () => {
    const setInterval = vi.spyOn(globalThis, "setInterval");
    const stop = trimPeriodically(() => {});
    const timer = setInterval.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    stop();
    setInterval.mockRestore();
  });
});
