// Adapts a `ws` WebSocket (Node's client and server sockets) to WebSocketConn.
// `ws` hands binary messages over as Buffers, which are Uint8Arrays: no copy.

import type { Duplex } from "node:stream";
import type WebSocket from "ws";
import type { WebSocketConn, WebSocketHandlers } from "./types.ts";
import { DrainWaiters } from "./common.ts";

const OPEN = 1;

export class NodeWebSocketConn implements WebSocketConn {
  #ws: WebSocket;
  #handlers: WebSocketHandlers;
  #open = false;
  #closed = false;
  #drain: DrainWaiters;

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
    // ws emits 'error' before 'close' for protocol errors (e.g. a message over maxPayload,
    // which it answers with close code 1009); 'close' always follows, so only 'close' is reported.
    ws.on("error", () => {});
    ws.on("close", (code: number, reason: Buffer) => {
      if (!this.#open || this.#closed) return;
      this.#closed = true;
      this.#drain.closeAll();
      handlers.close(code, reason.toString("utf8"));
    });
  }

  /** The handshake completed on `socket` (a net.Socket or tls.TLSSocket). */
  opened(socket: Duplex): void {
    this.#open = true;
    socket.on("drain", () => this.#drain.check());
    this.#handlers.open(this);
  }

  send(data: Uint8Array): void {
    if (this.#ws.readyState !== OPEN) return;
    // A client masks into a new buffer (ws treats non-owned data as read-only), so `data` is not changed.
    this.#ws.send(data, { binary: true });
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
