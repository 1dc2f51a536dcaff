// Node's V8 heap, tuned for a site that moves bulk data.
//
// V8 starts incremental marking as soon as the old generation's headroom (its
// allocation limit minus its size) is smaller than the young generation's
// capacity. Under load the young generation grows to 16 MiB; a site's old
// generation holds about 16 MiB, and the growing factor V8 picks for a small
// heap that it collects quickly leaves less headroom than that. From then on
// each full collection is followed by the next: a Node site ran a
// mark-compact every 20-30 ms, at 4.2-4.8 CPU-s per GiB against 1.8-2.0
// without (docs/benchmarks.md, "Node's full-collection mode").
//
// A growing factor of 3 keeps the headroom above the young generation. The
// flag only sets the limit V8 computes after each full collection, so it can
// be changed at run time. A site started with its own --heap-growing-percent
// keeps it.

import process from "node:process";
import v8 from "node:v8";

export const HEAP_GROWING_PERCENT = 200;

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
