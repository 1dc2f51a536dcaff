// Link certificates are short-lived: the dialing site asks for a new one over
// the live link at half its life, and the accepting site's CA issues it for
// the site name the handshake authenticated.

import { pemToCertificate } from "../ca/keys.ts";
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
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(identity: SiteIdentity, linkName: string, logger: Logger) {
    this.#identity = identity;
    this.#linkName = linkName;
    this.#logger = logger;
  }

  /** Check now and then periodically while `session` is up. */
  watch(session: LinkSession): void {
    this.stop();
    const every = Math.min(60 * 60 * 1000, Math.max(1000, this.#identity.certValidityMs / 40));
    const check = () => void this.#maybeRenew(session).catch((err) => this.#logger.warn("cert.renew_failed", `cannot renew the certificate of link ${this.#linkName}: ${errorMessage(err)}`));
    check();
    this.#timer = setInterval(check, every);
    void session.closed.then(() => this.stop());
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
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

  async #maybeRenew(session: LinkSession): Promise<void> {
    if (this.#pending !== undefined || session.state !== "ready") return;
    const link = this.#link();
    const { notBefore, notAfter } = await this.#identity.dialerCredentials(link);
    const remaining = notAfter.getTime() - Date.now();
    if (remaining > (notAfter.getTime() - notBefore.getTime()) / 2) return;
    const { csrPem, privateKeyPem } = await newKeyAndCsr(this.#identity.siteName);
    this.#pending = { keyPem: privateKeyPem };
    session.sendCertificateFrame(FrameType.CertRequest, encodeJson({ csr: csrPem }));
  }
}
