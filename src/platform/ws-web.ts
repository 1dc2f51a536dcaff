// Adapts a WHATWG WebSocket to WebSocketConn: Deno's client and server sockets
// and Bun's client. These have no drain event, so waitForDrain polls.

import type { WebSocketConn, WebSocketHandlers } from "./types.ts";
import { DrainWaiters, textEncoder } from "./common.ts";

const OPEN = 1;

export interface WebWebSocketOptions {
  /** Close with 1009 when a message is larger (Deno's server cannot refuse it before buffering). */
  maxMessageBytes?: number;
}

export class WebWebSocketConn implements WebSocketConn {
  #ws: WebSocket;
  #handlers: WebSocketHandlers;
  #open = false;
  #closed = false;
  /** Set when we close for a reason of our own, reported instead of what the runtime says. */
  #localClose: { code: number; reason: string } | undefined;
  #drain: DrainWaiters;

  /**
   * Listens at once: a Bun server sends its first message in the same TCP
   * segment as the 101 (reference/runtime-feasibility.md section 1).
   * `onOpen`/`onFail` let connectWebSocket settle its promise.
   */
  constructor(
    ws: WebSocket,
    handlers: WebSocketHandlers,
    options: WebWebSocketOptions = {},
    onOpen?: (conn: WebWebSocketConn) => void,
    onFail?: (message: string) => void,
  ) {
    this.#ws = ws;
    this.#handlers = handlers;
    this.#drain = new DrainWaiters(() => ws.bufferedAmount, true);
    // The default is "blob" on Deno and "nodebuffer" on Bun; always set it (runtime-feasibility.md section 1).
    ws.binaryType = "arraybuffer";
    const max = options.maxMessageBytes;
    ws.onopen = () => {
      this.#open = true;
      handlers.open(this);
      onOpen?.(this);
    };
    ws.onmessage = (event: MessageEvent) => {
      if (!this.#open || this.#closed || this.#localClose !== undefined) return;
      const data = event.data;
      const text = typeof data === "string";
      const bytes = text ? textEncoder.encode(data) : new Uint8Array(data as ArrayBuffer);
      if (max !== undefined && bytes.byteLength > max) {
        this.close(1009, "message too big");
        return;
      }
      handlers.message(bytes, text);
    };
    let failure: string | undefined;
    ws.onerror = (event: Event) => {
      failure = (event as ErrorEvent).message || String((event as ErrorEvent).error ?? "") || undefined;
    };
    ws.onclose = (event: CloseEvent) => {
      if (!this.#open) {
        onFail?.(failure ?? `closed with code ${event.code} before opening`);
        return;
      }
      if (this.#closed) return;
      this.#closed = true;
      this.#drain.closeAll();
      const local = this.#localClose;
      // After our own close the runtime may report 1005/1006 or the peer's echo; keep ours.
      if (local !== undefined && (event.code === 1005 || event.code === 1006 || event.code === local.code)) {
        handlers.close(local.code, local.reason);
      } else {
        handlers.close(event.code, event.reason);
      }
    };
  }

  send(data: Uint8Array, written?: () => void): void {
    if (this.#ws.readyState !== OPEN || this.#localClose !== undefined) return;
    // Deno's and Bun's send() copy the bytes before returning (test/platform/contract.ts
    // reuses the buffer at once and checks what arrives).
    this.#ws.send(data as Uint8Array<ArrayBuffer>);
    written?.();
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  waitForDrain(threshold: number): Promise<void> {
    return this.#drain.wait(threshold);
  }

  close(code = 1000, reason = ""): void {
    if (this.#closed || this.#localClose !== undefined) return;
    this.#localClose = { code, reason };
    try {
      this.#ws.close(code, reason);
    } catch {
      // A browser-style client only sends 1000 or 3000-4999 (Deno's client throws
      // InvalidAccessError for 1001 or 1011: https://websockets.spec.whatwg.org/#dom-websocket-close).
      // The peer then sees 1000 with our reason; our handlers still get `code`.
      try {
        this.#ws.close(1000, reason);
      } catch {
        this.#ws.close();
      }
    }
  }

  /** Forget the socket at once: for server shutdown after a grace period. */
  forceClosed(): void {
    if (this.#closed) return;
    const local = this.#localClose ?? { code: 1006, reason: "closed" };
    this.#closed = true;
    this.#drain.closeAll();
    if (this.#open) this.#handlers.close(local.code, local.reason);
  }
}
