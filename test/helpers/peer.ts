// A link peer driven by a test: it redeems a real token and completes the real
// handshake, then sends whatever bytes the test wants inside the records.

import { parseAccessTokens } from "../../src/config/load.ts";
import { loadSiteKey, pemToCertificate } from "../../src/ca/keys.ts";
import { trustAnchorFromCaCertificate } from "../../src/ca/validate.ts";
import { WebSocketPipe } from "../../src/link/channel.ts";
import { establishSecureChannel } from "../../src/link/secure-channel.ts";
import { redeemToken } from "../../src/site/redeem.ts";
import { createNodePlatform } from "../../src/platform/node.ts";

const nodePlatform = createNodePlatform();
import type { SiteProcess } from "./sites.ts";

export interface TestPeer {
  /** Send one link message (frames) inside a record. */
  send(message: Uint8Array): void;
  /** Resolves when the site closes the link, with its close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  /** Link messages the site sent us. */
  received: Uint8Array[];
  close(): void;
}

export async function authenticatedPeer(site: SiteProcess, name = "mallory"): Promise<TestPeer> {
  const [token] = parseAccessTokens("token.yaml", await site.issueToken());
  const stored = await redeemToken(nodePlatform, token!, name);
  const certificate = pemToCertificate(stored.certificatePem);
  const keyPair = await loadSiteKey(stored.privateKeyPem, certificate);
  const trust = await trustAnchorFromCaCertificate(stored.caPem);
  const pipe = new WebSocketPipe();
  const conn = await createNodePlatform().connectWebSocket(stored.url, { handlers: pipe.handlers });
  const { channel } = await establishSecureChannel(pipe, conn, {
    role: "dialer",
    identity: { certificate, privateKey: keyPair.privateKey },
    trust,
    expectedPeerName: stored.peerSite,
    timeoutMs: 5000,
  });
  const received: Uint8Array[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    channel.attach({ message: (m) => received.push(m), closed: (code, reason) => resolve({ code, reason }) }),
  );
  return { send: (m) => channel.send(m), closed, received, close: () => channel.close(1000, "done") };
}

/**
 * Try the link handshake against `url` with credentials the test made itself
 * (forged, expired, from another CA...). Resolves if the link came up.
 */
export async function attemptLink(
  url: string,
  options: { certificate: Uint8Array; privateKey: CryptoKey; caPem: string; expectedPeerName: string },
): Promise<void> {
  const pipe = new WebSocketPipe();
  const conn = await createNodePlatform().connectWebSocket(url, { handlers: pipe.handlers });
  const { channel } = await establishSecureChannel(pipe, conn, {
    role: "dialer",
    identity: { certificate: options.certificate, privateKey: options.privateKey },
    trust: await trustAnchorFromCaCertificate(options.caPem),
    expectedPeerName: options.expectedPeerName,
    timeoutMs: 5000,
  });
  channel.close(1000, "test done");
}
