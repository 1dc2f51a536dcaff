// `npm start`: a two-site Skiff network on this machine, with nothing to set up.
// Site "east" runs on Deno next to a small HTTP backend; site "west" runs on
// Node with a listener; a curl to west's listener is answered by the backend.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { issueToken } from "./lib/token.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(path.join(tmpdir(), "skiff-example-"));

function freePort(preferred: number): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => {
      const any = net.createServer();
      any.listen(0, "127.0.0.1", () => {
        const port = (any.address() as net.AddressInfo).port;
        any.close(() => resolve(port));
      });
    });
    server.listen(preferred, "127.0.0.1", () => server.close(() => resolve(preferred)));
  });
}

const backend = http.createServer((req, res) => {
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(`Hello from the backend next to site east. You asked for ${req.method} ${req.url}, and Skiff carried it from site west.\n`);
});
await new Promise<void>((resolve) => backend.listen(0, "127.0.0.1", () => resolve()));
const backendPort = (backend.address() as net.AddressInfo).port;
const linkPort = await freePort(55671);
const listenerPort = await freePort(8080);

const resource = (kind: string, name: string, spec: string) => `apiVersion: skupper.io/v2alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}\n`;
const eastConfig = path.join(dir, "east.yaml");
const westConfig = path.join(dir, "west.yaml");
writeFileSync(
  eastConfig,
  [
    resource("Site", "east", "  stateDir: ./state/east"),
    resource("RouterAccess", "east-access", `  bindHost: 127.0.0.1\n  roles:\n    - name: inter-router\n      port: ${linkPort}`),
    resource("Connector", "backend", `  routingKey: backend\n  host: 127.0.0.1\n  port: ${backendPort}`),
  ].join("---\n"),
);
function start(name: string, command: string[], config: string): ChildProcess {
  // A process group of its own: Ctrl-C in a terminal signals the whole foreground group, and a
  // site that got SIGINT from there and SIGTERM from stop() below would take the second signal
  // as "exit now". The example alone passes the stop on, once.
  const child = spawn(command[0]!, [...command.slice(1), "run", "--config", config], { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true });
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = "";
    stream.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop()!;
      for (const line of lines) process.stdout.write(`${name.padEnd(4)} | ${line}\n`);
    });
  }
  return child;
}

const deno = path.join(root, "node_modules", ".bin", "deno");
const sites = [start("east", [deno, "run", "-A", "--no-code-cache", "--v8-flags=--max-semi-space-size=1,--heap-growing-percent=300", path.join(root, "bin", "skiff.mjs")], eastConfig)];

// West joins with an access token from east: it redeems it at start and links, authenticated and encrypted.
const eastState = path.join(dir, "state", "east");
let token: string | undefined;
for (const deadline = Date.now() + 30_000; token === undefined; ) {
  try {
    token = await issueToken(eastState, "to-east");
  } catch (err) {
    if (Date.now() > deadline) {
      process.stdout.write(`site east did not come up: ${err instanceof Error ? err.message : String(err)}\n`);
      for (const child of sites) child.kill("SIGTERM");
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
writeFileSync(
  westConfig,
  [
    resource("Site", "west", "  stateDir: ./state/west"),
    resource("Listener", "backend", `  routingKey: backend\n  host: 127.0.0.1\n  port: ${listenerPort}`),
    token,
  ].join("---\n"),
);
sites.push(start("west", [process.execPath, "--max-semi-space-size=2", path.join(root, "bin", "skiff.mjs")], westConfig));

async function routeReady(): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${listenerPort}/`, { signal: AbortSignal.timeout(1000) });
    return response.ok;
  } catch {
    return false;
  }
}

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const child of sites) child.kill("SIGTERM");
    await Promise.all(sites.map((child) => (child.exitCode !== null ? undefined : new Promise((r) => child.once("exit", r)))));
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(code);
}
// Should the example itself end some other way, its sites, in groups of their own, must not outlive it.
process.on("exit", () => {
  for (const child of sites) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
for (const child of sites) {
  child.once("exit", (code) => {
    if (!stopping) {
      process.stdout.write(`a site exited unexpectedly (code ${code}); stopping the example\n`);
      void stop(1);
    }
  });
}

const deadline = Date.now() + 30_000;
while (!(await routeReady())) {
  if (Date.now() > deadline) {
    process.stdout.write("the example network did not come up within 30 s; see the site logs above\n");
    await stop(1);
  }
  await new Promise((r) => setTimeout(r, 250));
}

process.stdout.write(
  [
    "",
    "Skiff is running: site west (Node) joined site east (Deno) with an access token; the link between them is",
    "mutually authenticated and encrypted, and east has an HTTP backend behind a connector.",
    `Try it:   curl http://127.0.0.1:${listenerPort}/`,
    `Status:   npx skiff status --config ${westConfig}`,
    "Press Ctrl-C to stop both sites.",
    "",
  ].join("\n") + "\n",
);
