// The platform contract as runnable checks: the same functions run on Node, Deno
// and Bun (through contract-main.ts), and each throws when its runtime breaks the contract.

import type { Platform, RecordAead, TcpSocket, TcpSocketHandlers, WebSocketConn, WebSocketHandlers } from "../../src/platform/types.ts";
import { defaultRecordAead } from "../../src/platform/aead.ts";
import { webCryptoAead } from "../../src/platform/aead-web.ts";
import { aesGcmVectors, type WycheproofVector, wycheproofMismatches } from "../helpers/wycheproof.ts";

export interface CheckContext {
  /** Directory with ca.pem, server.pem, server.key (made by the test with openssl). */
  tlsDir: string;
  /** A fresh empty directory for file checks. */
  tmpDir: string;
}

type Check = (p: Platform, ctx: CheckContext) => Promise<void>;

const HOST = "127.0.0.1";
const KiB = 1024;
const MiB = 1024 * 1024;

// ---- small helpers ----

function fail(message: string): never {
  throw new Error(message);
}

function expectEqual<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) fail(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Deterministic bytes, different per offset, so reordering or loss shows. */
function pattern(size: number, seed = 0): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >>> 8)) & 255;
  return out;
}

/** FNV-1a over a running stream of chunks. */
class Checksum {
  value = 0x811c9dc5;
  bytes = 0;
  add(chunk: Uint8Array): void {
    let h = this.value;
    for (let i = 0; i < chunk.length; i++) h = Math.imul(h ^ chunk[i], 0x01000193) >>> 0;
    this.value = h;
    this.bytes += chunk.length;
  }
}

function checksumOf(...chunks: Uint8Array[]): Checksum {
  const c = new Checksum();
  for (const chunk of chunks) c.add(chunk);
  return c;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

const text = new TextDecoder();
const utf8 = new TextEncoder();

/** Records what a TcpSocket reports, with promises for end and close. */
class TcpProbe implements TcpSocketHandlers {
  chunks: Uint8Array[] = [];
  received = 0;
  ended = deferred();
  closed = deferred<Error | undefined>();
  closeCount = 0;
  drains = 0;
  onData: ((chunk: Uint8Array) => void) | undefined;
  #drainWaiter: (() => void) | undefined;
  keep = true;

  data(chunk: Uint8Array): void {
    this.received += chunk.length;
    if (this.keep) this.chunks.push(chunk);
    this.onData?.(chunk);
  }
  end(): void {
    this.ended.resolve();
  }
  drain(): void {
    this.drains++;
    const w = this.#drainWaiter;
    this.#drainWaiter = undefined;
    w?.();
  }
  close(error?: Error): void {
    this.closeCount++;
    this.closed.resolve(error);
  }
  waitDrain(): Promise<void> {
    return new Promise((r) => (this.#drainWaiter = r));
  }
  bytes(): Uint8Array {
    return concat(this.chunks);
  }
}

/** A listener whose accepted sockets go to `onSocket`; closed by the returned stop(). */
async function tcpServer(p: Platform, onSocket: (s: TcpSocket) => void) {
  const listener = await p.listenTcp({ hostname: HOST, port: 0 }, onSocket);
  return listener;
}

/** Start `s` reading into a running checksum, handed to `atEnd` when the peer ends. */
function startChecksumming(s: TcpSocket, atEnd: (sum: Checksum) => void): void {
  const sum = new Checksum();
  const h = new TcpProbe();
  h.keep = false;
  h.onData = (chunk) => sum.add(chunk);
  h.end = () => atEnd(sum);
  s.start(h);
}

/** Write everything, waiting for drain when write() says so. Returns how often it did. */
async function writeAll(socket: TcpSocket, probe: TcpProbe, data: Uint8Array, chunkSize: number): Promise<number> {
  let waits = 0;
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    if (!socket.write(data.subarray(offset, offset + chunkSize))) {
      waits++;
      await within(probe.waitDrain(), 10_000, "drain after write() returned false");
    }
  }
  return waits;
}

/** Serve WebSocket `handlersFor()` per connection on a fresh server. */
async function wsServer(
  p: Platform,
  handlersFor: () => WebSocketHandlers | Response,
  extra: { maxMessageBytes?: number; tls?: { certificatePem: string; privateKeyPem: string } } = {},
) {
  return await p.serveHttp({
    hostname: HOST,
    port: 0,
    maxMessageBytes: extra.maxMessageBytes ?? 16 * MiB,
    tls: extra.tls,
    fetch: (request, info) =>
      new Response(`ok ${request.method} ${new URL(request.url).pathname} ${info.remoteAddress}`, {
        headers: { "x-skiff": "1" },
      }),
    upgrade: () => handlersFor(),
  });
}

/** Server handlers that echo each message back. */
export function echoHandlers(): WebSocketHandlers {
  let conn: WebSocketConn | undefined;
  return {
    open(ws) {
      conn = ws;
    },
    message(data) {
      conn!.send(data);
    },
    close() {},
  };
}

/** Client handlers collecting messages, with a promise per message and one for close. */
export class WsProbe implements WebSocketHandlers {
  messages: Uint8Array[] = [];
  texts: boolean[] = [];
  opened = 0;
  closeCount = 0;
  closed = deferred<{ code: number; reason: string }>();
  #waiters: { count: number; resolve: () => void }[] = [];
  onMessage: ((data: Uint8Array) => void) | undefined;
  keep = true;
  count = 0;

  open(): void {
    this.opened++;
  }
  message(data: Uint8Array, isText: boolean): void {
    if (this.opened === 0) fail("message before open");
    this.count++;
    if (this.keep) {
      this.messages.push(data);
      this.texts.push(isText);
    }
    this.onMessage?.(data);
    this.#waiters = this.#waiters.filter((w) => (this.count >= w.count ? (w.resolve(), false) : true));
  }
  close(code: number, reason: string): void {
    this.closeCount++;
    this.closed.resolve({ code, reason });
  }
  until(count: number): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
}

export async function wsEchoRoundTrip(p: Platform, url: string, sizes: number[], caCertificates?: string[]): Promise<void> {
  const probe = new WsProbe();
  const conn = await p.connectWebSocket(url, { handlers: probe, caCertificates, timeoutMs: 5000 });
  expectEqual(probe.opened, 1, "open() calls before connectWebSocket resolves");
  const sent = sizes.map((size, i) => pattern(size, i));
  for (const data of sent) conn.send(data);
  await within(probe.until(sent.length), 10_000, `echo of ${sizes.length} messages`);
  for (let i = 0; i < sent.length; i++) {
    const got = probe.messages[i];
    if (!(got instanceof Uint8Array)) fail(`message ${i} is not a Uint8Array`);
    expectEqual(got.length, sent[i].length, `length of message ${i}`);
    expectEqual(checksumOf(got).value, checksumOf(sent[i]).value, `checksum of message ${i}`);
    expectEqual(probe.texts[i], false, `text flag of message ${i}`);
  }
  conn.close(1000, "done");
  conn.close(1000, "again"); // idempotent
  const closed = await within(probe.closed.promise, 5000, "client close");
  expectEqual(closed.code, 1000, "close code");
  await sleep(20);
  expectEqual(probe.closeCount, 1, "close() calls");
}

async function readPem(p: Platform, ctx: CheckContext) {
  return {
    ca: await p.readTextFile(p.resolvePath(ctx.tlsDir, "ca.pem")),
    certificatePem: await p.readTextFile(p.resolvePath(ctx.tlsDir, "server.pem")),
    privateKeyPem: await p.readTextFile(p.resolvePath(ctx.tlsDir, "server.key")),
  };
}

// ---- record ciphers ----

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Wycheproof's AES-256-GCM vectors, read on the runtime under test. */
async function wycheproofVectors(p: Platform): Promise<WycheproofVector[]> {
  const file = decodeURIComponent(new URL("../fixtures/wycheproof/aes_gcm_test.json", import.meta.url).pathname);
  return aesGcmVectors(await p.readTextFile(file));
}

/** Throws naming every vector `aead` gets wrong, or any record WebCrypto and it do not agree on. */
async function checkRecordAead(aead: RecordAead, vectors: WycheproofVector[]): Promise<void> {
  if (vectors.length < 30) fail(`only ${vectors.length} Wycheproof vectors`);
  const wrong = await wycheproofMismatches(aead, vectors);
  if (wrong.length > 0) fail(`${aead.name} got Wycheproof vectors wrong: ${wrong.join(", ")}`);
  // Records of every size open with WebCrypto, both ways, and a changed byte is refused.
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const [ours, web] = await Promise.all([aead.importKey(raw), webCryptoAead.importKey(raw)]);
  for (const size of [0, 1, 4095, 8193, 65536]) {
    const nonce = crypto.getRandomValues(new Uint8Array(12));
    const aad = Uint8Array.of(1, 23);
    const plaintext = pattern(size, size);
    const sealed = (await ours.seal(nonce, aad, plaintext, 2)).subarray(2);
    if (!sameBytes(await web.open(nonce, aad, sealed), plaintext)) fail(`${aead.name}: WebCrypto opened a ${size}-byte record wrongly`);
    const fromWeb = (await web.seal(nonce, aad, plaintext, 0)).slice();
    // Copies: open() may decrypt in place.
    if (!sameBytes(await ours.open(nonce, aad, fromWeb.slice()), plaintext)) fail(`${aead.name}: opened WebCrypto's ${size}-byte record wrongly`);
    fromWeb[fromWeb.length - 1]! ^= 1;
    const tampered = fromWeb.slice();
    const refused = await Promise.resolve()
      .then(() => ours.open(nonce, aad, fromWeb))
      .then(() => false, () => true);
    if (!refused) fail(`${aead.name}: opened a changed ${size}-byte record`);
    // A cipher that decrypts in place must not leave unauthenticated plaintext behind.
    // Only a buffer the cipher wrote to can hold it: a short ciphertext that was left
    // alone may match its plaintext by chance (one 1-byte record in 256).
    const touched = !sameBytes(fromWeb, tampered);
    if (size > 0 && touched && sameBytes(fromWeb.subarray(0, size), plaintext)) fail(`${aead.name}: left the plaintext of a refused record in its buffer`);
  }
}

// ---- the checks ----

export const checks: Record<string, Check> = {
  async "TCP echo: the client half-closes and still receives the whole reply"(p) {
    const listener = await tcpServer(p, (s) => {
      const h = new TcpProbe();
      h.keep = false;
      h.onData = (chunk) => {
        if (!s.write(chunk)) s.pause();
      };
      h.drain = () => s.resume();
      h.end = () => s.end(); // peer FIN: echo is complete, send ours after the queued bytes
      s.start(h);
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      expectEqual(socket.remoteAddress, HOST, "remoteAddress");
      expectEqual(socket.remotePort, listener.port, "remotePort");
      const probe = new TcpProbe();
      socket.start(probe);
      const data = pattern(300 * KiB);
      await writeAll(socket, probe, data, 16 * KiB);
      socket.end();
      await within(probe.ended.promise, 10_000, "end from the echo server");
      expectEqual(probe.received, data.length, "echoed bytes");
      expectEqual(checksumOf(probe.bytes()).value, checksumOf(data).value, "echo checksum");
      const error = await within(probe.closed.promise, 5000, "close after both ends");
      expectEqual(error, undefined, "close error");
      expectEqual(probe.closeCount, 1, "close() calls");
    } finally {
      await listener.close();
    }
  },

  async "TCP: the server half-closes first and the client can still send"(p) {
    const serverGot = deferred<string>();
    const listener = await tcpServer(p, (s) => {
      const h = new TcpProbe();
      h.end = () => serverGot.resolve(text.decode(h.bytes()));
      s.start(h);
      s.write(utf8.encode("hello"));
      s.end();
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      const probe = new TcpProbe();
      socket.start(probe);
      await within(probe.ended.promise, 5000, "end from the server");
      expectEqual(text.decode(probe.bytes()), "hello", "server greeting");
      await sleep(20);
      socket.write(utf8.encode("still "));
      socket.write(utf8.encode("here"));
      socket.end();
      expectEqual(await within(serverGot.promise, 5000, "client bytes after server FIN"), "still here", "bytes at the server");
      expectEqual(await within(probe.closed.promise, 5000, "client close"), undefined, "close error");
    } finally {
      await listener.close();
    }
  },

  async "TCP: 8 MiB with backpressure (write false, then drain) arrives intact"(p) {
    const size = 8 * MiB;
    const result = deferred<Checksum>();
    const listener = await tcpServer(p, (s) => {
      startChecksumming(s, (sum) => {
        result.resolve(sum);
        s.write(utf8.encode(`${sum.bytes} ${sum.value}`));
        s.end();
      });
      // Read nothing for a while so the sender's buffers fill up.
      s.pause();
      setTimeout(() => s.resume(), 150);
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      const probe = new TcpProbe();
      socket.start(probe);
      const data = pattern(size, 3);
      const waits = await writeAll(socket, probe, data, 64 * KiB);
      if (waits === 0 || probe.drains === 0) fail(`write() never returned false (waits ${waits}, drains ${probe.drains})`);
      socket.end();
      const sum = await within(result.promise, 20_000, "server checksum");
      expectEqual(sum.bytes, size, "bytes at the server");
      expectEqual(sum.value, checksumOf(data).value, "checksum at the server");
      await within(probe.ended.promise, 5000, "server reply end");
      expectEqual(text.decode(probe.bytes()), `${size} ${sum.value}`, "server reply");
      await within(probe.closed.promise, 5000, "close");
    } finally {
      await listener.close();
    }
  },

  async "TCP: 16 MiB written without waiting for drain, to a reader that reads in bursts, arrive intact"(p) {
    // How a site writes to a slow server: the link keeps delivering within the
    // stream's window whatever write() answers, so chunks wait in the socket's queue.
    const size = 16 * MiB;
    const chunkSize = 64 * KiB - 9;
    const result = deferred<Checksum>();
    const startReading = deferred();
    let bursts: ReturnType<typeof setInterval> | undefined;
    let finished = false;
    const listener = await tcpServer(p, (s) => {
      startChecksumming(s, (sum) => {
        clearInterval(bursts);
        result.resolve(sum);
        s.end();
      });
      // Nothing until the writer has a queue; then reading one turn in three.
      s.pause();
      let turn = 0;
      void startReading.promise.then(() => {
        if (!finished) bursts = setInterval(() => (turn++ % 3 === 0 ? s.resume() : s.pause()), 2);
      });
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      const probe = new TcpProbe();
      socket.start(probe);
      const data = pattern(size, 5);
      let refused = 0;
      for (let offset = 0; offset < size; offset += 16 * chunkSize) {
        for (let i = offset; i < Math.min(size, offset + 16 * chunkSize); i += chunkSize) {
          if (!socket.write(data.subarray(i, i + chunkSize))) refused++;
        }
        if (offset >= size / 2) startReading.resolve();
        await sleep(2);
      }
      if (refused === 0) fail("write() never returned false: no chunk waited in the socket's queue");
      socket.end();
      const sum = await within(result.promise, 20_000, "server checksum");
      expectEqual(sum.bytes, size, "bytes at the server");
      expectEqual(sum.value, checksumOf(data).value, "checksum at the server");
      await within(probe.closed.promise, 5000, "close");
    } finally {
      // A failed check leaves no timer behind either.
      finished = true;
      clearInterval(bursts);
      await listener.close();
    }
  },

  async "TCP: pause() stops data until resume()"(p) {
    const size = 2 * MiB;
    const serverDone = deferred<{ during: number; total: number }>();
    const listener = await tcpServer(p, (s) => {
      const h = new TcpProbe();
      h.keep = false;
      let pausedOnce = false;
      let paused = false;
      let during = 0;
      h.onData = () => {
        if (paused) during++;
        if (pausedOnce) return;
        pausedOnce = true;
        paused = true;
        s.pause();
        setTimeout(() => {
          paused = false;
          s.resume();
        }, 150);
      };
      h.end = () => {
        serverDone.resolve({ during, total: h.received });
        s.end();
      };
      s.start(h);
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      const probe = new TcpProbe();
      socket.start(probe);
      await writeAll(socket, probe, pattern(size), 64 * KiB);
      socket.end();
      const { during, total } = await within(serverDone.promise, 10_000, "server end");
      expectEqual(during, 0, "data events while paused");
      expectEqual(total, size, "bytes after resume");
      await within(probe.closed.promise, 5000, "close");
    } finally {
      await listener.close();
    }
  },

  async "TCP: a refused dial rejects within a second, naming host:port"(p) {
    const listener = await tcpServer(p, (s) => s.destroy());
    const port = listener.port;
    await listener.close();
    const started = Date.now();
    let error: unknown;
    try {
      const s = await within(p.dialTcp({ hostname: HOST, port, timeoutMs: 5000 }), 1000, "refused dial");
      s.destroy();
    } catch (e) {
      error = e;
    }
    if (!(error instanceof Error)) fail("dialTcp to a closed port did not reject with an Error");
    const message = error.message;
    if (!message.includes(`${HOST}:${port}`)) fail(`message does not name ${HOST}:${port}: ${message}`);
    if (!message.includes("connection refused")) fail(`message does not say "connection refused": ${message}`);
    if (Date.now() - started > 1000) fail("took longer than a second");
  },

  async "TCP: destroy() is idempotent and delivers close once; the peer sees the end"(p) {
    const peer = deferred<TcpProbe>();
    const listener = await tcpServer(p, (s) => {
      const h = new TcpProbe();
      s.start(h);
      peer.resolve(h);
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      const probe = new TcpProbe();
      socket.start(probe);
      const server = await within(peer.promise, 5000, "accept");
      socket.destroy();
      socket.destroy();
      expectEqual(socket.write(new Uint8Array(10)), false, "write() after destroy");
      expectEqual(await within(probe.closed.promise, 2000, "close after destroy"), undefined, "close error");
      await Promise.race([server.ended.promise, server.closed.promise.then(() => {})]);
      await sleep(30);
      expectEqual(probe.closeCount, 1, "close() calls");
    } finally {
      await listener.close();
    }
  },

  async "TCP: a reset connection closes with an error"(p) {
    const serverClosed = deferred<Error | undefined>();
    const listener = await tcpServer(p, (s) => {
      const h = new TcpProbe();
      h.closed = serverClosed as typeof h.closed;
      s.start(h);
      // Keep writing until the peer's reset stops us.
      const chunk = new Uint8Array(64 * KiB);
      const pump = (): void => {
        while (s.write(chunk));
      };
      h.drain = pump;
      pump();
    });
    try {
      const socket = await p.dialTcp({ hostname: HOST, port: listener.port });
      const probe = new TcpProbe();
      socket.start(probe);
      socket.pause();
      await sleep(100);
      // Closing with unread bytes in the kernel buffer sends RST (RFC 2525 section 2.17).
      socket.destroy();
      const error = await within(serverClosed.promise, 5000, "server close after reset");
      if (!(error instanceof Error)) fail("close after a reset carried no error");
    } finally {
      await listener.close();
    }
  },

  async "HTTP: a GET reaches the fetch handler"(p) {
    const server = await wsServer(p, () => new Response("no", { status: 400 }));
    try {
      const response = await fetch(`http://${HOST}:${server.port}/health?x=1`);
      expectEqual(response.status, 200, "status");
      expectEqual(response.headers.get("x-skiff"), "1", "header");
      expectEqual(await response.text(), `ok GET /health ${HOST}`, "body");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: an upgrade refused with a 403 Response fails the client"(p) {
    const server = await wsServer(p, () => new Response("token expired", { status: 403 }));
    try {
      const url = `ws://${HOST}:${server.port}/link`;
      const probe = new WsProbe();
      let error: unknown;
      try {
        await within(p.connectWebSocket(url, { handlers: probe, timeoutMs: 5000 }), 5000, "refused connect");
      } catch (e) {
        error = e;
      }
      if (!(error instanceof Error)) fail("connectWebSocket did not reject");
      if (!error.message.includes(url)) fail(`message does not name the URL: ${error.message}`);
      if (!error.message.includes("403")) fail(`message does not name the status: ${error.message}`);
      expectEqual(probe.opened, 0, "open() calls");
      expectEqual(probe.closeCount, 0, "close() calls");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: a refused connection rejects naming the URL"(p) {
    const listener = await tcpServer(p, (s) => s.destroy());
    const port = listener.port;
    await listener.close();
    const url = `ws://${HOST}:${port}/link`;
    let error: unknown;
    try {
      await within(p.connectWebSocket(url, { handlers: new WsProbe(), timeoutMs: 3000 }), 3000, "refused connect");
    } catch (e) {
      error = e;
    }
    if (!(error instanceof Error)) fail("connectWebSocket did not reject");
    if (!error.message.includes(url)) fail(`message does not name the URL: ${error.message}`);
  },

  async "WebSocket: a server that never answers the handshake times out naming the URL"(p) {
    const silent: TcpSocket[] = [];
    const listener = await tcpServer(p, (s) => {
      silent.push(s);
      s.start(new TcpProbe());
    });
    try {
      const url = `ws://${HOST}:${listener.port}/link`;
      const started = Date.now();
      let error: unknown;
      try {
        await within(p.connectWebSocket(url, { handlers: new WsProbe(), timeoutMs: 300 }), 3000, "handshake timeout");
      } catch (e) {
        error = e;
      }
      if (!(error instanceof Error)) fail("connectWebSocket did not reject");
      if (!error.message.includes(url) || !error.message.includes("timed out")) fail(`message: ${error.message}`);
      if (Date.now() - started < 250) fail("rejected before the timeout");
    } finally {
      for (const s of silent) s.destroy();
      await listener.close();
    }
  },

  async "HTTP: a throwing fetch handler answers 500"(p) {
    const server = await p.serveHttp({
      hostname: HOST,
      port: 0,
      maxMessageBytes: KiB,
      fetch: () => {
        throw new Error("deliberate failure in a contract check");
      },
      upgrade: () => new Response("no", { status: 400 }),
    });
    try {
      const response = await fetch(`http://${HOST}:${server.port}/`);
      expectEqual(response.status, 500, "status");
      if ((await response.text()).includes("deliberate")) fail("the error message leaked to the client");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: binary echo of 0 B, 1 B, 64 KiB and 1 MiB, with headers"(p) {
    const seen = deferred<string | null>();
    const server = await p.serveHttp({
      hostname: HOST,
      port: 0,
      maxMessageBytes: 2 * MiB,
      fetch: () => new Response("no", { status: 404 }),
      upgrade(request) {
        seen.resolve(request.headers.get("x-site-token"));
        return echoHandlers();
      },
    });
    try {
      const probe = new WsProbe();
      const url = `ws://${HOST}:${server.port}/link`;
      const conn = await p.connectWebSocket(url, { handlers: probe, headers: { "x-site-token": "sekret" }, timeoutMs: 5000 });
      expectEqual(await seen.promise, "sekret", "header at the server");
      const sizes = [0, 1, 64 * KiB, MiB];
      const sent = sizes.map((size, i) => pattern(size, i));
      for (const data of sent) conn.send(data);
      await within(probe.until(sizes.length), 10_000, "echoes");
      for (let i = 0; i < sent.length; i++) {
        expectEqual(probe.messages[i].length, sizes[i], `length of message ${i}`);
        expectEqual(checksumOf(probe.messages[i]).value, checksumOf(sent[i]).value, `checksum of message ${i}`);
      }
      conn.close(1000, "done");
      expectEqual((await within(probe.closed.promise, 5000, "close")).code, 1000, "close code");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: a 64 MiB server-to-client burst with waitForDrain loses nothing"(p) {
    const count = 64;
    const size = MiB;
    const serverClosed = deferred<number>();
    const server = await wsServer(p, () => ({
      open(ws) {
        void (async () => {
          // Half at once: beyond Bun's default 16 MiB backpressureLimit, where send() used to drop.
          for (let i = 0; i < count / 2; i++) ws.send(pattern(size, i));
          await ws.waitForDrain(MiB);
          for (let i = count / 2; i < count; i++) {
            ws.send(pattern(size, i));
            if (ws.bufferedAmount > 4 * MiB) await ws.waitForDrain(MiB);
          }
        })();
      },
      message() {},
      close(code) {
        serverClosed.resolve(code);
      },
    }), { maxMessageBytes: 2 * MiB });
    try {
      const probe = new WsProbe();
      probe.keep = false;
      let bytes = 0;
      let firstBad = -1;
      const expected = Array.from({ length: count }, (_, i) => checksumOf(pattern(size, i)).value);
      probe.onMessage = (data) => {
        const i = probe.count - 1;
        bytes += data.length;
        if (firstBad < 0 && checksumOf(data).value !== expected[i]) firstBad = i;
      };
      const conn = await p.connectWebSocket(`ws://${HOST}:${server.port}/`, { handlers: probe, timeoutMs: 5000 });
      await within(probe.until(count), 30_000, `${count} messages (got ${probe.count})`).catch((e) => {
        throw new Error(`${(e as Error).message}; received ${probe.count}`);
      });
      expectEqual(bytes, count * size, "bytes received");
      expectEqual(firstBad, -1, "first message out of order or changed");
      conn.close();
      expectEqual(await within(serverClosed.promise, 5000, "server close"), 1000, "server close code");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: a 32 MiB client-to-server stream with waitForDrain arrives whole"(p) {
    const count = 32;
    const size = MiB;
    const got = deferred<{ n: number; bytes: number }>();
    let n = 0;
    let bytes = 0;
    const server = await wsServer(p, () => ({
      open() {},
      message(data) {
        n++;
        bytes += data.length;
        if (n === count) got.resolve({ n, bytes });
      },
      close() {},
    }), { maxMessageBytes: 2 * MiB });
    try {
      const probe = new WsProbe();
      const conn = await p.connectWebSocket(`ws://${HOST}:${server.port}/`, { handlers: probe, timeoutMs: 5000 });
      const chunk = pattern(size);
      let waited = false;
      for (let i = 0; i < count; i++) {
        conn.send(chunk);
        if (conn.bufferedAmount > 4 * MiB) {
          waited = true;
          await within(conn.waitForDrain(MiB), 10_000, "client waitForDrain");
        }
      }
      const result = await within(got.promise, 20_000, "all messages at the server");
      expectEqual(result.bytes, count * size, "bytes at the server");
      void waited; // ws on Node may hand everything to the kernel at once; waiting is optional
      conn.close();
      await within(probe.closed.promise, 5000, "close");
      await conn.waitForDrain(0); // resolves after close
    } finally {
      await server.close();
    }
  },

  async "WebSocket: once send() reports a buffer written, reusing it changes nothing the peer receives"(p) {
    const count = 48;
    const size = 256 * 1024;
    const expected = Array.from({ length: count }, (_, i) => checksumOf(pattern(size, i)).value);
    /** Sends message i from a buffer that is overwritten and reused as soon as `written` is called. */
    const sendReusing = async (ws: WebSocketConn) => {
      const free: Uint8Array[] = [];
      let written = 0;
      let allocated = 0;
      for (let i = 0; i < count; i++) {
        const buffer = free.pop() ?? (allocated++, new Uint8Array(size));
        buffer.set(pattern(size, i));
        ws.send(buffer, () => {
          written++;
          buffer.fill(0xee);
          free.push(buffer);
        });
        if (ws.bufferedAmount > 2 * MiB) await ws.waitForDrain(MiB);
      }
      await within(
        (async () => {
          while (written < count) await sleep(5);
        })(),
        10_000,
        `written callbacks (${written} of ${count})`,
      );
      return allocated;
    };
    /** Checks each message against its pattern. */
    const checker = () => {
      let received = 0;
      let firstBad = -1;
      const done = deferred();
      return {
        message(data: Uint8Array) {
          if (firstBad < 0 && checksumOf(data).value !== expected[received]) firstBad = received;
          if (++received === count) done.resolve();
        },
        async verify(what: string) {
          await within(done.promise, 20_000, `${count} messages ${what} (got ${received})`);
          expectEqual(firstBad, -1, `first message ${what} changed after its buffer was reused`);
        },
      };
    };
    const atServer = checker();
    const serverSent = deferred<number>();
    const server = await wsServer(p, () => ({
      open(ws) {
        void sendReusing(ws).then(serverSent.resolve, serverSent.reject);
      },
      message: (data) => atServer.message(data),
      close() {},
    }), { maxMessageBytes: 2 * MiB });
    try {
      const atClient = checker();
      const probe = new WsProbe();
      probe.keep = false;
      probe.onMessage = (data) => atClient.message(data);
      const conn = await p.connectWebSocket(`ws://${HOST}:${server.port}/`, { handlers: probe, timeoutMs: 5000 });
      const clientAllocated = await sendReusing(conn);
      await atServer.verify("client to server");
      await atClient.verify("server to client");
      // Reuse happened: fewer buffers than messages on both ends.
      if (clientAllocated >= count) fail(`the client allocated ${clientAllocated} buffers for ${count} messages`);
      const serverAllocated = await within(serverSent.promise, 5000, "server sends");
      if (serverAllocated >= count) fail(`the server allocated ${serverAllocated} buffers for ${count} messages`);
      conn.close();
      await within(probe.closed.promise, 5000, "close");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: a message over maxMessageBytes closes the socket with 1009"(p) {
    const serverClose = deferred<number>();
    const got: number[] = [];
    const server = await wsServer(p, () => ({
      open() {},
      message(data) {
        got.push(data.length);
      },
      close(code) {
        serverClose.resolve(code);
      },
    }), { maxMessageBytes: 64 * KiB });
    try {
      const probe = new WsProbe();
      const conn = await p.connectWebSocket(`ws://${HOST}:${server.port}/`, { handlers: probe, timeoutMs: 5000 });
      conn.send(new Uint8Array(64 * KiB));
      conn.send(new Uint8Array(64 * KiB + 1));
      const closed = await within(probe.closed.promise, 5000, "client close after an oversize message");
      expectEqual(closed.code, 1009, "client close code");
      expectEqual(await within(serverClose.promise, 5000, "server close"), 1009, "server close code");
      expectEqual(got.join(","), String(64 * KiB), "messages delivered at the server");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: wss:// with a private CA"(p, ctx) {
    const pem = await readPem(p, ctx);
    const server = await wsServer(p, echoHandlers, { tls: pem });
    try {
      const response = await fetch(`https://${HOST}:${server.port}/x`).catch((e: unknown) => e);
      if (response instanceof Response) fail("fetch trusted a certificate from a private CA without being told");
      await wsEchoRoundTrip(p, `wss://${HOST}:${server.port}/link`, [1, 64 * KiB], [pem.ca]);
      let error: unknown;
      try {
        await p.connectWebSocket(`wss://${HOST}:${server.port}/link`, { handlers: new WsProbe(), timeoutMs: 5000 });
      } catch (e) {
        error = e;
      }
      if (!(error instanceof Error)) fail("wss without the CA connected");
    } finally {
      await server.close();
    }
  },

  async "WebSocket: server close() closes open sockets with 1001 and resolves"(p) {
    const server = await wsServer(p, echoHandlers);
    const probe = new WsProbe();
    await p.connectWebSocket(`ws://${HOST}:${server.port}/`, { handlers: probe, timeoutMs: 5000 });
    await within(server.close(), 5000, "server close()");
    await server.close(); // idempotent
    expectEqual((await within(probe.closed.promise, 5000, "client close")).code, 1001, "client close code");
  },

  async "WebSocket: server close() resolves even when a client never answers the close"(p) {
    const opened = deferred();
    const server = await wsServer(p, () => ({ open: () => opened.resolve(), message() {}, close() {} }));
    // A raw client: sends the upgrade request, then neither reads nor answers anything.
    const socket = await p.dialTcp({ hostname: HOST, port: server.port });
    const probe = new TcpProbe();
    socket.start(probe);
    socket.write(
      utf8.encode(
        `GET /link HTTP/1.1\r\nHost: ${HOST}:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    try {
      await within(opened.promise, 5000, "server open");
      socket.pause();
      await within(server.close(), 4000, "server close() with a silent client");
    } finally {
      socket.destroy();
      await server.close();
    }
  },

  async "Record cipher: the one links use here passes Wycheproof and agrees with WebCrypto, and so do OpenSSL and its stand-in on Deno and Bun"(p) {
    const vectors = await wycheproofVectors(p);
    await checkRecordAead(await defaultRecordAead(), vectors);
    if (p.runtime === "node") return;
    const openSsl =
      p.runtime === "deno"
        ? (await import("../../src/platform/aead-openssl-deno.ts")).loadOpenSslAead()
        : await (await import("../../src/platform/aead-openssl-bun.ts")).loadOpenSslAead();
    if (!(openSsl instanceof Error)) await checkRecordAead(openSsl, vectors);
    // What links use where libcrypto 3 cannot be loaded.
    const standIn = p.runtime === "deno" ? (await import("../../src/platform/aead-split.ts")).splitAead : (await import("../../src/platform/aead-node.ts")).nodeCryptoAead;
    await checkRecordAead(standIn, vectors);
  },

  async "Files: private dir 0700, private file 0600, atomic overwrite"(p, ctx) {
    const dir = p.resolvePath(ctx.tmpDir, "state", "nested");
    await p.makePrivateDir(dir);
    await p.makePrivateDir(dir); // exists: fine
    expectEqual(await p.fileMode(dir), 0o700, "dir mode");
    const file = p.resolvePath(dir, "site.key");
    expectEqual(p.dirname(file), dir, "dirname");
    expectEqual(await p.readTextFileIfExists(file), undefined, "missing file");
    expectEqual(await p.fileMode(file), undefined, "mode of a missing file");
    await p.writePrivateFile(file, "first");
    expectEqual(await p.fileMode(file), 0o600, "file mode");
    await p.writePrivateFile(file, "second ✓");
    expectEqual(await p.readTextFile(file), "second ✓", "content after overwrite");
    expectEqual(await p.fileMode(file), 0o600, "file mode after overwrite");
    await p.writePrivateFile(p.resolvePath(dir, "other"), "x");
    await p.removeFile(p.resolvePath(dir, "other"));
    await p.removeFile(p.resolvePath(dir, "other")); // gone: fine
    expectEqual(await p.readTextFileIfExists(p.resolvePath(dir, "other")), undefined, "removed file");
  },

  async "Process: env, args, memoryRss, version"(p) {
    expectEqual(p.env("SKIFF_CONTRACT_ENV"), "present", "env");
    expectEqual(p.env("SKIFF_CONTRACT_UNSET_VARIABLE"), undefined, "unset env");
    expectEqual(p.args()[0], "checks", "args()[0]");
    if (!(p.memoryRss() > 1 * MiB)) fail(`memoryRss ${p.memoryRss()}`);
    if (!/^\d+\.\d+/.test(p.version)) fail(`version ${p.version}`);
    const off = p.onSignal("SIGINT", () => {});
    off();
  },
};

export const checkNames: readonly string[] = Object.keys(checks);
