// One bulk transfer through one link, per runtime, next to a direct TCP copy
// measured in the same run:  node bin/run-ts.mjs scripts/throughput.ts [--size-mib 1024] [--runs 3] [--runtimes node,deno,bun]

import { parseArgs } from "node:util";
import { GiB, MiB, type Runtime, sendBulk, startPair, startSink, summary } from "./bench/lib.ts";

const { values } = parseArgs({
  options: {
    "size-mib": { type: "string", default: String(GiB / MiB) },
    runs: { type: "string", default: "3" },
    runtimes: { type: "string", default: "node,deno,bun" },
  },
});
const size = Number(values["size-mib"]) * MiB;
const runs = Number(values.runs);
const runtimes = values.runtimes!.split(",") as Runtime[];

const sink = await startSink();
const rows: string[][] = [];
for (const runtime of runtimes) {
  const { port, sites } = await startPair(runtime, sink.port);
  const direct: number[] = [];
  const linked: number[] = [];
  for (let i = 0; i < runs; i++) {
    direct.push(await sendBulk(sink.port, size));
    linked.push(await sendBulk(port, size));
  }
  await Promise.all(sites.map((s) => s.stop()));
  const ratio = linked.map((v, i) => v / direct[i]!);
  rows.push([runtime, summary(direct), summary(linked), summary(ratio.map((r) => r * 100)) + " %"]);
  process.stdout.write(`${runtime}: direct ${summary(direct)} MB/s, through one link ${summary(linked)} MB/s\n`);
}
sink.close();

const header = ["runtime", "direct TCP MB/s", "one link MB/s", "link / direct"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ") + " |";
process.stdout.write(`\n${size / MiB} MiB per transfer, ${runs} runs, median (min-max)\n`);
process.stdout.write([line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n");
