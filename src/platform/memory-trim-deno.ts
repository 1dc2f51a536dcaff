// Memory that a Deno site freed, given back to the system every 10 s.
//
// Why: each record passes through buffers of 64 KiB that the C library's
// malloc hands out and takes back. After a burst glibc keeps the freed ones
// for reuse, and nothing gives them back while the site is quiet: a Deno site
// held 201 MiB right after 1 GiB on 8 streams and still 152 MiB 40 s later,
// against 84 MiB before the burst. With malloc_trim(0) every 10 s it was back
// at 84 MiB 40 s later (docs/benchmarks.md, "Memory after a burst"). One call
// took 0.06-0.4 ms with nothing to give back and 5.5 ms giving back 85 MiB.
//
// malloc_trim is glibc's, reached through Deno's FFI (libc-deno.ts): Linux
// with glibc and FFI permission. Elsewhere the site runs without it.

import { unrefTimer } from "./common.ts";
import { libc } from "./libc-deno.ts";

/** How often freed memory is given back. */
export const TRIM_INTERVAL_MS = 10_000;

/** glibc's malloc_trim(0) as a function, or undefined where it cannot be loaded (libc-deno.ts). */
export function loadMallocTrim(): (() => void) | undefined {
  const c = libc();
  return c === undefined ? undefined : () => void c.malloc_trim(0);
}

/**
 * Call `trim` every `intervalMs` from now on, on a timer that does not keep
 * the process alive. Returns a function that stops it.
 */
export function trimPeriodically(trim: () => void, intervalMs = TRIM_INTERVAL_MS): () => void {
  const timer = setInterval(trim, intervalMs);
  unrefTimer(timer);
  return () => clearInterval(timer);
}
