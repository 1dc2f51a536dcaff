// An outgoing link: dials the peer's link URL, runs a session, and redials
// with jittered, capped exponential backoff whenever the link goes down.

import type { Logger } from "../core/logger.ts";
import { errorMessage } from "../errors.ts";
import type { Platform, WebSocketConn } from "../platform/types.ts";
import { type MessageChannel, WebSocketPipe } from "./channel.ts";

export type LinkStatus = "Pending" | "Ready" | "Error";

/** Turns a fresh WebSocket into the channel a session runs over: the handshake, then records. */
export type ChannelSetup = (pipe: WebSocketPipe, conn: WebSocketConn, role: "dialer" | "acceptor") => Promise<{ channel: MessageChannel; peerSite?: string }>;

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 15_000 };

/** Full jitter: a random delay up to the capped exponential bound, so many sites do not redial in step. */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const bound = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(backoff.initialMs / 2, Math.floor(random() * bound));
}

export interface DialerOptions {
  name: string;
  url: string;
  caCertificates?: string[];
  platform: Platform;
  setup: ChannelSetup;
  logger: Logger;
  backoff?: Backoff;
  /** Build and start a session on the channel; resolve when it closes with the reason. */
  run(channel: MessageChannel, peerSite: string | undefined, onReady: (peer: string) => void): Promise<string>;
  /** A reason not to dial at all (e.g. no credentials yet); checked before each attempt. */
  precheck?(): string | undefined;
}

export class LinkDialer {
  readonly #options: DialerOptions;
  #status: LinkStatus = "Pending";
  #reason = "connecting";
  #peer: string | undefined;
  #since = new Date();
  #attempt = 0;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  #current: MessageChannel | undefined;
  #failures = 0;
  #caCertificates: string[] | undefined;

  constructor(options: DialerOptions) {
    this.#options = options;
    this.#caCertificates = options.caCertificates;
  }

  get name(): string {
    return this.#options.name;
  }
  get url(): string {
    return this.#options.url;
  }
  get status(): LinkStatus {
    return this.#status;
  }
  get reason(): string {
    return this.#reason;
  }
  get peer(): string | undefined {
    return this.#peer;
  }
  get since(): Date {
    return this.#since;
  }
  get failures(): number {
    return this.#failures;
  }

  start(): void {
    void this.#loop();
  }

  /** CA certificates (PEM) to trust for a wss:// URL, used from the next attempt on. */
  setCaCertificates(pems: string[]): void {
    this.#caCertificates = pems;
  }

  /** Stop redialing and close the current link. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#wake?.();
    this.#current?.close(1001, "site is shutting down");
  }

  #set(status: LinkStatus, reason: string): void {
    if (status !== this.#status || reason !== this.#reason) this.#since = new Date();
    this.#status = status;
    this.#reason = reason;
  }

  async #loop(): Promise<void> {
    const { logger, name, url } = this.#options;
    while (!this.#stopped) {
      const refused = this.#options.precheck?.();
      const reason = refused ?? (await this.#connectOnce());
      if (this.#stopped) break;
      this.#failures++;
      this.#set("Error", reason);
      const delay = backoffDelay(this.#attempt++, this.#options.backoff ?? DEFAULT_BACKOFF);
      logger.warn("link.down", `link ${name} to ${url} is down: ${reason}; retrying in ${(delay / 1000).toFixed(1)} s`, { link: name });
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, delay);
      });
    }
  }

  /** One connection attempt, run until the link closes. Returns why it ended. */
  async #connectOnce(): Promise<string> {
    const { platform, url, setup } = this.#options;
    const pipe = new WebSocketPipe();
    let conn: WebSocketConn;
    try {
      conn = await platform.connectWebSocket(url, { handlers: pipe.handlers, caCertificates: this.#caCertificates, timeoutMs: 10_000 });
    } catch (err) {
      return `cannot reach ${url}: ${errorMessage(err)}`;
    }
    if (this.#stopped) {
      conn.close(1001, "site is shutting down");
      return "stopped";
    }
    let established: { channel: MessageChannel; peerSite?: string };
    try {
      established = await setup(pipe, conn, "dialer");
    } catch (err) {
      conn.close(1008, errorMessage(err));
      return `link handshake with ${url} failed: ${errorMessage(err)}`;
    }
    this.#current = established.channel;
    return this.#options.run(established.channel, established.peerSite, (peer) => {
      this.#peer = peer;
      this.#attempt = 0;
      this.#set("Ready", `linked to site ${peer}`);
      this.#options.logger.info("link.up", `link ${this.#options.name} is up: linked to site ${peer} at ${url}`, { link: this.#options.name, peer });
    });
  }
}
