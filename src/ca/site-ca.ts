// A site's own CA: it signs the certificates of sites that link into it (and
// the site's own acceptor certificate), only ever from a CSR, so no private
// key ever leaves the site that made it.

import { SecurityError } from "../errors.ts";
import { bufferSource, toHex } from "./bytes.ts";
import { isP256Spki } from "./der.ts";
import {
  certificateToPem,
  privateKeyToPem,
  ecdsaP256,
  ecdsaSha256,
  exportPublicKeySpki,
  generateSiteKey,
  importPublicKey,
  loadSiteKey,
  pemToDer,
} from "./keys.ts";
import { isValidSiteName, quoteName } from "./names.ts";
import type { TrustAnchor } from "./validate.ts";
import { x509 } from "./x509.ts";

const minute = 60 * 1000;
const day = 24 * 60 * minute;

/**
 * Default lifetime of an issued certificate: 30 days, as the link security
 * design recommends. Short enough that a stolen site key or a revoked site
 * stops working within a month without any CRL; long enough that a site which
 * renews at two thirds of the lifetime over its live link survives a ten-day
 * outage without a new token. (Skupper's default is five years.)
 */
export const defaultCertificateValidityMs = 30 * day;
/** Issued certificates start 5 minutes in the past, matching the verifiers' clock skew. */
export const backdateMs = 5 * minute;
/** A CA is pinned by its key, so its own dates matter little; rotation is explicit. */
export const defaultCaValidityMs = 10 * 365 * day;
/** The largest CSR the CA reads. */
export const maxCsrBytes = 4096;

export interface SiteCa {
  siteName: string;
  certificateDer: Uint8Array;
  /** Private key non-extractable. */
  keyPair: CryptoKeyPair;
  /** The pin other sites use for this CA. */
  trust: TrustAnchor;
}

export interface NewSiteCa extends SiteCa {
  /** The CA private key as PKCS#8 DER, to store once. */
  pkcs8: Uint8Array;
}

export interface IssuedCertificate {
  certificateDer: Uint8Array;
  certificatePem: string;
  siteName: string;
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export type CertificateUsage = "dialer" | "acceptor" | "both";

function randomSerial(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // positive INTEGER
  bytes[0]! |= 0x01; // and never a leading zero byte, so the DER is exactly 16 bytes
  return toHex(bytes);
}

function checkSiteName(siteName: string): void {
  if (!isValidSiteName(siteName)) {
    throw new SecurityError(
      `${quoteName(siteName)} is not a valid site name: use lowercase letters, digits and '-', in dot-separated labels`,
    );
  }
}

/** A new self-signed ECDSA P-256 CA for a site (basicConstraints cA, pathLen 0; keyCertSign and cRLSign). */
export async function createSiteCa(
  siteName: string,
  options: { now?: number; validityMs?: number } = {},
): Promise<NewSiteCa> {
  checkSiteName(siteName);
  const now = options.now ?? Date.now();
  const { keyPair, pkcs8 } = await generateSiteKey();
  // The generator needs the private key to sign; a non-extractable key is enough.
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [`${siteName} site CA`] }],
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + (options.validityMs ?? defaultCaValidityMs)),
    signingAlgorithm: ecdsaSha256,
    keys: keyPair,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keyPair.publicKey),
    ],
  });
  const certificateDer = new Uint8Array(cert.rawData);
  return {
    siteName,
    certificateDer,
    keyPair,
    pkcs8,
    trust: { publicKeySpki: await exportPublicKeySpki(keyPair.publicKey), subject: cert.subject },
  };
}

/** Load a stored CA: its certificate and PKCS#8 key (DER or PEM). */
export async function loadSiteCa(certificate: Uint8Array | string, pkcs8: Uint8Array | string): Promise<SiteCa> {
  const certificateDer = typeof certificate === "string" ? pemToDer(certificate, "CERTIFICATE") : certificate;
  const cert = new x509.X509Certificate(bufferSource(certificateDer));
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  if (!basic?.ca) throw new SecurityError("the stored CA certificate is not a CA certificate");
  const cn = cert.subjectName.getField("CN")[0] ?? "";
  const siteName = cn.endsWith(" site CA") ? cn.slice(0, -" site CA".length) : cn;
  const keyPair = await loadSiteKey(pkcs8, certificateDer);
  return {
    siteName,
    certificateDer,
    keyPair,
    trust: { publicKeySpki: new Uint8Array(cert.publicKey.rawData), subject: cert.subject },
  };
}

/** A PKCS#10 CSR for `siteName`, signed by the new key (that signature is the proof of possession). PEM. */
export async function createCsr(siteName: string, keyPair: CryptoKeyPair): Promise<string> {
  checkSiteName(siteName);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [siteName] }],
    keys: keyPair,
    signingAlgorithm: ecdsaSha256,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: siteName }])],
  });
  return csr.toString("pem");
}

export interface CsrInfo {
  /** The name the CSR asks for (its DNS SAN, else its CN), if any. */
  requestedName: string | undefined;
  publicKeySpki: Uint8Array;
  der: Uint8Array;
}

/**
 * Read and check a CSR: size, parse, self-signature (proof of possession),
 * ECDSA P-256 key. Throws SecurityError with the reason.
 */
export async function readCsr(csr: string | Uint8Array): Promise<CsrInfo> {
  let der: Uint8Array;
  try {
    der = typeof csr === "string" ? pemToDer(csr, "CERTIFICATE REQUEST") : csr;
  } catch (err) {
    throw new SecurityError("the certificate request is not a PEM CERTIFICATE REQUEST", { cause: err });
  }
  if (der.byteLength > maxCsrBytes) {
    throw new SecurityError(`the certificate request is ${der.byteLength} bytes; the limit is ${maxCsrBytes}`);
  }
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest(bufferSource(der));
  } catch (err) {
    throw new SecurityError("the certificate request could not be parsed", { cause: err });
  }
  const spki = new Uint8Array(request.publicKey.rawData);
  if (!isP256Spki(spki)) throw new SecurityError("the certificate request's key is not ECDSA P-256");
  await importPublicKey(spki);
  let signed: boolean;
  try {
    signed = request.signatureAlgorithm.name === "ECDSA" && (await request.verify());
  } catch {
    signed = false;
  }
  if (!signed) {
    throw new SecurityError("the certificate request is not signed by its own key (proof of possession failed)");
  }
  let requestedName: string | undefined;
  try {
    const san = request.getExtension("2.5.29.17");
    const names = san ? new x509.SubjectAlternativeNameExtension(bufferSource(new Uint8Array(san.rawData))).names.items : [];
    requestedName = names.find((n) => n.type === "dns")?.value ?? request.subjectName.getField("CN")[0];
  } catch (err) {
    throw new SecurityError("the certificate request has a malformed subject alternative name", { cause: err });
  }
  return { requestedName, publicKeySpki: spki, der };
}

/**
 * Issue a certificate from a CSR. The name comes from the CA's own decision
 * (`siteName`), never from the CSR; a CSR that asks for a different name is
 * refused. Key usage digitalSignature (critical); extended key usage per
 * `usage` (default both serverAuth and clientAuth: one certificate per
 * site and CA serves either end of a link, and the names pin who is who);
 * SAN dNSName = site name; serial 128-bit random; valid from 5 minutes ago.
 */
export async function issueFromCsr(
  ca: SiteCa,
  csr: string | Uint8Array,
  options: { siteName: string; validityMs?: number; now?: number; usage?: CertificateUsage },
): Promise<IssuedCertificate> {
  checkSiteName(options.siteName);
  const validityMs = options.validityMs ?? defaultCertificateValidityMs;
  if (!(validityMs > 0)) throw new RangeError("validityMs must be positive");
  const info = await readCsr(csr);
  if (info.requestedName !== undefined && info.requestedName !== options.siteName) {
    throw new SecurityError(
      `the certificate request asks for site ${quoteName(info.requestedName)}, but this grant is for ${quoteName(options.siteName)}`,
    );
  }
  const now = options.now ?? Date.now();
  const notBefore = new Date(now - backdateMs);
  const notAfter = new Date(now + validityMs);
  const usage = options.usage ?? "both";
  const ekus: string[] = [];
  if (usage !== "dialer") ekus.push(x509.ExtendedKeyUsage.serverAuth);
  if (usage !== "acceptor") ekus.push(x509.ExtendedKeyUsage.clientAuth);
  const caCert = new x509.X509Certificate(bufferSource(ca.certificateDer));
  const publicKey = await globalThis.crypto.subtle.importKey("spki", bufferSource(info.publicKeySpki), ecdsaP256, true, [
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [options.siteName] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: ecdsaSha256,
    publicKey,
    signingKey: ca.keyPair.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(ekus, false),
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: options.siteName }], false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keyPair.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  const certificateDer = new Uint8Array(cert.rawData);
  return {
    certificateDer,
    certificatePem: certificateToPem(certificateDer),
    siteName: options.siteName,
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/**
 * The acceptor's own certificate: a leaf from its own CA for its own key, made
 * through the same CSR path (the CA key only ever signs certificates).
 */
export async function issueSiteIdentity(
  ca: SiteCa,
  keyPair: CryptoKeyPair,
  options: { validityMs?: number; now?: number } = {},
): Promise<IssuedCertificate> {
  const csr = await createCsr(ca.siteName, keyPair);
  return issueFromCsr(ca, csr, { siteName: ca.siteName, usage: "acceptor", ...options });
}

/**
 * A TLS server certificate from the site CA for the link port's own
 * `wss://` (RouterAccess generateTlsCredentials). Sites that redeem this
 * site's tokens get the CA certificate with the token, so they trust it
 * without any other set-up. SANs: the given DNS names and IP addresses.
 */
export async function issueTlsServerCertificate(
  ca: SiteCa,
  options: { dnsNames: string[]; ipAddresses: string[]; validityMs: number; now?: number },
): Promise<{ certificatePem: string; privateKeyPem: string; notAfter: Date }> {
  const now = options.now ?? Date.now();
  const { keyPair, pkcs8 } = await generateSiteKey();
  const caCert = new x509.X509Certificate(bufferSource(ca.certificateDer));
  const names = [
    ...options.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...options.ipAddresses.map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [options.dnsNames[0] ?? options.ipAddresses[0] ?? ca.siteName] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now - backdateMs),
    notAfter: new Date(now + options.validityMs),
    signingAlgorithm: ecdsaSha256,
    publicKey: keyPair.publicKey,
    signingKey: ca.keyPair.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(names, false),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keyPair.publicKey),
    ],
  });
  return { certificatePem: certificateToPem(new Uint8Array(cert.rawData)), privateKeyPem: privateKeyToPem(pkcs8), notAfter: cert.notAfter };
}
