// Development aid: one link between two sites on one runtime, `--size-mib` through
// it on `--streams` connections, printing MiB/s and each site's CPU s/GiB. `--streams 1,8`
// measures both in every run, in turn first, as the bench does.
// Pass site flags with --env KEY=VALUE (e.g. NODE_OPTIONS=--cpu-prof ...); --threads adds
// each site's CPU by thread, its page faults and its read and write calls, per GiB or per connection (--connections N).
// --idle-connections N keeps N more connections open and idle through the same link meanwhile.
//   node bin/run-ts.mjs scripts/bench/dev-pair.ts --runtime node --size-mib 1024 [--hops 1|2]

import { parseArgs } from "node:util";
import { nodeBundle, GiB, MiB, type Runtime, retry, startChain, startFarEnds } from "./lib.ts";
import { bulk, connectionRate, cpuSeconds, cpuSecondsByThread, ioCalls, minorFaults, openIdle } from "./load.ts";

const { values } = parseArgs({
  options: {
    runtime: { type: "string", default: "node" },
    "size-mib": { type: "string", default: "1024" },
    streams: { type: "string", default: "1" },
    hops: { type: "string", default: "1" },
    runs: { type: "string", default: "1" },
    env: { type: "string", multiple: true, default: [] },
    flags: { type: "string", default: "" },
    spec: { type: "string", default: "" },
    connections: { type: "string", default: "0" },
    "node-bundle": { type: "boolean", default: true },
    threads: { type: "boolean", default: false },
    "gc-count": { type: "boolean", default: false },
    "pause-s": { type: "string", default: "0" },
    "idle-connections": { type: "string", default: "0" },
  },
});
const env = Object.fromEntries(values.env!.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const hops = Number(values.hops);
const runtimes = values.runtime!.split(",") as Runtime[];
const chainRuntimes = Array.from({ length: hops + 1 }, (_, i) => runtimes[i % runtimes.length]!);
const farEnds = await startFarEnds();
const { sink, echo } = farEnds;
const conns = Number(values.connections);
const idle = Number(values["idle-connections"]);
const specLines = [values.spec ? `  ${values.spec}` : "", idle > 0 ? `  maxStreamsPerLink: ${idle + 4096}` : ""].filter(Boolean);
const chain = await startChain({
  nodeBundle: values["node-bundle"] ? await nodeBundle() : undefined,
  prefix: "dev-",
  runtimes: chainRuntimes,
  listeners: idle > 0 ? ["bulk", "hold"] : ["bulk"],
  connectors: { [hops]: { bulk: conns > 0 ? echo : sink, ...(idle > 0 ? { hold: farEnds.hold } : {}) } },
  env,
  flags: values.flags ? values.flags.split(" ") : [],
  siteSpec: specLines.length > 0 ? specLines.join("\n") : undefined,
});
try {
  await retry<unknown>(() => (conns > 0 ? connectionRate(chain.ports.bulk!, 10, 1) : bulk(chain.ports.bulk!, 1024)));
  if (idle > 0) {
    const heldBefore = await farEnds.held();
    await openIdle(chain.ports.hold!, idle);
    const deadline = Date.now() + 120_000;
    while ((await farEnds.held()) - heldBefore < idle && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
    process.stdout.write(`${(await farEnds.held()) - heldBefore} idle connections open through the link\n`);
  }
  const size = Number(values["size-mib"]) * MiB;
  for (let r = 0; r < Number(values.runs); r++) {
    // Sites left idle between runs, as between the bench's interleaved measurements.
    if (r > 0 && Number(values["pause-s"]) > 0) await new Promise((resolve) => setTimeout(resolve, Number(values["pause-s"]) * 1000));
    const cpu0 = chain.pids.map(cpuSeconds);
    const threads0 = chain.pids.map(cpuSecondsByThread);
    const faults0 = chain.pids.map(minorFaults);
    const io0 = chain.pids.map(ioCalls);
    const counts = values.streams!.split(",").map(Number);
    /** Per connection (ms) or per GiB (s). */
    const unit = conns > 0 ? conns / 1000 : size / GiB;
    /** The thread figures cover every transfer of the run. */
    const threadUnit = conns > 0 ? unit : unit * counts.length;
    if (conns > 0) {
      const r = await connectionRate(chain.ports.bulk!, conns, 16);
      const cpu = chain.pids.map((p, i) => (cpuSeconds(p) - cpu0[i]!) / unit);
      process.stdout.write(`${chainRuntimes.join(">")}: ${r.perSecond.toFixed(0)} conn/s, p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}, site CPU ms/conn ${cpu.map((c) => c.toFixed(3)).join(" / ")}\n`);
    } else {
      for (const streams of r % 2 === 0 ? counts : counts.toReversed()) {
        const before = chain.pids.map(cpuSeconds);
        const loadBefore = cpuSeconds(process.pid) + cpuSeconds(farEnds.pid);
        const speed = await bulk(chain.ports.bulk!, size, streams);
        const cpu = chain.pids.map((p, i) => (cpuSeconds(p) - before[i]!) / unit);
        const load = (cpuSeconds(process.pid) + cpuSeconds(farEnds.pid) - loadBefore) / unit;
        process.stdout.write(`${chainRuntimes.join(">")}, ${streams} stream(s): ${speed.toFixed(0)} MiB/s, site CPU s/GiB ${cpu.map((c) => c.toFixed(2)).join(" / ")}; load generator and server ${load.toFixed(2)}\n`);
      }
    }
    if (values.threads) {
      chain.pids.forEach((pid, i) => {
        const parts = [...cpuSecondsByThread(pid)]
          .map(([name, seconds]) => [name, (seconds - (threads0[i]!.get(name) ?? 0)) / threadUnit] as const)
          .filter(([, share]) => share >= (conns > 0 ? 0.001 : 0.01))
          .sort((a, b) => b[1] - a[1]);
        const faults = (minorFaults(pid) - faults0[i]!) / (conns > 0 ? conns : threadUnit);
        const per = conns > 0 ? ["ms/conn", "connection"] : ["s/GiB", "GiB"];
        const io = ioCalls(pid);
        const calls = (n: number) => (n / (conns > 0 ? conns : threadUnit)).toFixed(conns > 0 ? 1 : 0);
        process.stdout.write(`  site ${i} threads, ${per[0]}: ${parts.map(([name, share]) => `${name} ${share.toFixed(conns > 0 ? 3 : 2)}`).join(", ")}; per ${per[1]}: page faults ${faults.toFixed(conns > 0 ? 1 : 0)}, reads ${calls(io.reads - io0[i]!.reads)}, writes ${calls(io.writes - io0[i]!.writes)}\n`);
      });
    }
  }
  if (values["gc-count"]) {
    // With --flags=--trace-gc: how many collections of each kind each site ran.
    chain.sites.forEach((site, i) => {
      const kinds = new Map<string, number>();
      for (const m of site.output.matchAll(/ms: (Scavenge|(?:Incremental )?Mark-Compact|Mark-Sweep|Minor Mark-Sweep)\b/g)) kinds.set(m[1]!, (kinds.get(m[1]!) ?? 0) + 1);
      process.stdout.write(`  site ${i} collections: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(", ") || "none logged"}\n`);
    });
  }
} finally {
  await chain.stop();
  farEnds.stop();
}
