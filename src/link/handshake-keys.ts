// The SL1 key schedule: RFC 8446 section 7.1 (no PSK), with Skiff's own label
// prefix so SL1 keys can never equal TLS keys. HKDF is built on HMAC (RFC 5869),
// computed synchronously (src/platform/hmac.ts); traffic keys are WebCrypto keys.

import { concatBytes } from "../core/bytes.ts";
import { hmacSha256Now, macsEqual, sha256Now } from "../platform/hmac.ts";

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

/** Label prefix of every HKDF-Expand-Label in SL1. RFC 8446 uses "tls13 ". */
export const skiffLabelPrefix = "skiff1 ";

export const hashBytes = 32;
export const trafficKeyBytes = 32;
export const trafficIvBytes = 12;

const empty = new Uint8Array(0);

/** WebCrypto wants ArrayBuffer-backed views; ours always are. */
export function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return sha256Now(data);
}

export async function hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  return hmacSha256Now(key, data);
}

/** HKDF-Extract (RFC 5869 section 2.2). */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Promise<Uint8Array> {
  return hmacSha256(salt, ikm);
}

/** HKDF-Expand (RFC 5869 section 2.3). `length` is at most 255 hash lengths. */
export async function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array> {
  if (!Number.isInteger(length) || length < 0 || length > 255 * hashBytes) {
    throw new RangeError(`HKDF-Expand length ${length} is outside 0..${255 * hashBytes}`);
  }
  const out = new Uint8Array(length);
  let block: Uint8Array = empty;
  for (let i = 1, offset = 0; offset < length; i++) {
    const input = concatBytes(block, info, Uint8Array.of(i));
    block = hmacSha256Now(prk, input);
    out.set(block.subarray(0, Math.min(hashBytes, length - offset)), offset);
    offset += hashBytes;
  }
  return out;
}

/** HKDF-Expand-Label (RFC 8446 section 7.1) with a configurable label prefix. */
export function hkdfExpandLabel(
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
  prefix: string = skiffLabelPrefix,
): Promise<Uint8Array> {
  const fullLabel = encoder.encode(prefix + label);
  if (fullLabel.byteLength > 255 || context.byteLength > 255 || length > 0xffff) {
    throw new RangeError("HKDF label, context or length too long");
  }
  const info = concatBytes(
    Uint8Array.of(length >>> 8, length & 0xff, fullLabel.byteLength),
    fullLabel,
    Uint8Array.of(context.byteLength),
    context,
  );
  return hkdfExpand(secret, info, length);
}

/** Derive-Secret with the transcript hash already computed. */
export function deriveSecret(
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array,
  prefix: string = skiffLabelPrefix,
): Promise<Uint8Array> {
  return hkdfExpandLabel(secret, label, transcriptHash, hashBytes, prefix);
}

export interface HandshakeSecrets {
  clientHandshake: Uint8Array;
  serverHandshake: Uint8Array;
  /** Input to the application secrets; wiped by the caller once those exist. */
  master: Uint8Array;
}

/**
 * From the X25519 shared secret and the hash of ClientHello || ServerHello to
 * the handshake traffic secrets and the master secret.
 */
export async function deriveHandshakeSecrets(
  sharedSecret: Uint8Array,
  helloHash: Uint8Array,
  prefix: string = skiffLabelPrefix,
): Promise<HandshakeSecrets> {
  const zeros = new Uint8Array(hashBytes);
  const emptyHash = await sha256(empty);
  const early = await hkdfExtract(zeros, zeros);
  const handshake = await hkdfExtract(await deriveSecret(early, "derived", emptyHash, prefix), sharedSecret);
  const [clientHandshake, serverHandshake, derived] = await Promise.all([
    deriveSecret(handshake, "c hs traffic", helloHash, prefix),
    deriveSecret(handshake, "s hs traffic", helloHash, prefix),
    deriveSecret(handshake, "derived", emptyHash, prefix),
  ]);
  const master = await hkdfExtract(derived, zeros);
  handshake.fill(0);
  early.fill(0);
  return { clientHandshake, serverHandshake, master };
}

export interface ApplicationSecrets {
  clientApplication: Uint8Array;
  serverApplication: Uint8Array;
  /** Exporter secret: channel binding for protocols run over the link. */
  exporter: Uint8Array;
}

/** Application traffic secrets from the master secret and the hash through the acceptor's Finished. */
export async function deriveApplicationSecrets(
  master: Uint8Array,
  transcriptHash: Uint8Array,
  prefix: string = skiffLabelPrefix,
): Promise<ApplicationSecrets> {
  const [clientApplication, serverApplication, exporter] = await Promise.all([
    deriveSecret(master, "c ap traffic", transcriptHash, prefix),
    deriveSecret(master, "s ap traffic", transcriptHash, prefix),
    deriveSecret(master, "exp master", transcriptHash, prefix),
  ]);
  return { clientApplication, serverApplication, exporter };
}

export interface TrafficKey {
  key: CryptoKey;
  iv: Uint8Array;
}

/** AES-256-GCM key (non-extractable) and 96-bit static IV for one traffic secret. */
export async function deriveTrafficKey(secret: Uint8Array, prefix: string = skiffLabelPrefix): Promise<TrafficKey> {
  const [rawKey, iv] = await Promise.all([
    hkdfExpandLabel(secret, "key", empty, trafficKeyBytes, prefix),
    hkdfExpandLabel(secret, "iv", empty, trafficIvBytes, prefix),
  ]);
  const key = await subtle.importKey("raw", bufferSource(rawKey), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  rawKey.fill(0);
  return { key, iv };
}

/** The next traffic secret after a key update (RFC 8446 section 7.2). */
export function nextTrafficSecret(secret: Uint8Array, prefix: string = skiffLabelPrefix): Promise<Uint8Array> {
  return hkdfExpandLabel(secret, "traffic upd", empty, hashBytes, prefix);
}

/** The HMAC key for a Finished message (RFC 8446 section 4.4.4). The caller wipes it. */
function deriveFinishedKey(secret: Uint8Array, prefix: string): Promise<Uint8Array> {
  return hkdfExpandLabel(secret, "finished", empty, hashBytes, prefix);
}

/** Finished MAC: HMAC(finished_key(secret), transcript hash). */
export async function computeFinished(
  secret: Uint8Array,
  transcriptHash: Uint8Array,
  prefix: string = skiffLabelPrefix,
): Promise<Uint8Array> {
  const key = await deriveFinishedKey(secret, prefix);
  const mac = hmacSha256Now(key, transcriptHash);
  key.fill(0);
  return mac;
}

/** Check a Finished MAC in constant time. */
export async function verifyFinished(
  secret: Uint8Array,
  mac: Uint8Array,
  transcriptHash: Uint8Array,
  prefix: string = skiffLabelPrefix,
): Promise<boolean> {
  const expected = await computeFinished(secret, transcriptHash, prefix);
  return macsEqual(expected, mac);
}
