// Starts real site processes for integration tests and stops them again.
// Each site gets its own temp directory (config + state), ports are picked by the OS.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type RuntimeName, spawnScript } from "./runtimes.ts";
import type { SiteStatus } from "../../src/site/status.ts";

export interface SiteSpec {
  name: string;
  runtime: RuntimeName;
  /** Extra Site spec lines, e.g. "keepaliveTimeoutSeconds: 2". */
  siteSpec?: Record<string, string | number>;
  /** Accept links on a free port. */
  acceptLinks?: boolean;
  /** Serve the link port as wss:// with a certificate from the site's own CA. */
  wss?: boolean;
  listeners?: { name: string; routingKey: string }[];
  connectors?: { name: string; routingKey: string; port: number; host?: string }[];
  /**
   * Links to other test sites, by their link URL (`await east.linkUrl()`).
   * Each becomes an AccessToken from that site in this site's config, which
   * the site redeems at start: links are always authenticated and encrypted.
   */
  links?: { name: string; url: string; cost?: number }[];
}

/** Test sites that accept links, by link URL, so a link spec can fetch a token from its peer. */
const byLinkUrl = new Map<string, SiteProcess>();

export class SiteProcess {
  readonly spec: SiteSpec;
  readonly dir: string;
  readonly configFile: string;
  #child: ChildProcess | undefined;
  #output = "";
  #waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void; from: number }[] = [];
  readonly exited: Promise<number | null>;

  /** `reuseDir`: run again from the directory (config and state) of a site stopped with halt(). */
  constructor(spec: SiteSpec, reuseDir?: string) {
    this.spec = spec;
    this.dir = reuseDir ?? mkdtempSync(path.join(tmpdir(), `skiff-${spec.name}-`));
    this.configFile = path.join(this.dir, "site.yaml");
    let exit!: (code: number | null) => void;
    this.exited = new Promise((resolve) => (exit = resolve));
    const launch = (yaml: string | undefined) => {
      if (yaml !== undefined) writeFileSync(this.configFile, yaml);
      const child = spawnScript(spec.runtime, "src/cli.ts", ["run", "--config", this.configFile]);
      this.#child = child;
      const collect = (chunk: Buffer) => {
        this.#output += chunk.toString();
        for (const waiter of [...this.#waiters]) {
          const match = this.#output.slice(waiter.from).match(waiter.pattern);
          if (match) {
            this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
            waiter.resolve(match);
          }
        }
      };
      child.stdout!.on("data", collect);
      child.stderr!.on("data", collect);
      child.on("exit", (code) => exit(code));
    };
    if (reuseDir !== undefined || (spec.links ?? []).length === 0) launch(reuseDir === undefined ? siteYaml(spec) : undefined);
    else {
      // Tokens come from the running peers first; the site redeems them at start.
      void Promise.all(
        spec.links!.map(async (link) => {
          const peer = byLinkUrl.get(link.url);
          if (peer === undefined) throw new Error(`no test site accepts links at ${link.url}`);
          return renameToken(await peer.issueToken(), link.name, link.cost ?? 1);
        }),
      ).then(
        (tokens) => launch(siteYaml(spec) + tokens.map((t) => "---\n" + t).join("")),
        (err) => {
          this.#output += `cannot prepare links: ${err instanceof Error ? err.message : String(err)}\n`;
          exit(null);
        },
      );
    }
  }

  /** The running process (set once the site has been launched). */
  get child(): ChildProcess {
    if (this.#child === undefined) throw new Error(`site ${this.spec.name} has not been launched yet; await started() first`);
    return this.#child;
  }

  /** An AccessToken (YAML) from this running site, via its admin endpoint. */
  async issueToken(options: { redemptionsAllowed?: number; expirationWindowMs?: number } = {}): Promise<string> {
    const state = path.join(this.dir, ".skiff", this.spec.name);
    const endpoint = JSON.parse(readFileSync(path.join(state, "admin.json"), "utf8")) as { url: string };
    const secret = readFileSync(path.join(state, "admin-secret"), "utf8").trim();
    const response = await fetch(`${endpoint.url}/v1/tokens`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
      body: JSON.stringify(options),
    });
    const answer = (await response.json()) as { token?: string; error?: string };
    if (answer.token === undefined) throw new Error(`site ${this.spec.name} issued no token: ${answer.error}`);
    return answer.token;
  }

  get output(): string {
    return this.#output;
  }

  /** Wait for a log line matching `pattern` (searching output from `from`, default the start). */
  waitFor(pattern: RegExp, timeoutMs = 20_000, from = 0): Promise<RegExpMatchArray> {
    const existing = this.#output.slice(from).match(pattern);
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`site ${this.spec.name} (${this.spec.runtime}) never logged ${pattern}:\n${this.#output}`)), timeoutMs);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`site ${this.spec.name} (${this.spec.runtime}) exited (${code}) before logging ${pattern}:\n${this.#output}`));
      });
      this.#waiters.push({
        pattern,
        from,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  async started(): Promise<void> {
    await this.waitFor(/site \S+ is running on/);
  }

  async linkUrl(): Promise<string> {
    const m = await this.waitFor(/accepting links on \S+ \((wss?:\/\/[^)]+)\)/);
    byLinkUrl.set(m[1]!, this);
    return m[1]!;
  }

  async listenerPort(name: string): Promise<number> {
    const m = await this.waitFor(new RegExp(`listener ${name} for \\S+ is listening on [\\d.]+:(\\d+)`));
    return Number(m[1]);
  }

  async status(): Promise<SiteStatus> {
    const { runScript } = await import("./runtimes.ts");
    const result = await runScript("node", "src/cli.ts", ["status", "--config", this.configFile, "--output", "json"]);
    if (result.code !== 0) throw new Error(`status failed (${result.code}): ${result.stderr}`);
    return JSON.parse(result.stdout) as SiteStatus;
  }

  /** SIGTERM and wait for the exit code. */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (child === undefined) {
      rmSync(this.dir, { recursive: true, force: true });
      return null;
    }
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    rmSync(this.dir, { recursive: true, force: true });
    return code;
  }

  kill(): void {
    this.child.kill("SIGKILL");
  }

  /** SIGTERM and wait for the exit code, keeping the directory so the same site can run again. */
  async halt(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  /** The same site (same config and state directory) started again after halt(). */
  restart(): SiteProcess {
    return new SiteProcess(this.spec, this.dir);
  }

  /** Freeze the process (SIGSTOP): its links fall silent, as when a host hangs or its network drops. */
  freeze(): void {
    this.child.kill("SIGSTOP");
  }

  /** Let a frozen process run again (SIGCONT). */
  thaw(): void {
    this.child.kill("SIGCONT");
  }

  /** The output from `from` on (for waitFor after an event). */
  get outputLength(): number {
    return this.#output.length;
  }
}

export function siteYaml(spec: SiteSpec): string {
  const docs: string[] = [];
  const resource = (kind: string, name: string, body: string) =>
    docs.push(`apiVersion: skupper.io/v2alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n${body}`);
  const siteLines = Object.entries(spec.siteSpec ?? {}).map(([k, v]) => `  ${k}: ${v}`);
  resource("Site", spec.name, siteLines.length > 0 ? siteLines.join("\n") : "  {}");
  if (spec.acceptLinks) {
    const tls = spec.wss ? "\n  generateTlsCredentials: true" : "";
    resource("RouterAccess", `${spec.name}-access`, `  bindHost: 127.0.0.1\n  roles:\n    - name: inter-router\n      port: 0${tls}`);
  }
  for (const l of spec.listeners ?? []) resource("Listener", l.name, `  routingKey: ${l.routingKey}\n  host: 127.0.0.1\n  port: 0`);
  for (const c of spec.connectors ?? []) resource("Connector", c.name, `  routingKey: ${c.routingKey}\n  host: ${c.host ?? "127.0.0.1"}\n  port: ${c.port}`);

  return docs.join("\n---\n") + "\n";
}

/** Start several sites and wait until each has started. */
export async function startSites(specs: SiteSpec[]): Promise<SiteProcess[]> {
  const sites = specs.map((s) => new SiteProcess(s));
  await Promise.all(sites.map((s) => s.started()));
  return sites;
}

/** Give a token the link's name (the redeeming site names the link after it) and cost. */
function renameToken(token: string, name: string, cost: number): string {
  return token
    .replace(/^metadata:\n  name: .*$/m, `metadata:\n  name: ${name}`)
    .replace(/^  linkCost: \d+$/m, `  linkCost: ${cost}`);
}
