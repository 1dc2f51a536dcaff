// Runs the SL1 handshake over a fresh WebSocket, then carries link messages
// as AES-256-GCM records (docs/link-protocol.md). This is the only channel
// links use: there is no unencrypted mode.

import type { TrustAnchor, PeerCertificate } from "../ca/validate.ts";
import { errorMessage, SecurityError } from "../errors.ts";
import type { RecordAead, WebSocketConn } from "../platform/types.ts";
import { AlertCode } from "../protocol/handshake.ts";
import { type ChannelReceiver, type MessageChannel, truncateReason, type WebSocketPipe } from "./channel.ts";
import { createHandshake, type HandshakeIdentity, type HandshakeResult } from "./handshake.ts";
import { type OpenedRecord, RecordOpener, RecordSealer, RecordWriter } from "./records.ts";

export interface SecureChannelOptions {
  role: "dialer" | "acceptor";
  identity: HandshakeIdentity;
  trust: TrustAnchor;
  /** Dialer: the site it must reach. */
  expectedPeerName?: string;
  /** Acceptor: may this certified site link here (deny-list)? */
  authorize?: (peer: PeerCertificate) => boolean | Promise<boolean>;
  /** A handshake that has not finished by then is dropped, holding nothing. */
  timeoutMs: number;
  /** AES-256-GCM for the records (default: the fastest on this runtime, src/platform/aead.ts). */
  aead?: RecordAead;
}

export interface EstablishedChannel {
  channel: SecureChannel;
  peer: PeerCertificate;
}

/** WebSocket close code for a failed handshake: policy violation. */
const HANDSHAKE_FAILED = 1008;

/**
 * Run the handshake on `conn`. Resolves once both sides are authenticated;
 * rejects (after telling the peer with an alert) on any failure or timeout.
 */
export function establishSecureChannel(pipe: WebSocketPipe, conn: WebSocketConn, options: SecureChannelOptions): Promise<EstablishedChannel> {
  const handshake = createHandshake({
    role: options.role,
    identity: options.identity,
    trust: options.trust,
    expectedPeerName: options.expectedPeerName,
    authorize: options.authorize,
  });
  return new Promise<EstablishedChannel>((resolve, reject) => {
    const inbox: Uint8Array[] = [];
    let busy = false;
    let finished = false;
    const timer = setTimeout(() => fail(new SecurityError(`the link handshake did not finish within ${options.timeoutMs / 1000} s`)), options.timeoutMs);

    const fail = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      void handshake.abort(err).then(
        (alert) => {
          if (alert !== undefined) conn.send(alert);
          conn.close(HANDSHAKE_FAILED, truncateReason(errorMessage(err)));
        },
        () => conn.close(HANDSHAKE_FAILED, "handshake failed"),
      );
      reject(err);
    };

    const succeed = (result: HandshakeResult) => {
      finished = true;
      clearTimeout(timer);
      // Whatever arrived after the final handshake message is already records.
      const channel = new SecureChannel(pipe, conn, result, inbox.splice(0), options.aead);
      resolve({ channel, peer: result.peer });
    };

    // One message at a time: the handshake decides where the next one belongs.
    const drain = async () => {
      if (busy) return;
      busy = true;
      try {
        while (!finished && inbox.length > 0) {
          const step = await handshake.receive(inbox.shift()!);
          for (const message of step.send) conn.send(message);
          if (step.done !== undefined) succeed(step.done);
        }
      } catch (err) {
        fail(err);
      } finally {
        busy = false;
      }
    };

    pipe.attach({
      message(data) {
        if (finished) return;
        inbox.push(data);
        void drain();
      },
      closed(code, reason) {
        fail(new SecurityError(`the connection closed during the link handshake (${code}${reason ? `: ${reason}` : ""})`));
      },
    });

    handshake.start().then(
      (messages) => {
        for (const message of messages) conn.send(message);
      },
      (err) => fail(err),
    );
  });
}

/** Link messages as records, in order, over an authenticated WebSocket. */
export class SecureChannel implements MessageChannel {
  readonly #pipe: WebSocketPipe;
  readonly #conn: WebSocketConn;
  readonly #writer: RecordWriter;
  readonly #opener: RecordOpener;
  #receiver: ChannelReceiver | undefined;
  #early: Uint8Array[];
  /** Plaintext bytes accepted by send() whose records are not yet on the socket. */
  #sealing = 0;
  #sealed: (() => void)[] = [];
  #closed = false;
  #reportedClosedToReceiver = false;

  constructor(pipe: WebSocketPipe, conn: WebSocketConn, result: HandshakeResult, early: Uint8Array[], aead?: RecordAead) {
    this.#pipe = pipe;
    this.#conn = conn;
    this.#early = early;
    this.#opener = new RecordOpener(result.secrets.receive, { aead });
    const sealer = new RecordSealer(result.secrets.send, { aead });
    this.#writer = new RecordWriter({
      sealer,
      emit: (record) => conn.send(record, () => sealer.recycle(record)),
    });
  }

  send(message: Uint8Array): boolean {
    if (this.#closed) return true;
    // A synchronous cipher seals and hands the record over at once; otherwise
    // the writer pipelines the encryption and keeps sequence order.
    try {
      if (this.#writer.tryWrite(message)) return true;
    } catch (err) {
      this.#fail(`cannot send on the link: ${errorMessage(err)}`);
      return true;
    }
    this.#sealing += message.byteLength;
    this.#writer.write(message).then(
      () => {
        this.#sealing -= message.byteLength;
        for (const wake of this.#sealed.splice(0)) wake();
      },
      (err) => this.#fail(`cannot send on the link: ${errorMessage(err)}`),
    );
    return false;
  }

  get bufferedAmount(): number {
    return this.#sealing + this.#conn.bufferedAmount;
  }

  async waitForDrain(threshold: number): Promise<void> {
    while (!this.#closed && this.bufferedAmount > threshold) {
      if (this.#sealing > 0 && this.#conn.bufferedAmount <= threshold) {
        await new Promise<void>((resolve) => this.#sealed.push(resolve));
      } else {
        await this.#conn.waitForDrain(Math.max(0, threshold - this.#sealing));
      }
    }
  }

  attach(receiver: ChannelReceiver): void {
    this.#receiver = receiver;
    this.#pipe.attach({
      message: (data) => this.#receive(data),
      closed: (code, reason) => this.#transportClosed(code, reason),
    });
    for (const record of this.#early.splice(0)) this.#receive(record);
  }

  /** Send an authenticated close, then close the socket. Idempotent. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const shut = () => this.#conn.close(code, truncateReason(reason));
    this.#writer.close().then(shut, shut);
  }

  #receive(record: Uint8Array): void {
    let opened: OpenedRecord | undefined;
    try {
      opened = this.#opener.tryOpen(record);
    } catch (err) {
      this.#receiveFailed(err);
      return;
    }
    if (opened !== undefined) this.#deliver(opened);
    else this.#opener.open(record).then((o) => this.#deliver(o), (err) => this.#receiveFailed(err));
  }

  #deliver(opened: OpenedRecord): void {
    if (opened.type === "data") this.#receiver?.message(opened.data);
    else if (opened.type === "close") {
      // The WebSocket close that follows carries the peer's reason; wait for it briefly.
      setTimeout(() => {
        this.#report(1000, "the peer closed the link");
        this.#conn.close(1000, "closed");
      }, 2000);
    }
  }

  #receiveFailed(err: unknown): void {
    this.#fail(errorMessage(err), err instanceof SecurityError ? AlertCode.BadRecordMac : AlertCode.DecodeError);
  }

  #transportClosed(code: number, reason: string): void {
    if (this.#closed) {
      this.#report(code, reason);
      return;
    }
    try {
      this.#opener.end(); // throws unless the peer's close_notify arrived
      this.#report(code, reason || "the peer closed the link");
    } catch (err) {
      const detail = reason ? ` (${code}: ${reason})` : ` (${code})`;
      this.#report(code, `${errorMessage(err)}${detail}`);
    }
  }

  #fail(reason: string, alert: AlertCode = AlertCode.InternalError): void {
    if (this.#closed) return;
    this.#closed = true;
    const shut = () => this.#conn.close(1002, truncateReason(reason));
    this.#writer.abort(alert).then(shut, shut);
    this.#report(1002, reason);
  }

  #report(code: number, reason: string): void {
    if (this.#receiver === undefined || this.#reportedClosedToReceiver) return;
    this.#reportedClosedToReceiver = true;
    this.#receiver.closed(code, reason);
  }
}
