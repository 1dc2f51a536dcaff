// A site gives back what its engine no longer needs once it has gone quiet,
// once per quiet spell, never while it is busy, and not as a burst begins;
// compiled code only the first time.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CONFIRM_CPU_SHARE, CONFIRM_QUIET_MS, QUIET_CHECK_MS, QUIET_CPU_SHARE, shrinkWhenQuiet } from "../../../src/platform/shrink-when-quiet.ts";

/** CPU microseconds one check interval holds when the process keeps `share` of a core busy. */
const cpuFor = (share: number) => QUIET_CHECK_MS * 1000 * share;

describe("shrinkWhenQuiet", () => {
  let cpu: number;
  /** Called at the first quiet spell (drops compiled code). */
  let shrink: ReturnType<typeof vi.fn<() => void>>;
  /** Called at each later quiet spell after a busy one (keeps it). */
  let collect: ReturnType<typeof vi.fn<() => void>>;
  let stop: () => void;
  /** Quiet spells that gave memory back, of either kind. */
  const gaveBack = () => shrink.mock.calls.length + collect.mock.calls.length;
  /** One check interval in which the process used `share` of a core, then the check's confirmation, with no CPU used meanwhile. */
  const interval = (share: number) => {
    cpu += cpuFor(share);
    vi.advanceTimersByTime(QUIET_CHECK_MS);
    vi.advanceTimersByTime(CONFIRM_QUIET_MS);
  };

  beforeEach(() => {
    vi.useFakeTimers();
    cpu = 0;
    shrink = vi.fn<() => void>();
    collect = vi.fn<() => void>();
    stop = shrinkWhenQuiet({ first: shrink, afterBusy: collect }, () => cpu);
  });

  afterEach(() => {
    stop();
    vi.useRealTimers();
  });

  it("shrinks at the end of the first quiet interval after start-up, and only once while the site stays quiet", () => {
    interval(0.5); // start-up
    expect(shrink).not.toHaveBeenCalled();
    interval(0.001);
    expect(shrink).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 10; i++) interval(0.001);
    expect(shrink).toHaveBeenCalledTimes(1);
  });

  it("never shrinks while the site is busy", () => {
    for (let i = 0; i < 10; i++) interval(0.9);
    expect(shrink).not.toHaveBeenCalled();
  });

  it("leaves a burst that begins right after a quiet check alone, and shrinks after it", () => {
    interval(0.5); // ends CONFIRM_QUIET_MS after its check
    vi.advanceTimersByTime(QUIET_CHECK_MS - CONFIRM_QUIET_MS); // a quiet interval ends with the next check...
    cpu += CONFIRM_QUIET_MS * 1000; // ...and a burst takes the whole core at once
    vi.advanceTimersByTime(CONFIRM_QUIET_MS);
    expect(shrink).not.toHaveBeenCalled();
    interval(0.9);
    interval(0);
    expect(shrink).toHaveBeenCalledTimes(1);
  });

  it("shrinks when the site takes a few milliseconds of CPU right after a quiet check", () => {
    interval(0.5); // start-up, then its confirmation
    vi.advanceTimersByTime(QUIET_CHECK_MS - CONFIRM_QUIET_MS); // a quiet interval ends with the next check...
    cpu += 2500; // ...and the site's timers take 2.5 ms of the next 100
    vi.advanceTimersByTime(CONFIRM_QUIET_MS);
    expect(shrink).toHaveBeenCalledTimes(1);
  });

  it(`leaves a burst alone that takes ${CONFIRM_CPU_SHARE * 100} % of a core in the ${CONFIRM_QUIET_MS} ms after a quiet check`, () => {
    interval(0.5);
    vi.advanceTimersByTime(QUIET_CHECK_MS - CONFIRM_QUIET_MS);
    cpu += CONFIRM_QUIET_MS * 1000 * CONFIRM_CPU_SHARE;
    vi.advanceTimersByTime(CONFIRM_QUIET_MS);
    expect(shrink).not.toHaveBeenCalled();
  });

  it("gives memory back again once a busy spell is over, keeping compiled code: it shrinks only once", () => {
    interval(0);
    interval(0.8);
    interval(0.8);
    expect(shrink).toHaveBeenCalledTimes(1);
    expect(collect).not.toHaveBeenCalled();
    interval(0);
    expect(collect).toHaveBeenCalledTimes(1);
    interval(0.8);
    interval(0);
    interval(0);
    expect(collect).toHaveBeenCalledTimes(2);
    expect(shrink).toHaveBeenCalledTimes(1);
  });

  it("shrinks at the first quiet spell even when the site was busy from its start", () => {
    for (let i = 0; i < 5; i++) interval(0.8);
    interval(0);
    expect(shrink).toHaveBeenCalledTimes(1);
    expect(collect).not.toHaveBeenCalled();
  });

  it(`counts an interval as quiet below ${QUIET_CPU_SHARE * 100} % of a core`, () => {
    interval(QUIET_CPU_SHARE);
    expect(shrink).not.toHaveBeenCalled();
    interval(QUIET_CPU_SHARE * 0.99);
    expect(shrink).toHaveBeenCalledTimes(1);
  });

  it("does not count the CPU that giving memory back takes against the next interval", () => {
    shrink.mockImplementation(() => {
      cpu += cpuFor(0.5);
    });
    for (let i = 0; i < 5; i++) interval(0);
    expect(gaveBack()).toBe(1);
  });

  it("stops when told to, even between a check and its confirmation", () => {
    vi.advanceTimersByTime(QUIET_CHECK_MS);
    stop();
    vi.advanceTimersByTime(CONFIRM_QUIET_MS);
    interval(0);
    expect(gaveBack()).toBe(0);
  });
});

describe("shrinkWhenQuiet's timer", () => {
  it("does not keep the process alive", () => {
    const setInterval = vi.spyOn(globalThis, "setInterval");
    const stop = shrinkWhenQuiet({ first() {}, afterBusy() {} }, () => 0);
    const timer = setInterval.mock.results[0]!.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    stop();
    setInterval.mockRestore();
  });
});
