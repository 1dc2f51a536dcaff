// Strict, hand-written validation of a peer's certificate against the pinned
// site CA key: one level, no chain building (X509ChainBuilder accepts rogue-CA
// leaves and ignores dates). Errors say what is wrong in words a person can act on.

import { SecurityError } from "../errors.ts";
import { bufferSource, toHex } from "./bytes.ts";
import { DerError, bytesEqual, ecdsaDerToP1363, ecdsaWithSha256, isP256Spki, splitCertificate } from "./der.ts";
import { ecdsaP256, ecdsaSha256 } from "./keys.ts";
import { isValidSiteName, quoteName } from "./names.ts";
import { x509 } from "./x509.ts";

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

const oid = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;
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

function parse(der: Uint8Array): x509.X509Certificate {
  try {
    return new x509.X509Certificate(bufferSource(der));
  } catch (err) {
    throw new CertificateError("malformed", "the peer's certificate could not be parsed as X.509", { cause: err });
  }
}

/** The SAN dNSName if there is exactly one usable, else undefined (for messages before the name check). */
function sanNames(cert: x509.X509Certificate): { type: string; value: string }[] | undefined {
  try {
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    return san ? san.names.items.map((n) => ({ type: n.type, value: n.value })) : [];
  } catch {
    return undefined;
  }
}

function displayName(cert: x509.X509Certificate): string {
  const dns = sanNames(cert)?.find((n) => n.type === "dns")?.value;
  if (dns !== undefined) return `certificate for ${quoteName(dns)}`;
  try {
    const cn = cert.subjectName.getField("CN")[0];
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
  if (options.trust.subject !== undefined && cert.issuer !== options.trust.subject) {
    throw new CertificateError(
      "untrusted",
      `${what} names its issuer ${quoteName(cert.issuer)}, not this site's CA ${quoteName(options.trust.subject)}`,
    );
  }

  // 3. Extensions.
  const seen = new Set<string>();
  for (const ext of cert.extensions) {
    if (seen.has(ext.type)) throw new CertificateError("malformed", `${what} repeats extension ${ext.type}`);
    seen.add(ext.type);
    if (ext.critical && !knownExtensions.has(ext.type)) {
      throw new CertificateError("malformed", `${what} has an unknown critical extension ${ext.type}`);
    }
  }
  let basic: x509.BasicConstraintsExtension | null;
  let keyUsage: x509.KeyUsagesExtension | null;
  let extKeyUsage: x509.ExtendedKeyUsageExtension | null;
  try {
    basic = cert.getExtension(x509.BasicConstraintsExtension);
    keyUsage = cert.getExtension(x509.KeyUsagesExtension);
    extKeyUsage = cert.getExtension(x509.ExtendedKeyUsageExtension);
  } catch (err) {
    throw new CertificateError("malformed", `${what} has a malformed extension`, { cause: err });
  }
  if (basic?.ca) {
    throw new CertificateError("not-a-leaf", `${what} is a CA certificate; a site must present its own leaf certificate`);
  }
  if (!keyUsage || !keyUsage.critical) {
    throw new CertificateError("key-usage", `${what} has no critical key usage extension`);
  }
  if (!(keyUsage.usages & x509.KeyUsageFlags.digitalSignature)) {
    throw new CertificateError("key-usage", `${what} lacks the digitalSignature key usage, so it cannot sign a handshake`);
  }
  if (keyUsage.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) {
    throw new CertificateError("key-usage", `${what} carries CA key usages (keyCertSign or cRLSign)`);
  }
  const needed = options.usedBy === "dialer" ? oid.clientAuth : oid.serverAuth;
  if (!extKeyUsage || !extKeyUsage.usages.map(String).includes(needed)) {
    const purpose = options.usedBy === "dialer" ? "clientAuth (to dial a link)" : "serverAuth (to accept links)";
    throw new CertificateError("extended-key-usage", `${what} is not allowed for ${purpose}: its extended key usage lacks it`);
  }

  // 4. Key type.
  const spki = new Uint8Array(cert.publicKey.rawData);
  if (!isP256Spki(spki)) {
    const alg = cert.publicKey.algorithm as { name?: string; namedCurve?: string };
    const kind = [alg.name, alg.namedCurve].filter(Boolean).join(" ") || "an unknown";
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
    serialNumber: cert.serialNumber.toLowerCase(),
    spkiSha256: toHex(new Uint8Array(await subtle.digest("SHA-256", bufferSource(spki)))),
    publicKey,
  };
}

/**
 * The pinned CA key as a WebCrypto key, imported once per pin: a site checks
 * every peer against the same one, and an import costs about as much as the
 * signature check itself. The bytes are compared at every use, so a pin whose
 * bytes change is imported again.
 */
const trustKeys = new WeakMap<Uint8Array, { spki: Uint8Array; key: Promise<CryptoKey> }>();

function importTrustKey(trust: TrustAnchor): Promise<CryptoKey> {
  const cached = trustKeys.get(trust.publicKeySpki);
  if (cached !== undefined && bytesEqual(cached.spki, trust.publicKeySpki)) return cached.key;
  const key = importTrustKeyNow(trust.publicKeySpki);
  // A refused key is not kept: the next peer gets the same error, worked out again.
  trustKeys.set(trust.publicKeySpki, { spki: trust.publicKeySpki.slice(), key });
  key.catch(() => trustKeys.delete(trust.publicKeySpki));
  return key;
}

async function importTrustKeyNow(spki: Uint8Array): Promise<CryptoKey> {
  if (!isP256Spki(spki)) {
    throw new SecurityError("the pinned CA key is not an ECDSA P-256 key; check the site's CA configuration");
  }
  try {
    return await subtle.importKey("spki", bufferSource(spki), ecdsaP256, false, ["verify"]);
  } catch (err) {
    throw new SecurityError("the pinned CA key is not a valid P-256 key", { cause: err });
  }
}

/**
 * Build the pin from a CA certificate (DER or PEM), e.g. the one in an access
 * token. Checks it is a self-signed P-256 CA that may sign certificates.
 */
export async function trustAnchorFromCaCertificate(certificate: Uint8Array | string): Promise<TrustAnchor> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(typeof certificate === "string" ? certificate : bufferSource(certificate));
  } catch (err) {
    throw new SecurityError("the CA certificate could not be parsed", { cause: err });
  }
  const spki = new Uint8Array(cert.publicKey.rawData);
  if (!isP256Spki(spki)) throw new SecurityError("the CA certificate's key is not ECDSA P-256");
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  const usage = cert.getExtension(x509.KeyUsagesExtension);
  if (!basic?.ca || !usage || !(usage.usages & x509.KeyUsageFlags.keyCertSign)) {
    throw new SecurityError("the CA certificate is not a CA (basicConstraints cA and keyCertSign are required)");
  }
  if (!(await cert.verify({ publicKey: cert.publicKey, signatureOnly: true }))) {
    throw new SecurityError("the CA certificate is not self-signed by its own key");
  }
  return { publicKeySpki: spki, subject: cert.subject };
}
