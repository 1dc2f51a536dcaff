// The message channel a link runs over: a WebSocket wrapped by the secure
// record layer (secure-channel.ts). The link sees only this interface.

import type { WebSocketConn, WebSocketHandlers } from "../platform/types.ts";

export interface ChannelReceiver {
  /** One whole link message, in arrival order. */
  message(data: Uint8Array): void;
  /** The channel is gone. `reason` says why, for the log. Called once. */
  closed(code: number, reason: string): void;
}

export interface MessageChannel {
  /**
   * Send one link message. Messages leave in call order, even when protection is asynchronous.
   * Returns true when the channel is already done with `message` (it sealed the record before
   * returning), so the caller may write the next message into the same buffer.
   */
  send(message: Uint8Array): boolean;
  /** Bytes accepted by send() and not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /** Resolves once bufferedAmount <= threshold, or the channel closed. */
  waitForDrain(threshold: number): Promise<void>;
  /** Start receiving. Messages that arrived earlier are delivered first. */
  attach(receiver: ChannelReceiver): void;
  /** Close the channel, telling the peer `reason`. Idempotent. */
  close(code: number, reason: string): void;
}

/**
 * Holds a WebSocket's events until someone attaches. WebSocket handlers must
 * be given when the socket is made (a peer may send in the same segment as
 * the upgrade answer), but the consumer is known only later.
 */
export class WebSocketPipe {
  #conn: WebSocketConn | undefined;
  #receiver: ChannelReceiver | undefined;
  #held: Uint8Array[] = [];
  #closed: { code: number; reason: string } | undefined;
  #opened: ((conn: WebSocketConn) => void)[] = [];

  readonly handlers: WebSocketHandlers = {
    open: (conn) => {
      this.#conn = conn;
      for (const wake of this.#opened.splice(0)) wake(conn);
    },
    message: (data, text) => {
      if (text) {
        // The link speaks binary only; a text frame is a confused or hostile peer.
        this.#closeWith(1003, "text messages are not part of the link protocol");
        return;
      }
      if (this.#receiver !== undefined) this.#receiver.message(data);
      else this.#held.push(data);
    },
    close: (code, reason) => {
      if (this.#closed !== undefined) return;
      this.#closed = { code, reason };
      for (const wake of this.#opened.splice(0)) wake(undefined as never);
      this.#receiver?.closed(code, reason);
    },
  };

  get conn(): WebSocketConn | undefined {
    return this.#conn;
  }

  get isClosed(): boolean {
    return this.#closed !== undefined;
  }

  attach(receiver: ChannelReceiver): void {
    this.#receiver = receiver;
    const held = this.#held;
    this.#held = [];
    for (const message of held) {
      if (this.#receiver !== receiver) return;
      receiver.message(message);
    }
    if (this.#closed !== undefined) receiver.closed(this.#closed.code, this.#closed.reason);
  }

  #closeWith(code: number, reason: string): void {
    this.#conn?.close(code, reason);
    this.handlers.close(code, reason);
  }
}

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
export function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD$/, "") + "...";
}
