// SL1 wire formats: the message header every link message starts with, the
// handshake messages and the alerts. Pure encode/decode with exact length
// checks; every malformed input becomes a ProtocolError. Layout: docs/link-protocol.md.

import { ProtocolError } from "../errors.ts";

/** The only protocol version. There is nothing to negotiate: one suite, one version. */
export const sl1Version = 0x01;

/** Every link message starts with `version:u8 contentType:u8`. */
export const messageHeaderBytes = 2;

export const ContentType = {
  Alert: 0x15,
  Handshake: 0x16,
  Data: 0x17,
  KeyUpdate: 0x18,
} as const;
export type ContentType = (typeof ContentType)[keyof typeof ContentType];

export const HandshakeType = {
  ClientHello: 0x01,
  ServerHello: 0x02,
  Certificate: 0x0b,
  CertificateVerify: 0x0f,
  Finished: 0x14,
  /** Acceptor -> dialer, last handshake message: the dialer's certificate was accepted. */
  LinkAccepted: 0x30,
} as const;
export type HandshakeType = (typeof HandshakeType)[keyof typeof HandshakeType];

/**
 * Alert codes. The numbers follow TLS where the meaning is the same, so a
 * reader who knows TLS reads them at once. An alert carries only its code.
 */
export const AlertCode = {
  CloseNotify: 0,
  UnexpectedMessage: 10,
  BadRecordMac: 20,
  RecordOverflow: 22,
  HandshakeFailure: 40,
  BadCertificate: 42,
  UnsupportedCertificate: 43,
  CertificateExpired: 45,
  UnknownCa: 48,
  AccessDenied: 49,
  DecodeError: 50,
  DecryptError: 51,
  ProtocolVersion: 70,
  InternalError: 80,
  UnrecognizedName: 112,
} as const;
export type AlertCode = (typeof AlertCode)[keyof typeof AlertCode];

const alertTexts: ReadonlyMap<number, string> = new Map([
  [AlertCode.CloseNotify, "close_notify (orderly close)"],
  [AlertCode.UnexpectedMessage, "unexpected_message (a message arrived out of order)"],
  [AlertCode.BadRecordMac, "bad_record_mac (a record failed authentication)"],
  [AlertCode.RecordOverflow, "record_overflow (a record was too large)"],
  [AlertCode.HandshakeFailure, "handshake_failure"],
  [AlertCode.BadCertificate, "bad_certificate (the certificate is malformed or misused)"],
  [AlertCode.UnsupportedCertificate, "unsupported_certificate (wrong key type, key usage or extended key usage)"],
  [AlertCode.CertificateExpired, "certificate_expired (expired or not yet valid, by the peer's clock)"],
  [AlertCode.UnknownCa, "unknown_ca (not issued by the CA the peer trusts)"],
  [AlertCode.AccessDenied, "access_denied (the peer does not allow this site to link)"],
  [AlertCode.DecodeError, "decode_error (a message could not be parsed)"],
  [AlertCode.DecryptError, "decrypt_error (a signature or Finished MAC did not verify)"],
  [AlertCode.ProtocolVersion, "protocol_version (unsupported SL1 version)"],
  [AlertCode.InternalError, "internal_error"],
  [AlertCode.UnrecognizedName, "unrecognized_name (the certificate names a different site)"],
]);

/** A person-readable name for an alert code, including unknown codes. */
export function alertText(code: number): string {
  return alertTexts.get(code) ?? `unknown alert ${code}`;
}

export const handshakeLimits = {
  randomBytes: 32,
  keyShareBytes: 32,
  /** DER certificates larger than this are refused before parsing. */
  maxCertificateBytes: 4096,
  /** ECDSA P-256 signature in IEEE P1363 form (r || s), as WebCrypto produces. */
  signatureBytes: 64,
  finishedBytes: 32,
  /** Any handshake-phase link message larger than this is refused before decryption. */
  maxMessageBytes: 8192,
} as const;

const frameHeaderBytes = 4;
const helloBodyBytes = 1 + handshakeLimits.randomBytes + handshakeLimits.keyShareBytes;
const linkAcceptedBodyBytes = 8;

/** One handshake message as framed on the wire: `type:u8 length:u24 body`. */
export interface HandshakeFrame {
  type: number;
  /** View of the body inside the message it was decoded from. */
  body: Uint8Array;
  /** View of the whole frame (header and body): what goes into the transcript. */
  raw: Uint8Array;
}

export interface Hello {
  random: Uint8Array;
  keyShare: Uint8Array;
}

/** The three frames of an authentication flight, in their only allowed order. */
export interface AuthFlight {
  certificate: HandshakeFrame;
  certificateVerify: HandshakeFrame;
  finished: HandshakeFrame;
}

/** A plaintext link message seen before any keys exist. */
export type PlaintextMessage =
  | { kind: "handshake"; frame: HandshakeFrame }
  | { kind: "alert"; code: number };

const typeNames = new Map<number, string>(Object.entries(HandshakeType).map(([name, value]) => [value, name]));

export function handshakeTypeName(type: number): string {
  return typeNames.get(type) ?? `unknown message type 0x${type.toString(16).padStart(2, "0")}`;
}

export function contentTypeName(type: number): string {
  switch (type) {
    case ContentType.Alert:
      return "alert";
    case ContentType.Handshake:
      return "handshake";
    case ContentType.Data:
      return "data";
    case ContentType.KeyUpdate:
      return "key update";
    default:
      return `unknown content type 0x${type.toString(16).padStart(2, "0")}`;
  }
}

// ---- frames -----------------------------------------------------------------

/** Frame one handshake message. The body is copied; bodies are small. */
export function encodeFrame(type: HandshakeType, body: Uint8Array): Uint8Array {
  if (body.byteLength > handshakeLimits.maxMessageBytes) {
    throw new RangeError(`handshake body of ${body.byteLength} bytes is larger than ${handshakeLimits.maxMessageBytes}`);
  }
  const out = new Uint8Array(frameHeaderBytes + body.byteLength);
  out[0] = type;
  out[1] = (body.byteLength >>> 16) & 0xff;
  out[2] = (body.byteLength >>> 8) & 0xff;
  out[3] = body.byteLength & 0xff;
  out.set(body, frameHeaderBytes);
  return out;
}

/**
 * Split bytes into handshake frames. The count must be exactly `count`, and
 * the frames must fill the bytes exactly: no partial frame, no trailing byte.
 */
export function decodeFrames(bytes: Uint8Array, count: number): HandshakeFrame[] {
  if (bytes.byteLength > handshakeLimits.maxMessageBytes) {
    throw new ProtocolError(
      `handshake message of ${bytes.byteLength} bytes exceeds the ${handshakeLimits.maxMessageBytes}-byte limit`,
    );
  }
  const frames: HandshakeFrame[] = [];
  let offset = 0;
  while (offset < bytes.byteLength) {
    if (frames.length === count) {
      throw new ProtocolError(`handshake message has ${bytes.byteLength - offset} unexpected trailing bytes`);
    }
    if (bytes.byteLength - offset < frameHeaderBytes) {
      throw new ProtocolError("handshake message ends inside a frame header");
    }
    const type = bytes[offset]!;
    const length = (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
    const end = offset + frameHeaderBytes + length;
    if (end > bytes.byteLength) {
      throw new ProtocolError(
        `${handshakeTypeName(type)} claims ${length} bytes but only ${bytes.byteLength - offset - frameHeaderBytes} follow`,
      );
    }
    frames.push({
      type,
      body: bytes.subarray(offset + frameHeaderBytes, end),
      raw: bytes.subarray(offset, end),
    });
    offset = end;
  }
  if (frames.length !== count) {
    throw new ProtocolError(`handshake message has ${frames.length} frames, expected ${count}`);
  }
  return frames;
}

function expectFrame(frame: HandshakeFrame, type: HandshakeType): void {
  if (frame.type !== type) {
    throw new ProtocolError(`expected ${handshakeTypeName(type)}, got ${handshakeTypeName(frame.type)}`);
  }
}

function expectBodyLength(frame: HandshakeFrame, length: number): void {
  if (frame.body.byteLength !== length) {
    throw new ProtocolError(
      `${handshakeTypeName(frame.type)} body is ${frame.body.byteLength} bytes, expected ${length}`,
    );
  }
}

// ---- plaintext messages (before keys exist) ---------------------------------

/** Wrap a payload in the link message header. */
export function encodeMessage(contentType: ContentType, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(messageHeaderBytes + payload.byteLength);
  out[0] = sl1Version;
  out[1] = contentType;
  out.set(payload, messageHeaderBytes);
  return out;
}

/** Check the message header and size of any handshake-phase message. */
export function checkHandshakePhaseMessage(message: Uint8Array): void {
  if (!(message instanceof Uint8Array)) throw new ProtocolError("link message is not binary");
  if (message.byteLength < messageHeaderBytes) {
    throw new ProtocolError(`link message of ${message.byteLength} bytes is too short for a header`);
  }
  if (message.byteLength > handshakeLimits.maxMessageBytes) {
    throw new ProtocolError(
      `handshake message of ${message.byteLength} bytes exceeds the ${handshakeLimits.maxMessageBytes}-byte limit`,
    );
  }
  if (message[0] !== sl1Version) {
    throw new ProtocolError(`peer speaks SL1 version ${message[0]}, this site speaks version ${sl1Version}`);
  }
}

/** Decode a message sent in the clear: a hello, or a plaintext alert. */
export function decodePlaintextMessage(message: Uint8Array): PlaintextMessage {
  checkHandshakePhaseMessage(message);
  const payload = message.subarray(messageHeaderBytes);
  switch (message[1]) {
    case ContentType.Handshake:
      return { kind: "handshake", frame: decodeFrames(payload, 1)[0]! };
    case ContentType.Alert:
      return { kind: "alert", code: decodeAlert(payload) };
    default:
      throw new ProtocolError(`expected a plaintext handshake message, got ${contentTypeName(message[1]!)}`);
  }
}

// ---- hellos -----------------------------------------------------------------

/** ClientHello / ServerHello body: `version:u8 random[32] x25519[32]`. Returns the frame. */
export function encodeHello(type: typeof HandshakeType.ClientHello | typeof HandshakeType.ServerHello, hello: Hello): Uint8Array {
  if (hello.random.byteLength !== handshakeLimits.randomBytes || hello.keyShare.byteLength !== handshakeLimits.keyShareBytes) {
    throw new RangeError("hello random and key share must be 32 bytes each");
  }
  const body = new Uint8Array(helloBodyBytes);
  body[0] = sl1Version;
  body.set(hello.random, 1);
  body.set(hello.keyShare, 1 + handshakeLimits.randomBytes);
  return encodeFrame(type, body);
}

export function decodeHello(
  frame: HandshakeFrame,
  type: typeof HandshakeType.ClientHello | typeof HandshakeType.ServerHello,
): Hello {
  expectFrame(frame, type);
  expectBodyLength(frame, helloBodyBytes);
  if (frame.body[0] !== sl1Version) {
    throw new ProtocolError(`peer offers SL1 version ${frame.body[0]}, this site speaks version ${sl1Version}`);
  }
  return {
    random: frame.body.slice(1, 1 + handshakeLimits.randomBytes),
    keyShare: frame.body.slice(1 + handshakeLimits.randomBytes),
  };
}

// ---- authentication flight --------------------------------------------------

export function encodeCertificate(certificateDer: Uint8Array): Uint8Array {
  if (certificateDer.byteLength === 0 || certificateDer.byteLength > handshakeLimits.maxCertificateBytes) {
    throw new RangeError(
      `certificate of ${certificateDer.byteLength} bytes does not fit SL1's limit of ${handshakeLimits.maxCertificateBytes}`,
    );
  }
  return encodeFrame(HandshakeType.Certificate, certificateDer);
}

export function encodeCertificateVerify(signature: Uint8Array): Uint8Array {
  if (signature.byteLength !== handshakeLimits.signatureBytes) {
    throw new RangeError(`CertificateVerify signature must be ${handshakeLimits.signatureBytes} bytes`);
  }
  return encodeFrame(HandshakeType.CertificateVerify, signature);
}

export function encodeFinished(mac: Uint8Array): Uint8Array {
  if (mac.byteLength !== handshakeLimits.finishedBytes) {
    throw new RangeError(`Finished MAC must be ${handshakeLimits.finishedBytes} bytes`);
  }
  return encodeFrame(HandshakeType.Finished, mac);
}

/** Decode Certificate, CertificateVerify, Finished: exactly these three, in this order. */
export function decodeAuthFlight(plaintext: Uint8Array): AuthFlight {
  const [certificate, certificateVerify, finished] = decodeFrames(plaintext, 3) as [
    HandshakeFrame,
    HandshakeFrame,
    HandshakeFrame,
  ];
  expectFrame(certificate, HandshakeType.Certificate);
  expectFrame(certificateVerify, HandshakeType.CertificateVerify);
  expectFrame(finished, HandshakeType.Finished);
  if (certificate.body.byteLength === 0) throw new ProtocolError("Certificate message is empty");
  if (certificate.body.byteLength > handshakeLimits.maxCertificateBytes) {
    throw new ProtocolError(
      `peer certificate of ${certificate.body.byteLength} bytes exceeds the ${handshakeLimits.maxCertificateBytes}-byte limit`,
    );
  }
  expectBodyLength(certificateVerify, handshakeLimits.signatureBytes);
  expectBodyLength(finished, handshakeLimits.finishedBytes);
  return { certificate, certificateVerify, finished };
}

// ---- LinkAccepted -----------------------------------------------------------

/** LinkAccepted body: the acceptor's clock, `u64` milliseconds since the Unix epoch. */
export function encodeLinkAccepted(acceptorTimeMs: number): Uint8Array {
  const body = new Uint8Array(linkAcceptedBodyBytes);
  new DataView(body.buffer).setBigUint64(0, BigInt(Math.max(0, Math.floor(acceptorTimeMs))));
  return encodeFrame(HandshakeType.LinkAccepted, body);
}

export function decodeLinkAccepted(plaintext: Uint8Array): { acceptorTimeMs: number } {
  const frame = decodeFrames(plaintext, 1)[0]!;
  expectFrame(frame, HandshakeType.LinkAccepted);
  expectBodyLength(frame, linkAcceptedBodyBytes);
  const time = new DataView(frame.body.buffer, frame.body.byteOffset, 8).getBigUint64(0);
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError("LinkAccepted carries an impossible time");
  return { acceptorTimeMs: Number(time) };
}

// ---- alerts -----------------------------------------------------------------

export function encodeAlert(code: AlertCode): Uint8Array {
  return Uint8Array.of(code);
}

/** An alert payload is exactly one byte, its code. */
export function decodeAlert(payload: Uint8Array): number {
  if (payload.byteLength !== 1) throw new ProtocolError(`alert of ${payload.byteLength} bytes, expected 1`);
  return payload[0]!;
}
