// Site keys (ECDSA P-256) and their storage forms: PKCS#8 and PEM in, CryptoKeys
// out. Once loaded a private key is non-extractable; only the PKCS#8 bytes
// made at generation time can be stored.

import { SecurityError } from "../errors.ts";
import { bufferSource } from "./bytes.ts";
import { isP256Spki } from "./der.ts";
import { x509 } from "./x509.ts";

const subtle = globalThis.crypto.subtle;

export const ecdsaP256: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
export const ecdsaSha256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

export interface SiteKey {
  /** Private key non-extractable, public key extractable. */
  keyPair: CryptoKeyPair;
  /** The private key as PKCS#8 DER, for the site's state directory. Store it, then drop it. */
  pkcs8: Uint8Array;
}

/** A new P-256 key pair. The returned private CryptoKey cannot be exported. */
export async function generateSiteKey(): Promise<SiteKey> {
  const generated = (await subtle.generateKey(ecdsaP256, true, ["sign", "verify"])) as CryptoKeyPair;
  const pkcs8 = new Uint8Array(await subtle.exportKey("pkcs8", generated.privateKey));
  const privateKey = await subtle.importKey("pkcs8", bufferSource(pkcs8), ecdsaP256, false, ["sign"]);
  return { keyPair: { privateKey, publicKey: generated.publicKey }, pkcs8 };
}

/** Load a stored PKCS#8 P-256 private key (DER or PEM) as a non-extractable signing key. */
export async function importPrivateKey(pkcs8: Uint8Array | string): Promise<CryptoKey> {
  const der = typeof pkcs8 === "string" ? pemToDer(pkcs8, "PRIVATE KEY") : pkcs8;
  try {
    return await subtle.importKey("pkcs8", bufferSource(der), ecdsaP256, false, ["sign"]);
  } catch (err) {
    throw new SecurityError("the private key is not a PKCS#8 ECDSA P-256 key", { cause: err });
  }
}

/** Import a P-256 SubjectPublicKeyInfo for verifying signatures. */
export async function importPublicKey(spki: Uint8Array, usages: KeyUsage[] = ["verify"]): Promise<CryptoKey> {
  if (!isP256Spki(spki)) throw new SecurityError("the public key is not an uncompressed ECDSA P-256 key");
  try {
    return await subtle.importKey("spki", bufferSource(spki), ecdsaP256, true, usages);
  } catch (err) {
    throw new SecurityError("the public key is not a valid P-256 point", { cause: err });
  }
}

export async function exportPublicKeySpki(publicKey: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await subtle.exportKey("spki", publicKey));
}

/** Rebuild the key pair for a stored private key and its certificate's public key. */
export async function loadSiteKey(pkcs8: Uint8Array | string, certificate: Uint8Array | string): Promise<CryptoKeyPair> {
  const privateKey = await importPrivateKey(pkcs8);
  const certDer = typeof certificate === "string" ? pemToDer(certificate, "CERTIFICATE") : certificate;
  const spki = new Uint8Array(new x509.X509Certificate(bufferSource(certDer)).publicKey.rawData);
  const publicKey = await importPublicKey(spki);
  await assertKeyMatchesPublicKey(privateKey, publicKey);
  return { privateKey, publicKey };
}

/**
 * Sign and verify a probe to prove the private key belongs to the public key
 * (a non-extractable key cannot be compared any other way).
 */
export async function assertKeyMatchesPublicKey(privateKey: CryptoKey, publicKey: CryptoKey): Promise<void> {
  const probe = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const signature = await subtle.sign(ecdsaSha256, privateKey, probe);
  if (!(await subtle.verify(ecdsaSha256, publicKey, signature, probe))) {
    throw new SecurityError("the private key does not belong to the certificate: they are from different key pairs");
  }
}

// ---- PEM ----------------------------------------------------------------------

export function derToPem(der: Uint8Array, label: string): string {
  return x509.PemConverter.encode(bufferSource(der), label);
}

/** Decode exactly one PEM block with the given label. */
export function pemToDer(pem: string, label: string): Uint8Array {
  let blocks: ReturnType<typeof x509.PemConverter.decodeWithHeaders>;
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch (err) {
    throw new SecurityError(`not a PEM ${label}`, { cause: err });
  }
  if (blocks.length !== 1) throw new SecurityError(`expected one PEM ${label}, found ${blocks.length} PEM blocks`);
  const block = blocks[0]!;
  if (block.type !== label) throw new SecurityError(`expected a PEM ${label}, found a ${block.type}`);
  return new Uint8Array(block.rawData);
}

export function privateKeyToPem(pkcs8: Uint8Array): string {
  return derToPem(pkcs8, "PRIVATE KEY");
}

export function certificateToPem(der: Uint8Array): string {
  return derToPem(der, "CERTIFICATE");
}

export function pemToCertificate(pem: string): Uint8Array {
  return pemToDer(pem, "CERTIFICATE");
}
