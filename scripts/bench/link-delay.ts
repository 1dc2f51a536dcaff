// Development aid: one link whose bytes wait `--delay-ms` each way in a proxy,
// as on a network between two places, and `--count` short connections one at a
// time through it: connect, 1 byte out, the echo back. Prints the time from
// connect to the echo (median, min, max). A connection that waits for the far
// site's answer before its first byte leaves takes four crossings; one whose
// first bytes go out with the stream's Open takes two.
//   node bin/run-ts.mjs scripts/bench/link-delay.ts --runtime node --delay-ms 20

import net from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { issueToken } from "../lib/token.ts";
import { BenchSite, median, nodeBundle, resource, retry, type Runtime, startFarEnds } from "./lib.ts";
import { connectionRate } from "./load.ts";

const { values } = parseArgs({
  options: {
    runtime: { type: "string", default: "node" },
    "delay-ms": { type: "string", default: "20" },
    count: { type: "string", default: "20" },
  },
});
const runtime = values.runtime as Runtime;
const delayMs = Number(values["delay-ms"]);

/** Forwards to `target()` and delivers every chunk `delayMs` after it arrived, in order. */
async function delayingProxy(target: () => number): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: target(), host: "127.0.0.1" });
    for (const s of [client, upstream]) s.setNoDelay(true);
    const later = (to: net.Socket) => (chunk: Buffer) => setTimeout(() => to.write(chunk), delayMs);
    client.on("data", later(upstream));
    upstream.on("data", later(client));
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  return server;
}

/** `count` connections one at a time: connect, send 1 byte, the ms until it comes back. */
async function echoTimes(port: number, count: number): Promise<number[]> {
  const { latencies, errors } = await connectionRate(port, count, 1);
  if (errors > 0) throw new Error(`${errors} of ${count} connections got no echo`);
  return latencies;
}

let linkPort = 0;
const proxy = await delayingProxy(() => linkPort);
const farEnds = await startFarEnds();
const { echo } = farEnds;
const bundle = await nodeBundle();
const sites: BenchSite[] = [];
try {
  // The far site names the proxy as its address, so the access token sends the near site through it.
  const far = new BenchSite({
    name: "delay-1",
    runtime,
    nodeBundle: bundle,
    yaml: [
      resource("Site", "delay-1", `  publicUrl: ws://127.0.0.1:${(proxy.address() as net.AddressInfo).port}/skiff`),
      resource("RouterAccess", "delay-1-access", "  bindHost: 127.0.0.1\n  roles:\n    - name: inter-router\n      port: 0"),
      resource("Connector", "echo", `  routingKey: echo\n  host: 127.0.0.1\n  port: ${echo}`),
    ].join("---\n"),
  });
  sites.push(far);
  await far.waitFor(/site delay-1 is running/);
  linkPort = Number((await far.waitFor(/accepting links on [\d.]+:(\d+)/))[1]);
  const token = await issueToken(path.join(far.dir, ".skiff", "delay-1"), "to-delay-1");
  const near = new BenchSite({
    name: "delay-0",
    runtime,
    nodeBundle: bundle,
    yaml: [resource("Site", "delay-0", "  {}"), resource("Listener", "echo", "  routingKey: echo\n  host: 127.0.0.1\n  port: 0"), token].join("---\n"),
  });
  sites.push(near);
  await near.waitFor(/link to-delay-1 is up/, 60_000);
  const port = Number((await near.waitFor(/listener echo for \S+ is listening on [\d.]+:(\d+)/))[1]);
  await retry(() => echoTimes(port, 1));
  const times = await echoTimes(port, Number(values.count));
  process.stdout.write(
    `${runtime}, ${delayMs} ms each way: connect to echo ${median(times).toFixed(1)} ms (${times[0]!.toFixed(1)}-${times.at(-1)!.toFixed(1)}), ${times.length} connections one at a time\n`,
  );
} finally {
  await Promise.all(sites.map((s) => s.stop()));
  proxy.close();
  farEnds.stop();
}
