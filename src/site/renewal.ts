// Link certificates are short-lived: the dialing site asks for a new one over
// the live link at half its life, and the accepting site's CA issues it for
// the site name the handshake authenticated.

import { pemToCertificate } from "../ca/keys.ts";
import { backdateMs } from "../ca/site-ca.ts";
import { trustAnchorFromCaCertificate, validatePeerCertificate } from "../ca/validate.ts";
import { ProtocolError, errorMessage } from "../errors.ts";
import type { Logger } from "../core/logger.ts";
import type { LinkSession } from "../link/session.ts";
import { decodeJson, encodeJson, FrameType } from "../protocol/frames.ts";
import { newKeyAndCsr, type SiteIdentity, type StoredLink } from "./identity.ts";

/** Acceptor: answer a CertRequest from `peerSite` (already authenticated by the handshake). */
export async function answerCertRequest(session: LinkSession, payload: Uint8Array, identity: SiteIdentity, peerSite: string, logger: Logger): Promise<void> {
  const request = decodeJson(payload, "CertRequest") as { csr?: unknown };
  if (typeof request.csr !== "string" || request.csr.length > 8192) throw new ProtocolError("malformed CertRequest: expected {csr}");
  const issued = await identity.issueFor(peerSite, request.csr);
  session.sendCertificateFrame(FrameType.CertIssued, encodeJson({ certificate: issued.certificatePem }));
  logger.info("cert.renewed", `issued a renewed link certificate to site ${peerSite}, valid until ${issued.notAfter.toISOString()}`, { peer: peerSite });
}

/** Dialer side: renews the link certificate of one stored link when half its life is gone. */
export class CertificateRenewer {
  readonly #identity: SiteIdentity;
  readonly #logger: Logger;
  readonly #linkName: string;
  #pending: { keyPem: string } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(identity: SiteIdentity, linkName: string, logger: Logger) {
    this.#identity = identity;
    this.#linkName = linkName;
    this.#logger = logger;
  }

  /** Check now, then again every 1/40 of the certificate's lifetime (1 s to 1 h), while `session` is up. */
  watch(session: LinkSession): void {
    this.stop();
    this.#pending = undefined; // a request lost with the previous link is asked again
    const check = async () => {
      let next = 60_000;
      try {
        next = await this.#maybeRenew(session);
      } catch (err) {
        this.#logger.warn("cert.renew_failed", `cannot renew the certificate of link ${this.#linkName}: ${errorMessage(err)}`);
      }
      if (session.state !== "closed") this.#timer = setTimeout(() => void check(), next);
    };
    void check();
    void session.closed.then(() => this.stop());
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The acceptor's CertIssued arrived. */
  async receive(payload: Uint8Array): Promise<void> {
    const pending = this.#pending;
    if (pending === undefined) throw new ProtocolError("CertIssued without a CertRequest");
    this.#pending = undefined;
    const answer = decodeJson(payload, "CertIssued") as { certificate?: unknown };
    if (typeof answer.certificate !== "string") throw new ProtocolError("malformed CertIssued: expected {certificate}");
    const link = this.#link();
    const trust = await trustAnchorFromCaCertificate(link.caPem);
    const checked = await validatePeerCertificate(pemToCertificate(answer.certificate), {
      trust,
      usedBy: "dialer",
      expectedName: this.#identity.siteName,
      now: Date.now(),
    });
    await this.#identity.saveLink({ ...link, certificatePem: answer.certificate, privateKeyPem: pending.keyPem });
    this.#logger.info("cert.renewed", `link ${this.#linkName} has a renewed certificate, valid until ${checked.notAfter.toISOString()}`, { link: this.#linkName });
  }

  #link(): StoredLink {
    const link = this.#identity.link(this.#linkName);
    if (link === undefined) throw new Error(`no stored link ${this.#linkName}`);
    return link;
  }

  /** Ask for a new certificate if half its life is gone; returns when to check next (ms). */
  async #maybeRenew(session: LinkSession): Promise<number> {
    const link = this.#link();
    const { notBefore, notAfter } = await this.#identity.dialerCredentials(link);
    // Certificates are backdated for clock skew; the half-life counts from issue time.
    const lifetime = notAfter.getTime() - notBefore.getTime() - backdateMs;
    const next = Math.min(3_600_000, Math.max(1000, lifetime / 40));
    if (this.#pending !== undefined || session.state !== "ready") return next;
    if (notAfter.getTime() - Date.now() > lifetime / 2) return next;
    const { csrPem, privateKeyPem } = await newKeyAndCsr(this.#identity.siteName);
    this.#pending = { keyPem: privateKeyPem };
    session.sendCertificateFrame(FrameType.CertRequest, encodeJson({ csr: csrPem }));
    return next;
  }
}
