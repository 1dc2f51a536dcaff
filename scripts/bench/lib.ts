// Shared pieces of the benchmark scripts: a byte sink, a timed bulk sender,
// site processes on each runtime, and figures printed as medians.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { issueToken } from "../lib/token.ts";
import { BUN_SITE_ENV, DENO_SITE_FLAGS, NODE_SITE_FLAGS, runtimeCommand, type RuntimeName, withBunSiteEnv } from "../../test/helpers/runtimes.ts";
import { bulk } from "./load.ts";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export type Runtime = RuntimeName;
export { BUN_SITE_ENV, DENO_SITE_FLAGS, NODE_SITE_FLAGS, runtimeCommand };

/** The far-end servers of scripts/bench/servers.ts, in a process of their own: their ports, and the process. */
export interface FarEnds {
  sink: number;
  echo: number;
  slow: number;
  hold: number;
  pid: number;
  /** How many connections the holding server holds open. */
  held(): Promise<number>;
  stop(): void;
}

/** Start scripts/bench/servers.ts, its slow reader taking `slowMibPerS` MiB/s. */
export async function startFarEnds(slowMibPerS = 64): Promise<FarEnds> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/bench/servers.ts"), String(slowMibPerS)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: ((line: string) => void)[] = [];
  lines.on("line", (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  const ports = JSON.parse(await next()) as { sink: number; echo: number; slow: number; hold: number };
  return {
    ...ports,
    pid: child.pid!,
    async held() {
      const answer = next();
      child.stdin!.write("held\n");
      return Number(await answer);
    },
    stop() {
      child.stdin!.end();
    },
  };
}

/** A TCP server that counts what it receives and, at the client's FIN, answers with the count. */
export async function startSink(): Promise<{ port: number; close(): void }> {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let bytes = 0;
    socket.on("data", (d) => (bytes += d.length));
    socket.on("end", () => socket.end(`${bytes}\n`));
    socket.on("error", () => socket.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

export interface SitePlan {
  name: string;
  runtime: Runtime;
  yaml: string;
  /** Extra environment for the site process. */
  env?: Record<string, string>;
  /** Extra runtime flags, before the script (e.g. --cpu-prof on Node). */
  flags?: string[];
  /** Node only: run this bundle of src/cli.ts (see nodeBundle) instead of the sources through tsx. */
  nodeBundle?: string;
}

export class BenchSite {
  readonly child: ChildProcess;
  readonly dir: string;
  output = "";

  constructor(plan: SitePlan) {
    this.dir = mkdtempSync(path.join(tmpdir(), `skiff-bench-${plan.name}-`));
    const config = path.join(this.dir, "site.yaml");
    writeFileSync(config, plan.yaml);
    const [cmd, ...args] = plan.runtime === "node" && plan.nodeBundle ? [process.execPath] : runtimeCommand(plan.runtime);
    // Node sites with the flags the README gives them (a flag in plan.flags comes later and wins).
    if (plan.runtime === "node") args.push(...NODE_SITE_FLAGS);
    // Deno sites start as the README starts them, through bin/skiff.mjs and its bundle.
    const script = plan.runtime === "deno" ? "bin/skiff.mjs" : "src/cli.ts";
    const entry = plan.runtime === "node" && plan.nodeBundle ? plan.nodeBundle : path.join(ROOT, script);
    const env = { ...process.env, ...plan.env };
    this.child = spawn(cmd!, [...args, ...(plan.flags ?? []), entry, "run", "--config", config], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      // Bun sites with the environment the README gives them, as Deno sites get its flags.
      env: plan.runtime === "bun" ? withBunSiteEnv(env) : env,
    });
    // Keep the start of the log (what waitFor looks for) and the end, not all of it.
    const keep = (d: Buffer) => {
      this.output += d.toString();
      if (this.output.length > 200_000) this.output = this.output.slice(0, 100_000) + this.output.slice(-50_000);
    };
    this.child.stdout!.on("data", keep);
    this.child.stderr!.on("data", keep);
  }

  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.output.match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null) throw new Error(`site exited:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      this.child.kill("SIGTERM");
      await new Promise((r) => this.child.once("exit", r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function resource(kind: string, name: string, spec: string): string {
  return `apiVersion: skupper.io/v2alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${spec}\n`;
}

/** Two sites on one runtime: site 0 has a listener, site 1 a connector to `targetPort`. Resolves once traffic flows. */
export async function startPair(runtime: Runtime, targetPort: number): Promise<{ port: number; sites: BenchSite[] }> {
  const chain = await startChain({ prefix: "pair-", runtimes: [runtime, runtime], listeners: ["bulk"], connectors: { 1: { bulk: targetPort } } });
  await retry(() => bulk(chain.ports.bulk!, 1024));
  return { port: chain.ports.bulk!, sites: chain.sites };
}

/** Run `work` until it succeeds, 100 ms apart: a listener's route is known only once the far site's advert has arrived. */
export async function retry<T>(work: () => Promise<T>, attempts = 100): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await work();
    } catch (err) {
      if (i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function summary(values: number[], digits = 0): string {
  return `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
}

export interface ChainPlan {
  /** Runtimes of the sites, in link order: site 0 dials site 1, which dials site 2, ... */
  runtimes: Runtime[];
  /** Listeners on site 0: routing key names. */
  listeners: string[];
  /** Connectors per site index: routing key -> target port. */
  connectors: Record<number, Record<string, number>>;
  /** Site spec lines (YAML, indented two spaces), for every site. */
  siteSpec?: string;
  env?: Record<string, string>;
  flags?: string[];
  nodeBundle?: string;
  prefix: string;
}

export interface Chain {
  sites: BenchSite[];
  /** Listener ports on site 0, by routing key. */
  ports: Record<string, number>;
  pids: number[];
  stop(): Promise<void>;
}

/** Start a chain of sites joined by access tokens, the last one first; resolves once every listener is bound and every link is up. */
export async function startChain(plan: ChainPlan): Promise<Chain> {
  const sites: BenchSite[] = [];
  const spec = plan.siteSpec ?? "  {}";
  const n = plan.runtimes.length;
  try {
    let token: string | undefined;
    for (let i = n - 1; i >= 0; i--) {
      const name = `${plan.prefix}${i}`;
      const docs = [resource("Site", name, spec)];
      if (i > 0) docs.push(resource("RouterAccess", `${name}-access`, "  bindHost: 127.0.0.1\n  roles:\n    - name: inter-router\n      port: 0"));
      for (const [key, port] of Object.entries(plan.connectors[i] ?? {})) {
        docs.push(resource("Connector", key, `  routingKey: ${key}\n  host: 127.0.0.1\n  port: ${port}`));
      }
      if (i === 0) for (const key of plan.listeners) docs.push(resource("Listener", key, `  routingKey: ${key}\n  host: 127.0.0.1\n  port: 0`));
      if (token !== undefined) docs.push(token);
      const site = new BenchSite({ name, runtime: plan.runtimes[i]!, yaml: docs.join("---\n"), env: plan.env, flags: plan.flags, nodeBundle: plan.nodeBundle });
      sites.unshift(site);
      await site.waitFor(new RegExp(`site ${name} is running`));
      if (token !== undefined) await site.waitFor(new RegExp(`link to-${plan.prefix}${i + 1} is up`));
      if (i > 0) token = await issueToken(path.join(site.dir, ".skiff", name), `to-${name}`);
    }
    const ports: Record<string, number> = {};
    for (const key of plan.listeners) {
      ports[key] = Number((await sites[0]!.waitFor(new RegExp(`listener ${key} for \\S+ is listening on [\\d.]+:(\\d+)`)))[1]);
    }
    return { sites, ports, pids: sites.map((s) => s.child.pid!), stop: () => Promise.all(sites.map((s) => s.stop())).then(() => {}) };
  } catch (err) {
    await Promise.all(sites.map((s) => s.stop()));
    throw err;
  }
}

/** The bundle of src/cli.ts that `skiff` runs on Node and Deno (bin/bundle.mjs): the bench measures Node sites as users run them. */
export { skiffBundle as nodeBundle } from "../../bin/bundle.mjs";
