// Shared fixtures for the security tests: a small network of sites with CAs
// and certificates, hand-made bad certificates, and an in-memory driver that
// runs two handshake ends against each other with an attacker hook.

import { x509 } from "../../../src/ca/x509.ts";
import { generateSiteKey } from "../../../src/ca/keys.ts";
import { createCsr, createSiteCa, issueFromCsr, issueSiteIdentity, type NewSiteCa } from "../../../src/ca/site-ca.ts";
import type { Handshake, HandshakeIdentity, HandshakeResult } from "../../../src/link/handshake.ts";

export const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
export const unhex = (text: string): Uint8Array =>
  Uint8Array.from(text.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));

export const minute = 60_000;
export const day = 86_400_000;

export interface Network {
  /** The accepting site's CA ("west"): it issued every certificate below except the rogue ones. */
  ca: NewSiteCa;
  /** Same subject name "west site CA", different key. */
  rogueCa: NewSiteCa;
  /** West's own acceptor certificate. */
  west: HandshakeIdentity;
  /** East, dialing west, with a certificate from west's CA. */
  east: HandshakeIdentity;
  /** Another site certified by west's CA (an insider). */
  mallory: HandshakeIdentity;
  /** East with a certificate from the rogue CA. */
  eastRogue: HandshakeIdentity;
}

export async function identity(ca: NewSiteCa, siteName: string, options: { now?: number; validityMs?: number } = {}) {
  const { keyPair } = await generateSiteKey();
  const issued = await issueFromCsr(ca, await createCsr(siteName, keyPair), { siteName, ...options });
  return { certificate: issued.certificateDer, privateKey: keyPair.privateKey, keyPair };
}

let cached: Promise<Network> | undefined;

export function network(): Promise<Network> {
  cached ??= (async () => {
    const ca = await createSiteCa("west");
    const rogueCa = await createSiteCa("west");
    const westKey = await generateSiteKey();
    const westCert = await issueSiteIdentity(ca, westKey.keyPair);
    return {
      ca,
      rogueCa,
      west: { certificate: westCert.certificateDer, privateKey: westKey.keyPair.privateKey },
      east: await identity(ca, "east"),
      mallory: await identity(ca, "mallory"),
      eastRogue: await identity(rogueCa, "east"),
    };
  })();
  return cached;
}

export interface LeafOptions {
  name?: string;
  sans?: x509.JsonGeneralNames;
  publicKey?: CryptoKey;
  signingKey?: CryptoKey;
  signingAlgorithm?: EcdsaParams | Algorithm;
  notBefore?: Date;
  notAfter?: Date;
  extensions?: x509.Extension[];
  /** Replace the default extensions entirely. */
  replaceExtensions?: boolean;
}

/** A leaf signed by `ca` with whatever is asked for: for certificates the CA would never issue. */
export async function makeLeaf(ca: NewSiteCa, options: LeafOptions = {}): Promise<Uint8Array> {
  const name = options.name ?? "east";
  const publicKey = options.publicKey ?? (await generateSiteKey()).keyPair.publicKey;
  const caCert = new x509.X509Certificate(ca.certificateDer as Uint8Array<ArrayBuffer>);
  const defaults: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    new x509.SubjectAlternativeNameExtension(options.sans ?? [{ type: "dns", value: name }]),
  ];
  const extensions = options.replaceExtensions ? (options.extensions ?? []) : [...defaults, ...(options.extensions ?? [])];
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "01" + hex(crypto.getRandomValues(new Uint8Array(8))),
    subject: `CN=${name}`,
    issuer: caCert.subject,
    notBefore: options.notBefore ?? new Date(now - 5 * minute),
    notAfter: options.notAfter ?? new Date(now + day),
    signingAlgorithm: options.signingAlgorithm ?? { name: "ECDSA", hash: "SHA-256" },
    publicKey,
    signingKey: options.signingKey ?? ca.keyPair.privateKey,
    extensions,
  });
  return new Uint8Array(cert.rawData);
}

export type Outcome = { ok: true; result: HandshakeResult } | { ok: false; error: Error };

export interface Wire {
  /** Called for every message the dialer sends; return the messages the acceptor should get. */
  toAcceptor?: (message: Uint8Array, index: number) => Uint8Array[];
  /** Called for every message the acceptor sends; return the messages the dialer should get. */
  toDialer?: (message: Uint8Array, index: number) => Uint8Array[];
}

/**
 * Run a dialer and an acceptor against each other in memory. A side that
 * fails sends its alert (from abort()) to the other side, as a link would.
 */
export async function connect(dialer: Handshake, acceptor: Handshake, wire: Wire = {}) {
  const outcome: { dialer?: Outcome; acceptor?: Outcome } = {};
  const log = { toAcceptor: [] as Uint8Array[], toDialer: [] as Uint8Array[] };
  let sentToAcceptor = 0;
  let sentToDialer = 0;
  const inboxAcceptor: Uint8Array[] = [];
  const inboxDialer: Uint8Array[] = [];
  const sendToAcceptor = (m: Uint8Array) => {
    log.toAcceptor.push(m);
    inboxAcceptor.push(...(wire.toAcceptor ? wire.toAcceptor(m, sentToAcceptor++) : [m]));
  };
  const sendToDialer = (m: Uint8Array) => {
    log.toDialer.push(m);
    inboxDialer.push(...(wire.toDialer ? wire.toDialer(m, sentToDialer++) : [m]));
  };
  await acceptor.start();
  for (const m of await dialer.start()) sendToAcceptor(m);

  const deliver = async (side: "dialer" | "acceptor", message: Uint8Array) => {
    const hs = side === "dialer" ? dialer : acceptor;
    const send = side === "dialer" ? sendToAcceptor : sendToDialer;
    if (outcome[side]) return;
    try {
      const step = await hs.receive(message);
      for (const m of step.send) send(m);
      if (step.done) outcome[side] = { ok: true, result: step.done };
    } catch (error) {
      outcome[side] = { ok: false, error: error as Error };
      const alert = await hs.abort(error);
      if (alert) send(alert);
    }
  };
  for (let rounds = 0; rounds < 20 && (inboxAcceptor.length || inboxDialer.length); rounds++) {
    for (const m of inboxAcceptor.splice(0)) await deliver("acceptor", m);
    for (const m of inboxDialer.splice(0)) await deliver("dialer", m);
  }
  return { ...outcome, log };
}

export function expectFailure(outcome: Outcome | undefined): Error {
  if (!outcome) throw new Error("side neither finished nor failed (handshake stalled)");
  if (outcome.ok) throw new Error(`side established a link to ${outcome.result.peer.siteName} but should have failed`);
  return outcome.error;
}

export function expectSuccess(outcome: Outcome | undefined): HandshakeResult {
  if (!outcome) throw new Error("side neither finished nor failed (handshake stalled)");
  if (!outcome.ok) throw outcome.error;
  return outcome.result;
}

/** Reject if `promise` does not settle within `ms`: a hang is a failure. */
export function within<T>(promise: Promise<T>, ms = 2000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms (hang)`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
