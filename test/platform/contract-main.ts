// Runs the platform contract inside one runtime and prints results as JSON lines,
// for test/platform/platform.test.ts, which starts it on Node, Deno and Bun.
//   checks <tlsDir> <tmpDir> [name filter]   run the checks, print {"check","ok","ms","error"} lines, then "done"
//   serve                                    WebSocket echo server: "listening <port>", stops on SIGTERM
//   client <url>                             echo round trip against a server, prints "ok"
//   last-words <bytes>                       writeStdout a long line, then exit(3) at once

import { loadPlatform } from "../../src/platform/detect.ts";
import { checks, echoHandlers, wsEchoRoundTrip } from "./contract.ts";

const p = await loadPlatform();
const [mode, ...rest] = p.args();

if (mode === "checks") {
  const [tlsDir, tmpDir, filter] = rest;
  for (const [name, check] of Object.entries(checks)) {
    if (filter && !name.includes(filter)) continue;
    const started = Date.now();
    let result: { check: string; ok: boolean; ms: number; error?: string };
    try {
      await check(p, { tlsDir, tmpDir });
      result = { check: name, ok: true, ms: Date.now() - started };
    } catch (error) {
      result = { check: name, ok: false, ms: Date.now() - started, error: String((error as Error)?.stack ?? error) };
    }
    p.writeStdout(JSON.stringify(result) + "\n");
  }
  // No exit(): the test also checks that nothing left open keeps the process alive.
  p.writeStdout("done\n");
} else if (mode === "serve") {
  const server = await p.serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    maxMessageBytes: 4 * 1024 * 1024,
    fetch: () => new Response(p.runtime),
    upgrade: () => echoHandlers(),
  });
  const off = p.onSignal("SIGTERM", () => {
    off();
    void server.close().then(() => p.writeStdout("stopped\n"));
  });
  p.writeStdout(`listening ${server.port}\n`);
} else if (mode === "client") {
  await wsEchoRoundTrip(p, rest[0], [0, 1, 64 * 1024, 1024 * 1024]);
  p.writeStdout(`ok ${p.runtime}\n`);
} else if (mode === "last-words") {
  p.writeStdout("x".repeat(Number(rest[0])) + "\n");
  p.exit(3);
} else {
  p.writeStderr(`unknown mode ${mode}\n`);
  p.exit(2);
}
