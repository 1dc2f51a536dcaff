// Measures the SL1 handshake (both ends in one process) and record seal+open
// throughput for 64 KiB records. Not a test; run it on each runtime:
//   node --import tsx test/unit/security/bench.ts
//   node_modules/.bin/bun test/unit/security/bench.ts
//   node_modules/.bin/deno run -A test/unit/security/bench.ts

import { createHandshake } from "../../../src/link/handshake.ts";
import { RecordOpener, RecordSealer, RecordWriter, maxRecordPlaintext } from "../../../src/link/records.ts";
import { connect, network } from "./helpers.ts";

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string }; process?: { version: string } };
const runtime = g.Deno ? `deno ${g.Deno.version.deno}` : g.Bun ? `bun ${g.Bun.version}` : `node ${g.process?.version}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const net = await network();
const times: number[] = [];
for (let i = 0; i < 55; i++) {
  const dialer = createHandshake({ role: "dialer", identity: net.east, trust: net.ca.trust, expectedPeerName: "west" });
  const acceptor = createHandshake({ role: "acceptor", identity: net.west, trust: net.ca.trust });
  const t0 = performance.now();
  const out = await connect(dialer, acceptor);
  const t1 = performance.now();
  if (!out.dialer?.ok || !out.acceptor?.ok) throw new Error("handshake failed");
  if (i >= 5) times.push(t1 - t0);
}

async function throughput(window: number, records: number): Promise<number> {
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const sealer = new RecordSealer(secret);
  const opener = new RecordOpener(secret);
  const payload = crypto.getRandomValues(new Uint8Array(maxRecordPlaintext));
  let opened = 0;
  const pending: Promise<unknown>[] = [];
  const writer = new RecordWriter({
    sealer,
    window,
    emit: (record) => {
      pending.push(opener.open(record).then(() => opened++));
      if (pending.length > window * 2) pending.splice(0, pending.length - window * 2);
    },
  });
  const t0 = performance.now();
  for (let i = 0; i < records; i += window) {
    await Promise.all(Array.from({ length: Math.min(window, records - i) }, () => writer.write(payload)));
  }
  await Promise.all(pending);
  while (opened < records) await new Promise((r) => setTimeout(r, 1));
  const seconds = (performance.now() - t0) / 1000;
  return (records * maxRecordPlaintext) / seconds / 1e6;
}

await throughput(1, 200);
const x1 = median([await throughput(1, 1500), await throughput(1, 1500), await throughput(1, 1500)]);
const x4 = median([await throughput(4, 1500), await throughput(4, 1500), await throughput(4, 1500)]);
console.log(
  JSON.stringify({
    runtime,
    handshakeMedianMs: Number(median(times).toFixed(2)),
    sealOpen64KiB_MBps_window1: Math.round(x1),
    sealOpen64KiB_MBps_window4: Math.round(x4),
  }),
);
