// A site's keys and certificates: its CA (when it accepts links), the
// certificate it presents to sites that dial it, and the credentials of the
// links it dials. Kept in the state directory, owner-only, or taken from the
// environment on hosts without a writable disk.

import { createCsr, createSiteCa, issueFromCsr, issueSiteIdentity, loadSiteCa, type IssuedCertificate, type SiteCa } from "../ca/site-ca.ts";
import { certificateToPem, generateSiteKey, loadSiteKey, pemToCertificate, privateKeyToPem } from "../ca/keys.ts";
import { trustAnchorFromCaCertificate, type TrustAnchor } from "../ca/validate.ts";
import { x509 } from "../ca/x509.ts";
import { errorMessage, SecurityError } from "../errors.ts";
import type { HandshakeIdentity } from "../link/handshake.ts";
import type { Platform } from "../platform/types.ts";
import type { StateDir } from "./state.ts";

/** Environment variables that carry the CA when the state directory is not writable. */
export const CA_CERTIFICATE_ENV = "SKIFF_CA_CERTIFICATE";
export const CA_PRIVATE_KEY_ENV = "SKIFF_CA_PRIVATE_KEY";

/** Link certificates are short-lived; they are renewed over the live link at half their life. */
export const DEFAULT_LINK_CERT_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** What a dialing site keeps for one link: where to dial, whom to expect, and its credentials. */
export interface StoredLink {
  name: string;
  url: string;
  cost: number;
  /** The site at the other end (named in its certificate). */
  peerSite: string;
  /** The peer's CA certificate (PEM): the pin for this link. */
  caPem: string;
  certificatePem: string;
  privateKeyPem: string;
  redeemedAt: string;
}

export class SiteIdentity {
  readonly siteName: string;
  readonly #platform: Platform;
  readonly #state: StateDir;
  readonly #certValidityMs: number;
  #ca: SiteCa | undefined;
  #caPem: string | undefined;
  #acceptor: { identity: HandshakeIdentity; issued: IssuedCertificate } | undefined;
  #links: StoredLink[] = [];

  private constructor(platform: Platform, state: StateDir, siteName: string, certValidityMs: number) {
    this.#platform = platform;
    this.#state = state;
    this.siteName = siteName;
    this.#certValidityMs = certValidityMs;
  }

  static async load(options: { platform: Platform; state: StateDir; siteName: string; acceptsLinks: boolean; certValidityMs?: number }): Promise<SiteIdentity> {
    const identity = new SiteIdentity(options.platform, options.state, options.siteName, options.certValidityMs ?? DEFAULT_LINK_CERT_VALIDITY_MS);
    if (options.acceptsLinks) await identity.#loadCa();
    await identity.#loadLinks();
    return identity;
  }

  get certValidityMs(): number {
    return this.#certValidityMs;
  }

  /** This site's CA (sites that accept links only). */
  get ca(): SiteCa {
    if (this.#ca === undefined) throw new SecurityError(`site ${this.siteName} does not accept links, so it has no CA`);
    return this.#ca;
  }

  get caPem(): string {
    this.ca;
    return this.#caPem!;
  }

  get trust(): TrustAnchor {
    return this.ca.trust;
  }

  /**
   * The certificate this site presents to sites that dial it: a leaf of its
   * own CA for a key made at start. Reissued when a third of its life is left.
   */
  async acceptorIdentity(): Promise<HandshakeIdentity> {
    const now = Date.now();
    const current = this.#acceptor;
    if (current !== undefined && current.issued.notAfter.getTime() - now > this.#certValidityMs / 3) return current.identity;
    const { keyPair } = await generateSiteKey();
    const issued = await issueSiteIdentity(this.ca, keyPair, { validityMs: this.#certValidityMs });
    this.#acceptor = { identity: { certificate: issued.certificateDer, privateKey: keyPair.privateKey }, issued };
    return this.#acceptor.identity;
  }

  /** Issue a certificate for a dialing site from its CSR (token redemption, renewal). */
  issueFor(siteName: string, csrPem: string): Promise<IssuedCertificate> {
    return issueFromCsr(this.ca, csrPem, { siteName, validityMs: this.#certValidityMs, usage: "dialer" });
  }

  // ---- links this site dials ----

  get links(): readonly StoredLink[] {
    return this.#links;
  }

  link(name: string): StoredLink | undefined {
    return this.#links.find((l) => l.name === name);
  }

  /** Store (or replace) a link's credentials; written before anyone uses them. */
  async saveLink(link: StoredLink): Promise<void> {
    this.#links = [...this.#links.filter((l) => l.name !== link.name), link];
    await this.#platform.writePrivateFile(this.#state.file("links.json"), JSON.stringify(this.#links, null, 2) + "\n");
  }

  /** The handshake identity and pin for dialing a stored link. */
  async dialerCredentials(link: StoredLink): Promise<{ identity: HandshakeIdentity; trust: TrustAnchor; notBefore: Date; notAfter: Date }> {
    const certificate = pemToCertificate(link.certificatePem);
    const keyPair = await loadSiteKey(link.privateKeyPem, certificate);
    const trust = await trustAnchorFromCaCertificate(link.caPem);
    const { notBefore, notAfter } = new x509.X509Certificate(certificate.slice().buffer);
    return { identity: { certificate, privateKey: keyPair.privateKey }, trust, notBefore, notAfter };
  }

  async #loadCa(): Promise<void> {
    const fromEnvCert = this.#platform.env(CA_CERTIFICATE_ENV);
    const fromEnvKey = this.#platform.env(CA_PRIVATE_KEY_ENV);
    if (fromEnvCert !== undefined || fromEnvKey !== undefined) {
      if (fromEnvCert === undefined || fromEnvKey === undefined) {
        throw new SecurityError(`set both ${CA_CERTIFICATE_ENV} and ${CA_PRIVATE_KEY_ENV} (PEM), or neither`);
      }
      this.#ca = await this.#checkedCa(fromEnvCert, fromEnvKey, "the environment");
      this.#caPem = fromEnvCert.trim() + "\n";
      return;
    }
    const certFile = this.#state.file("ca.pem");
    const keyFile = this.#state.file("ca-key.pem");
    const certPem = await this.#platform.readTextFileIfExists(certFile);
    const keyPem = await this.#platform.readTextFileIfExists(keyFile);
    if (certPem !== undefined && keyPem !== undefined) {
      this.#ca = await this.#checkedCa(certPem, keyPem, this.#state.path);
      this.#caPem = certPem;
      return;
    }
    // First start: make the CA. The key is written once, owner-only, before the certificate.
    const created = await createSiteCa(this.siteName);
    this.#caPem = certificateToPem(created.certificateDer);
    await this.#platform.writePrivateFile(keyFile, privateKeyToPem(created.pkcs8));
    await this.#platform.writePrivateFile(certFile, this.#caPem);
    this.#ca = created;
  }

  async #checkedCa(certPem: string, keyPem: string, where: string): Promise<SiteCa> {
    try {
      return await loadSiteCa(certPem, keyPem);
    } catch (err) {
      throw new SecurityError(`cannot load the site CA from ${where}: ${errorMessage(err)}`);
    }
  }

  async #loadLinks(): Promise<void> {
    const text = await this.#platform.readTextFileIfExists(this.#state.file("links.json"));
    if (text === undefined) return;
    try {
      this.#links = JSON.parse(text) as StoredLink[];
    } catch (err) {
      throw new SecurityError(`cannot read stored links in ${this.#state.file("links.json")}: ${errorMessage(err)}`);
    }
  }
}

/** A new key and CSR for `siteName`: the private key stays here, only the CSR travels. */
export async function newKeyAndCsr(siteName: string): Promise<{ csrPem: string; privateKeyPem: string; keyPair: CryptoKeyPair }> {
  const { keyPair, pkcs8 } = await generateSiteKey();
  return { csrPem: await createCsr(siteName, keyPair), privateKeyPem: privateKeyToPem(pkcs8), keyPair };
}
