// AES-256-GCM for link records on Deno: node:crypto for small records,
// WebCrypto for large ones. Both compute the same AES-256-GCM, so which one
// seals or opens a record changes no byte on the wire.
//
// Deno runs each WebCrypto call on a worker thread and answers with a promise:
// 32-59 us per record of up to 4 KiB, where its node:crypto takes 5-27 us
// synchronously; from about 12 KiB WebCrypto is the faster (64 KiB: 155 us
// against 363). Control frames, credits and short requests are small records.

import { nodeCryptoAead } from "./aead-node.ts";
import { webCryptoAead } from "./aead-web.ts";
import type { AeadKey, RecordAead } from "./types.ts";

/** Largest plaintext sealed and opened with node:crypto. */
export const SPLIT_AT = 8192;
const TAG_BYTES = 16;

class SplitKey implements AeadKey {
  readonly synchronousUpTo = SPLIT_AT;
  readonly #small: AeadKey;
  readonly #large: AeadKey;

  constructor(small: AeadKey, large: AeadKey) {
    this.#small = small;
    this.#large = large;
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, prefix: number): Uint8Array | Promise<Uint8Array> {
    return (plaintext.byteLength <= SPLIT_AT ? this.#small : this.#large).seal(nonce, aad, plaintext, prefix);
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | Promise<Uint8Array> {
    return (sealed.byteLength - TAG_BYTES <= SPLIT_AT ? this.#small : this.#large).open(nonce, aad, sealed);
  }
}

export const splitAead: RecordAead = {
  name: "split",
  async importKey(raw) {
    const [small, large] = await Promise.all([nodeCryptoAead.importKey(raw), webCryptoAead.importKey(raw)]);
    return new SplitKey(small, large);
  },
};
