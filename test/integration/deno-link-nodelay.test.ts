// Deno's WebSocket client leaves Nagle's algorithm on for its socket; a Deno
// site turns TCP_NODELAY back on for the link sockets it dials.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";

/** The Deno binary that npm installed, without the site flags. */
const [deno] = runtimeCommand("deno") as [string, ...string[]];
const module = "file://" + path.join(REPO_ROOT, "src", "platform", "nodelay-deno.ts");

// A WebSocket from Deno's client to a Deno.serve server in the same process; prints
// TCP_NODELAY of every socket connected to the server's port, before and after noDelayTowards().
const script = `
const { noDelayTowards } = await import(${JSON.stringify(module)});
const c = Deno.dlopen("libc.so.6", {
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
}).symbols;
const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => Deno.upgradeWebSocket(request).response);
const port = server.addr.port;
const ws = new WebSocket("ws://127.0.0.1:" + port + "/");
await new Promise((resolve) => (ws.onopen = resolve));
function noDelayOfLinkSockets() {
  const values = [];
  for (const { name } of Deno.readDirSync("/proc/self/fd")) {
    const address = new Uint8Array(128), length = new Uint8Array(new Uint32Array([128]).buffer);
    if (c.getpeername(Number(name), address, length) !== 0 || ((address[2] << 8) | address[3]) !== port) continue;
    const value = new Uint8Array(4), size = new Uint8Array(new Uint32Array([4]).buffer);
    c.getsockopt(Number(name), 6, 1, value, size);
    values.push(new Int32Array(value.buffer)[0] !== 0);
  }
  return values;
}
const before = noDelayOfLinkSockets();
const set = noDelayTowards(port);
const after = noDelayOfLinkSockets();
console.log(JSON.stringify({ before, set, after }));
ws.close();
await server.shutdown();
`;

describe.skipIf(!RUNTIMES.includes("deno") || process.platform !== "linux")("link sockets dialed on Deno", () => {
  it("get TCP_NODELAY, which Deno's WebSocket client leaves off", () => {
    const result = spawnSync(deno, ["run", "-A", "-"], { cwd: REPO_ROOT, input: script, encoding: "utf8", timeout: 20_000 });
    expect(result.status, result.stderr).toBe(0);
    const { before, set, after } = JSON.parse(result.stdout) as { before: boolean[]; set: number; after: boolean[] };
    expect(before).toEqual([false]);
    expect(set).toBe(1);
    expect(after).toEqual([true]);
  });
});
