// Runtime-free helpers shared by the platform adapters: error wording for failed
// connections, the bookkeeping behind `WebSocketConn.waitForDrain`, unref'd timers.

import type { WebSocketHandlers } from "./types.ts";

/** Let a timer run without keeping the process alive: Node and Bun timers have unref(), Deno's are numbers. */
export function unrefTimer(timer: ReturnType<typeof setInterval>): void {
  if (typeof timer === "object" && timer !== null && "unref" in timer) (timer as { unref(): void }).unref();
  else (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(timer as unknown as number);
}

/** Reasons people read, by the error codes Node, Deno and Bun report for sockets. */
const reasonByCode: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ConnectionRefused: "connection refused",
  ECONNRESET: "connection reset",
  ConnectionReset: "connection reset",
  EPIPE: "broken pipe",
  BrokenPipe: "broken pipe",
  ETIMEDOUT: "timed out",
  TimedOut: "timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRINUSE: "address already in use",
  AddrInUse: "address already in use",
  EADDRNOTAVAIL: "address not available",
  AddrNotAvailable: "address not available",
  EACCES: "permission denied",
  PermissionDenied: "permission denied",
};

/** A short human reason for a socket error ("connection refused"), falling back to its message. */
export function socketErrorReason(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | null;
  for (const key of [e?.code, e?.name]) {
    if (typeof key === "string" && reasonByCode[key] !== undefined) return reasonByCode[key];
  }
  const message = typeof e?.message === "string" ? e.message : String(error);
  const lower = message.toLowerCase();
  if (lower.includes("refused")) return "connection refused";
  if (lower.includes("reset")) return "connection reset";
  return message;
}

/** `host:port`, with brackets around an IPv6 literal. */
export function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

export function dialError(hostname: string, port: number, error: unknown): Error {
  return new Error(`Cannot connect to ${hostPort(hostname, port)}: ${socketErrorReason(error)}`, { cause: error });
}

export function dialTimeoutError(hostname: string, port: number, timeoutMs: number): Error {
  return new Error(`Cannot connect to ${hostPort(hostname, port)}: timed out after ${timeoutMs} ms`);
}

export function listenError(hostname: string, port: number, error: unknown): Error {
  return new Error(`Cannot listen on ${hostPort(hostname, port)}: ${socketErrorReason(error)}`, { cause: error });
}

export function webSocketError(url: string, reason: string, cause?: unknown): Error {
  return new Error(`Cannot open WebSocket to ${url}: ${reason}`, cause === undefined ? undefined : { cause });
}

/** Socket errors after a connection was made, with a readable reason ("connection reset"). */
export function socketError(error: unknown): Error {
  const reason = socketErrorReason(error);
  return new Error(reason, { cause: error });
}

/**
 * Promises waiting for a WebSocket's send buffer to fall to a threshold. An
 * adapter with a drain event calls `check()` from it; one without (Deno, the
 * WHATWG clients) asks for polling: a 1 ms timer runs while anyone waits
 * (measured in reference/runtime-feasibility.md section 1: 64 MiB drained in 65-226 ms).
 * The adapter calls `closeAll()` when the socket closes.
 */
export class DrainWaiters {
  #waiters: { threshold: number; resolve: () => void }[] = [];
  #bufferedAmount: () => number;
  #poll: boolean;
  #polling = false;
  #closed = false;

  constructor(bufferedAmount: () => number, poll: boolean) {
    this.#bufferedAmount = bufferedAmount;
    this.#poll = poll;
  }

  wait(threshold: number): Promise<void> {
    if (this.#closed || this.#bufferedAmount() <= threshold) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.#waiters.push({ threshold, resolve }));
    if (this.#poll && !this.#polling) {
      this.#polling = true;
      setTimeout(this.#tick, 1);
    }
    return p;
  }

  #tick = (): void => {
    this.check();
    if (this.#waiters.length > 0 && !this.#closed) setTimeout(this.#tick, 1);
    else this.#polling = false;
  };

  /** Resolve the waiters whose threshold the buffer has reached. */
  check(): void {
    if (this.#waiters.length === 0) return;
    const amount = this.#bufferedAmount();
    const still: { threshold: number; resolve: () => void }[] = [];
    for (const w of this.#waiters) {
      if (amount <= w.threshold) w.resolve();
      else still.push(w);
    }
    this.#waiters = still;
  }

  /** The socket closed: every waiter resolves, now and later. */
  closeAll(): void {
    this.#closed = true;
    const all = this.#waiters;
    this.#waiters = [];
    for (const w of all) w.resolve();
  }
}

/** Is this request asking for a WebSocket upgrade? */
export function isWebSocketUpgrade(request: Request): boolean {
  return (request.headers.get("upgrade") ?? "").toLowerCase() === "websocket";
}

export const textEncoder = new TextEncoder();

/**
 * A node:crypto Buffer as a plain Uint8Array over the same bytes. A Buffer's
 * slice() is a view, not a copy as Uint8Array's is, and callers may rely on the latter.
 */
export function plainBytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** What an upgrade callback returned: handlers accept, anything else is the refusing Response. */
export function isHandlers(answer: unknown): answer is WebSocketHandlers {
  const a = answer as { message?: unknown; open?: unknown; close?: unknown } | null;
  return typeof a?.message === "function" && typeof a.open === "function" && typeof a.close === "function";
}

/** How long a server's close() lets its WebSockets finish their closing handshake before dropping them. */
export const CLOSE_GRACE_MS = 1000;

/** The WebSockets a server has open, so that close() can end them all gracefully. */
export class OpenSockets<T extends { close(code?: number, reason?: string): void }> {
  readonly #open = new Set<T>();
  readonly #emptied = new Set<() => void>();

  add(conn: T): void {
    this.#open.add(conn);
  }

  delete(conn: T): void {
    this.#open.delete(conn);
    if (this.#open.size === 0) for (const wake of this.#emptied) wake();
  }

  /** Close every socket with 1001, wait up to CLOSE_GRACE_MS for them to finish, then `drop` the rest. */
  async closeAll(drop: (conn: T) => void): Promise<void> {
    if (this.#open.size === 0) return;
    const allClosed = new Promise<void>((resolve) => this.#emptied.add(resolve));
    for (const conn of this.#open) conn.close(1001, "server closing");
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([allClosed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const conn of this.#open) drop(conn);
  }
}
