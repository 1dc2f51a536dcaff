// Wycheproof vectors run against this runtime's WebCrypto with exactly the
// algorithms and parameters SL1 uses, and against Skiff's HKDF and HMAC code.
// Every "valid" vector must pass and every "invalid" one must be refused.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { hkdfExpand, hkdfExtract, hmacSha256 } from "../../../src/link/handshake-keys.ts";
import { recordNonce } from "../../../src/link/records.ts";
import { unhex } from "./helpers.ts";

interface Vector {
  tcId: number;
  comment: string;
  result: "valid" | "invalid" | "acceptable";
  [field: string]: unknown;
}
interface Group {
  tests: Vector[];
  [field: string]: unknown;
}

function load(name: string): Group[] {
  const url = new URL(`../../fixtures/wycheproof/${name}.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { testGroups: Group[] }).testGroups;
}

const h = (value: unknown): Uint8Array<ArrayBuffer> => unhex(String(value ?? "")) as Uint8Array<ArrayBuffer>;
const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Run every vector; return the ids whose outcome disagrees with the expected result. */
async function run(groups: Group[], check: (group: Group, t: Vector) => Promise<boolean>, acceptable = true) {
  const wrong: string[] = [];
  let count = 0;
  for (const group of groups) {
    for (const t of group.tests) {
      let ok: boolean;
      try {
        ok = await check(group, t);
      } catch {
        ok = false;
      }
      if (t.result === "acceptable") {
        if (!acceptable) continue;
      } else if (ok !== (t.result === "valid")) {
        wrong.push(`${t.tcId} ${t.comment}`);
      }
      count++;
    }
  }
  return { wrong, count };
}

describe("Wycheproof on this runtime", () => {
  it("AES-256-GCM with 96-bit IVs and 128-bit tags, through the record nonce construction", async () => {
    const groups = load("aes_gcm_test").filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128);
    const { wrong, count } = await run(groups, async (_g, t) => {
      const key = await crypto.subtle.importKey("raw", h(t.key), "AES-GCM", false, ["encrypt", "decrypt"]);
      // The record layer's nonce with sequence number 0 is the IV itself.
      const iv = recordNonce(h(t.iv), 0);
      const sealed = new Uint8Array([...h(t.ct), ...h(t.tag)]);
      const opened = new Uint8Array(
        await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: h(t.aad), tagLength: 128 }, key, sealed),
      );
      if (!same(opened, h(t.msg))) return false;
      if (t.result === "valid") {
        const again = new Uint8Array(
          await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: h(t.aad), tagLength: 128 }, key, h(t.msg)),
        );
        return same(again, sealed);
      }
      return true;
    });
    expect(count).toBeGreaterThan(30);
    expect(wrong).toEqual([]);
  });

  it("ECDSA P-256 SHA-256 signatures in P1363 form, as CertificateVerify carries them", async () => {
    const groups = load("ecdsa_secp256r1_sha256_p1363_test");
    const { wrong, count } = await run(groups, async (g, t) => {
      const key = await crypto.subtle.importKey(
        "spki",
        h(g.publicKeyDer),
        { name: "ECDSA", namedCurve: "P-256" },
        false,
        ["verify"],
      );
      return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, h(t.sig), h(t.msg));
    });
    expect(count).toBe(262);
    expect(wrong).toEqual([]);
  });

  it("X25519 key agreement; low-order points never yield a usable secret", async () => {
    const pkcs8 = (d: Uint8Array) =>
      new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20, ...d]);
    let lowOrder = 0;
    const { wrong, count } = await run(
      load("x25519_test"),
      async (_g, t) => {
        const priv = await crypto.subtle.importKey("pkcs8", pkcs8(h(t.private)), { name: "X25519" }, false, ["deriveBits"]);
        const pub = await crypto.subtle.importKey("raw", h(t.public), { name: "X25519" }, false, []);
        const zeroExpected = /^0+$/.test(String(t.shared));
        let shared: Uint8Array;
        try {
          shared = new Uint8Array(await crypto.subtle.deriveBits({ name: "X25519", public: pub }, priv, 256));
        } catch (err) {
          if (zeroExpected) lowOrder++;
          throw err;
        }
        // SL1 also refuses an all-zero secret itself.
        if (shared.every((b) => b === 0)) {
          if (zeroExpected) lowOrder++;
          return false;
        }
        return same(shared, h(t.shared));
      },
      false,
    );
    expect(count).toBe(264);
    expect(wrong).toEqual([]);
    expect(lowOrder).toBeGreaterThan(0);
  });

  it("HKDF-SHA256 through Skiff's HMAC-based extract and expand", async () => {
    const { wrong, count } = await run(load("hkdf_sha256_test"), async (_g, t) => {
      const size = Number(t.size);
      const salt = h(t.salt);
      const prk = await hkdfExtract(salt.byteLength ? salt : new Uint8Array(32), h(t.ikm));
      try {
        return same(await hkdfExpand(prk, h(t.info), size), h(t.okm));
      } catch (err) {
        // Lengths over 255 hash blocks must be refused (RFC 5869), never looped on.
        if (err instanceof RangeError && size > 255 * 32) return false;
        throw err;
      }
    });
    expect(count).toBe(86);
    expect(wrong).toEqual([]);
  });

  it("HMAC-SHA256 through Skiff's hmacSha256 (truncated tags compared as prefixes)", async () => {
    const { wrong, count } = await run(load("hmac_sha256_test"), async (g, t) => {
      const tag = await hmacSha256(h(t.key), h(t.msg));
      const expected = h(t.tag);
      return expected.byteLength === Number(g.tagSize) / 8 && same(tag.subarray(0, expected.byteLength), expected);
    });
    expect(count).toBe(174);
    expect(wrong).toEqual([]);
  });
});
