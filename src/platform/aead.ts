// Picks the record cipher for this runtime: node:crypto (synchronous) on Node
// and Bun; on Deno node:crypto for small records and WebCrypto for large ones
// (aead-split.ts). SKIFF_AEAD=webcrypto|node:crypto|split overrides the
// choice, so they can be compared on one runtime (scripts/bench).

import { detectRuntime } from "./detect.ts";
import type { RecordAead, RuntimeName } from "./types.ts";
import { webCryptoAead } from "./aead-web.ts";

function override(runtime: RuntimeName): string | undefined {
  try {
    if (runtime === "deno") return (globalThis as unknown as { Deno: { env: { get(n: string): string | undefined } } }).Deno.env.get("SKIFF_AEAD");
    return (globalThis as unknown as { process?: { env: Record<string, string | undefined> } }).process?.env.SKIFF_AEAD;
  } catch {
    return undefined; // Deno without --allow-env
  }
}

async function choose(): Promise<RecordAead> {
  const runtime = detectRuntime();
  const wanted = override(runtime) ?? (runtime === "deno" ? "split" : "node:crypto");
  if (wanted === "webcrypto") return webCryptoAead;
  if (wanted === "node:crypto") return (await import("./aead-node.ts")).nodeCryptoAead;
  if (wanted === "split") return (await import("./aead-split.ts")).splitAead;
  throw new Error(`SKIFF_AEAD=${wanted} is not a record cipher; use webcrypto, node:crypto or split`);
}

let chosen: Promise<RecordAead> | undefined;

/** The record cipher for this runtime, chosen once. */
export function defaultRecordAead(): Promise<RecordAead> {
  return (chosen ??= choose());
}
