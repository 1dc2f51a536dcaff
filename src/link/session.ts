// One live link between two sites: Hello exchange, the multiplexer, the send
// pump that respects the socket's backpressure, keepalive and a graceful close.

import { errorMessage, ProtocolError } from "../errors.ts";
import type { Logger } from "../core/logger.ts";
import { Mux, type MuxStream, SPARE_MESSAGE_BYTES } from "../mux/mux.ts";
import { decodeReason, encodeReason, FrameType } from "../protocol/frames.ts";
import { decodeHello, encodeHello, type Hello, LINK_PROTOCOL_VERSION, LinkCloseCode, type Open } from "../protocol/messages.ts";
import type { MessageChannel } from "./channel.ts";

/** Stop feeding the socket above this many buffered bytes; resume below the low mark. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;
/** How long a graceful close waits for queued frames to leave before closing anyway. */
const CLOSE_FLUSH_MS = 2000;

export interface LocalSiteInfo {
  name: string;
  runtime: string;
  version: string;
}

export interface SessionEvents {
  /** The peer's Hello arrived: streams can be opened. */
  ready(session: LinkSession): void;
  /** The peer opened a stream. */
  stream(session: LinkSession, stream: MuxStream, open: Open): void;
  /** The peer sent a routing advert. */
  advert(session: LinkSession, payload: Uint8Array): void;
  /** A certificate renewal request or answer (CertRequest / CertIssued). */
  certificate?(session: LinkSession, type: FrameType, payload: Uint8Array): void;
  /** The link is down. `reason` is for people; `byPeer` when the peer closed it. */
  closed(session: LinkSession, reason: string, byPeer: boolean): void;
}

export interface SessionOptions {
  channel: MessageChannel;
  role: "dialer" | "acceptor";
  local: LocalSiteInfo;
  /** When known (an authenticated channel), the peer's Hello must name this site. */
  expectedPeer?: string;
  windowBytes: number;
  maxStreams: number;
  /** Sent in our Hello when we dialed, so both ends use the same cost. */
  linkCost?: number;
  keepaliveIntervalMs: number;
  keepaliveTimeoutMs: number;
  logger: Logger;
  events: SessionEvents;
}

export type SessionState = "handshaking" | "ready" | "closing" | "closed";

export class LinkSession {
  readonly #options: SessionOptions;
  readonly #mux: Mux;
  #state: SessionState = "handshaking";
  #peer: Hello | undefined;
  #pumping = false;
  /** A message buffer the channel is done with, for the next message (see #pumpLoop). */
  #spare: ArrayBuffer | undefined;
  #pumpScheduled = false;
  #lastReceived = Date.now();
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #pingSentAt = 0;
  #rttMs: number | undefined;
  #closeReason: string | undefined;
  #resolveClosed!: (reason: string) => void;
  /** Resolves with the reason once the link is closed. */
  readonly closed = new Promise<string>((resolve) => (this.#resolveClosed = resolve));
  readonly connectedAt = new Date();

  constructor(options: SessionOptions) {
    this.#options = options;
    this.#mux = new Mux({
      role: options.role,
      windowBytes: options.windowBytes,
      maxStreams: options.maxStreams,
      onOutput: () => this.#pumpAfterIo(),
      onStream: (stream, open) => options.events.stream(this, stream, open),
      onControl: (type, payload) => this.#control(type, payload),
    });
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The peer's Hello, once received. */
  get peer(): Hello | undefined {
    return this.#peer;
  }

  get rttMs(): number | undefined {
    return this.#rttMs;
  }

  get counters() {
    return this.#mux.counters;
  }

  get streamCount(): number {
    return this.#mux.streamCount;
  }

  /** Bytes written to this link's streams and waiting for the peer's credit. */
  get pendingBytes(): number {
    return this.#mux.pendingBytes;
  }

  get closeReason(): string | undefined {
    return this.#closeReason;
  }

  /** Send our Hello and start reading. */
  start(): void {
    const { local, windowBytes, maxStreams } = this.#options;
    // Hello goes first: reading may deliver the peer's Hello at once, and what
    // we queue when the link turns ready (adverts) must not overtake ours.
    this.#mux.sendControl(
      FrameType.Hello,
      encodeHello({
        protocol: LINK_PROTOCOL_VERSION,
        site: local.name,
        runtime: local.runtime,
        version: local.version,
        windowBytes,
        maxStreams,
        linkCost: this.#options.linkCost,
      }),
    );
    this.#keepaliveTimer = setInterval(() => this.#keepalive(), this.#options.keepaliveIntervalMs);
    this.#options.channel.attach({
      message: (data) => this.#receive(data),
      closed: (code, reason) => this.#channelClosed(code, reason),
    });
  }

  openStream(open: Open): MuxStream {
    if (this.#state !== "ready") throw new ProtocolError(`link is ${this.#state}`);
    return this.#mux.openStream(open);
  }

  sendAdvert(payload: Uint8Array): void {
    if (this.#state === "ready") this.#mux.sendControl(FrameType.Advert, payload);
  }

  /** Send a certificate renewal request or answer. */
  sendCertificateFrame(type: typeof FrameType.CertRequest | typeof FrameType.CertIssued, payload: Uint8Array): void {
    if (this.#state === "ready") this.#mux.sendControl(type, payload);
  }

  /** Tell the peer why, let queued frames leave, then close. Idempotent. */
  close(reason: string): void {
    if (this.#state === "closing" || this.#state === "closed") return;
    this.#state = "closing";
    this.#mux.sendControl(FrameType.Close, encodeReason(LinkCloseCode.Normal, reason));
    const timer = setTimeout(() => this.#finish(LinkCloseCode.Normal, reason, false), CLOSE_FLUSH_MS);
    void this.#flushThen(() => {
      clearTimeout(timer);
      this.#finish(LinkCloseCode.Normal, reason, false);
    });
  }

  /** Close at once (protocol violation, timeout). Idempotent. */
  destroy(code: number, reason: string): void {
    this.#finish(code, reason, false);
  }

  #receive(data: Uint8Array): void {
    this.#lastReceived = Date.now();
    try {
      this.#mux.receive(data);
    } catch (err) {
      // The peer learns what it did wrong from the close reason; our log says who broke what.
      const local = err instanceof ProtocolError ? `protocol error from peer: ${err.message}` : `internal error: ${errorMessage(err)}`;
      this.#finish(LinkCloseCode.ProtocolError, local, false, errorMessage(err));
    }
  }

  #control(type: FrameType, payload: Uint8Array): void {
    switch (type) {
      case FrameType.Hello: {
        if (this.#peer !== undefined) throw new ProtocolError("second Hello on one link");
        const hello = decodeHello(payload);
        const expected = this.#options.expectedPeer;
        if (expected !== undefined && hello.site !== expected) {
          throw new ProtocolError(`peer says it is site "${hello.site}" but authenticated as "${expected}"`);
        }
        if (hello.site === this.#options.local.name) {
          throw new ProtocolError(`peer has the same site name "${hello.site}" as this site; every site needs its own name`);
        }
        this.#peer = hello;
        this.#mux.setPeerLimits(hello.windowBytes, hello.maxStreams);
        if (this.#state === "handshaking") {
          this.#state = "ready";
          this.#options.events.ready(this);
        }
        return;
      }
      case FrameType.Ping:
        this.#mux.sendControl(FrameType.Pong, payload.slice());
        return;
      case FrameType.Pong:
        if (this.#pingSentAt > 0) this.#rttMs = Date.now() - this.#pingSentAt;
        return;
      case FrameType.Close: {
        const { reason } = decodeReason(payload);
        this.#finish(LinkCloseCode.Normal, `peer closed the link: ${reason || "no reason given"}`, true);
        return;
      }
      case FrameType.Advert:
        if (this.#peer === undefined) throw new ProtocolError("Advert before Hello");
        this.#options.events.advert(this, payload);
        return;
      case FrameType.CertRequest:
      case FrameType.CertIssued:
        if (this.#peer === undefined) throw new ProtocolError(`${type === FrameType.CertRequest ? "CertRequest" : "CertIssued"} before Hello`);
        if (this.#options.events.certificate === undefined) throw new ProtocolError("certificate renewal is not expected on this link");
        this.#options.events.certificate(this, type, payload);
        return;
    }
  }

  #keepalive(): void {
    const silentFor = Date.now() - this.#lastReceived;
    if (silentFor > this.#options.keepaliveTimeoutMs) {
      const seconds = (silentFor / 1000).toFixed(1);
      this.#finish(LinkCloseCode.Timeout, `keepalive timeout: nothing from the peer for ${seconds} s`, false);
      return;
    }
    this.#pingSentAt = Date.now();
    const ping = new Uint8Array(8);
    new DataView(ping.buffer).setFloat64(0, this.#pingSentAt);
    this.#mux.sendControl(FrameType.Ping, ping);
  }

  /**
   * Pump once the event loop has run the I/O callbacks of this turn, so the
   * frames they all queued (accepts, data, credits of many streams) share
   * records: fewer seals and socket writes than one record per callback.
   */
  #pumpAfterIo(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Move queued frames to the channel while it has room. One pump runs at a time. */
  #pump(): void {
    if (this.#pumping || this.#state === "closed") return;
    this.#pumping = true;
    void this.#pumpLoop().finally(() => {
      this.#pumping = false;
      if (this.#mux.hasOutput && this.#state !== "closed") this.#pump();
    });
  }

  async #pumpLoop(): Promise<void> {
    const channel = this.#options.channel;
    for (;;) {
      if (channel.bufferedAmount > HIGH_WATER_BYTES) {
        await channel.waitForDrain(LOW_WATER_BYTES);
        if (this.#state === "closed") return;
      }
      const message = this.#mux.takeMessage(undefined, this.#spare);
      if (message === undefined) return;
      // A channel that sealed the message before returning leaves its buffer free for the next
      // one: no new 64 KiB buffer (zeroed, then left to the collector) for every record.
      if (!channel.send(message)) this.#spare = undefined;
      else if (message.buffer.byteLength >= SPARE_MESSAGE_BYTES) this.#spare = message.buffer;
    }
  }

  async #flushThen(done: () => void): Promise<void> {
    while (this.#mux.hasOutput || this.#pumping) {
      if (this.#state === "closed") return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await this.#options.channel.waitForDrain(0);
    done();
  }

  #channelClosed(code: number, reason: string): void {
    const text = reason ? `connection closed (${code}: ${reason})` : `connection closed (${code})`;
    this.#finish(code, text, true);
  }

  #finish(code: number, reason: string, byPeer: boolean, peerReason: string = reason): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#closeReason = reason;
    if (this.#keepaliveTimer !== undefined) clearInterval(this.#keepaliveTimer);
    this.#mux.abort(reason);
    this.#options.channel.close(sendableCloseCode(code), peerReason);
    this.#options.events.closed(this, reason, byPeer);
    this.#resolveClosed(reason);
  }
}

/** Codes 1005, 1006 and 1015 only ever describe a close; they must not be sent (RFC 6455 7.4.1). */
function sendableCloseCode(code: number): number {
  if (code === 1000 || (code >= 1001 && code <= 1014 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999)) return code;
  return LinkCloseCode.Normal;
}
