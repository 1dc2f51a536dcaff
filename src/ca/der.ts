// A small strict DER reader for the parts of a certificate that decide trust:
// the outer structure (no trailing bytes), the exact bytes that were signed,
// the signature algorithm and the ECDSA signature. Everything else is parsed
// by @peculiar/x509, but only after these checks.

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

export interface Tlv {
  tag: number;
  /** The whole element: tag, length and contents. */
  raw: Uint8Array;
  contents: Uint8Array;
}

/** Read one DER element at `offset`. Only definite, minimally encoded lengths up to 4 bytes. */
export function readTlv(bytes: Uint8Array, offset: number): Tlv {
  if (offset + 2 > bytes.byteLength) throw new DerError("truncated DER element");
  const tag = bytes[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte DER tags are not used in certificates");
  let length = bytes[offset + 1]!;
  let headerLength = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0) throw new DerError("indefinite length is not DER");
    if (count > 4) throw new DerError("DER length field too long");
    if (offset + 2 + count > bytes.byteLength) throw new DerError("truncated DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!;
    if (bytes[offset + 2] === 0 || length < 0x80) throw new DerError("DER length is not minimally encoded");
    headerLength += count;
  }
  const end = offset + headerLength + length;
  if (end > bytes.byteLength) throw new DerError("DER element runs past the end of its container");
  return {
    tag,
    raw: bytes.subarray(offset, end),
    contents: bytes.subarray(offset + headerLength, end),
  };
}

/** Every element of a constructed value's contents, which they must fill exactly. */
export function readChildren(contents: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < contents.byteLength) {
    const tlv = readTlv(contents, offset);
    out.push(tlv);
    offset += tlv.raw.byteLength;
  }
  return out;
}

const tagSequence = 0x30;
const tagInteger = 0x02;
const tagBitString = 0x03;
const tagExplicitVersion = 0xa0;

/** AlgorithmIdentifier for ecdsa-with-SHA256 (1.2.840.10045.4.3.2), parameters absent (RFC 5758). */
export const ecdsaWithSha256 = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02);

/** SubjectPublicKeyInfo prefix of an uncompressed P-256 key (id-ecPublicKey, prime256v1). */
export const p256SpkiPrefix = Uint8Array.of(
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
  0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04,
);
export const p256SpkiBytes = p256SpkiPrefix.byteLength + 64;

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function isP256Spki(spki: Uint8Array): boolean {
  return spki.byteLength === p256SpkiBytes && bytesEqual(spki.subarray(0, p256SpkiPrefix.byteLength), p256SpkiPrefix);
}

export interface CertificateParts {
  /** The exact signed bytes (the TBSCertificate element). */
  tbs: Uint8Array;
  /** The outer signatureAlgorithm element. */
  signatureAlgorithm: Uint8Array;
  /** The signature algorithm inside the TBSCertificate. */
  tbsSignatureAlgorithm: Uint8Array;
  /** The signature BIT STRING's value (unused-bits byte removed). */
  signature: Uint8Array;
}

/**
 * Split a certificate into what was signed and the signature. Rejects
 * trailing bytes, a missing v3 version, and anything not DER.
 */
export function splitCertificate(der: Uint8Array): CertificateParts {
  const outer = readTlv(der, 0);
  if (outer.tag !== tagSequence) throw new DerError("certificate is not a DER SEQUENCE");
  if (outer.raw.byteLength !== der.byteLength) {
    throw new DerError(`certificate has ${der.byteLength - outer.raw.byteLength} trailing bytes`);
  }
  const parts = readChildren(outer.contents);
  if (parts.length !== 3) throw new DerError("certificate must have exactly three parts");
  const [tbs, algorithm, signature] = parts as [Tlv, Tlv, Tlv];
  if (tbs.tag !== tagSequence || algorithm.tag !== tagSequence || signature.tag !== tagBitString) {
    throw new DerError("certificate parts have the wrong types");
  }
  if (signature.contents.byteLength < 1 || signature.contents[0] !== 0) {
    throw new DerError("certificate signature BIT STRING has unused bits");
  }
  const tbsFields = readChildren(tbs.contents);
  if (tbsFields.length < 7) throw new DerError("TBSCertificate has too few fields");
  const [version, serial, tbsAlgorithm] = tbsFields as [Tlv, Tlv, Tlv];
  if (version.tag !== tagExplicitVersion) throw new DerError("certificate is not X.509 version 3");
  const versionValue = readTlv(version.contents, 0);
  if (
    versionValue.raw.byteLength !== version.contents.byteLength ||
    versionValue.tag !== tagInteger ||
    versionValue.contents.byteLength !== 1 ||
    versionValue.contents[0] !== 2
  ) {
    throw new DerError("certificate is not X.509 version 3");
  }
  if (serial.tag !== tagInteger) throw new DerError("certificate serial number is not an INTEGER");
  return {
    tbs: tbs.raw,
    signatureAlgorithm: algorithm.raw,
    tbsSignatureAlgorithm: tbsAlgorithm.raw,
    signature: signature.contents.subarray(1),
  };
}

function readUnsigned(tlv: Tlv, size: number): Uint8Array {
  if (tlv.tag !== tagInteger) throw new DerError("ECDSA signature part is not an INTEGER");
  let value = tlv.contents;
  if (value.byteLength === 0) throw new DerError("empty INTEGER in ECDSA signature");
  if (value[0]! & 0x80) throw new DerError("negative INTEGER in ECDSA signature");
  if (value.byteLength > 1 && value[0] === 0 && !(value[1]! & 0x80)) {
    throw new DerError("INTEGER in ECDSA signature is not minimally encoded");
  }
  if (value[0] === 0) value = value.subarray(1);
  if (value.byteLength > size) throw new DerError("INTEGER in ECDSA signature is too large");
  const out = new Uint8Array(size);
  out.set(value, size - value.byteLength);
  return out;
}

/** An ASN.1 ECDSA-Sig-Value (SEQUENCE of r, s) as the 64-byte IEEE P1363 form WebCrypto verifies. */
export function ecdsaDerToP1363(signature: Uint8Array, size = 32): Uint8Array {
  const outer = readTlv(signature, 0);
  if (outer.tag !== tagSequence || outer.raw.byteLength !== signature.byteLength) {
    throw new DerError("ECDSA signature is not one DER SEQUENCE");
  }
  const parts = readChildren(outer.contents);
  if (parts.length !== 2) throw new DerError("ECDSA signature must hold exactly r and s");
  const out = new Uint8Array(size * 2);
  out.set(readUnsigned(parts[0]!, size), 0);
  out.set(readUnsigned(parts[1]!, size), size);
  return out;
}
