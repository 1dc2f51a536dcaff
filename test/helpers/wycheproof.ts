// Wycheproof's AES-GCM vectors (test/fixtures/wycheproof/aes_gcm_test.json) for the
// record ciphers: used by the unit tests on Node and by the platform contract on every runtime.

import type { RecordAead } from "../../src/platform/types.ts";

export interface WycheproofVector {
  tcId: number;
  comment: string;
  result: "valid" | "invalid" | "acceptable";
  key: string;
  iv: string;
  aad: string;
  msg: string;
  ct: string;
  tag: string;
}

interface Group {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: WycheproofVector[];
}

export const unhex = (text: string): Uint8Array => new Uint8Array((text.match(/../g) ?? []).map((byte) => parseInt(byte, 16)));
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** The vectors SL1 records use: 256-bit keys, 96-bit nonces, 128-bit tags. */
export function aesGcmVectors(json: string): WycheproofVector[] {
  const groups = (JSON.parse(json) as { testGroups: Group[] }).testGroups;
  return groups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128).flatMap((g) => g.tests);
}

/** The vectors `aead` gets wrong, opening and sealing (with a 3-byte prefix), as "tcId comment (open|seal)". */
export async function wycheproofMismatches(aead: RecordAead, vectors: WycheproofVector[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const t of vectors) {
    const key = await aead.importKey(unhex(t.key));
    const sealed = new Uint8Array([...unhex(t.ct), ...unhex(t.tag)]);
    let opened: Uint8Array | undefined;
    try {
      // A copy: open() may decrypt in place, and `sealed` is compared with seal()'s output below.
      opened = await key.open(unhex(t.iv), unhex(t.aad), sealed.slice());
    } catch {
      opened = undefined;
    }
    const valid = t.result !== "invalid";
    if (valid !== (opened !== undefined && sameBytes(opened, unhex(t.msg)))) wrong.push(`${t.tcId} ${t.comment} (open)`);
    if (valid) {
      const again = await key.seal(unhex(t.iv), unhex(t.aad), unhex(t.msg), 3);
      if (!sameBytes(again.subarray(3), sealed) || !sameBytes(again.subarray(0, 3), new Uint8Array(3))) wrong.push(`${t.tcId} ${t.comment} (seal)`);
    }
  }
  return wrong;
}
