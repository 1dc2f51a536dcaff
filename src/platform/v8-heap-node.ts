// Node's V8 heap, tuned for a site that moves bulk data.
//
// V8 starts incremental marking as soon as the old generation's headroom (its
// allocation limit minus its size) is smaller than the young generation's
// capacity. Under load the young generation grows to 32 MiB (two semispaces
// of 16); a site's old generation holds 14-17 MiB, and the growing factor V8
// picks for a small heap that it collects quickly leaves less headroom than
// that. From then on each full collection is followed by the next: a Node
// site ran a mark-compact every 20-30 ms, at 4.2-4.8 CPU-s per GiB against
// 1.8-2.0 without (docs/benchmarks.md, "Node's full-collection mode").
//
// A growing factor of 4 keeps the headroom above the young generation: 42 MiB
// over a 14 MiB old generation. A factor of 3 was enough for 17 MiB, not for
// the 14 MiB of a site run from one bundle (bin/bundle.mjs), which fell
// back into the mode: 13 mark-compacts per GiB instead of 0-1. The flag only
// sets the limit V8 computes after each full collection, so it can be changed
// at run time. A site started with its own --heap-growing-percent keeps it.
//
// The README starts Node sites with --max-semi-space-size=2, which holds the
// young generation at 4 MiB (short connections otherwise grow it to 32 and
// each scavenge then stops the site for 6-7 ms). The factor still matters to
// a site started without it, and costs nothing with it.

import process from "node:process";
import v8 from "node:v8";

export const HEAP_GROWING_PERCENT = 300;

function setByUser(): boolean {
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ");
  return /--heap[-_]growing[-_]percent/.test(given);
}

/** Apply the site's heap growing factor, unless the process was started with one. Returns whether it did. */
export function tuneHeapGrowth(): boolean {
  if (setByUser()) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
