// The SL1 handshake as a transport-agnostic state machine for both ends of a
// link: the dialer (client) and the acceptor (server). Feed it the peer's
// messages, send what it returns; when it is done it hands over the traffic
// secrets for the record layer and the peer's validated certificate.

import { concatBytes } from "../core/bytes.ts";
import { ClosedError, ProtocolError, SecurityError, SkiffError } from "../errors.ts";
import {
  AlertCode,
  alertText,
  ContentType,
  contentTypeName,
  decodeAlert,
  decodeAuthFlight,
  decodeHello,
  decodeLinkAccepted,
  decodePlaintextMessage,
  encodeAlert,
  encodeCertificate,
  encodeCertificateVerify,
  encodeFinished,
  encodeHello,
  encodeLinkAccepted,
  encodeMessage,
  checkHandshakePhaseMessage,
  HandshakeType,
  handshakeLimits,
  type AuthFlight,
  type Hello,
} from "../protocol/handshake.ts";
import { CertificateError, validatePeerCertificate, type PeerCertificate, type TrustAnchor } from "../ca/validate.ts";
import {
  bufferSource,
  computeFinished,
  deriveApplicationSecrets,
  deriveHandshakeSecrets,
  deriveTrafficKey,
  sha256,
  skiffLabelPrefix,
  verifyFinished,
  type ApplicationSecrets,
  type HandshakeSecrets,
  type TrafficKey,
} from "./handshake-keys.ts";
import { decryptRecord, encryptRecord } from "./records.ts";

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

export type HandshakeRole = "dialer" | "acceptor";

export interface HandshakeIdentity {
  /**
   * DER of this site's leaf certificate. SL1 sends only the leaf: the peer
   * pins the issuing CA's key, so there is no chain to send.
   */
  certificate: Uint8Array;
  /** The certificate's ECDSA P-256 private key; non-extractable is fine. */
  privateKey: CryptoKey;
}

export interface HandshakeOptions {
  role: HandshakeRole;
  identity: HandshakeIdentity;
  /** The CA both ends of this link pin: the acceptor's site CA. */
  trust: TrustAnchor;
  /** Dialer only, required there: the site this link must reach (checked against the acceptor's SAN). */
  expectedPeerName?: string;
  /**
   * Acceptor only: may this (validly certified) site link here? Check the
   * registry and deny-lists. Default: every site the CA certified.
   */
  authorize?: (peer: PeerCertificate) => boolean | Promise<boolean>;
  /** Clock, milliseconds since the epoch. Default Date.now. */
  now?: () => number;
  /** Clock skew allowed when checking the peer's certificate dates. Default 5 minutes. */
  skewMs?: number;
  /** Longest certificate lifetime accepted. Default 31 days. */
  maxLifetimeMs?: number;
  /** HKDF label prefix; only known-answer tests change it. */
  labelPrefix?: string;
}

/** The traffic secrets a finished handshake hands to the record layer. */
export interface LinkSecrets {
  /** Seal records with this (RecordSealer). */
  send: Uint8Array;
  /** Open records with this (RecordOpener). */
  receive: Uint8Array;
  /** Exporter secret: binds other protocols (token renewal) to this link. */
  exporter: Uint8Array;
}

export interface HandshakeResult {
  secrets: LinkSecrets;
  peer: PeerCertificate;
  /** Dialer only: the acceptor's clock when it accepted, for clock-skew diagnostics. */
  peerTimeMs?: number;
}

export interface HandshakeStep {
  /** Messages to send to the peer, in order, before anything else. */
  send: Uint8Array[];
  /** Set when the handshake is complete: switch to the record layer. */
  done?: HandshakeResult;
}

export type HandshakeState = "new" | "running" | "done" | "failed";

export interface Handshake {
  readonly role: HandshakeRole;
  readonly state: HandshakeState;
  /** Begin. The dialer gets its ClientHello to send; the acceptor gets nothing. Call once. */
  start(): Promise<Uint8Array[]>;
  /**
   * Process one message from the peer. Calls are queued and processed in
   * call order. The message after the one that completes the handshake
   * belongs to the record layer, so a link awaits each call before deciding
   * where the next message goes. Rejects with ProtocolError or SecurityError;
   * after that the handshake is failed and `abort()` gives the alert to send.
   */
  receive(message: Uint8Array): Promise<HandshakeStep>;
  /**
   * End a handshake that did not complete (a failure from `receive`, a
   * deadline, shutdown). Returns the alert to send the peer, if one should be
   * sent (encrypted once keys exist). Idempotent.
   */
  abort(reason?: unknown): Promise<Uint8Array | undefined>;
}

/** Internal: an error together with the alert that tells the peer about it. */
class Abort {
  readonly error: SkiffError;
  readonly alert: AlertCode | undefined;
  constructor(error: SkiffError, alert: AlertCode | undefined) {
    this.error = error;
    this.alert = alert;
  }
}

function abortWith(alert: AlertCode, error: SkiffError): Abort {
  return new Abort(error, alert);
}

function certificateAlert(err: CertificateError): AlertCode {
  switch (err.problem) {
    case "untrusted":
      return AlertCode.UnknownCa;
    case "expired":
    case "not-yet-valid":
    case "lifetime":
      return AlertCode.CertificateExpired;
    case "key-usage":
    case "extended-key-usage":
    case "key-type":
    case "not-a-leaf":
      return AlertCode.UnsupportedCertificate;
    case "name":
      return AlertCode.UnrecognizedName;
    default:
      return AlertCode.BadCertificate;
  }
}

function toAbort(err: unknown): Abort {
  if (err instanceof Abort) return err;
  if (err instanceof CertificateError) return new Abort(err, certificateAlert(err));
  if (err instanceof ProtocolError) return new Abort(err, AlertCode.DecodeError);
  if (err instanceof SecurityError) return new Abort(err, AlertCode.HandshakeFailure);
  return new Abort(new SecurityError("the link handshake failed unexpectedly", { cause: err }), AlertCode.InternalError);
}

const cvPadding = new Uint8Array(64).fill(0x20);

/** What CertificateVerify signs: 64 spaces, a role-specific context string, 0, the transcript hash. */
export function certificateVerifyContent(role: HandshakeRole, transcriptHash: Uint8Array): Uint8Array {
  const who = role === "acceptor" ? "server" : "client";
  return concatBytes(cvPadding, encoder.encode(`Skiff SL1, ${who} CertificateVerify`), Uint8Array.of(0), transcriptHash);
}

const ecdsaSha256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

type Step =
  | "dialer:server-hello"
  | "dialer:server-flight"
  | "dialer:link-accepted"
  | "acceptor:client-hello"
  | "acceptor:client-flight";

class SL1Handshake implements Handshake {
  readonly role: HandshakeRole;
  #state: HandshakeState = "new";
  #step: Step | undefined;
  readonly #options: HandshakeOptions;
  readonly #now: () => number;
  readonly #prefix: string;
  #chain: Promise<unknown> = Promise.resolve();
  #failure: Abort | undefined;
  #alertSent = false;

  #ephemeral: CryptoKeyPair | undefined;
  #transcript: Uint8Array[] = [];
  #secrets: HandshakeSecrets | undefined;
  #application: ApplicationSecrets | undefined;
  #sendKey: TrafficKey | undefined;
  #receiveKey: TrafficKey | undefined;
  #sendSeq = 0;
  #receiveSeq = 0;
  #peer: PeerCertificate | undefined;

  constructor(options: HandshakeOptions) {
    if (options.role !== "dialer" && options.role !== "acceptor") throw new TypeError("role must be dialer or acceptor");
    if (options.role === "dialer" && !options.expectedPeerName) {
      throw new TypeError("a dialer must say which site it dials (expectedPeerName)");
    }
    if (options.identity.certificate.byteLength > handshakeLimits.maxCertificateBytes) {
      throw new RangeError(`this site's certificate is larger than ${handshakeLimits.maxCertificateBytes} bytes`);
    }
    this.role = options.role;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#prefix = options.labelPrefix ?? skiffLabelPrefix;
  }

  get state(): HandshakeState {
    return this.#state;
  }

  async start(): Promise<Uint8Array[]> {
    if (this.#state !== "new") throw new ClosedError("handshake (start() was already called)");
    this.#state = "running";
    if (this.role === "acceptor") {
      this.#step = "acceptor:client-hello";
      return [];
    }
    try {
      const hello = await this.#makeHello(HandshakeType.ClientHello);
      this.#step = "dialer:server-hello";
      return [encodeMessage(ContentType.Handshake, hello)];
    } catch (err) {
      throw this.#recordFailure(toAbort(err));
    }
  }

  receive(message: Uint8Array): Promise<HandshakeStep> {
    const result = this.#chain.then(() => this.#receive(message));
    this.#chain = result.catch(() => {});
    return result;
  }

  async abort(reason?: unknown): Promise<Uint8Array | undefined> {
    if (this.#state === "done") return undefined;
    if (!this.#failure) {
      const error =
        reason instanceof SkiffError ? reason : new SecurityError("the link handshake was aborted", { cause: reason });
      this.#recordFailure(new Abort(error, AlertCode.HandshakeFailure));
    }
    const alert = this.#failure!.alert;
    if (alert === undefined || this.#alertSent) return undefined;
    this.#alertSent = true;
    try {
      if (this.#sendKey) return await encryptRecord(this.#sendKey, this.#sendSeq++, ContentType.Alert, encodeAlert(alert));
    } catch {
      // fall back to a plaintext alert
    }
    return encodeMessage(ContentType.Alert, encodeAlert(alert));
  }

  async #receive(message: Uint8Array): Promise<HandshakeStep> {
    if (this.#failure) throw this.#failure.error;
    if (this.#state === "done") throw new ProtocolError("the handshake is complete: records belong to the record layer");
    if (this.#state === "new") {
      throw this.#recordFailure(abortWith(AlertCode.UnexpectedMessage, new ProtocolError("a message arrived before the handshake started")));
    }
    try {
      checkHandshakePhaseMessage(message);
      if (message[1] === ContentType.Alert && message.byteLength === 3) {
        // A plaintext alert: the peer gave up before it had keys. Unauthenticated.
        const code = decodeAlert(message.subarray(2));
        throw this.#peerAlert(code, false);
      }
      switch (this.#step) {
        case "dialer:server-hello":
          return await this.#onServerHello(message);
        case "dialer:server-flight":
          return await this.#onServerFlight(message);
        case "dialer:link-accepted":
          return await this.#onLinkAccepted(message);
        case "acceptor:client-hello":
          return await this.#onClientHello(message);
        case "acceptor:client-flight":
          return await this.#onClientFlight(message);
        default:
          throw new ProtocolError("handshake in an impossible state");
      }
    } catch (err) {
      throw this.#recordFailure(toAbort(err));
    }
  }

  #recordFailure(abort: Abort): SkiffError {
    if (!this.#failure) {
      this.#failure = abort;
      this.#state = "failed";
      this.#wipe();
    }
    return this.#failure.error;
  }

  #peerAlert(code: number, authenticated: boolean): Abort {
    const who = this.role === "dialer" ? "the acceptor" : "the dialer";
    const how = authenticated ? "" : " (unauthenticated)";
    const text = `${who} refused the link handshake: ${alertText(code)}${how}`;
    const error =
      code === AlertCode.DecodeError || code === AlertCode.UnexpectedMessage || code === AlertCode.ProtocolVersion
        ? new ProtocolError(text)
        : new SecurityError(text);
    return new Abort(error, undefined);
  }

  // ---- building blocks ----------------------------------------------------

  async #makeHello(type: typeof HandshakeType.ClientHello | typeof HandshakeType.ServerHello): Promise<Uint8Array> {
    this.#ephemeral = (await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"])) as CryptoKeyPair;
    const keyShare = new Uint8Array(await subtle.exportKey("raw", this.#ephemeral.publicKey));
    const random = globalThis.crypto.getRandomValues(new Uint8Array(handshakeLimits.randomBytes));
    const frame = encodeHello(type, { random, keyShare });
    this.#transcript.push(frame);
    return frame;
  }

  async #sharedSecret(peer: Hello): Promise<Uint8Array> {
    let shared: Uint8Array;
    try {
      const peerKey = await subtle.importKey("raw", bufferSource(peer.keyShare), { name: "X25519" }, false, []);
      shared = new Uint8Array(await subtle.deriveBits({ name: "X25519", public: peerKey }, this.#ephemeral!.privateKey, 256));
    } catch (err) {
      throw abortWith(
        AlertCode.HandshakeFailure,
        new SecurityError("the peer's X25519 key share is invalid (a low-order or malformed point)", { cause: err }),
      );
    }
    // WebCrypto already refuses low-order points; check the result anyway.
    if (shared.every((b) => b === 0)) {
      throw abortWith(AlertCode.HandshakeFailure, new SecurityError("the X25519 shared secret is all zeros"));
    }
    return shared;
  }

  async #deriveHandshakeKeys(shared: Uint8Array): Promise<void> {
    const secrets = await deriveHandshakeSecrets(shared, await sha256(concatBytes(...this.#transcript)), this.#prefix);
    shared.fill(0);
    this.#secrets = secrets;
    const mine = this.role === "dialer" ? secrets.clientHandshake : secrets.serverHandshake;
    const theirs = this.role === "dialer" ? secrets.serverHandshake : secrets.clientHandshake;
    [this.#sendKey, this.#receiveKey] = await Promise.all([
      deriveTrafficKey(mine, this.#prefix),
      deriveTrafficKey(theirs, this.#prefix),
    ]);
  }

  /** Open the peer's next handshake-phase record; it must be a handshake record. */
  async #openHandshakeRecord(message: Uint8Array): Promise<Uint8Array> {
    let opened: { type: number; payload: Uint8Array };
    try {
      opened = await decryptRecord(this.#receiveKey!, this.#receiveSeq++, message, handshakeLimits.maxMessageBytes);
    } catch (err) {
      if (err instanceof SecurityError) throw abortWith(AlertCode.BadRecordMac, err);
      throw err;
    }
    if (opened.type === ContentType.Alert) {
      throw this.#peerAlert(opened.payload.byteLength === 1 ? opened.payload[0]! : AlertCode.DecodeError, true);
    }
    if (opened.type !== ContentType.Handshake) {
      throw abortWith(
        AlertCode.UnexpectedMessage,
        new ProtocolError(`expected an encrypted handshake message, got ${contentTypeName(opened.type)}`),
      );
    }
    return opened.payload;
  }

  /** Certificate, CertificateVerify and Finished of this side, appended to the transcript. */
  async #makeAuthFlight(): Promise<Uint8Array> {
    const ownSecret = this.role === "dialer" ? this.#secrets!.clientHandshake : this.#secrets!.serverHandshake;
    const certificate = encodeCertificate(this.#options.identity.certificate);
    this.#transcript.push(certificate);
    const toSign = certificateVerifyContent(this.role, await sha256(concatBytes(...this.#transcript)));
    let signature: Uint8Array;
    try {
      signature = new Uint8Array(await subtle.sign(ecdsaSha256, this.#options.identity.privateKey, bufferSource(toSign)));
    } catch (err) {
      throw abortWith(
        AlertCode.InternalError,
        new SecurityError("this site could not sign its handshake: its private key is not an ECDSA P-256 signing key", {
          cause: err,
        }),
      );
    }
    const certificateVerify = encodeCertificateVerify(signature);
    this.#transcript.push(certificateVerify);
    const finished = encodeFinished(
      await computeFinished(ownSecret, await sha256(concatBytes(...this.#transcript)), this.#prefix),
    );
    this.#transcript.push(finished);
    return concatBytes(certificate, certificateVerify, finished);
  }

  /** Validate the peer's flight: certificate, signature over the transcript, Finished. */
  async #checkAuthFlight(flight: AuthFlight): Promise<PeerCertificate> {
    const peerRole: HandshakeRole = this.role === "dialer" ? "acceptor" : "dialer";
    const peerSecret = this.role === "dialer" ? this.#secrets!.serverHandshake : this.#secrets!.clientHandshake;
    const peer = await validatePeerCertificate(flight.certificate.body, {
      trust: this.#options.trust,
      usedBy: peerRole,
      expectedName: this.role === "dialer" ? this.#options.expectedPeerName : undefined,
      now: this.#now(),
      skewMs: this.#options.skewMs,
      maxLifetimeMs: this.#options.maxLifetimeMs,
    });
    this.#transcript.push(flight.certificate.raw.slice());
    const signed = certificateVerifyContent(peerRole, await sha256(concatBytes(...this.#transcript)));
    let valid = false;
    try {
      valid = await subtle.verify(ecdsaSha256, peer.publicKey, bufferSource(flight.certificateVerify.body), bufferSource(signed));
    } catch {
      valid = false;
    }
    if (!valid) {
      throw abortWith(
        AlertCode.DecryptError,
        new SecurityError(
          `the ${peerRole}'s CertificateVerify does not verify for site ${JSON.stringify(peer.siteName)}: ` +
            "it does not hold its certificate's key, or the handshake was changed in transit",
        ),
      );
    }
    this.#transcript.push(flight.certificateVerify.raw.slice());
    const finishedOk = await verifyFinished(
      peerSecret,
      flight.finished.body,
      await sha256(concatBytes(...this.#transcript)),
      this.#prefix,
    );
    if (!finishedOk) {
      throw abortWith(
        AlertCode.DecryptError,
        new SecurityError(`the ${peerRole}'s Finished MAC does not verify: the handshake was changed in transit`),
      );
    }
    this.#transcript.push(flight.finished.raw.slice());
    return peer;
  }

  async #deriveApplication(): Promise<void> {
    this.#application = await deriveApplicationSecrets(
      this.#secrets!.master,
      await sha256(concatBytes(...this.#transcript)),
      this.#prefix,
    );
    this.#secrets!.master.fill(0);
  }

  #result(peerTimeMs?: number): HandshakeResult {
    const app = this.#application!;
    const secrets: LinkSecrets =
      this.role === "dialer"
        ? { send: app.clientApplication, receive: app.serverApplication, exporter: app.exporter }
        : { send: app.serverApplication, receive: app.clientApplication, exporter: app.exporter };
    const result: HandshakeResult = { secrets, peer: this.#peer! };
    if (peerTimeMs !== undefined) result.peerTimeMs = peerTimeMs;
    this.#state = "done";
    this.#application = undefined;
    this.#sendKey = undefined;
    this.#wipe();
    return result;
  }

  #wipe(): void {
    if (this.#secrets) {
      this.#secrets.clientHandshake.fill(0);
      this.#secrets.serverHandshake.fill(0);
      this.#secrets.master.fill(0);
      this.#secrets = undefined;
    }
    if (this.#application) {
      this.#application.clientApplication.fill(0);
      this.#application.serverApplication.fill(0);
      this.#application.exporter.fill(0);
      this.#application = undefined;
    }
    this.#ephemeral = undefined;
    this.#transcript = [];
    // The send key stays until the state is final so abort() can encrypt its alert.
    this.#receiveKey = undefined;
  }

  // ---- dialer -------------------------------------------------------------

  async #onServerHello(message: Uint8Array): Promise<HandshakeStep> {
    const plain = decodePlaintextMessage(message);
    if (plain.kind === "alert") throw this.#peerAlert(plain.code, false);
    const hello = decodeHello(plain.frame, HandshakeType.ServerHello);
    this.#transcript.push(plain.frame.raw.slice());
    await this.#deriveHandshakeKeys(await this.#sharedSecret(hello));
    this.#step = "dialer:server-flight";
    return { send: [] };
  }

  async #onServerFlight(message: Uint8Array): Promise<HandshakeStep> {
    const flight = decodeAuthFlight(await this.#openHandshakeRecord(message));
    this.#peer = await this.#checkAuthFlight(flight);
    await this.#deriveApplication();
    const mine = await this.#makeAuthFlight();
    const record = await encryptRecord(this.#sendKey!, this.#sendSeq++, ContentType.Handshake, mine);
    this.#step = "dialer:link-accepted";
    return { send: [record] };
  }

  async #onLinkAccepted(message: Uint8Array): Promise<HandshakeStep> {
    const { acceptorTimeMs } = decodeLinkAccepted(await this.#openHandshakeRecord(message));
    return { send: [], done: this.#result(acceptorTimeMs) };
  }

  // ---- acceptor -----------------------------------------------------------

  async #onClientHello(message: Uint8Array): Promise<HandshakeStep> {
    const plain = decodePlaintextMessage(message);
    if (plain.kind === "alert") throw this.#peerAlert(plain.code, false);
    const clientHello = decodeHello(plain.frame, HandshakeType.ClientHello);
    this.#transcript.push(plain.frame.raw.slice());
    const serverHello = await this.#makeHello(HandshakeType.ServerHello);
    await this.#deriveHandshakeKeys(await this.#sharedSecret(clientHello));
    const flight = await this.#makeAuthFlight();
    await this.#deriveApplication();
    const record = await encryptRecord(this.#sendKey!, this.#sendSeq++, ContentType.Handshake, flight);
    this.#step = "acceptor:client-flight";
    return { send: [encodeMessage(ContentType.Handshake, serverHello), record] };
  }

  async #onClientFlight(message: Uint8Array): Promise<HandshakeStep> {
    const flight = decodeAuthFlight(await this.#openHandshakeRecord(message));
    const peer = await this.#checkAuthFlight(flight);
    const authorize = this.#options.authorize;
    if (authorize && !(await authorize(peer))) {
      throw abortWith(
        AlertCode.AccessDenied,
        new SecurityError(`site ${JSON.stringify(peer.siteName)} is not allowed to link to this site (revoked or unknown)`),
      );
    }
    this.#peer = peer;
    const accepted = encodeLinkAccepted(this.#now());
    const record = await encryptRecord(this.#sendKey!, this.#sendSeq++, ContentType.Handshake, accepted);
    return { send: [record], done: this.#result() };
  }
}

/** Create the handshake for one end of one link. */
export function createHandshake(options: HandshakeOptions): Handshake {
  return new SL1Handshake(options);
}
