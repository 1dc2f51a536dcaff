// Convergence of the routing tables: how long from a link change until every
// site of a 10-site and a 30-site network has the new routes, and the memory
// each site uses. Run: node bin/run-ts.mjs scripts/convergence.ts [sizes...]
// Sites run on Node, Deno and Bun in turn, on 127.0.0.1, linked as a ring with chords.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { median, resource, ROOT, type Runtime, runtimeCommand } from "./bench/lib.ts";

const RUNTIMES: Runtime[] = ["node", "deno", "bun"];
const REPEATS = 5;

interface LogLine {
  /** The site's own timestamp of the line (ms since epoch). */
  at: number;
  text: string;
}

/** One site process whose log lines are kept with their timestamps. */
class Site {
  readonly name: string;
  readonly runtime: Runtime;
  readonly dir: string;
  readonly child: ChildProcess;
  readonly lines: LogLine[] = [];
  #partial = "";
  #watchers: { pattern: RegExp; resolve: (line: LogLine) => void; from: number }[] = [];

  constructor(name: string, runtime: Runtime, yaml: string) {
    this.name = name;
    this.runtime = runtime;
    this.dir = mkdtempSync(path.join(tmpdir(), `skiff-conv-${name}-`));
    const config = path.join(this.dir, "site.yaml");
    writeFileSync(config, yaml);
    const [cmd, ...args] = runtimeCommand(runtime);
    this.child = spawn(cmd!, [...args, path.join(ROOT, "src/cli.ts"), "run", "--config", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const take = (chunk: Buffer) => {
      const text = this.#partial + chunk.toString();
      const parts = text.split("\n");
      this.#partial = parts.pop()!;
      for (const raw of parts) {
        const at = Date.parse(raw.slice(0, 24));
        const line = { at: Number.isNaN(at) ? Date.now() : at, text: raw };
        this.lines.push(line);
        for (const w of [...this.#watchers]) {
          if (this.lines.length - 1 >= w.from && w.pattern.test(raw)) {
            this.#watchers.splice(this.#watchers.indexOf(w), 1);
            w.resolve(line);
          }
        }
      }
    };
    this.child.stdout!.on("data", take);
    this.child.stderr!.on("data", take);
  }

  /** The first line matching `pattern` at or after line index `from`. */
  waitFor(pattern: RegExp, from = 0, timeoutMs = 60_000): Promise<LogLine> {
    const found = this.lines.slice(from).find((l) => pattern.test(l.text));
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`site ${this.name} (${this.runtime}) never logged ${pattern}; last lines:\n${this.lines.slice(-10).map((l) => l.text).join("\n")}`)),
        timeoutMs,
      );
      this.#watchers.push({ pattern, from, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  }

  /** Resolves once the site accepts links and its admin endpoint is up. */
  async ready(): Promise<void> {
    await this.waitFor(/site \S+ is running on/);
  }

  async #admin(pathname: string, init: RequestInit = {}): Promise<Response> {
    const state = path.join(this.dir, ".skiff", this.name);
    const endpoint = JSON.parse(readFileSync(path.join(state, "admin.json"), "utf8")) as { url: string };
    const secret = readFileSync(path.join(state, "admin-secret"), "utf8").trim();
    return fetch(`${endpoint.url}${pathname}`, { ...init, headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" } });
  }

  /** An AccessToken resource from this site, renamed so the redeeming site calls its link `linkName`. */
  async token(linkName: string): Promise<string> {
    const answer = (await (await this.#admin("/v1/tokens", { method: "POST", body: "{}" })).json()) as { token?: string; error?: string };
    if (answer.token === undefined) throw new Error(`site ${this.name} issued no token: ${answer.error}`);
    return answer.token.replace(/^metadata:\n  name: .*$/m, `metadata:\n  name: ${linkName}`);
  }

  /** Resident memory as the site reports it in its status. */
  async rssBytes(): Promise<number> {
    return ((await (await this.#admin("/v1/status")).json()) as { site: { rssBytes: number } }).site.rssBytes;
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill(signal);
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A site that accepts links and links to `peers` with tokens they issue (redeemed at start). */
async function siteYaml(name: string, peers: Site[]): Promise<string> {
  const tokens = await Promise.all(peers.map((p) => p.token(`to-${p.name}`)));
  return [
    resource("Site", name, "  keepaliveIntervalSeconds: 1\n  keepaliveTimeoutSeconds: 5"),
    resource("RouterAccess", `${name}-access`, "  bindHost: 127.0.0.1\n  roles:\n    - name: inter-router\n      port: 0"),
    ...tokens,
  ].join("---\n");
}

/** Wait until every site in `sites` logs a route change naming `site` under `label`; resolve with the latest timestamp. */
async function allSee(sites: Site[], label: "reachable now" | "unreachable now", site: string, from: Map<Site, number>): Promise<number> {
  const pattern = new RegExp(`routes changed: .*${label}: ([-a-z0-9]+, )*${site}(;|,|$)`);
  const seen = await Promise.all(sites.map((s) => s.waitFor(pattern, from.get(s) ?? 0, 30_000)));
  return Math.max(...seen.map((l) => l.at));
}

function marks(sites: Site[]): Map<Site, number> {
  return new Map(sites.map((s) => [s, s.lines.length]));
}

async function measure(size: number): Promise<void> {
  // Site i links to i-1 (a chain that becomes a ring below) and to i-3 (chords), so paths are several hops long.
  const sites: Site[] = [];
  const started = Date.now();
  for (let i = 0; i < size; i++) {
    const name = `s${i}`;
    const peers: Site[] = [];
    if (i >= 1) peers.push(sites[i - 1]!);
    if (i >= 3 && i % 2 === 1) peers.push(sites[i - 3]!);
    if (i === size - 1) peers.push(sites[0]!);
    const site = new Site(name, RUNTIMES[i % RUNTIMES.length]!, await siteYaml(name, peers));
    sites.push(site);
    await site.ready();
  }
  // Everyone sees everyone.
  await Promise.all(sites.map((s) => s.waitFor(new RegExp(`routes changed: ${size - 1} other sites reachable`))));
  console.log(`${size} sites up and converged after ${((Date.now() - started) / 1000).toFixed(1)} s of starting them one by one`);

  const joins: number[] = [];
  const losses: number[] = [];
  const rerouted: number[] = [];
  // A new site joins (its link comes up), then is killed (its links drop at once).
  // It links to two sites far apart, so losing it also changes no other route.
  for (let r = 0; r < REPEATS; r++) {
    const from = marks(sites);
    const x = new Site("x", RUNTIMES[r % RUNTIMES.length]!, await siteYaml("x", [sites[0]!]));
    // The link change happens when either end has the link up; take the earlier of the two.
    const [up, accepted] = await Promise.all([x.waitFor(/link to-s0 is up/), sites[0]!.waitFor(/accepted a link from site x /, from.get(sites[0]!))]);
    joins.push((await allSee(sites, "reachable now", "x", from)) - Math.min(up.at, accepted.at));
    const before = marks(sites);
    const killedAt = Date.now();
    await x.stop("SIGKILL");
    losses.push((await allSee(sites, "unreachable now", "x", before)) - killedAt);
  }
  // Sites inside the ring are killed one after another (two or three links drop at once):
  // every other site drops them, and routes through them go round another way.
  let rest = sites;
  for (const index of [Math.floor(size / 2), Math.floor(size / 4), Math.floor((3 * size) / 4)]) {
    const victim = sites[index]!;
    rest = rest.filter((s) => s !== victim);
    const before = marks(rest);
    const killedAt = Date.now();
    await victim.stop("SIGKILL");
    rerouted.push((await allSee(rest, "unreachable now", victim.name, before)) - killedAt);
  }

  const rss = await Promise.all(rest.map(async (s) => ({ runtime: s.runtime, mib: (await s.rssBytes()) / (1024 * 1024) })));
  const byRuntime = RUNTIMES.map((rt) => {
    const values = rss.filter((x) => x.runtime === rt).map((x) => x.mib);
    return values.length === 0 ? "" : `${rt} ${median(values).toFixed(0)} MiB`;
  }).filter(Boolean);

  const fmt = (values: number[]) => `median ${median(values).toFixed(0)} ms (${Math.min(...values)}-${Math.max(...values)} ms, ${values.length} runs)`;
  console.log(`  a site joins: every site has a route to it after ${fmt(joins)}`);
  console.log(`  a site is killed: every site has dropped it after ${fmt(losses)}`);
  console.log(`  a site inside the ring is killed: every other site has dropped it after ${fmt(rerouted)}`);
  console.log(`  resident memory per site (median by runtime): ${byRuntime.join(", ")}`);
  await Promise.all(rest.map((s) => s.stop()));
}

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
for (const size of sizes.length > 0 ? sizes : [10, 30]) await measure(size);
