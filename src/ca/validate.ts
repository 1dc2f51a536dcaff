// Strict, hand-written validation of a peer's certificate against the pinned
// site CA key: one level, no chain building (a general chain builder would
// accept rogue-CA leaves and ignore dates). Errors say what is wrong in words a
// person can act on.

import { SecurityError } from "../errors.ts";
import { bufferSource, toHex } from "./bytes.ts";
import { commonNameOf, formatName } from "./asn1.ts";
import {
  type Certificate,
  describeKey,
  findExtension,
  KeyUsage,
  oid,
  parseCertificate,
  readBasicConstraints,
  readExtendedKeyUsage,
  readKeyUsage,
  readSubjectAltNames,
  verifyEcdsaSha256,
} from "./certificate.ts";
import { DerError, bytesEqual, ecdsaDerToP1363, ecdsaWithSha256, isP256Spki, splitCertificate } from "./der.ts";
import { ecdsaP256, ecdsaSha256, pemToCertificate } from "./keys.ts";
import { isValidSiteName, quoteName } from "./names.ts";

const subtle = globalThis.crypto.subtle;

export type CertificateProblem =
  | "malformed"
  | "too-large"
  | "untrusted"
  | "expired"
  | "not-yet-valid"
  | "lifetime"
  | "not-a-leaf"
  | "key-usage"
  | "extended-key-usage"
  | "key-type"
  | "name";

/** A certificate failed validation. `problem` is stable; callers branch on it. */
export class CertificateError extends SecurityError {
  readonly problem: CertificateProblem;
  constructor(problem: CertificateProblem, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.problem = problem;
    this.name = "CertificateError";
  }
}

/** The pin: the site CA's exact public key, compared by bytes, never by name. */
export interface TrustAnchor {
  /** SubjectPublicKeyInfo DER of the CA key. */
  publicKeySpki: Uint8Array;
  /** The CA's subject DN. When set, a leaf's issuer must equal it (as well as verify). */
  subject?: string;
}

/** Who presents the certificate: a dialer needs clientAuth, an acceptor serverAuth. */
export type LinkRole = "dialer" | "acceptor";

export interface ValidationOptions {
  trust: TrustAnchor;
  usedBy: LinkRole;
  /** The site this certificate must name (the dialer knows whom it dials). */
  expectedName?: string;
  /** Current time, milliseconds since the epoch or a Date. */
  now: number | Date;
  /** Clock skew allowed on both dates. Default 5 minutes. */
  skewMs?: number;
  /** Longest lifetime accepted, so long-lived certificates minted by mistake are refused. Default 31 days. */
  maxLifetimeMs?: number;
  /** Largest DER accepted. Default 4096 bytes. */
  maxBytes?: number;
}

export interface PeerCertificate {
  siteName: string;
  der: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  /** Serial number, lowercase hex. */
  serialNumber: string;
  /** SHA-256 of the SubjectPublicKeyInfo, lowercase hex: what deny-lists hold. */
  spkiSha256: string;
  /** The certificate's key, for checking its CertificateVerify. */
  publicKey: CryptoKey;
}

export const defaultSkewMs = 5 * 60 * 1000;
export const defaultMaxLifetimeMs = 31 * 24 * 60 * 60 * 1000;
export const maxCertificateBytes = 4096;

const knownExtensions = new Set<string>([
  oid.basicConstraints,
  oid.keyUsage,
  oid.extKeyUsage,
  oid.subjectAltName,
  oid.subjectKeyId,
  oid.authorityKeyId,
]);

/** An ISO time without milliseconds, e.g. 2026-11-24T10:00:00Z. */
export function formatTime(time: Date | number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function describeDuration(ms: number): string {
  const minutes = Math.round(ms / 60000);
  if (minutes < 120) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours < 72) return `${hours} hours`;
  return `${Math.round(ms / 86400000)} days`;
}

function parse(der: Uint8Array): Certificate & { issuerText: string } {
  try {
    const cert = parseCertificate(der);
    return { ...cert, issuerText: formatName(cert.issuer) };
  } catch (err) {
    throw new CertificateError("malformed", "the peer's certificate could not be parsed as X.509", { cause: err });
  }
}

/** The subject alternative names; undefined when the extension is malformed. */
function sanNames(cert: Certificate): { type: string; value: string }[] | undefined {
  try {
    const san = findExtension(cert.extensions, oid.subjectAltName);
    return san ? readSubjectAltNames(san.value) : [];
  } catch {
    return undefined;
  }
}

function displayName(cert: Certificate): string {
  const dns = sanNames(cert)?.find((n) => n.type === "dns")?.value;
  if (dns !== undefined) return `certificate for ${quoteName(dns)}`;
  try {
    const cn = commonNameOf(cert.subject);
    if (cn) return `certificate for ${quoteName(cn)}`;
  } catch {
    // fall through
  }
  return "certificate";
}

/**
 * Validate a peer's leaf certificate, strictly and by hand:
 *  1. size, DER shape (no trailing bytes), X.509 v3, ecdsa-with-SHA256 in both places;
 *  2. the signature verifies with the pinned CA key (the trust decision);
 *  3. not a CA; critical key usage with digitalSignature and no CA usages;
 *     extended key usage with clientAuth (dialer) or serverAuth (acceptor);
 *     no unknown critical extension;
 *  4. an uncompressed P-256 key;
 *  5. exactly one subject alternative name, a dNSName that is a valid site name,
 *     equal to `expectedName` when given;
 *  6. dates with `skewMs` of tolerance, and a lifetime no longer than the policy.
 */
export async function validatePeerCertificate(der: Uint8Array, options: ValidationOptions): Promise<PeerCertificate> {
  const maxBytes = options.maxBytes ?? maxCertificateBytes;
  const skewMs = options.skewMs ?? defaultSkewMs;
  const maxLifetimeMs = options.maxLifetimeMs ?? defaultMaxLifetimeMs;
  const now = typeof options.now === "number" ? options.now : options.now.getTime();

  if (!(der instanceof Uint8Array) || der.byteLength === 0) {
    throw new CertificateError("malformed", "the peer sent an empty certificate");
  }
  if (der.byteLength > maxBytes) {
    throw new CertificateError("too-large", `the peer's certificate is ${der.byteLength} bytes; the limit is ${maxBytes}`);
  }
  let parts: ReturnType<typeof splitCertificate>;
  let signature: Uint8Array;
  try {
    parts = splitCertificate(der);
  } catch (err) {
    const reason = err instanceof DerError ? err.message : "not DER";
    throw new CertificateError("malformed", `the peer's certificate is malformed: ${reason}`, { cause: err });
  }
  const cert = parse(der);
  const what = displayName(cert);

  // 1. Signature algorithm, outside and inside the signed part.
  if (!bytesEqual(parts.signatureAlgorithm, ecdsaWithSha256) || !bytesEqual(parts.tbsSignatureAlgorithm, ecdsaWithSha256)) {
    throw new CertificateError("untrusted", `${what} is not signed with ECDSA P-256/SHA-256, the only algorithm SL1 accepts`);
  }
  try {
    signature = ecdsaDerToP1363(parts.signature);
  } catch (err) {
    throw new CertificateError("malformed", `${what} has a malformed signature`, { cause: err });
  }

  // 2. The trust decision: the pinned CA key made this signature.
  const caKey = await importTrustKey(options.trust);
  const verified = await subtle.verify(ecdsaSha256, caKey, bufferSource(signature), bufferSource(parts.tbs));
  if (!verified) {
    throw new CertificateError(
      "untrusted",
      `${what} was not issued by this site's CA (rogue or wrong CA): its signature does not verify with the pinned CA key`,
    );
  }
  if (options.trust.subject !== undefined && cert.issuerText !== options.trust.subject) {
    throw new CertificateError(
      "untrusted",
      `${what} names its issuer ${quoteName(cert.issuerText)}, not this site's CA ${quoteName(options.trust.subject)}`,
    );
  }

  // 3. Extensions.
  const seen = new Set<string>();
  for (const ext of cert.extensions) {
    if (seen.has(ext.oid)) throw new CertificateError("malformed", `${what} repeats extension ${ext.oid}`);
    seen.add(ext.oid);
    if (ext.critical && !knownExtensions.has(ext.oid)) {
      throw new CertificateError("malformed", `${what} has an unknown critical extension ${ext.oid}`);
    }
  }
  let basic: { ca: boolean } | undefined;
  let keyUsage: { critical: boolean; usages: number } | undefined;
  let extKeyUsage: { usages: string[] } | undefined;
  try {
    const b = findExtension(cert.extensions, oid.basicConstraints);
    const k = findExtension(cert.extensions, oid.keyUsage);
    const e = findExtension(cert.extensions, oid.extKeyUsage);
    basic = b && readBasicConstraints(b.value);
    keyUsage = k && { critical: k.critical, usages: readKeyUsage(k.value) };
    extKeyUsage = e && { usages: readExtendedKeyUsage(e.value) };
  } catch (err) {
    throw new CertificateError("malformed", `${what} has a malformed extension`, { cause: err });
  }
  if (basic?.ca) {
    throw new CertificateError("not-a-leaf", `${what} is a CA certificate; a site must present its own leaf certificate`);
  }
  if (!keyUsage || !keyUsage.critical) {
    throw new CertificateError("key-usage", `${what} has no critical key usage extension`);
  }
  if (!(keyUsage.usages & KeyUsage.digitalSignature)) {
    throw new CertificateError("key-usage", `${what} lacks the digitalSignature key usage, so it cannot sign a handshake`);
  }
  if (keyUsage.usages & (KeyUsage.keyCertSign | KeyUsage.cRLSign)) {
    throw new CertificateError("key-usage", `${what} carries CA key usages (keyCertSign or cRLSign)`);
  }
  const needed = options.usedBy === "dialer" ? oid.clientAuth : oid.serverAuth;
  if (!extKeyUsage || !extKeyUsage.usages.includes(needed)) {
    const purpose = options.usedBy === "dialer" ? "clientAuth (to dial a link)" : "serverAuth (to accept links)";
    throw new CertificateError("extended-key-usage", `${what} is not allowed for ${purpose}: its extended key usage lacks it`);
  }

  // 4. Key type.
  const spki = cert.spki;
  if (!isP256Spki(spki)) {
    const kind = describeKey(spki);
    throw new CertificateError("key-type", `${what} has ${kind} key; SL1 accepts only ECDSA P-256`);
  }
  let publicKey: CryptoKey;
  try {
    publicKey = await subtle.importKey("spki", bufferSource(spki), ecdsaP256, true, ["verify"]);
  } catch (err) {
    throw new CertificateError("key-type", `${what} has an invalid P-256 public key`, { cause: err });
  }

  // 5. Name.
  const names = sanNames(cert);
  if (names === undefined) throw new CertificateError("malformed", `${what} has a malformed subject alternative name`);
  if (names.length !== 1 || names[0]!.type !== "dns") {
    throw new CertificateError(
      "name",
      `${what} must name exactly one site in a DNS subject alternative name; it has ${names.length} names` +
        (names.length ? ` (${names.map((n) => n.type).join(", ")})` : ""),
    );
  }
  const siteName = names[0]!.value;
  if (!isValidSiteName(siteName)) {
    throw new CertificateError("name", `certificate names ${quoteName(siteName)}, which is not a valid site name`);
  }
  if (options.expectedName !== undefined && siteName !== options.expectedName) {
    throw new CertificateError(
      "name",
      `certificate is for site ${quoteName(siteName)}, but this link expects ${quoteName(options.expectedName)}`,
    );
  }

  // 6. Dates.
  const notBefore = cert.notBefore;
  const notAfter = cert.notAfter;
  if (now + skewMs < notBefore.getTime()) {
    throw new CertificateError(
      "not-yet-valid",
      `${what} is not valid until ${formatTime(notBefore)} (now ${formatTime(now)}, ` +
        `${describeDuration(skewMs)} of clock skew allowed); check both sites' clocks`,
    );
  }
  if (now - skewMs > notAfter.getTime()) {
    throw new CertificateError(
      "expired",
      `${what} expired at ${formatTime(notAfter)} (now ${formatTime(now)}); ` +
        "renew it, or redeem a new access token if the link was down too long to renew",
    );
  }
  if (notAfter.getTime() - notBefore.getTime() > maxLifetimeMs) {
    throw new CertificateError(
      "lifetime",
      `${what} is valid for ${describeDuration(notAfter.getTime() - notBefore.getTime())}, ` +
        `longer than the ${describeDuration(maxLifetimeMs)} this site accepts`,
    );
  }

  return {
    siteName,
    der,
    notBefore,
    notAfter,
    serialNumber: cert.serialNumber,
    spkiSha256: toHex(new Uint8Array(await subtle.digest("SHA-256", bufferSource(spki)))),
    publicKey,
  };
}

async function importTrustKey(trust: TrustAnchor): Promise<CryptoKey> {
  if (!isP256Spki(trust.publicKeySpki)) {
    throw new SecurityError("the pinned CA key is not an ECDSA P-256 key; check the site's CA configuration");
  }
  try {
    return await subtle.importKey("spki", bufferSource(trust.publicKeySpki), ecdsaP256, false, ["verify"]);
  } catch (err) {
    throw new SecurityError("the pinned CA key is not a valid P-256 key", { cause: err });
  }
}

/**
 * Build the pin from a CA certificate (DER or PEM), e.g. the one in an access
 * token. Checks it is a self-signed P-256 CA that may sign certificates.
 */
export async function trustAnchorFromCaCertificate(certificate: Uint8Array | string): Promise<TrustAnchor> {
  let cert: Certificate;
  let isCa: boolean;
  let usages: number | undefined;
  let subject: string;
  try {
    cert = parseCertificate(typeof certificate === "string" ? pemToCertificate(certificate) : certificate);
    const basic = findExtension(cert.extensions, oid.basicConstraints);
    const usage = findExtension(cert.extensions, oid.keyUsage);
    isCa = basic !== undefined && readBasicConstraints(basic.value).ca;
    usages = usage && readKeyUsage(usage.value);
    subject = formatName(cert.subject);
  } catch (err) {
    throw new SecurityError("the CA certificate could not be parsed", { cause: err });
  }
  const spki = cert.spki;
  if (!isP256Spki(spki)) throw new SecurityError("the CA certificate's key is not ECDSA P-256");
  if (!isCa || usages === undefined || !(usages & KeyUsage.keyCertSign)) {
    throw new SecurityError("the CA certificate is not a CA (basicConstraints cA and keyCertSign are required)");
  }
  const publicKey = await importTrustKey({ publicKeySpki: spki });
  if (!(await verifyEcdsaSha256(cert.signatureAlgorithm, cert.signature, cert.tbs, publicKey))) {
    throw new SecurityError("the CA certificate is not self-signed by its own key");
  }
  return { publicKeySpki: spki, subject };
}
