import { describe, expect, it } from "vitest";
import {
  decodeFrames,
  decodeReason,
  encodeFrame,
  encodeReason,
  type Frame,
  FrameType,
  MAX_MESSAGE_BYTES,
  writeFrame,
} from "../../../src/protocol/frames.ts";
import { decodeHello, decodeOpen, encodeOpen } from "../../../src/protocol/messages.ts";
import { ProtocolError } from "../../../src/errors.ts";

function decodeAll(message: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  decodeFrames(message, (f) => frames.push({ ...f, payload: f.payload.slice() }));
  return frames;
}

function header(type: number, stream: number, length: number): Uint8Array {
  const out = new Uint8Array(9);
  const view = new DataView(out.buffer);
  view.setUint8(0, type);
  view.setUint32(1, stream);
  view.setUint32(5, length);
  return out;
}

describe("frame codec", () => {
  it("round-trips several frames packed into one message", () => {
    const data = new Uint8Array([1, 2, 3]);
    const message = new Uint8Array(9 + 3 + 9 + 4 + 9);
    let offset = writeFrame(message, 0, FrameType.Data, 7, data);
    offset = writeFrame(message, offset, FrameType.Credit, 7, new Uint8Array([0, 0, 1, 0]));
    writeFrame(message, offset, FrameType.Fin, 7, new Uint8Array(0));
    expect(decodeAll(message)).toEqual([
      { type: FrameType.Data, stream: 7, payload: data },
      { type: FrameType.Credit, stream: 7, payload: new Uint8Array([0, 0, 1, 0]) },
      { type: FrameType.Fin, stream: 7, payload: new Uint8Array(0) },
    ]);
  });

  it("round-trips a reset reason", () => {
    expect(decodeReason(encodeReason(2, "connection refused by 127.0.0.1:9"))).toEqual({
      code: 2,
      reason: "connection refused by 127.0.0.1:9",
    });
  });

  const rejects: [string, Uint8Array, string][] = [
    ["an empty message", new Uint8Array(0), "empty link message"],
    ["a truncated header", new Uint8Array([0x12, 0, 0]), "truncated frame header at byte 0"],
    ["a length past the end", header(FrameType.Data, 1, 10), "frame Data declares 10 bytes but only 0 remain"],
    ["an unknown frame type", header(0x7f, 1, 0), "unknown frame type 0x7f"],
    ["a control frame on a stream", header(FrameType.Ping, 3, 0), "Ping frame on stream 3; control frames use stream 0"],
    ["a stream frame on stream 0", encodeFrame(FrameType.Data, 0, new Uint8Array(1)), "Data frame on stream 0, which is reserved for control"],
    ["a ping of the wrong size", encodeFrame(FrameType.Ping, 0, new Uint8Array(3)), "Ping payload must be 8 bytes, got 3"],
    ["a credit of the wrong size", encodeFrame(FrameType.Credit, 1, new Uint8Array(2)), "Credit payload must be 4 bytes, got 2"],
    ["a Fin with a payload", encodeFrame(FrameType.Fin, 1, new Uint8Array(1)), "Fin frame must be empty, got 1 bytes"],
    ["an oversized control payload", encodeFrame(FrameType.Open, 1, new Uint8Array(20000)), "Open frame of 20000 bytes exceeds the 16384-byte control limit"],
    ["an oversized message", new Uint8Array(MAX_MESSAGE_BYTES + 1), `link message of ${MAX_MESSAGE_BYTES + 1} bytes exceeds the 65536-byte limit`],
  ];
  it.each(rejects)("decodeFrames() rejects %s", (_name, message, text) => {
    expect(() => decodeAll(message)).toThrow(new ProtocolError(text));
  });

  it("decodeOpen() rejects unknown fields and bad routing keys", () => {
    const enc = new TextEncoder();
    expect(() => decodeOpen(enc.encode('{"routingKey":"a","origin":"w","path":["e"],"extra":1}'))).toThrow(ProtocolError);
    expect(() => decodeOpen(enc.encode('{"routingKey":"","origin":"w","path":["e"]}'))).toThrow(/malformed Open at routingKey/);
    expect(() => decodeOpen(enc.encode("{not json"))).toThrow("Open is not valid JSON");
    const open = { routingKey: "backend", origin: "west", path: ["hub", "east"] };
    expect(decodeOpen(encodeOpen(open))).toEqual(open);
    expect(() => decodeOpen(encodeOpen({ ...open, path: ["hub", "east", "hub"] }))).toThrow(
      "malformed Open at path: a path must not name a site twice",
    );
  });

  it("decodeHello() rejects a window below the minimum", () => {
    const hello = { protocol: 1, site: "west", runtime: "node", version: "0.1.0", windowBytes: 10, maxStreams: 10 };
    expect(() => decodeHello(new TextEncoder().encode(JSON.stringify(hello)))).toThrow(/malformed Hello at windowBytes/);
  });
});
