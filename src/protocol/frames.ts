// Link frames: the units the multiplexer sends inside one link message.
// Pure encode/decode, no I/O. The layout is documented in docs/link-protocol.md.
//
//   frame  = type:u8 stream:u32 length:u32 payload[length]
//   message = frame+            (frames never span messages)
//
// Stream 0 carries control frames; every other id is one multiplexed stream.

import { ProtocolError } from "../errors.ts";

export const FrameType = {
  Hello: 0x01,
  Ping: 0x02,
  Pong: 0x03,
  Close: 0x04,
  Advert: 0x05,
  /** The dialer asks for a fresh link certificate (JSON: csr). */
  CertRequest: 0x06,
  /** The acceptor's answer (JSON: certificate). */
  CertIssued: 0x07,
  Open: 0x10,
  Accept: 0x11,
  Data: 0x12,
  Credit: 0x13,
  Fin: 0x14,
  Reset: 0x15,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const frameTypeNames = new Map<number, string>(Object.entries(FrameType).map(([name, value]) => [value, name]));

export function frameTypeName(type: number): string {
  return frameTypeNames.get(type) ?? `0x${type.toString(16).padStart(2, "0")}`;
}

export const FRAME_HEADER_BYTES = 9;
/** Largest link message (and so the largest frame), matching the record layer's plaintext limit. */
export const MAX_MESSAGE_BYTES = 65536;
export const MAX_DATA_PAYLOAD = MAX_MESSAGE_BYTES - FRAME_HEADER_BYTES;
/** Control payloads (hello, adverts, open, reset reasons) are small; anything bigger is an attack or a bug. */
export const MAX_CONTROL_PAYLOAD = 16384;
export const MAX_STREAM_ID = 0xffff_ffff;

export interface Frame {
  type: FrameType;
  stream: number;
  /** A view into the message: valid only while the message is. */
  payload: Uint8Array;
}

const controlOnly = new Set<number>([
  FrameType.Hello,
  FrameType.Ping,
  FrameType.Pong,
  FrameType.Close,
  FrameType.Advert,
  FrameType.CertRequest,
  FrameType.CertIssued,
]);

/**
 * Split one link message into frames, checking every header. The visitor is
 * called per frame in order; payloads are views, not copies.
 */
export function decodeFrames(message: Uint8Array, visit: (frame: Frame) => void): void {
  if (message.byteLength === 0) throw new ProtocolError("empty link message");
  if (message.byteLength > MAX_MESSAGE_BYTES) {
    throw new ProtocolError(`link message of ${message.byteLength} bytes exceeds the ${MAX_MESSAGE_BYTES}-byte limit`);
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let offset = 0;
  while (offset < message.byteLength) {
    if (message.byteLength - offset < FRAME_HEADER_BYTES) {
      throw new ProtocolError(`truncated frame header at byte ${offset}`);
    }
    const type = view.getUint8(offset);
    const stream = view.getUint32(offset + 1);
    const length = view.getUint32(offset + 5);
    const start = offset + FRAME_HEADER_BYTES;
    if (length > message.byteLength - start) {
      throw new ProtocolError(`frame ${frameTypeName(type)} declares ${length} bytes but only ${message.byteLength - start} remain`);
    }
    checkHeader(type, stream, length);
    visit({ type: type as FrameType, stream, payload: message.subarray(start, start + length) });
    offset = start + length;
  }
}

function checkHeader(type: number, stream: number, length: number): void {
  if (!frameTypeNames.has(type)) throw new ProtocolError(`unknown frame type ${frameTypeName(type)}`);
  const isControl = controlOnly.has(type);
  if (isControl && stream !== 0) throw new ProtocolError(`${frameTypeName(type)} frame on stream ${stream}; control frames use stream 0`);
  if (!isControl && stream === 0) throw new ProtocolError(`${frameTypeName(type)} frame on stream 0, which is reserved for control`);
  if (type !== FrameType.Data && length > MAX_CONTROL_PAYLOAD) {
    throw new ProtocolError(`${frameTypeName(type)} frame of ${length} bytes exceeds the ${MAX_CONTROL_PAYLOAD}-byte control limit`);
  }
  if ((type === FrameType.Ping || type === FrameType.Pong) && length !== 8) {
    throw new ProtocolError(`${frameTypeName(type)} payload must be 8 bytes, got ${length}`);
  }
  if (type === FrameType.Credit && length !== 4) throw new ProtocolError(`Credit payload must be 4 bytes, got ${length}`);
  if ((type === FrameType.Fin || type === FrameType.Accept) && length !== 0) {
    throw new ProtocolError(`${frameTypeName(type)} frame must be empty, got ${length} bytes`);
  }
}

/** Bytes a frame with this payload length takes on the wire. */
export function frameSize(payloadLength: number): number {
  return FRAME_HEADER_BYTES + payloadLength;
}

/** Write one frame header and payload into `target` at `offset`; returns the offset after it. */
export function writeFrame(target: Uint8Array, offset: number, type: FrameType, stream: number, payload: Uint8Array): number {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  view.setUint8(offset, type);
  view.setUint32(offset + 1, stream);
  view.setUint32(offset + 5, payload.byteLength);
  target.set(payload, offset + FRAME_HEADER_BYTES);
  return offset + FRAME_HEADER_BYTES + payload.byteLength;
}

/** One frame as a standalone message. */
export function encodeFrame(type: FrameType, stream: number, payload: Uint8Array = EMPTY): Uint8Array {
  const out = new Uint8Array(frameSize(payload.byteLength));
  writeFrame(out, 0, type, stream, payload);
  return out;
}

export const EMPTY = new Uint8Array(0);

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeU32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

export function decodeU32(payload: Uint8Array): number {
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint32(0);
}

/** A close or reset reason: code:u16 then UTF-8 text (truncated to fit the control limit). */
export function encodeReason(code: number, reason: string): Uint8Array {
  const text = encoder.encode(reason).subarray(0, 1024);
  const out = new Uint8Array(2 + text.byteLength);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

export function decodeReason(payload: Uint8Array): { code: number; reason: string } {
  if (payload.byteLength < 2) throw new ProtocolError(`reason payload of ${payload.byteLength} bytes is shorter than its 2-byte code`);
  const code = new DataView(payload.buffer, payload.byteOffset, payload.byteLength).getUint16(0);
  return { code, reason: decodeText(payload.subarray(2), "reason") };
}

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parse a JSON control payload; schema validation is the caller's job. */
export function decodeJson(payload: Uint8Array, what: string): unknown {
  const text = decodeText(payload, what);
  try {
    return JSON.parse(text);
  } catch {
    throw new ProtocolError(`${what} is not valid JSON`);
  }
}

function decodeText(payload: Uint8Array, what: string): string {
  try {
    return decoder.decode(payload);
  } catch {
    throw new ProtocolError(`${what} is not valid UTF-8`);
  }
}
