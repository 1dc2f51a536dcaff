// The contract between Skiff and the runtime it runs on. Everything above
// src/platform/ sees only these types; each runtime implements them in one file.

export type RuntimeName = "node" | "deno" | "bun";

/** Callbacks for one TCP socket. Set once with `TcpSocket.start()`. */
export interface TcpSocketHandlers {
  /** Bytes arrived. The chunk belongs to the callee from now on (the platform never reuses it). */
  data(chunk: Uint8Array): void;
  /** The peer shut its write side (TCP FIN). Our write side stays open until `end()`. */
  end(): void;
  /** After `write()` returned false: the socket can take more. */
  drain(): void;
  /**
   * The socket is fully closed: both sides sent FIN, or destroy() was called, or it
   * failed. `error` is set when it failed (reset, broken pipe), with a short reason as
   * its message ("connection reset"). Called exactly once, never synchronously inside destroy().
   */
  close(error?: Error): void;
}

export interface TcpSocket {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * Attach handlers and start reading. Until start() no data is read, so a
   * caller can decide where bytes go before the first one arrives.
   */
  start(handlers: TcpSocketHandlers): void;
  /**
   * Queue bytes for sending. Returns false when the caller should stop writing
   * until `drain`; the bytes were still accepted. The chunk must not be changed afterwards.
   * After end() or destroy() the bytes are dropped and false is returned.
   */
  write(chunk: Uint8Array): boolean;
  /** Stop delivering `data` (the kernel window then pushes back on the peer). */
  pause(): void;
  resume(): void;
  /** Half-close: send FIN after the queued bytes. Reading continues. */
  end(): void;
  /** Close both directions now, dropping queued bytes. Idempotent. */
  destroy(): void;
}

export interface TcpListener {
  readonly port: number;
  readonly hostname: string;
  /** Stop accepting. Open sockets are not touched. Idempotent. */
  close(): Promise<void>;
}

export interface ListenTcpOptions {
  hostname: string;
  /** 0 picks a free port; read it back from `TcpListener.port`. */
  port: number;
}

/** dialTcp rejects with an Error whose message names the address and the reason,
 * e.g. `Cannot connect to 127.0.0.1:5432: connection refused`. */
export interface DialTcpOptions {
  hostname: string;
  port: number;
  /** Give up after this long (milliseconds). */
  timeoutMs?: number;
}

/** Callbacks for one WebSocket, on either end. Binary messages only. */
export interface WebSocketHandlers {
  /** The socket is open and `ws` can send. Called once, before any message. */
  open(ws: WebSocketConn): void;
  /** One binary message. The bytes belong to the callee. Text messages arrive UTF-8 encoded with `text: true`. */
  message(data: Uint8Array, text: boolean): void;
  /**
   * Closed, by either side or by a failure. Called exactly once, and only after `open`
   * (a socket that never opens reports nothing here: the client's connect promise
   * rejects; on a server the handlers are simply dropped). When we closed the socket
   * ourselves (close(), an oversize message) `code` is the code we sent.
   */
  close(code: number, reason: string): void;
}

export interface WebSocketConn {
  /**
   * Queue one binary message. Never drops while open: callers bound what they queue
   * using `bufferedAmount`; a runtime that would drop one closes the socket (1011) instead.
   * After close() or `close` it does nothing. `data` must not be changed afterwards,
   * until `written` is called: once the connection no longer reads `data` (the
   * kernel has it, or the runtime has copied it). A runtime that cannot tell, or a
   * socket that closes first, never calls it.
   */
  send(data: Uint8Array, written?: () => void): void;
  /** Bytes queued by send() and not yet handed to the kernel (an estimate on some runtimes). */
  readonly bufferedAmount: number;
  /** Resolves once `bufferedAmount <= threshold`, or when the socket closes. */
  waitForDrain(threshold: number): Promise<void>;
  /**
   * Start the closing handshake (default code 1000). Idempotent. A browser-style client
   * (Deno's) may only send 1000 or 3000-4999; another code goes out as 1000 with the reason.
   */
  close(code?: number, reason?: string): void;
}

export interface ConnectWebSocketOptions {
  headers?: Record<string, string>;
  /** PEM CA certificates to trust for a `wss://` URL, in addition to the system ones. */
  caCertificates?: string[];
  /** Give up on the opening handshake after this long (milliseconds). */
  timeoutMs?: number;
  /**
   * Attached before the handshake ends, so a message that arrives with the 101 is
   * delivered; `open` runs before the returned promise resolves.
   */
  handlers: WebSocketHandlers;
}

export interface RequestInfo {
  remoteAddress: string;
}

export interface ServeHttpOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Serve `https://` and `wss://` with this certificate chain and key (PEM). */
  tls?: { certificatePem: string; privateKeyPem: string };
  /** Largest WebSocket message accepted, in bytes; a larger one closes the socket with 1009. */
  maxMessageBytes: number;
  /** Ordinary HTTP requests. */
  fetch(request: Request, info: RequestInfo): Response | Promise<Response>;
  /**
   * A request asking for a WebSocket upgrade. Return handlers to accept it, or
   * a Response to refuse it with that answer.
   */
  upgrade(request: Request, info: RequestInfo): WebSocketHandlers | Response | Promise<WebSocketHandlers | Response>;
}

export interface HttpServer {
  readonly port: number;
  readonly hostname: string;
  /**
   * Stop accepting, close open WebSockets with 1001 (dropping those that do not
   * answer within a second) and resolve once the server holds nothing open. Idempotent.
   */
  close(): Promise<void>;
}

export interface HttpRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string;
  /** PEM CA certificates to trust for an https:// URL, in addition to the system ones. */
  caCertificates?: string[];
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  text: string;
}

export type Signal = "SIGINT" | "SIGTERM";

/**
 * AES-256-GCM with 96-bit nonces and 128-bit tags, as the link record layer
 * uses it. WebCrypto (asynchronous) is the portable default; a runtime with a
 * faster synchronous primitive (node:crypto on Node and Bun) offers it here.
 * Every implementation passes the same Wycheproof and known-answer vectors.
 */
export interface RecordAead {
  /** "webcrypto", "node:crypto" or "split", for logs and benchmarks. */
  readonly name: string;
  /** Import a 32-byte key. The caller may wipe `raw` once this resolves. */
  importKey(raw: Uint8Array): Promise<AeadKey>;
}

export interface AeadKey {
  /**
   * seal() and open() return their result directly, not a promise, for a
   * plaintext of at most this many bytes (Infinity: always; -1: never).
   */
  readonly synchronousUpTo: number;
  /**
   * Encrypt `plaintext`. The result is `prefix` bytes left for the caller
   * (a record header), then the ciphertext, then the 16-byte tag. `plaintext`
   * may be reused as soon as the call returns.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, prefix: number): Uint8Array | Promise<Uint8Array>;
  /**
   * Decrypt ciphertext || tag. Throws (or rejects) when authentication fails.
   * It may decrypt in place: afterwards the caller must not rely on `sealed`'s bytes.
   */
  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /**
   * Optional: take back a result of seal(), by any key of the same RecordAead,
   * once nothing reads it any more, so that a later seal() can reuse its buffer.
   * Call it at most once per result; results it did not pool are ignored.
   */
  recycle?(sealed: Uint8Array): void;
}

export interface Platform {
  readonly runtime: RuntimeName;
  /** Runtime version, e.g. "20.20.2". */
  readonly version: string;

  listenTcp(options: ListenTcpOptions, onSocket: (socket: TcpSocket) => void): Promise<TcpListener>;
  dialTcp(options: DialTcpOptions): Promise<TcpSocket>;
  serveHttp(options: ServeHttpOptions): Promise<HttpServer>;
  /**
   * Open a WebSocket client. Rejects with an Error naming the URL and the reason,
   * e.g. `Cannot open WebSocket to ws://h:1/link: HTTP 403 Forbidden: token expired`
   * (the status where the runtime shows it; the body only on Node).
   */
  connectWebSocket(url: string, options: ConnectWebSocketOptions): Promise<WebSocketConn>;
  /** One HTTP(S) request, trusting `caCertificates` as well as the system roots. */
  httpRequest(url: string, options: HttpRequestOptions): Promise<HttpResponse>;

  readTextFile(path: string): Promise<string>;
  /** Undefined when the file does not exist. */
  readTextFileIfExists(path: string): Promise<string | undefined>;
  /** Write atomically (temp file + rename) with mode 0600: readable by the owner only. */
  writePrivateFile(path: string, text: string): Promise<void>;
  /** Create a directory (and parents) with mode 0700. An existing directory is left as it is. */
  makePrivateDir(path: string): Promise<void>;
  /** Remove a file; one that does not exist is not an error. */
  removeFile(path: string): Promise<void>;
  /** File mode bits (e.g. 0o600), or undefined when missing. */
  fileMode(path: string): Promise<number | undefined>;
  /** Absolute form of a path, against the current directory. */
  resolvePath(...segments: string[]): string;
  dirname(path: string): string;

  /** An environment variable. On Deno this needs --allow-env (it throws otherwise). */
  env(name: string): string | undefined;
  /** Command-line arguments after the script name. */
  args(): string[];
  onSignal(signal: Signal, handler: () => void): () => void;
  exit(code: number): never;
  /** Resident set size of this process in bytes. */
  memoryRss(): number;
  /** Write all of `text` before returning (blocking), so a line right before exit() is not lost. */
  writeStdout(text: string): void;
  writeStderr(text: string): void;
}
