// Test servers and clients that move bytes through sites and check them.

import { createHash } from "node:crypto";
import net from "node:net";

export interface TestServer {
  port: number;
  close(): Promise<void>;
}

/** Deterministic bytes: the same seed and length always give the same data. */
export function pattern(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, Math.min(i, length - 4));
  }
  return out;
}

export function sha256(data: Buffer | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function listen(server: net.Server): Promise<TestServer> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const sockets = new Set<net.Socket>();
      server.on("connection", (s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
      });
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Echoes every byte back, and half-closes after the client does. */
export function echoServer(): Promise<TestServer> {
  return listen(net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.pipe(socket);
    socket.on("error", () => socket.destroy());
  }));
}

/**
 * Reads the whole request (until the client half-closes), then answers with
 * `replyBytes` of pattern(2) and the SHA-256 of what it received on the first line.
 */
export function exchangeServer(replyBytes: number): Promise<TestServer & { received: string[] }> {
  const received: string[] = [];
  const reply = pattern(2, replyBytes);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const hash = createHash("sha256");
    socket.on("data", (d) => hash.update(d));
    socket.on("end", () => {
      received.push(hash.digest("hex"));
      socket.end(reply);
    });
    socket.on("error", () => socket.destroy());
  });
  return listen(server).then((s) => Object.assign(s, { received }));
}

/** Send `request`, half-close, and collect the whole reply. */
export function exchange(port: number, request: Buffer, timeoutMs = 60_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete reply within ${timeoutMs} ms (got ${chunks.reduce((n, c) => n + c.length, 0)} bytes)`));
    }, timeoutMs);
    socket.on("connect", () => socket.end(request));
    socket.on("data", (d) => chunks.push(d));
    socket.on("end", () => {
      clearTimeout(timer);
      socket.end();
      resolve(Buffer.concat(chunks));
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Open a connection and report how long until the far end closes it. */
export function timeUntilClosed(port: number, timeoutMs = 5000): Promise<{ ms: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let bytes = 0;
    const socket = net.connect({ port, host: "127.0.0.1" });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connection still open after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (d) => (bytes += d.length));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - started, bytes });
    });
  });
}

/**
 * Privileged ports that no common service uses. A port bound and closed again
 * would do until another test's listener, or a connection's own local end, got
 * it from the ephemeral range; these are never handed out so.
 */
const UNUSED_PRIVILEGED_PORTS = [1, 3, 5, 1019, 1020, 1021];

/** A port on 127.0.0.1 that refuses connections, and that nothing else in the suite can take. */
export async function closedPort(): Promise<number> {
  for (const port of UNUSED_PRIVILEGED_PORTS) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve(false);
      });
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
    });
    if (refused) return port;
  }
  throw new Error(`every one of ports ${UNUSED_PRIVILEGED_PORTS.join(", ")} answers on 127.0.0.1; the tests need one that refuses`);
}

/** Retry a small echo through `port` until the route to the far site is known. */
export async function waitForRoute(port: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const reply = await exchange(port, Buffer.from("ping"), 2000);
      if (reply.toString() === "ping") return;
    } catch {
      // not routed yet
    }
    if (Date.now() > deadline) throw new Error(`no route through port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A server that answers every connection with `name` and closes; counts its connections. */
export function nameServer(name: string): Promise<TestServer & { connections: number }> {
  const state = { connections: 0 };
  const server = net.createServer((socket) => {
    state.connections++;
    socket.on("error", () => socket.destroy());
    socket.end(name);
  });
  return listen(server).then((s) =>
    Object.defineProperty(s, "connections", { get: () => state.connections, enumerable: true }) as TestServer & { connections: number },
  );
}

/** Connect, read everything until the far end closes, and return it as text. */
export function readAll(port: number, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no end within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("data", (d) => chunks.push(d));
    socket.on("end", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString());
    });
    socket.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * A TCP forwarder in front of a site's link port, so a test can cut a link
 * (every connection through it is destroyed and new ones are refused at
 * once) and restore it, or hold back what the target sends (`holdReplies()`,
 * until `releaseReplies()`). The target may be set later with `target()`, when
 * the proxy's port has to go into the site's config first (its publicUrl).
 */
export async function tcpProxy(
  targetPort?: number,
): Promise<TestServer & { cut(): void; restore(): void; target(port: number): void; holdReplies(): void; releaseReplies(): void }> {
  let open = true;
  let target = targetPort;
  const pairs = new Set<net.Socket>();
  /** Each connection's way back, from the target to the client. */
  const replies = new Map<net.Socket, net.Socket>();
  const held = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!open || target === undefined) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ port: target, host: "127.0.0.1" });
    pairs.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(client);
      pairs.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
    replies.set(upstream, client);
    upstream.on("close", () => replies.delete(upstream));
  });
  const base = await listen(server);
  return {
    port: base.port,
    close: () => {
      for (const s of pairs) s.destroy();
      return base.close();
    },
    cut: () => {
      open = false;
      for (const s of pairs) s.destroy();
    },
    restore: () => {
      open = true;
    },
    target: (port: number) => {
      target = port;
    },
    holdReplies: () => {
      for (const [upstream, client] of replies) {
        upstream.unpipe(client);
        upstream.pause();
        held.add(upstream);
      }
    },
    releaseReplies: () => {
      for (const upstream of held) {
        const client = replies.get(upstream);
        if (client !== undefined) upstream.pipe(client);
      }
      held.clear();
    },
  };
}

/**
 * A server that does not read until told: for checking that a slow reader
 * slows the sender. On resume() it reads everything, and at the client's FIN
 * answers with the byte count and the SHA-256 of what it got.
 */
export async function stalledServer(): Promise<TestServer & { resume(): void; connected: Promise<void> }> {
  let sockets: net.Socket[] = [];
  let resolveConnected!: () => void;
  const connected = new Promise<void>((r) => (resolveConnected = r));
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.pause();
    sockets.push(socket);
    const hash = createHash("sha256");
    let bytes = 0;
    socket.on("data", (d) => {
      bytes += d.length;
      hash.update(d);
    });
    socket.on("end", () => socket.end(`${bytes} ${hash.digest("hex")}`));
    socket.on("error", () => socket.destroy());
    resolveConnected();
  });
  const base = await listen(server);
  return {
    ...base,
    connected,
    resume: () => {
      for (const s of sockets) s.resume();
      sockets = [];
    },
  };
}
