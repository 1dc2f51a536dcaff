// Buffers for sealed records, shared by the synchronous record ciphers
// (aead-node.ts, aead-openssl.ts): aligned, and pooled when large.

import { BufferPool } from "./buffer-pool.ts";

/**
 * The ciphertext starts on a 16-byte boundary of its buffer: Bun copies
 * 64 KiB in 1.3 us between mutually aligned buffers and in 19 us otherwise.
 */
const CIPHERTEXT_ALIGN = 16;

/**
 * Records from 32 KiB go into reused buffers (see buffer-pool.ts for why),
 * given back through recycleSealedRecord() once the socket has written them:
 * a record never pins more than twice its size, and smaller ones are cheap to
 * allocate and die young. A link with 8 busy streams had up to 122 pooled
 * records out at once (4 MiB on the socket, the rest being sealed and written).
 */
const POOLED_FROM = 32 * 1024;
const pool = new BufferPool({ bufferBytes: CIPHERTEXT_ALIGN + 65536 + 64, maxFree: 128, idleReleaseMs: 10_000 });

/**
 * Room for a record of `prefix` bytes (zeroed, left to the caller) and then
 * `bodyBytes`, the body 16-byte aligned. Large records come from the pool,
 * others from `allocate`.
 */
export function sealedRecordBuffer(prefix: number, bodyBytes: number, allocate: (bytes: number) => Uint8Array): Uint8Array {
  const lead = prefix <= CIPHERTEXT_ALIGN ? CIPHERTEXT_ALIGN - prefix : 0;
  const length = prefix + bodyBytes;
  const total = lead + length;
  const raw = total >= POOLED_FROM && total <= pool.bufferBytes ? new Uint8Array(pool.take(), 0, total) : allocate(total);
  const out = new Uint8Array(raw.buffer, raw.byteOffset + lead, length);
  out.fill(0, 0, prefix);
  return out;
}

/** A record from sealedRecordBuffer() that nothing reads any more; others are ignored. */
export function recycleSealedRecord(record: Uint8Array): void {
  pool.give(record.buffer as ArrayBuffer);
}
