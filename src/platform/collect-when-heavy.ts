// A Bun site with CPU to spare runs a full collection itself when ArrayBuffers
// pile up.
//
// Why: toward a slow reader, a Bun site's 64 KiB records and socket reads wait
// for credit, or in Bun's own read-ahead, long enough to outlive
// JavaScriptCore's young-generation collections. Once promoted they are freed
// only by a full collection, which JavaScriptCore starts when the heap has
// grown several times over. So the listener site of a link to a reader of
// 64 MiB/s grew by 49-57 MiB, most of it buffers nobody used any more
// (`external` swung between 4 and 59 MiB); with these collections, by 32-35 MiB.
// A full collection takes 12-19 ms. At full speed `external` passes 50 MiB every
// second, and collecting then cost two Bun hops 4 % of their throughput, so a
// busy site is left to JavaScriptCore's own schedule. A slow reader leaves the
// site mostly idle; a site of a two-hop path at full speed uses about 45 % of a
// core (docs/benchmarks.md).

import { unrefTimer } from "./common.ts";

/** A collection runs once external memory (ArrayBuffers, mostly) has grown this much over the least it was since the last one. */
export const HEAVY_EXTERNAL_BYTES = 16 * 1024 * 1024;
/** How often external memory is checked. */
export const HEAVY_CHECK_MS = 200;
/** Checks after a collection before the next may run. */
export const CHECKS_BETWEEN_COLLECTIONS = 3;
/** Only a site that used less than this share of a core since the check before collects. */
export const SPARE_CPU_SHARE = 0.25;

/**
 * Call `collect` at a check when `externalBytes()` has grown by
 * HEAVY_EXTERNAL_BYTES over the least it was since the last collection (from
 * 0 before the first), the process used less than SPARE_CPU_SHARE of a core
 * since the check before (`cpuMicros`, in microseconds), and no collection ran
 * in the last CHECKS_BETWEEN_COLLECTIONS checks. Memory that stays in use does
 * not make a site collect again and again. Returns a function that stops it;
 * the timer does not keep the process alive.
 */
export function collectWhenHeavy(collect: () => void, externalBytes: () => number, cpuMicros: () => number): () => void {
  let checksSinceCollection = CHECKS_BETWEEN_COLLECTIONS;
  /** External memory in use for all we know: the least seen since the last collection. */
  let inUse = 0;
  let cpuBefore = cpuMicros();
  const timer = setInterval(() => {
    const cpu = cpuMicros();
    const spare = cpu - cpuBefore < HEAVY_CHECK_MS * 1000 * SPARE_CPU_SHARE;
    cpuBefore = cpu;
    const external = externalBytes();
    inUse = Math.min(inUse, external);
    if (checksSinceCollection < CHECKS_BETWEEN_COLLECTIONS) checksSinceCollection++;
    if (!spare || checksSinceCollection < CHECKS_BETWEEN_COLLECTIONS || external - inUse < HEAVY_EXTERNAL_BYTES) return;
    checksSinceCollection = 0;
    collect();
    inUse = externalBytes();
  }, HEAVY_CHECK_MS);
  unrefTimer(timer);
  return () => clearInterval(timer);
}
