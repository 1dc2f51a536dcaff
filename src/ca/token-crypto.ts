// Cryptography for access tokens: 256-bit one-time codes, the code key the
// granting site stores instead of the code, constant-time comparison, and the
// proof of the code that a redeeming site sends, bound to its CSR and grant.

import { concatBytes } from "../core/bytes.ts";
import { SecurityError } from "../errors.ts";
import { bufferSource, fromBase64Url, toBase64Url } from "./bytes.ts";

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

export const codeBytes = 32;

/** A fresh 256-bit code, base64url without padding (43 characters). */
export function generateCode(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(codeBytes)));
}

/** A fresh 128-bit grant id, base64url (22 characters). Not secret, but not guessable either. */
export function generateGrantId(): string {
  return toBase64Url(globalThis.crypto.getRandomValues(new Uint8Array(16)));
}

function decodeCode(code: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(code);
  } catch (err) {
    throw new SecurityError("the access code is not base64url", { cause: err });
  }
  if (bytes.byteLength !== codeBytes) throw new SecurityError(`the access code must be ${codeBytes} bytes`);
  return bytes;
}

/** Compare two byte strings without an early exit. Lengths are not secret. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

async function hmac(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle.importKey("raw", bufferSource(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", k, bufferSource(data)));
}

function lengthPrefixed(bytes: Uint8Array): Uint8Array {
  return concatBytes(Uint8Array.of(bytes.byteLength >>> 8, bytes.byteLength & 0xff), bytes);
}

/**
 * The key the granting site stores in place of the code:
 * HKDF-Extract(salt = "skiff grant code v1", code). The code itself is never stored.
 */
export async function deriveCodeKey(code: string): Promise<Uint8Array> {
  return hmac(encoder.encode("skiff grant code v1"), decodeCode(code));
}

export interface RedeemBinding {
  /** The grant being redeemed. */
  grantId: string;
  /** DER of the CSR sent with the proof. */
  csrDer: Uint8Array;
  /** Optional channel binding (for example an SL1 exporter secret) when redemption runs inside a link. */
  channelBinding?: Uint8Array;
}

async function proofInput(binding: RedeemBinding): Promise<Uint8Array> {
  const csrHash = new Uint8Array(await subtle.digest("SHA-256", bufferSource(binding.csrDer)));
  return concatBytes(
    encoder.encode("skiff redeem proof v1\0"),
    lengthPrefixed(encoder.encode(binding.grantId)),
    lengthPrefixed(csrHash),
    lengthPrefixed(binding.channelBinding ?? new Uint8Array(0)),
  );
}

async function proofKey(codeKey: Uint8Array): Promise<CryptoKey> {
  // HKDF-Expand(codeKey, "skiff redeem", 32): one HMAC block.
  const raw = await hmac(codeKey, concatBytes(encoder.encode("skiff redeem"), Uint8Array.of(1)));
  return subtle.importKey("raw", bufferSource(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
}

/**
 * Proof of the code, computed by the redeeming site:
 * HMAC(HKDF-Expand(codeKey, "skiff redeem"), "skiff redeem proof v1" || grant id || SHA-256(CSR) || binding).
 * The code never crosses the wire, and a proof is useless with any other CSR or grant.
 * Returned as base64url.
 */
export async function computeRedeemProof(code: string, binding: RedeemBinding): Promise<string> {
  const key = await proofKey(await deriveCodeKey(code));
  return toBase64Url(new Uint8Array(await subtle.sign("HMAC", key, bufferSource(await proofInput(binding)))));
}

/** Check a proof against the stored code key, in constant time (WebCrypto's HMAC verify). */
export async function verifyRedeemProof(codeKey: Uint8Array, proof: string, binding: RedeemBinding): Promise<boolean> {
  let mac: Uint8Array;
  try {
    mac = fromBase64Url(proof);
  } catch {
    return false;
  }
  if (mac.byteLength !== 32) return false;
  const key = await proofKey(codeKey);
  return subtle.verify("HMAC", key, bufferSource(mac), bufferSource(await proofInput(binding)));
}
