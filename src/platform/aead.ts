// Picks the record cipher for this runtime: node:crypto (synchronous) on Node
// and Bun; on Deno the system's OpenSSL through FFI (aead-openssl-deno.ts),
// or, where that cannot load, node:crypto for small records and WebCrypto for
// large ones (aead-split.ts). SKIFF_AEAD=webcrypto|node:crypto|split|openssl
// overrides the choice, so they can be compared on one runtime (scripts/bench).

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
  const wanted = override(runtime);
  if (wanted === undefined && runtime === "deno") {
    const openSsl = (await import("./aead-openssl-deno.ts")).loadOpenSslAead();
    return openSsl instanceof Error ? (await import("./aead-split.ts")).splitAead : openSsl;
  }
  if (wanted === undefined || wanted === "node:crypto") return (await import("./aead-node.ts")).nodeCryptoAead;
  if (wanted === "webcrypto") return webCryptoAead;
  if (wanted === "split") return (await import("./aead-split.ts")).splitAead;
  if (wanted === "openssl" && runtime === "deno") {
    const openSsl = (await import("./aead-openssl-deno.ts")).loadOpenSslAead();
    if (openSsl instanceof Error) throw new Error(`SKIFF_AEAD=openssl: ${openSsl.message}`);
    return openSsl;
  }
  throw new Error(`SKIFF_AEAD=${wanted} is not a record cipher here; use webcrypto, node:crypto or split (or openssl on Deno)`);
}

let chosen: Promise<RecordAead> | undefined;

/** The record cipher for this runtime, chosen once. */
export function defaultRecordAead(): Promise<RecordAead> {
  return (chosen ??= choose());
}
