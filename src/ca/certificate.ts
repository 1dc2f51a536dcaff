// X.509 certificates and PKCS#10 requests in the one profile Skiff uses
// (ECDSA P-256 with SHA-256): reading them strictly, making and signing them,
// and their PEM form. Hand-written on der.ts and asn1.ts with WebCrypto, so a
// site loads no general X.509 library to start, link or issue.

import {
  bitString,
  booleanTrue,
  decodeObjectIdentifier,
  decodeTime,
  objectIdentifier,
  octetString,
  sequence,
  set,
  smallInteger,
  tag,
  time,
  tlv,
  unsignedInteger,
} from "./asn1.ts";
import { bufferSource, fromHex, toHex } from "./bytes.ts";
import { DerError, ecdsaDerToP1363, ecdsaWithSha256, readChildren, readTlv, type Tlv } from "./der.ts";

export const oid = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  extensionRequest: "1.2.840.113549.1.9.14",
} as const;

/** Key usage bits, numbered as in RFC 5280 (bit 0, digitalSignature, is the first bit). */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
} as const;

export interface Extension {
  oid: string;
  critical: boolean;
  value: Uint8Array;
}

export interface Certificate {
  der: Uint8Array;
  /** Serial number, lowercase hex of the INTEGER's bytes. */
  serialNumber: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** SubjectPublicKeyInfo DER. */
  spki: Uint8Array;
  extensions: Extension[];
  /** The signed bytes, the outer signature algorithm and the signature (DER ECDSA-Sig-Value for ECDSA). */
  tbs: Uint8Array;
  signatureAlgorithm: Uint8Array;
  signature: Uint8Array;
}

function expect(element: Tlv | undefined, tagByte: number, what: string): Tlv {
  if (element === undefined || element.tag !== tagByte) throw new DerError(`${what} is missing or has the wrong type`);
  return element;
}

function only(bytes: Uint8Array, what: string): Tlv {
  const element = readTlv(bytes, 0);
  if (element.raw.byteLength !== bytes.byteLength) throw new DerError(`${what} has trailing bytes`);
  return element;
}

function readExtensions(element: Tlv): Extension[] {
  return readChildren(expect(element, tag.sequence, "extensions").contents).map((ext) => {
    const parts = readChildren(expect(ext, tag.sequence, "an extension").contents);
    let critical = false;
    let index = 1;
    if (parts[1]?.tag === tag.boolean) {
      if (parts[1].contents.byteLength !== 1 || parts[1].contents[0] !== 0xff) throw new DerError("extension criticality is not DER TRUE");
      critical = true;
      index = 2;
    }
    if (parts.length !== index + 1) throw new DerError("an extension has the wrong number of parts");
    return { oid: decodeObjectIdentifier(parts[0]!), critical, value: expect(parts[index], tag.octetString, "an extension value").contents };
  });
}

/** Read a certificate's fields. Throws DerError on anything that is not DER X.509 v3. */
export function parseCertificate(der: Uint8Array): Certificate {
  const outer = expect(only(der, "the certificate"), tag.sequence, "the certificate");
  const [tbs, algorithm, signature, ...rest] = readChildren(outer.contents);
  if (rest.length) throw new DerError("certificate must have exactly three parts");
  expect(tbs, tag.sequence, "TBSCertificate");
  expect(algorithm, tag.sequence, "the signature algorithm");
  const sig = expect(signature, tag.bitString, "the signature");
  if (sig.contents.byteLength < 1 || sig.contents[0] !== 0) throw new DerError("signature BIT STRING has unused bits");
  const fields = readChildren(tbs!.contents);
  let i = 0;
  const version = expect(fields[i++], 0xa0, "the version");
  const versionValue = only(version.contents, "the version");
  if (versionValue.tag !== tag.integer || versionValue.contents.byteLength !== 1 || versionValue.contents[0] !== 2) {
    throw new DerError("certificate is not X.509 version 3");
  }
  const serial = expect(fields[i++], tag.integer, "the serial number");
  if (serial.contents.byteLength === 0) throw new DerError("empty serial number");
  expect(fields[i++], tag.sequence, "the TBS signature algorithm");
  const issuer = expect(fields[i++], tag.sequence, "the issuer");
  const validity = readChildren(expect(fields[i++], tag.sequence, "the validity").contents);
  if (validity.length !== 2) throw new DerError("validity must hold two times");
  const subject = expect(fields[i++], tag.sequence, "the subject");
  const spki = expect(fields[i++], tag.sequence, "the public key");
  if (fields[i]?.tag === 0x81) i++; // issuerUniqueID
  if (fields[i]?.tag === 0x82) i++; // subjectUniqueID
  let extensions: Extension[] = [];
  if (fields[i]?.tag === 0xa3) extensions = readExtensions(only(fields[i++]!.contents, "the extensions"));
  if (i !== fields.length) throw new DerError("TBSCertificate has unexpected fields");
  return {
    der,
    serialNumber: toHex(serial.contents),
    issuer: issuer.raw,
    subject: subject.raw,
    notBefore: decodeTime(validity[0]!),
    notAfter: decodeTime(validity[1]!),
    spki: spki.raw,
    extensions,
    tbs: tbs!.raw,
    signatureAlgorithm: algorithm!.raw,
    signature: sig.contents.subarray(1),
  };
}

export interface CertificationRequest {
  der: Uint8Array;
  subject: Uint8Array;
  spki: Uint8Array;
  /** From the extensionRequest attribute. */
  extensions: Extension[];
  info: Uint8Array;
  signatureAlgorithm: Uint8Array;
  signature: Uint8Array;
}

/** Read a PKCS#10 certificate request. Throws DerError on anything else. */
export function parseCertificationRequest(der: Uint8Array): CertificationRequest {
  const outer = expect(only(der, "the request"), tag.sequence, "the request");
  const [info, algorithm, signature, ...rest] = readChildren(outer.contents);
  if (rest.length) throw new DerError("a certificate request must have exactly three parts");
  expect(info, tag.sequence, "CertificationRequestInfo");
  expect(algorithm, tag.sequence, "the signature algorithm");
  const sig = expect(signature, tag.bitString, "the signature");
  if (sig.contents.byteLength < 1 || sig.contents[0] !== 0) throw new DerError("signature BIT STRING has unused bits");
  const [version, subject, spki, attributes, ...more] = readChildren(info!.contents);
  if (more.length) throw new DerError("CertificationRequestInfo has unexpected fields");
  const v = expect(version, tag.integer, "the version");
  if (v.contents.byteLength !== 1 || v.contents[0] !== 0) throw new DerError("certificate request is not version 1");
  expect(subject, tag.sequence, "the subject");
  expect(spki, tag.sequence, "the public key");
  let extensions: Extension[] = [];
  if (attributes !== undefined) {
    for (const attribute of readChildren(expect(attributes, 0xa0, "the attributes").contents)) {
      const [type, values, ...extra] = readChildren(expect(attribute, tag.sequence, "an attribute").contents);
      if (extra.length || type === undefined) throw new DerError("an attribute has the wrong number of parts");
      if (decodeObjectIdentifier(type) !== oid.extensionRequest) continue;
      const [requested, ...others] = readChildren(expect(values, tag.set, "the attribute values").contents);
      if (others.length || requested === undefined) throw new DerError("extensionRequest must hold one value");
      extensions = readExtensions(requested);
    }
  }
  return {
    der,
    subject: subject!.raw,
    spki: spki!.raw,
    extensions,
    info: info!.raw,
    signatureAlgorithm: algorithm!.raw,
    signature: sig.contents.subarray(1),
  };
}

// ---- extensions -----------------------------------------------------------------

export function findExtension(extensions: Extension[], id: string): Extension | undefined {
  return extensions.find((e) => e.oid === id);
}

export function readBasicConstraints(value: Uint8Array): { ca: boolean; pathLength?: number } {
  const parts = readChildren(expect(only(value, "basicConstraints"), tag.sequence, "basicConstraints").contents);
  let ca = false;
  let i = 0;
  if (parts[i]?.tag === tag.boolean) {
    const b = parts[i++]!.contents;
    if (b.byteLength !== 1 || (b[0] !== 0xff && b[0] !== 0)) throw new DerError("basicConstraints cA is not a BOOLEAN");
    ca = b[0] === 0xff;
  }
  let pathLength: number | undefined;
  if (parts[i]?.tag === tag.integer) pathLength = parts[i++]!.contents.reduce((n, b) => n * 256 + b, 0);
  if (i !== parts.length) throw new DerError("basicConstraints has unexpected fields");
  return pathLength === undefined ? { ca } : { ca, pathLength };
}

/** Key usage as a set of KeyUsage bits. */
export function readKeyUsage(value: Uint8Array): number {
  const bits = expect(only(value, "keyUsage"), tag.bitString, "keyUsage").contents;
  if (bits.byteLength < 1 || bits[0]! > 7 || (bits.byteLength === 1 && bits[0] !== 0)) throw new DerError("keyUsage is not a valid BIT STRING");
  let usages = 0;
  for (let i = 1; i < bits.byteLength; i++) {
    for (let bit = 0; bit < 8; bit++) if (bits[i]! & (0x80 >> bit)) usages |= 1 << ((i - 1) * 8 + bit);
  }
  return usages;
}

export function readExtendedKeyUsage(value: Uint8Array): string[] {
  return readChildren(expect(only(value, "extKeyUsage"), tag.sequence, "extKeyUsage").contents).map(decodeObjectIdentifier);
}

export interface GeneralName {
  type: "dns" | "ip" | "email" | "url" | "dn" | "other" | "id" | "x400" | "edi";
  value: string;
}

const generalNameTypes: Record<number, GeneralName["type"]> = {
  0xa0: "other",
  0x81: "email",
  0x82: "dns",
  0xa3: "x400",
  0xa4: "dn",
  0xa5: "edi",
  0x86: "url",
  0x87: "ip",
  0x88: "id",
};

export function readSubjectAltNames(value: Uint8Array): GeneralName[] {
  return readChildren(expect(only(value, "subjectAltName"), tag.sequence, "subjectAltName").contents).map((name) => {
    const type = generalNameTypes[name.tag];
    if (type === undefined) throw new DerError("unknown GeneralName type");
    let text = "";
    if (type === "dns" || type === "email" || type === "url") {
      for (const b of name.contents) {
        if (b > 0x7e || b < 0x20) throw new DerError("a name is not printable IA5");
        text += String.fromCharCode(b);
      }
    } else if (type === "ip") {
      text = formatIp(name.contents);
    } else {
      text = toHex(name.contents);
    }
    return { type, value: text };
  });
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.byteLength === 4) return Array.from(bytes).join(".");
  if (bytes.byteLength === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
    return groups.join(":");
  }
  throw new DerError("an IP address SAN is neither 4 nor 16 bytes");
}

/** An IPv4 or IPv6 address in text as the 4 or 16 bytes a SAN holds. */
export function parseIp(text: string): Uint8Array {
  const v4 = (s: string) => {
    const parts = s.split(".");
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return undefined;
    return parts.map(Number);
  };
  const four = v4(text);
  if (four) return Uint8Array.from(four);
  const halves = text.split("::");
  if (halves.length <= 2) {
    const groups = (s: string): number[] | undefined => {
      if (s === "") return [];
      const out: number[] = [];
      const pieces = s.split(":");
      for (let i = 0; i < pieces.length; i++) {
        const p = pieces[i]!;
        const tail = i === pieces.length - 1 ? v4(p) : undefined;
        if (tail) out.push((tail[0]! << 8) | tail[1]!, (tail[2]! << 8) | tail[3]!);
        else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
        else return undefined;
      }
      return out;
    };
    const head = groups(halves[0]!);
    const tail = halves.length === 2 ? groups(halves[1]!) : [];
    if (head && tail) {
      const fill = 8 - head.length - tail.length;
      if ((halves.length === 2 && fill >= 1) || (halves.length === 1 && fill === 0)) {
        const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
        return Uint8Array.from(all.flatMap((g) => [g >> 8, g & 0xff]));
      }
    }
  }
  throw new RangeError(`${JSON.stringify(text)} is not an IPv4 or IPv6 address`);
}

/** The public key's algorithm in words, e.g. "ECDSA P-384", for messages. */
export function describeKey(spki: Uint8Array): string {
  try {
    const [algorithm] = readChildren(readTlv(spki, 0).contents);
    const [id, params] = readChildren(expect(algorithm, tag.sequence, "the key algorithm").contents);
    const name = decodeObjectIdentifier(id!);
    if (name === "1.2.840.10045.2.1") {
      const curve = params?.tag === tag.oid ? decodeObjectIdentifier(params) : "";
      const curves: Record<string, string> = { "1.2.840.10045.3.1.7": "P-256", "1.3.132.0.34": "P-384", "1.3.132.0.35": "P-521" };
      return `ECDSA ${curves[curve] ?? `curve ${curve || "unknown"}`}`;
    }
    const names: Record<string, string> = { "1.3.101.112": "Ed25519", "1.3.101.113": "Ed448", "1.2.840.113549.1.1.1": "RSA", "1.2.840.113549.1.1.10": "RSA-PSS" };
    return names[name] ?? `an unknown (${name})`;
  } catch {
    return "an unknown";
  }
}

/** The subjectPublicKey bits of a SubjectPublicKeyInfo. */
function publicKeyBits(spki: Uint8Array): Uint8Array {
  const parts = readChildren(readTlv(spki, 0).contents);
  return expect(parts[1], tag.bitString, "the public key bits").contents.subarray(1);
}

/** RFC 5280 key identifier, method 1: SHA-1 of the subjectPublicKey bits. */
async function keyIdentifier(spki: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-1", bufferSource(publicKeyBits(spki))));
}

export function basicConstraintsExtension(ca: boolean, pathLength?: number): Extension {
  const fields = ca ? [booleanTrue(), ...(pathLength === undefined ? [] : [smallInteger(pathLength)])] : [];
  return { oid: oid.basicConstraints, critical: true, value: sequence(...fields) };
}

export function keyUsageExtension(usages: number): Extension {
  let highest = 0;
  for (let bit = 0; bit < 9; bit++) if (usages & (1 << bit)) highest = bit;
  const bytes = new Uint8Array(Math.floor(highest / 8) + 1);
  for (let bit = 0; bit <= highest; bit++) if (usages & (1 << bit)) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return { oid: oid.keyUsage, critical: true, value: bitString(bytes, bytes.byteLength * 8 - highest - 1) };
}

export function extendedKeyUsageExtension(purposes: string[]): Extension {
  return { oid: oid.extKeyUsage, critical: false, value: sequence(...purposes.map(objectIdentifier)) };
}

export function subjectAltNameExtension(names: { type: "dns" | "ip"; value: string }[]): Extension {
  const encoded = names.map((n) => (n.type === "dns" ? tlv(0x82, new TextEncoder().encode(n.value)) : tlv(0x87, parseIp(n.value))));
  return { oid: oid.subjectAltName, critical: false, value: sequence(...encoded) };
}

export async function subjectKeyIdExtension(spki: Uint8Array): Promise<Extension> {
  return { oid: oid.subjectKeyId, critical: false, value: octetString(await keyIdentifier(spki)) };
}

export async function authorityKeyIdExtension(issuerSpki: Uint8Array): Promise<Extension> {
  return { oid: oid.authorityKeyId, critical: false, value: sequence(tlv(0x80, await keyIdentifier(issuerSpki))) };
}

function encodeExtension(e: Extension): Uint8Array {
  return sequence(objectIdentifier(e.oid), ...(e.critical ? [booleanTrue()] : []), octetString(e.value));
}

// ---- signing --------------------------------------------------------------------

const ecdsaSha256 = { name: "ECDSA", hash: "SHA-256" };

/** An IEEE P1363 (r || s) ECDSA signature as the DER ECDSA-Sig-Value X.509 carries. */
export function ecdsaP1363ToDer(signature: Uint8Array): Uint8Array {
  const half = signature.byteLength / 2;
  return sequence(unsignedInteger(signature.subarray(0, half)), unsignedInteger(signature.subarray(half)));
}

async function signed(body: Uint8Array, signingKey: CryptoKey): Promise<Uint8Array> {
  const signature = new Uint8Array(await globalThis.crypto.subtle.sign(ecdsaSha256, signingKey, bufferSource(body)));
  return sequence(body, ecdsaWithSha256, bitString(ecdsaP1363ToDer(signature)));
}

/** Whether `signature` (DER ECDSA-Sig-Value, ecdsa-with-SHA256) over `body` verifies with `publicKey`. */
export async function verifyEcdsaSha256(
  algorithm: Uint8Array,
  signature: Uint8Array,
  body: Uint8Array,
  publicKey: CryptoKey,
): Promise<boolean> {
  if (algorithm.byteLength !== ecdsaWithSha256.byteLength || !algorithm.every((b, i) => b === ecdsaWithSha256[i])) return false;
  let raw: Uint8Array;
  try {
    raw = ecdsaDerToP1363(signature);
  } catch {
    return false;
  }
  return globalThis.crypto.subtle.verify(ecdsaSha256, publicKey, bufferSource(raw), bufferSource(body));
}

export interface CertificateTemplate {
  /** Serial number as hex of a positive INTEGER's bytes. */
  serialNumber: string;
  issuer: Uint8Array;
  subject: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  spki: Uint8Array;
  extensions: Extension[];
}

/** An X.509 v3 certificate, signed with ECDSA P-256/SHA-256 by `signingKey`. DER. */
export function signCertificate(template: CertificateTemplate, signingKey: CryptoKey): Promise<Uint8Array> {
  const tbs = sequence(
    tlv(0xa0, smallInteger(2)),
    tlv(tag.integer, fromHex(template.serialNumber)),
    ecdsaWithSha256,
    template.issuer,
    sequence(time(template.notBefore), time(template.notAfter)),
    template.subject,
    template.spki,
    tlv(0xa3, sequence(...template.extensions.map(encodeExtension))),
  );
  return signed(tbs, signingKey);
}

/** A PKCS#10 request for `subject` and the key `spki`, signed by its private key. DER. */
export function signCertificationRequest(
  subject: Uint8Array,
  spki: Uint8Array,
  extensions: Extension[],
  privateKey: CryptoKey,
): Promise<Uint8Array> {
  const attributes = extensions.length
    ? [sequence(objectIdentifier(oid.extensionRequest), set(sequence(...extensions.map(encodeExtension))))]
    : [];
  const info = sequence(smallInteger(0), subject, spki, tlv(0xa0, ...attributes));
  return signed(info, privateKey);
}

// ---- PEM ------------------------------------------------------------------------

export function encodePem(der: Uint8Array, label: string): string {
  let binary = "";
  for (let i = 0; i < der.byteLength; i += 0x8000) binary += String.fromCharCode(...der.subarray(i, i + 0x8000));
  const body = btoa(binary).replace(/.{64}(?=.)/g, "$&\n");
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
}

export interface PemBlock {
  type: string;
  der: Uint8Array;
}

/** Every PEM block in `text` (RFC 7468; RFC 1421 headers are skipped). Throws RangeError on bad base64. */
export function decodePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(/-----BEGIN ([^-\r\n]*)-----([\s\S]*?)-----END \1-----/g)) {
    const lines = match[2]!.split(/\r?\n/).filter((line) => !line.includes(":"));
    const base64 = lines.join("").replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) throw new RangeError(`a PEM ${match[1]} block is not base64`);
    const binary = atob(base64);
    const der = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
    blocks.push({ type: match[1]!, der });
  }
  return blocks;
}
