// Memory a site's JavaScript engine no longer needs, given back once the site
// has gone quiet: after start-up, and again after each busy spell.
//
// Why: a Bun site keeps the compiled code of everything it ran at start
// (configuration, certificates, the packages behind them) and the heap that
// start-up grew. Bun.shrink() drops what is not in use, and an idle Bun pair
// went from 76.1 / 76.5 to 68.9 / 69.3 MiB 30 s after start
// (docs/benchmarks.md). It is not free: code that runs again is compiled
// again, and shrinking every 2 s during a transfer cost a Bun link 15-30 % of
// its throughput. So it runs only in a quiet interval, once per quiet spell,
// and not when a burst has just begun.
//
// Only the first quiet spell drops compiled code. After a busy spell, the code
// that traffic ran is what the next traffic runs: a Bun pair that had shrunk
// 6-12 s before each run of 2,000 short connections made 1,014-1,324 a second
// with a p99 of 21-30 ms, and 1,230-1,678 with a p99 of 13-16 ms when it only
// ran a full collection instead. That keeps the code and gave back all but
// 2-3 MiB of what shrinking did after 1 GiB on 8 streams.
import { unrefTimer } from "./common.ts";

/** How often the site checks whether it has been quiet. */
export const QUIET_CHECK_MS = 10_000;
/**
 * An interval counts as quiet when the process used less CPU than this share
 * of one core in it. An idle Bun site uses 0.2-0.7 % (its links' pings, its
 * timers); a transfer uses a whole core.
 */
export const QUIET_CPU_SHARE = 0.02;
/** Before shrinking, the site must still be quiet this long after the check, so that a burst that has just begun is left alone. */
export const CONFIRM_QUIET_MS = 100;
/**
 * Quiet enough to confirm: less than this share of a core in those 100 ms. A
 * burst takes the whole core. With the 2 % of a whole interval as the mark, an
 * idle Bun site that dials its link often missed it there (2.0-2.4 ms of CPU
 * in those 100 ms; 0.7-1.1 ms in the checks that passed) and shrank only in
 * some runs, 30 s after start.
 */
export const CONFIRM_CPU_SHARE = 0.25;

/** What a site does when it has gone quiet. */
export interface QuietWork {
  /** At the first quiet spell after start-up: give back what start-up left, compiled code included. */
  first(): void;
  /** At each quiet spell after a busy one: give back memory, keeping the code that the next traffic runs. */
  afterBusy(): void;
}

/**
 * Call `work.first` after the first quiet interval, and `work.afterBusy`
 * after every later quiet interval that follows a busy one, measuring activity
 * as the process's CPU time (`cpuMicros`, in microseconds). Returns a function
 * that stops it; the timers do not keep the process alive.
 */
export function shrinkWhenQuiet(work: QuietWork, cpuMicros: () => number, intervalMs = QUIET_CHECK_MS): () => void {
  const quiet = (cpuUsed: number, ms: number, share = QUIET_CPU_SHARE) => cpuUsed < ms * 1000 * share;
  let cpuBefore = cpuMicros();
  let shrunk = false;
  let shrunkOnce = false;
  let confirming: ReturnType<typeof setTimeout> | undefined;
  const timer = setInterval(() => {
    const cpu = cpuMicros();
    const wasQuiet = quiet(cpu - cpuBefore, intervalMs);
    cpuBefore = cpu;
    if (!wasQuiet) {
      shrunk = false;
      return;
    }
    if (shrunk || confirming !== undefined) return;
    confirming = setTimeout(() => {
      confirming = undefined;
      const now = cpuMicros();
      if (!quiet(now - cpu, CONFIRM_QUIET_MS, CONFIRM_CPU_SHARE)) return; // a burst began: try again after it
      shrunk = true;
      if (shrunkOnce) work.afterBusy();
      else work.first();
      shrunkOnce = true;
      // Measured after the work, so its own CPU does not make the next interval look busy.
      cpuBefore += cpuMicros() - now;
    }, CONFIRM_QUIET_MS);
    unrefTimer(confirming);
  }, intervalMs);
  unrefTimer(timer);
  return () => {
    clearInterval(timer);
    if (confirming !== undefined) clearTimeout(confirming);
  };
}
