// Link handshake time on the runtime that runs this file: a real WebSocket on
// 127.0.0.1 (platform serveHttp + connectWebSocket) and the SL1 handshake on
// both ends, in one process. Prints one JSON line. Spawned by scripts/bench/main.ts:
//   <runtime> scripts/bench/handshake.ts [count]

import { generateSiteKey } from "../../src/ca/keys.ts";
import { createCsr, createSiteCa, issueFromCsr, issueSiteIdentity } from "../../src/ca/site-ca.ts";
import { WebSocketPipe } from "../../src/link/channel.ts";
import { establishSecureChannel } from "../../src/link/secure-channel.ts";
import { loadPlatform } from "../../src/platform/detect.ts";
import { defaultRecordAead } from "../../src/platform/aead.ts";

const platform = await loadPlatform();
const count = Number(platform.args()[0] ?? 40);
const warmup = 5;

const ca = await createSiteCa("west");
const westKey = await generateSiteKey();
const west = { certificate: (await issueSiteIdentity(ca, westKey.keyPair)).certificateDer, privateKey: westKey.keyPair.privateKey };
const eastKey = await generateSiteKey();
const eastCert = await issueFromCsr(ca, await createCsr("east", eastKey.keyPair), { siteName: "east" });
const east = { certificate: eastCert.certificateDer, privateKey: eastKey.keyPair.privateKey };

const server = await platform.serveHttp({
  hostname: "127.0.0.1",
  port: 0,
  maxMessageBytes: 1 << 20,
  fetch: () => new Response("not here", { status: 404 }),
  upgrade: () => {
    const pipe = new WebSocketPipe();
    return {
      ...pipe.handlers,
      open(conn) {
        pipe.handlers.open(conn);
        establishSecureChannel(pipe, conn, { role: "acceptor", identity: west, trust: ca.trust, timeoutMs: 10_000 }).then(
          ({ channel }) => channel.attach({ message() {}, closed() {} }),
          () => {},
        );
      },
    };
  },
});

const url = `ws://127.0.0.1:${server.port}/link`;
const total: number[] = [];
const sl1: number[] = [];
for (let i = 0; i < warmup + count; i++) {
  const pipe = new WebSocketPipe();
  const t0 = performance.now();
  const conn = await platform.connectWebSocket(url, { handlers: pipe.handlers, timeoutMs: 10_000 });
  const t1 = performance.now();
  const { channel } = await establishSecureChannel(pipe, conn, {
    role: "dialer",
    identity: east,
    trust: ca.trust,
    expectedPeerName: "west",
    timeoutMs: 10_000,
  });
  const t2 = performance.now();
  channel.attach({ message() {}, closed() {} });
  channel.close(1000, "done");
  if (i >= warmup) {
    total.push(t2 - t0);
    sl1.push(t2 - t1);
  }
}
await server.close();

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const pick = (xs: number[], q: number) => sorted(xs)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
platform.writeStdout(
  JSON.stringify({
    runtime: platform.runtime,
    version: platform.version,
    aead: (await defaultRecordAead()).name,
    count,
    totalMs: total,
    sl1Ms: sl1,
    p50: pick(total, 0.5),
    p99: pick(total, 0.99),
  }) + "\n",
);
platform.exit(0);
