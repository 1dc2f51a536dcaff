// Finds out which runtime is running us, once, and loads its platform.

import type { Platform, RuntimeName } from "./types.ts";

export function detectRuntime(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/** The Platform for the current runtime. Only that runtime's adapter is loaded. */
export async function loadPlatform(): Promise<Platform> {
  switch (detectRuntime()) {
    case "deno":
      return (await import("./deno.ts")).createDenoPlatform();
    case "bun":
      return (await import("./bun.ts")).createBunPlatform();
    case "node":
      return (await import("./node.ts")).createNodePlatform();
  }
}
