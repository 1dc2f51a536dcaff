// Adapts a `ws` WebSocket (Node's client and server sockets) to WebSocketConn.
// `ws` hands binary messages over as Buffers, which are Uint8Arrays: no copy.

import process from "node:process";
import type { Duplex } from "node:stream";
import type WebSocket from "ws";
import type { WebSocketConn, WebSocketHandlers } from "./types.ts";
import { DrainWaiters } from "./common.ts";

const OPEN = 1;

/** The close code ws sends for its receiver errors (ws/lib/receiver.js). */
const closeCodeByError: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
  WS_ERR_INVALID_CLOSE_CODE: 1002,
  WS_ERR_INVALID_OPCODE: 1002,
  WS_ERR_UNEXPECTED_RSV_1: 1002,
  WS_ERR_UNEXPECTED_RSV_2_3: 1002,
  WS_ERR_EXPECTED_FIN: 1002,
  WS_ERR_EXPECTED_MASK: 1002,
  WS_ERR_UNEXPECTED_MASK: 1002,
  WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH: 1002,
};

export class NodeWebSocketConn implements WebSocketConn {
  #ws: WebSocket;
  #handlers: WebSocketHandlers;
  #open = false;
  #closed = false;
  #drain: DrainWaiters;
  /** The TCP (or TLS) socket under the WebSocket, once opened. */
  #socket: Duplex | undefined;
  /** The socket is corked until the end of this tick (see send()). */
  #corked = false;

  /** Listens at once, so nothing that arrives right after the 101 is missed; call `opened()` on 'open'. */
  constructor(ws: WebSocket, handlers: WebSocketHandlers) {
    this.#ws = ws;
    this.#handlers = handlers;
    // ws counts only bytes not yet handed to the kernel (runtime-feasibility.md section 2);
    // its socket's 'drain' fires only when that reaches 0, so poll as well for a threshold above 0.
    this.#drain = new DrainWaiters(() => ws.bufferedAmount, true);
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (this.#open) handlers.message(data, !isBinary);
    });
    // ws emits 'error' before 'close' for protocol errors; it sends the matching close code
    // (1009 for a message over maxPayload) but then reports 1006 locally, as it gets no
    // answering close frame. Keep the code it sent: https://github.com/websockets/ws/blob/8.18.0/lib/websocket.js#L1264
    let sentCode: { code: number; reason: string } | undefined;
    ws.on("error", (error: Error & { code?: string }) => {
      const code = closeCodeByError[error.code ?? ""];
      if (code !== undefined) sentCode ??= { code, reason: error.message };
    });
    ws.on("close", (code: number, reason: Buffer) => {
      if (!this.#open || this.#closed) return;
      this.#closed = true;
      this.#drain.closeAll();
      if (code === 1006 && sentCode !== undefined) handlers.close(sentCode.code, sentCode.reason);
      else handlers.close(code, reason.toString("utf8"));
    });
  }

  /** The handshake completed on `socket` (a net.Socket or tls.TLSSocket); its 'drain' wakes waiters early. */
  opened(socket: Duplex | undefined): void {
    this.#socket = socket;
    this.#open = true;
    socket?.on("drain", () => this.#drain.check());
    this.#handlers.open(this);
  }

  send(data: Uint8Array, written?: () => void): void {
    if (this.#ws.readyState !== OPEN) return;
    // Messages sent in one tick (a link pumps many records at once) leave in one
    // writev instead of one each: on a relay site 2.12-2.32 CPU-s/GiB instead of
    // 2.34-2.74 (docs/benchmarks.md). Node's docs suggest exactly this cork pattern.
    const socket = this.#socket;
    if (socket !== undefined && !this.#corked) {
      this.#corked = true;
      socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        socket.uncork();
      });
    }
    // A client masks into a new buffer (ws treats non-owned data as read-only), so `data` is not changed.
    // ws calls back once the socket has written the frame, or with an error when it never will.
    this.#ws.send(data, { binary: true }, written === undefined ? undefined : (err) => err === undefined || err === null ? written() : undefined);
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  waitForDrain(threshold: number): Promise<void> {
    return this.#drain.wait(threshold);
  }

  close(code = 1000, reason = ""): void {
    if (this.#closed || this.#ws.readyState >= 2) return;
    try {
      this.#ws.close(code, reason);
    } catch {
      // ws refuses reserved codes (1004-1006, 1015) and reasons over 123 bytes.
      this.#ws.close(1000);
    }
  }

  /** Drop the connection without a closing handshake (server shutdown after a grace period). */
  terminate(): void {
    this.#ws.terminate();
  }

  get closed(): boolean {
    return this.#closed;
  }
}
