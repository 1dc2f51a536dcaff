// Access-token cryptography: 256-bit codes, the stored code key, constant-time
// comparison, and a proof of the code bound to the CSR and the grant.

import { describe, expect, it } from "vitest";
import { fromBase64Url, toBase64Url } from "../../../src/ca/bytes.ts";
import {
  computeRedeemProof,
  constantTimeEqual,
  deriveCodeKey,
  generateCode,
  generateGrantId,
  verifyRedeemProof,
} from "../../../src/ca/token-crypto.ts";
import { SecurityError } from "../../../src/errors.ts";

describe("access-token cryptography", () => {
  it("generateCode makes distinct 256-bit base64url codes", () => {
    const codes = new Set(Array.from({ length: 100 }, generateCode));
    expect(codes.size).toBe(100);
    for (const code of codes) {
      expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(fromBase64Url(code).byteLength).toBe(32);
    }
    expect(generateGrantId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("base64url round-trips every length and refuses non-canonical input", () => {
    for (let n = 0; n < 40; n++) {
      const b = crypto.getRandomValues(new Uint8Array(n));
      expect(fromBase64Url(toBase64Url(b))).toEqual(b);
    }
    expect(() => fromBase64Url("AB=")).toThrow(RangeError);
    expect(Array.from(fromBase64Url("AQ"))).toEqual([1]);
    expect(() => fromBase64Url("AB")).toThrow(/non-canonical/);
    expect(() => fromBase64Url("A")).toThrow(RangeError);
  });

  it("constantTimeEqual compares whole byte strings", () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(0, 2, 3), Uint8Array.of(1, 2, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
  });

  it("a proof made with the code verifies against the stored code key, for that CSR and grant only", async () => {
    const code = generateCode();
    const codeKey = await deriveCodeKey(code);
    const csrDer = crypto.getRandomValues(new Uint8Array(300));
    const binding = { grantId: "grant-1", csrDer };
    const proof = await computeRedeemProof(code, binding);
    expect(await verifyRedeemProof(codeKey, proof, binding)).toBe(true);
    const otherCsr = csrDer.slice();
    otherCsr[0]! ^= 1;
    expect(await verifyRedeemProof(codeKey, proof, { grantId: "grant-1", csrDer: otherCsr })).toBe(false);
    expect(await verifyRedeemProof(codeKey, proof, { grantId: "grant-2", csrDer })).toBe(false);
    expect(await verifyRedeemProof(codeKey, proof, { ...binding, channelBinding: new Uint8Array(32) })).toBe(false);
    expect(await verifyRedeemProof(await deriveCodeKey(generateCode()), proof, binding)).toBe(false);
    expect(await verifyRedeemProof(codeKey, "not base64url!", binding)).toBe(false);
    expect(await verifyRedeemProof(codeKey, proof.slice(0, 20), binding)).toBe(false);
  });

  it("the stored code key does not reveal the code, and a malformed code is refused", async () => {
    const code = generateCode();
    const key = await deriveCodeKey(code);
    expect(toBase64Url(key)).not.toBe(code);
    await expect(deriveCodeKey("short")).rejects.toBeInstanceOf(SecurityError);
    await expect(computeRedeemProof("$$$", { grantId: "g", csrDer: new Uint8Array(1) })).rejects.toBeInstanceOf(
      SecurityError,
    );
  });
});
