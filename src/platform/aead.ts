// Picks the record cipher for this runtime: node:crypto (synchronous) on Node;
// on Deno and Bun the system's OpenSSL through FFI (aead-openssl.ts), or,
// where that cannot load, on Bun node:crypto, and on Deno node:crypto for
// small records and WebCrypto for large ones (aead-split.ts).
// SKIFF_AEAD=webcrypto|node:crypto|split|openssl overrides the choice, so they
// can be compared on one runtime (scripts/bench).

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

export interface RecordCipherChoice {
  aead: RecordAead;
  /** Set when a slower cipher stands in for the runtime's best one: why, and what to do. */
  fallback?: string;
}

async function choose(): Promise<RecordCipherChoice> {
  const runtime = detectRuntime();
  const asked = override(runtime);
  const wanted = asked ?? (runtime === "node" ? "node:crypto" : "openssl");
  if (wanted === "node:crypto") return { aead: (await import("./aead-node.ts")).nodeCryptoAead };
  if (wanted === "webcrypto") return { aead: webCryptoAead };
  if (wanted === "split") return { aead: (await import("./aead-split.ts")).splitAead };
  if (wanted === "openssl" && runtime === "bun") {
    const openSsl = await (await import("./aead-openssl-bun.ts")).loadOpenSslAead();
    if (!(openSsl instanceof Error)) return { aead: openSsl };
    if (asked !== undefined) throw new Error(`SKIFF_AEAD=openssl: ${openSsl.message}`);
    // As fast per record; it only allocates more (aead-openssl.ts), so no warning.
    return { aead: (await import("./aead-node.ts")).nodeCryptoAead };
  }
  if (wanted === "openssl" && runtime === "deno") {
    const openSsl = (await import("./aead-openssl-deno.ts")).loadOpenSslAead();
    if (!(openSsl instanceof Error)) return { aead: openSsl };
    if (asked !== undefined) throw new Error(`SKIFF_AEAD=openssl: ${openSsl.message}`);
    return {
      aead: (await import("./aead-split.ts")).splitAead,
      fallback:
        `records use Deno's own ciphers, about half as fast, because OpenSSL could not be loaded (${openSsl.message}); ` +
        "run with -A or --allow-ffi on a host with libcrypto 3 (Debian and Ubuntu: libssl3)",
    };
  }
  throw new Error(`SKIFF_AEAD=${wanted} is not a record cipher here; use webcrypto, node:crypto or split (or openssl on Deno and Bun)`);
}

let chosen: Promise<RecordCipherChoice> | undefined;

/** The record cipher for this runtime, chosen once, with the reason when it is a fallback. */
export function recordCipherChoice(): Promise<RecordCipherChoice> {
  return (chosen ??= choose());
}

/** The record cipher for this runtime, chosen once. */
export function defaultRecordAead(): Promise<RecordAead> {
  return recordCipherChoice().then((choice) => choice.aead);
}
