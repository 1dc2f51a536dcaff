// SHA-256 and HMAC-SHA-256 for the SL1 key schedule, synchronously through
// node:crypto, which Node, Deno and Bun all provide.
//
// WebCrypto answers every call with a promise from a worker thread, and an
// HMAC key has to be imported before each use: a link handshake makes 22
// HMACs and 8 hashes on each side, and on a busy Node site each of them
// waited for the thread pool (docs/benchmarks.md). These take microseconds and
// stay on the calling thread. The bytes are the same: the key schedule's
// RFC 8448 vectors and Wycheproof's HMAC and HKDF vectors check them on every
// runtime the tests run.

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { plainBytes } from "./common.ts";

export function sha256Now(data: Uint8Array): Uint8Array {
  return plainBytes(createHash("sha256").update(data).digest());
}

/** HMAC-SHA-256. Any key length is valid, the empty key included (RFC 2104 pads it with zeros). */
export function hmacSha256Now(key: Uint8Array, data: Uint8Array): Uint8Array {
  return plainBytes(createHmac("sha256", key).update(data).digest());
}

/** Whether two MACs are equal, in time that depends only on their length. */
export function macsEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}
