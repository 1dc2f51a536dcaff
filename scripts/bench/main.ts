// `npm run bench`: Skiff's benchmark suite. Starts real site processes on
// 127.0.0.1 and prints tables of medians (min-max) over several runs, every
// Skiff figure next to baselines measured in the same run (direct TCP, an
// stunnel mutual-TLS pair), and the targets with PASS or MISS.
//
//   npm run bench -- [--quick] [--runs N] [--only throughput,connections,latency,memory,handshake]
//                    [--runtimes node,deno,bun] [--size-mib 1024] [--warm-up-mib 128] [--warm-up-connections 3000] [--window BYTES] [--idle-settle-s 30] [--out FILE]

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { BUN_SITE_ENV, DENO_SITE_FLAGS, NODE_SITE_FLAGS, nodeBundle as buildNodeBundle, GiB, MiB, median, retry, ROOT, type Runtime, runtimeCommand, startChain, startFarEnds, type Chain, type FarEnds } from "./lib.ts";
import { bulk, connectionRate, cores, cpuSeconds, openIdle, pingPong, quietGate, rss, withForeign } from "./load.ts";
import { findStunnel, startStunnel, type StunnelPair, stunnelInstallHint, stunnelVersion } from "./stunnel.ts";

const sections = ["throughput", "connections", "latency", "memory", "handshake"] as const;
type Section = (typeof sections)[number];

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    only: { type: "string", default: sections.join(",") },
    runtimes: { type: "string", default: "node,deno,bun" },
    "size-mib": { type: "string" },
    "warm-up-mib": { type: "string" },
    "warm-up-connections": { type: "string" },
    connections: { type: "string", default: "2000" },
    "idle-connections": { type: "string", default: "10000" },
    "slow-mib-per-s": { type: "string", default: "64" },
    "idle-settle-s": { type: "string", default: "30" },
    "quiet-threshold": { type: "string", default: "0.3" },
    "quiet-wait": { type: "string", default: "20" },
    out: { type: "string" },
    "node-loader": { type: "string", default: "bundle" },
    window: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  process.stdout.write(readFileSync(new URL(import.meta.url), "utf8").split("\n").slice(0, 8).join("\n") + "\n");
  process.exit(0);
}

const quick = values.quick!;
const runs = Number(values.runs ?? (quick ? 1 : 3));
const only = new Set(values.only!.split(",").map((s) => s.trim()) as Section[]);
for (const s of only) if (!sections.includes(s)) throw new Error(`--only: unknown section "${s}"; pick from ${sections.join(",")}`);
const runtimes = values.runtimes!.split(",").map((s) => s.trim()) as Runtime[];
const size = Number(values["size-mib"] ?? (quick ? 256 : 1024)) * MiB;
/** Untimed bytes sent through a path right before each timed throughput run. */
const warmUpSize = Number(values["warm-up-mib"] ?? (quick ? 32 : 128)) * MiB;
const connCount = Number(values.connections);
/**
 * Untimed connections through each path before the first timed run. A new site
 * runs its first thousands of connections slower while V8 compiles its hot code
 * (docs/benchmarks.md, "What is left"); a site that has been up for a while does not.
 */
const warmUpConnections = Number(values["warm-up-connections"] ?? (quick ? 1000 : 3000));
if (!Number.isInteger(warmUpConnections) || warmUpConnections < 0) {
  throw new Error(`--warm-up-connections: a whole number of connections (0 or more), not "${values["warm-up-connections"]}"`);
}
const idleCount = Number(values["idle-connections"]);
const slowRate = Number(values["slow-mib-per-s"]);
const slowSize = quick ? 256 * MiB : 1 * GiB;
const idleSettleS = Number(values["idle-settle-s"]);
/** Bytes through each idle pair before the last idle reading. */
const burstSize = (quick ? 256 : 1024) * MiB;
const quietThreshold = Number(values["quiet-threshold"]);
const quietWait = Number(values["quiet-wait"]);
const nodeLoader = values["node-loader"]!;
if (nodeLoader !== "bundle" && nodeLoader !== "tsx") throw new Error(`--node-loader: "bundle" or "tsx", not "${nodeLoader}"`);
const nodeBundle = nodeLoader === "bundle" ? await buildNodeBundle() : undefined;
/** spec.streamWindowBytes for every site; the site default when not given. */
const windowSpec = values.window ? `  streamWindowBytes: ${Number(values.window)}` : undefined;

// ---- output -------------------------------------------------------------------

let report = "";
function out(text = ""): void {
  report += text + "\n";
  process.stdout.write(text + "\n");
}
function progress(text: string): void {
  process.stderr.write(`  ... ${text}\n`);
}
function table(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => "| " + cells.map((c, i) => (c ?? "").padEnd(widths[i]!)).join(" | ") + " |";
  out(line(header));
  out(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) out(line(r));
  out();
}
const fmt = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : "n/a");
/** "median (min-max)" */
function mm(values: number[], digits = 0): string {
  if (values.length === 0) return "n/a";
  if (values.length === 1) return fmt(values[0]!, digits);
  return `${fmt(median(values), digits)} (${fmt(Math.min(...values), digits)}-${fmt(Math.max(...values), digits)})`;
}
const ratio = (a: number[], b: number[]) => (a.length && b.length ? median(a) / median(b) : NaN);
/** Median of the runs' own ratios, a[i] / b[i]: for figures each run measured back to back. */
const pairedRatio = (a: number[], b: number[]) => (a.length && a.length === b.length ? median(a.map((v, i) => v / b[i]!)) : NaN);
const x = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : "n/a");

interface Target {
  what: string;
  goal: string;
  measured: string;
  ok: boolean | undefined;
}
const targets: Target[] = [];
function target(what: string, goal: string, measured: string, ok: boolean | undefined): void {
  targets.push({ what, goal, measured, ok });
}

// ---- environment ----------------------------------------------------------------

async function runtimeVersion(runtime: Runtime): Promise<string> {
  const [cmd] = runtimeCommand(runtime);
  const script = "const g=globalThis;console.log(g.Deno?g.Deno.version.deno:g.Bun?g.Bun.version:process.versions.node)";
  const args = runtime === "deno" ? ["eval", script] : ["-e", script];
  return new Promise((resolve) => {
    let text = "";
    const child = spawn(cmd!, args, { stdio: ["ignore", "pipe", "ignore"] });
    child.stdout!.on("data", (d) => (text += d));
    child.on("exit", () => resolve(text.trim()));
  });
}

const cpuModel = (() => {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  } catch {
    return os.cpus()[0]?.model ?? "unknown";
  }
})();

// ---- measurement plumbing -----------------------------------------------------------

interface Sample {
  value: number;
  foreign: number;
  /** CPU seconds of the path's own processes (sites or stunnel) during the run. */
  pathCpu: number;
}

/** Wait for a quiet machine, then run `work` while recording foreign CPU and the path's own CPU. */
async function measure(pathPids: number[], allPids: number[], work: () => Promise<number>, warmUp?: () => Promise<unknown>): Promise<Sample> {
  await quietGate(quietThreshold, quietWait);
  // Untimed, right before the timed run and after the quiet gate: as iperf3's --omit,
  // so every path is measured at its steady rate, not while its processes wake up.
  if (warmUp) await warmUp();
  const cpu0 = pathPids.reduce((s, p) => s + cpuSeconds(p), 0);
  const { value, foreign } = await withForeign(allPids, work);
  const pathCpu = pathPids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0;
  return { value, foreign, pathCpu };
}

const values_ = (samples: Sample[]) => samples.map((s) => s.value);
const foreignOf = (samples: Sample[]) => (samples.length ? fmt(median(samples.map((s) => s.foreign)) * 100) + " %" : "n/a");

// ---- sections ------------------------------------------------------------------------

interface Trio {
  label: string;
  runtimes: Runtime[];
  chain: Chain;
}

async function startTrios(servers: FarEnds): Promise<Trio[]> {
  const plans: { label: string; runtimes: Runtime[] }[] = runtimes.map((r) => ({ label: r, runtimes: [r, r, r] }));
  if (runtimes.length === 3) plans.push({ label: "mixed", runtimes: ["node", "deno", "bun"] });
  const trios: Trio[] = [];
  for (const plan of plans) {
    progress(`starting three ${plan.label} sites (${plan.runtimes.join(" -> ")})`);
    const chain = await startChain({
      prefix: `${plan.label}-`,
      runtimes: plan.runtimes,
      listeners: ["hop1", "hop2", "echo"],
      connectors: { 1: { hop1: servers.sink, echo: servers.echo }, 2: { hop2: servers.sink } },
      nodeBundle,
      siteSpec: windowSpec,
    });
    // The routes are known once the adverts have arrived; a small transfer proves each.
    for (const key of ["hop1", "hop2"]) await retry(() => bulk(chain.ports[key]!, 1024));
    await retry(() => pingPong(chain.ports.echo!, 1));
    trios.push({ label: plan.label, runtimes: plan.runtimes, chain });
  }
  return trios;
}

function trioName(t: Trio, hops: 1 | 2): string {
  const rts = t.runtimes.slice(0, hops + 1);
  return rts.every((r) => r === rts[0]) ? `Skiff ${rts[0]}, ${hops} hop${hops > 1 ? "s" : ""}` : `Skiff ${rts.join(">")}, ${hops} hop${hops > 1 ? "s" : ""}`;
}

async function throughputSection(servers: FarEnds, stunnel: StunnelPair | undefined, trios: Trio[]): Promise<void> {
  out(`## Throughput: ${size / MiB} MiB per transfer, MiB/s`);
  out();
  type Key = string;
  const results = new Map<Key, Sample[]>();
  const add = (key: Key, s: Sample) => results.set(key, [...(results.get(key) ?? []), s]);
  const allPids = [servers.pid, ...(stunnel?.pids ?? []), ...trios.flatMap((t) => t.chain.pids)];
  const warm = (port: number, streams: number) => () => (warmUpSize > 0 ? bulk(port, warmUpSize, streams) : Promise.resolve());
  const paths: { key: Key; label: string; port: number; pids: number[] }[] = [{ key: "direct", label: "direct", port: servers.sink, pids: [] }];
  if (stunnel) paths.push({ key: "stunnel", label: "stunnel", port: stunnel.ports.sink!, pids: stunnel.pids });
  for (const t of trios) {
    for (const hops of [1, 2] as const) {
      paths.push({ key: `${t.label}/${hops}`, label: trioName(t, hops), port: t.chain.ports[hops === 1 ? "hop1" : "hop2"]!, pids: t.chain.pids.slice(0, hops + 1) });
    }
  }
  for (let run = 1; run <= runs; run++) {
    for (const p of paths) {
      // A path's 1 and 8 streams back to back, 1 first in odd runs and 8 in even ones: the machine's
      // speed drifts from one half-minute to the next, and "8 streams vs 1" compares like with like.
      for (const streams of run % 2 === 1 ? [1, 8] : [8, 1]) {
        progress(`throughput run ${run}/${runs}, ${streams} stream(s): ${p.label}`);
        add(`${p.key}/${streams}`, await measure(p.pids, allPids, () => bulk(p.port, size, streams), warm(p.port, streams)));
      }
    }
  }
  const get = (key: Key) => results.get(key) ?? [];
  const cpuPerGiB = (samples: Sample[]) => (samples.length ? mm(samples.map((s) => s.pathCpu / (size / GiB)), 2) : "");
  const rows: string[][] = [];
  const baseRow = (label: string, key: string) => {
    const one = get(`${key}/1`);
    const eight = get(`${key}/8`);
    rows.push([label, mm(values_(one)), key === "direct" ? "1.00x" : x(ratio(values_(one), values_(get("direct/1")))), "", mm(values_(eight)), "", cpuPerGiB(one), cpuPerGiB(eight), foreignOf([...one, ...eight])]);
  };
  baseRow("direct TCP", "direct");
  if (stunnel) baseRow("stunnel mutual-TLS pair", "stunnel");
  else rows.push(["stunnel mutual-TLS pair", "skipped", "", "", "", "", "", "", ""]);
  const sOne = values_(get("stunnel/1"));
  const sEight = values_(get("stunnel/8"));
  for (const hops of [1, 2] as const) {
    for (const t of trios) {
      const one = get(`${t.label}/${hops}/1`);
      const eight = get(`${t.label}/${hops}/8`);
      rows.push([
        trioName(t, hops),
        mm(values_(one)),
        x(ratio(values_(one), values_(get("direct/1")))),
        stunnel ? x(ratio(values_(one), sOne)) : "n/a",
        mm(values_(eight)),
        stunnel ? x(ratio(values_(eight), sEight)) : "n/a",
        cpuPerGiB(one),
        cpuPerGiB(eight),
        foreignOf([...one, ...eight]),
      ]);
    }
  }
  table(["path", "1 stream", "vs direct", "vs stunnel", "8 streams", "vs stunnel (8)", "path CPU s/GiB (1 stream)", "path CPU s/GiB (8 streams)", "other load"], rows);
  out("Path CPU: CPU seconds of the path's own processes (the sites, or both stunnel processes) per GiB carried.");
  out("Other load: CPU used meanwhile by processes outside the benchmark, in % of one core (median).");
  out();

  for (const t of trios) {
    const one1 = values_(get(`${t.label}/1/1`));
    const r = ratio(one1, sOne);
    const goal = t.label === "deno" ? 0.6 : 0.75;
    if (t.label !== "mixed") {
      target(`1 hop, 1 stream, ${t.label}`, `>= ${goal}x stunnel`, stunnel ? `${x(r)} (${fmt(median(one1))} MiB/s)` : "stunnel absent", stunnel ? r >= goal : undefined);
    }
    for (const hops of [1, 2] as const) {
      const r8 = pairedRatio(values_(get(`${t.label}/${hops}/8`)), values_(get(`${t.label}/${hops}/1`)));
      target(`${hops} hop${hops > 1 ? "s" : ""}, 8 streams vs 1, ${t.label}`, ">= 0.95x of 1 stream", x(r8), r8 >= 0.95);
    }
    const two = values_(get(`${t.label}/2/1`));
    const r2 = ratio(two, sOne);
    target(`2 hops, 1 stream, ${t.label}`, ">= 0.5x stunnel", stunnel ? `${x(r2)} (${fmt(median(two))} MiB/s)` : "stunnel absent", stunnel ? r2 >= 0.5 : undefined);
  }
}

async function connectionsSection(servers: FarEnds, stunnel: StunnelPair | undefined, trios: Trio[]): Promise<void> {
  out(`## Connections: ${connCount} short connections, 16 at a time, 1 byte each way, 1 hop`);
  out();
  const paths: { label: string; port: number; pids: number[] }[] = [{ label: "direct TCP", port: servers.echo, pids: [] }];
  if (stunnel) paths.push({ label: "stunnel mutual-TLS pair", port: stunnel.ports.echo!, pids: stunnel.pids });
  for (const t of trios) paths.push({ label: trioName(t, 1), port: t.chain.ports.echo!, pids: t.chain.pids.slice(0, 2) });
  const allPids = [servers.pid, ...(stunnel?.pids ?? []), ...trios.flatMap((t) => t.chain.pids)];
  const results = new Map<string, { rate: number[]; p50: number[]; p99: number[]; errors: number; foreign: number[] }>();
  for (const p of paths) {
    progress(`connections warm-up: ${warmUpConnections} through ${p.label}`);
    await connectionRate(p.port, warmUpConnections, 16);
  }
  for (let run = 1; run <= runs; run++) {
    for (const p of paths) {
      progress(`connections run ${run}/${runs}: ${p.label}`);
      let detail = { perSecond: 0, p50: 0, p99: 0, errors: 0 };
      const s = await measure(p.pids, allPids, async () => {
        detail = await connectionRate(p.port, connCount, 16);
        return detail.perSecond;
      });
      const r = results.get(p.label) ?? { rate: [], p50: [], p99: [], errors: 0, foreign: [] };
      r.rate.push(detail.perSecond);
      r.p50.push(detail.p50);
      r.p99.push(detail.p99);
      r.errors += detail.errors;
      r.foreign.push(s.foreign);
      results.set(p.label, r);
    }
  }
  const direct = results.get("direct TCP")!;
  const st = stunnel ? results.get("stunnel mutual-TLS pair") : undefined;
  const rows = paths.map((p) => {
    const r = results.get(p.label)!;
    return [p.label, mm(r.rate), x(ratio(r.rate, direct.rate)), st ? x(ratio(r.rate, st.rate)) : "n/a", mm(r.p50, 2), mm(r.p99, 2), String(r.errors), fmt(median(r.foreign) * 100) + " %"];
  });
  if (!stunnel) rows.splice(1, 0, ["stunnel mutual-TLS pair", "skipped", "", "", "", "", "", ""]);
  table(["path", "connections/s", "vs direct", "vs stunnel", "connect p50 ms", "connect p99 ms", "errors", "other load"], rows);
  for (const t of trios) {
    if (t.label === "mixed") continue;
    const r = results.get(trioName(t, 1))!;
    target(`connections/s, 1 hop, ${t.label}`, ">= 1500/s", fmt(median(r.rate)), median(r.rate) >= 1500 && r.errors === 0);
    target(`connect p99, 1 hop, ${t.label}`, "< 15 ms", `${fmt(median(r.p99), 2)} ms`, median(r.p99) < 15);
  }
}

async function latencySection(servers: FarEnds, stunnel: StunnelPair | undefined, trios: Trio[]): Promise<void> {
  const count = quick ? 1000 : 2000;
  out(`## Request latency: 1-byte ping-pong on one open connection, ${count} round trips, ms`);
  out();
  const paths: { label: string; port: number; pids: number[] }[] = [{ label: "direct TCP", port: servers.echo, pids: [] }];
  if (stunnel) paths.push({ label: "stunnel mutual-TLS pair", port: stunnel.ports.echo!, pids: stunnel.pids });
  for (const t of trios) paths.push({ label: trioName(t, 1), port: t.chain.ports.echo!, pids: t.chain.pids.slice(0, 2) });
  const allPids = [servers.pid, ...(stunnel?.pids ?? []), ...trios.flatMap((t) => t.chain.pids)];
  const results = new Map<string, { p50: number[]; p99: number[]; foreign: number[] }>();
  for (let run = 1; run <= runs; run++) {
    for (const p of paths) {
      progress(`latency run ${run}/${runs}: ${p.label}`);
      let detail = { p50: 0, p99: 0 };
      const s = await measure(p.pids, allPids, async () => {
        detail = await pingPong(p.port, count);
        return detail.p50;
      });
      const r = results.get(p.label) ?? { p50: [], p99: [], foreign: [] };
      r.p50.push(detail.p50);
      r.p99.push(detail.p99);
      r.foreign.push(s.foreign);
      results.set(p.label, r);
    }
  }
  const direct = results.get("direct TCP")!;
  table(
    ["path", "p50", "p99", "p50 added over direct", "p99 added over direct", "other load"],
    paths.map((p) => {
      const r = results.get(p.label)!;
      return [p.label, mm(r.p50, 3), mm(r.p99, 3), fmt(median(r.p50) - median(direct.p50), 3), fmt(median(r.p99) - median(direct.p99), 3), fmt(median(r.foreign) * 100) + " %"];
    }),
  );
}

interface IdleRss {
  /** 3 s after a first, small transfer. */
  early: number[][];
  /** `idleSettleS` after it. */
  settled: number[][];
  /** `idleSettleS` after a burst of `burstSize` on 8 streams. */
  afterBurst: number[][];
}

/**
 * RSS of the two sites of one idle link, per runtime: 3 s after a first transfer,
 * once the runtime has had `idleSettleS` seconds to give back what start-up
 * and the transfer left (V8's memory reducer runs 8 s after a site's last full
 * collection; Deno's collections come later still), and as long after a burst.
 * The pairs of all runtimes idle side by side, so each wait is paid once per run.
 */
async function idleRss(servers: FarEnds): Promise<Map<Runtime, IdleRss>> {
  const lists = () => [[], []] as number[][];
  const result = new Map(runtimes.map((r) => [r, { early: lists(), settled: lists(), afterBurst: lists() }]));
  for (let run = 1; run <= runs; run++) {
    progress(`memory run ${run}/${runs}: idle pairs of ${runtimes.join(", ")}, ${idleSettleS} s`);
    const chains: Chain[] = [];
    try {
      for (const runtime of runtimes) {
        chains.push(await startChain({ prefix: `idle-${runtime}-`, runtimes: [runtime, runtime], listeners: ["bulk"], connectors: { 1: { bulk: servers.sink } }, nodeBundle }));
      }
      for (const chain of chains) await retry(() => bulk(chain.ports.bulk!, 1024));
      let t0 = Date.now();
      const sampleAt = async (seconds: number, into: keyof IdleRss) => {
        await new Promise((r) => setTimeout(r, Math.max(0, t0 + seconds * 1000 - Date.now())));
        chains.forEach((chain, i) => chain.pids.forEach((pid, site) => result.get(runtimes[i]!)![into][site]!.push(rss(pid) / MiB)));
      };
      await sampleAt(3, "early");
      await sampleAt(idleSettleS, "settled");
      progress(`memory run ${run}/${runs}: ${burstSize / MiB} MiB on 8 streams through each idle pair, then ${idleSettleS} s`);
      for (const chain of chains) await bulk(chain.ports.bulk!, burstSize, 8);
      t0 = Date.now();
      await sampleAt(idleSettleS, "afterBurst");
    } finally {
      await Promise.all(chains.map((c) => c.stop()));
    }
  }
  return result;
}

async function memorySection(servers: FarEnds): Promise<void> {
  out(`## Memory: RSS of the two sites of one link (listener site / connector site), MiB`);
  out();
  const idle = await idleRss(servers);
  const rows: string[][] = [];
  for (const runtime of runtimes) {
    const perConn: number[][] = [[], []];
    const slowGrowth: number[][] = [[], []];
    const slowSpeed: number[] = [];
    /** Short connections through the pair with the idle ones open, and as a ratio to the same pair's rate with none open. */
    const busyRate: number[] = [];
    const busyRatio: number[] = [];
    for (let run = 1; run <= runs; run++) {
      progress(`memory run ${run}/${runs}: ${runtime} pair`);
      const chain = await startChain({
        prefix: `mem-${runtime}-`,
        runtimes: [runtime, runtime],
        listeners: ["hold", "slow", "echo"],
        connectors: { 1: { hold: servers.hold, slow: servers.slow, echo: servers.echo } },
        siteSpec: "  maxStreamsPerLink: 20000" + (windowSpec ? `\n${windowSpec}` : ""),
        nodeBundle,
      });
      try {
        await retry(() => bulk(chain.ports.slow!, 1024));
        await new Promise((r) => setTimeout(r, 3000));
        const base = chain.pids.map(rss);

        // A slow reader: the link must hold data back, not buffer it.
        progress(`memory run ${run}/${runs}: ${runtime} slow reader, ${slowSize / MiB} MiB at ${slowRate} MiB/s`);
        const peak = [...base];
        const sampler = setInterval(() => chain.pids.forEach((pid, i) => (peak[i] = Math.max(peak[i]!, rss(pid)))), 100);
        const before = chain.pids.map(rss);
        slowSpeed.push(await bulk(chain.ports.slow!, slowSize, 1));
        clearInterval(sampler);
        peak.forEach((v, i) => slowGrowth[i]!.push((v - before[i]!) / MiB));

        // Short connections before the idle ones, the baseline of the rate with them open.
        progress(`memory run ${run}/${runs}: ${runtime}, ${connCount} short connections with none idle`);
        await connectionRate(chain.ports.echo!, warmUpConnections, 16);
        const pairPids = [servers.pid, ...chain.pids];
        const alone = await measure(chain.pids, pairPids, async () => (await connectionRate(chain.ports.echo!, connCount, 16)).perSecond);

        // Many idle connections through the one link.
        progress(`memory run ${run}/${runs}: ${runtime}, ${idleCount} idle connections`);
        await new Promise((r) => setTimeout(r, 1000));
        const beforeConns = chain.pids.map(rss);
        const heldBefore = await servers.held();
        const sockets = await openIdle(chain.ports.hold!, idleCount);
        const deadline = Date.now() + 120_000;
        while ((await servers.held()) - heldBefore < idleCount && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        const reached = (await servers.held()) - heldBefore;
        await new Promise((r) => setTimeout(r, 2000));
        const after = chain.pids.map(rss);
        if (reached < idleCount) progress(`only ${reached} of ${idleCount} connections reached the server`);
        after.forEach((v, i) => perConn[i]!.push((v - beforeConns[i]!) / Math.max(1, reached) / 1024));
        // A new connection must not cost more for every one already open.
        progress(`memory run ${run}/${runs}: ${runtime}, ${connCount} short connections beside ${reached} idle`);
        const beside = await measure(chain.pids, pairPids, async () => (await connectionRate(chain.ports.echo!, connCount, 16)).perSecond);
        busyRate.push(beside.value);
        busyRatio.push(beside.value / alone.value);
        for (const s of sockets) s.destroy();
        const drained = Date.now() + 30_000;
        while ((await servers.held()) > heldBefore && Date.now() < drained) await new Promise((r) => setTimeout(r, 200));
      } finally {
        await chain.stop();
      }
    }
    const both = (v: number[][], d = 0) => `${mm(v[0]!, d)} / ${mm(v[1]!, d)}`;
    const { early, settled, afterBurst } = idle.get(runtime)!;
    rows.push([runtime, both(early), both(settled), both(afterBurst), both(perConn, 1), `${mm(busyRate)}, ${x(median(busyRatio))}`, both(slowGrowth), mm(slowSpeed)]);
    const worst = (v: number[][]) => Math.max(median(v[0]!), median(v[1]!));
    target(`idle site RSS, ${runtime}`, "< 80 MB", `${fmt((worst(settled) * MiB) / 1e6)} MB (${fmt((worst(early) * MiB) / 1e6)} MB at 3 s)`, worst(settled) * MiB < 80e6);
    target(`RSS per idle connection, ${runtime}`, "< 20 KB per site", `${fmt((worst(perConn) * 1024) / 1000, 1)} KB`, worst(perConn) * 1024 < 20_000);
    target(`RSS growth, slow reader, ${runtime}`, "<= 64 MiB", `${fmt(worst(slowGrowth))} MiB`, worst(slowGrowth) <= 64);
  }
  table(["runtime", "idle RSS MiB, 3 s", `idle RSS MiB, ${idleSettleS} s`, `${idleSettleS} s after ${burstSize / MiB} MiB on 8 streams`, `KiB per idle connection (${idleCount})`, `connections/s beside them, vs none open`, `RSS growth, ${slowSize / MiB} MiB to a slow reader, MiB`, "slow reader MiB/s"], rows);
  out(`RSS is the site process (VmRSS). Idle RSS is taken 3 s and ${idleSettleS} s after a 1 KiB transfer through a new link, and ${idleSettleS} s after the same link carried ${burstSize / MiB} MiB on 8 streams (the last pair's burst; the others' came a few seconds earlier). The slow reader takes ${slowRate} MiB/s; the growth is the peak during the transfer over the RSS just before it. Connections beside them: ${connCount} short connections, 16 at a time, through the same link while the idle ones are open, as a ratio to ${connCount} through the same pair just before they were opened (the median of the runs' own ratios; ${warmUpConnections} untimed connections before those).`);
  out();
}

async function handshakeSection(): Promise<void> {
  out("## Link handshake: WebSocket connect + SL1 handshake on 127.0.0.1, both ends in one process, ms");
  out();
  const rows: string[][] = [];
  for (const runtime of runtimes) {
    const p50: number[] = [];
    const p99: number[] = [];
    const sl1: number[] = [];
    let aead = "";
    for (let run = 1; run <= runs; run++) {
      progress(`handshake run ${run}/${runs}: ${runtime}`);
      await quietGate(quietThreshold, quietWait);
      const [cmd, ...args] = runtimeCommand(runtime);
      const text = await new Promise<string>((resolve, reject) => {
        let data = "";
        const child = spawn(cmd!, [...args, path.join(ROOT, "scripts/bench/handshake.ts"), "40"], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
        child.stdout!.on("data", (d) => (data += d));
        child.on("exit", (code) => (code === 0 ? resolve(data) : reject(new Error(`handshake probe on ${runtime} exited with ${code}`))));
      });
      const r = JSON.parse(text.trim().split("\n").pop()!) as { p50: number; p99: number; sl1Ms: number[]; aead: string };
      p50.push(r.p50);
      p99.push(r.p99);
      sl1.push(median(r.sl1Ms));
      aead = r.aead;
    }
    rows.push([runtime, mm(p50, 1), mm(p99, 1), mm(sl1, 1), aead]);
    target(`link handshake p50, ${runtime}`, "< 30 ms", `${fmt(median(p50), 1)} ms`, median(p50) < 30);
  }
  table(["runtime", "p50 (WebSocket + SL1)", "p99", "SL1 only, p50", "record cipher"], rows);
}

// ---- main ------------------------------------------------------------------------------

const started = Date.now();
const [nodeV, denoV, bunV] = await Promise.all((["node", "deno", "bun"] as Runtime[]).map(runtimeVersion));
const stunnelBin = findStunnel();
out(`# Skiff benchmark`);
out();
out(`- date: ${new Date().toISOString()}`);
out(`- machine: ${cpuModel}, ${cores} cores, ${(os.totalmem() / GiB).toFixed(0)} GiB RAM, Linux ${os.release()}; loopback 127.0.0.1 only`);
out(`- runtimes: Node ${nodeV} (sites ${nodeBundle ? "from the esbuild bundle of src/cli.ts and its packages that `skiff` runs on Node" : "through tsx"}, with ${NODE_SITE_FLAGS.join(" ")}, as the README gives), Deno ${denoV} (sites run bin/skiff.mjs, from the same bundle, with ${DENO_SITE_FLAGS.join(" ")}, as the README gives), Bun ${bunV} (sites run src/cli.ts with ${Object.entries(BUN_SITE_ENV).map(([k, v]) => `${k}=${v}`).join(" ")}, as the README gives); stunnel ${stunnelBin ? stunnelVersion(stunnelBin) : "absent"}`);
out(`- command: npm run bench -- ${process.argv.slice(2).join(" ") || "(defaults)"}; ${runs} run(s) per figure, median (min-max)`);
out(`- site configuration: defaults${windowSpec ? ` except spec.streamWindowBytes: ${Number(values.window)}` : ""}; links made with access tokens; every link runs SL1 (AES-256-GCM records)`);
out(`- the load generator and the far-end servers are Node processes; every path's figures were measured in this run, interleaved run by run; each path's 1 and 8 streams back to back, first in turn, and "8 streams vs 1" is the median of the runs' own ratios`);
out(`- each timed transfer follows an untimed ${warmUpSize / MiB} MiB one through the same path (as iperf3 --omit), baselines included`);
out(`- before the first timed connections run, ${warmUpConnections} untimed connections go through each path, baselines included`);
out();
if (!stunnelBin) {
  out(`stunnel not found: the stunnel baseline is skipped. Install it with: ${stunnelInstallHint}`);
  out();
}

const servers = await startFarEnds(slowRate);
let stunnel: StunnelPair | undefined;
let trios: Trio[] = [];
try {
  if (stunnelBin && (only.has("throughput") || only.has("connections") || only.has("latency"))) {
    stunnel = await startStunnel(stunnelBin, { sink: servers.sink, echo: servers.echo });
  }
  if (only.has("throughput") || only.has("connections") || only.has("latency")) trios = await startTrios(servers);
  if (only.has("throughput")) await throughputSection(servers, stunnel, trios);
  if (only.has("connections")) await connectionsSection(servers, stunnel, trios);
  if (only.has("latency")) await latencySection(servers, stunnel, trios);
  for (const t of trios) await t.chain.stop();
  trios = [];
  if (stunnel) await stunnel.stop();
  stunnel = undefined;
  if (only.has("memory")) await memorySection(servers);
  if (only.has("handshake")) await handshakeSection();
} finally {
  for (const t of trios) await t.chain.stop();
  await stunnel?.stop();
  servers.stop();
}

out("## Targets");
out();
table(
  ["target", "goal", "measured (median)", "result"],
  targets.map((t) => [t.what, t.goal, t.measured, t.ok === undefined ? "n/a" : t.ok ? "PASS" : "MISS"]),
);
out(`${targets.filter((t) => t.ok).length} of ${targets.length} targets met; run took ${((Date.now() - started) / 60000).toFixed(1)} min.`);
if (values.out) writeFileSync(values.out, report);
