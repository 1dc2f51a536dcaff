// Secure links between real sites: who may link, tokens, revocation and
// renewal. Every refusal fails closed: no link, a logged reason, and the
// site keeps serving its other links.

import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateToPem, generateSiteKey, pemToDer } from "../../src/ca/keys.ts";
import { createCsr, createSiteCa, issueFromCsr, loadSiteCa, type SiteCa } from "../../src/ca/site-ca.ts";
import { computeRedeemProof } from "../../src/ca/token-crypto.ts";
import { parseAccessTokens } from "../../src/config/load.ts";
import { redeemToken } from "../../src/site/redeem.ts";
import { createNodePlatform } from "../../src/platform/node.ts";

const nodePlatform = createNodePlatform();
import { attemptLink } from "../helpers/peer.ts";
import { RUNTIMES } from "../helpers/runtimes.ts";
import { SiteProcess, startSites } from "../helpers/sites.ts";
import { echoServer, exchange, pattern, sha256, waitForRoute } from "../helpers/traffic.ts";
import { type EchoPair, startEchoPair } from "../helpers/pair.ts";

const HOUR = 3_600_000;

describe.each(RUNTIMES)("secure links to a %s site", (runtime) => {
  let pair: EchoPair;
  let east: SiteProcess;
  let west: SiteProcess;
  let linkUrl: string;
  let eastCa: SiteCa;
  let caPem: string;
  let port: number;

  beforeAll(async () => {
    // Certificates from east live 40 s here, so west renews at about 20 s.
    pair = await startEchoPair({ east: runtime, eastSettings: { "link-certificate-validity": "40s" } });
    ({ east, west, linkUrl, port } = pair);
    const state = path.join(east.dir, ".skiff", "east");
    caPem = readFileSync(path.join(state, "ca.pem"), "utf8");
    eastCa = await loadSiteCa(caPem, readFileSync(path.join(state, "ca-key.pem"), "utf8"));
  });

  afterAll(async () => {
    await pair?.stop();
  });

  async function goodLinkStillWorks(): Promise<void> {
    const request = pattern(9, 64 * 1024);
    expect(sha256(await exchange(port, request))).toBe(sha256(request));
  }

  /** A certificate for `site` from `ca`, issued at `issuedAt` for `validityMs`. */
  async function credentials(ca: SiteCa, site: string, issuedAt = Date.now(), validityMs = HOUR) {
    const { keyPair } = await generateSiteKey();
    const issued = await issueFromCsr(ca, await createCsr(site, keyPair), { siteName: site, now: issuedAt, validityMs, usage: "dialer" });
    return { certificate: issued.certificateDer, privateKey: keyPair.privateKey };
  }

  async function refused(creds: { certificate: Uint8Array; privateKey: CryptoKey }, logged: RegExp, expectedPeerName = "east"): Promise<void> {
    const from = east.output.length;
    await expect(attemptLink(linkUrl, { ...creds, caPem, expectedPeerName })).rejects.toThrow();
    await east.waitFor(logged, 5000, from);
    await goodLinkStillWorks();
  }

  it("accepts a certificate from its own CA", async () => {
    await attemptLink(linkUrl, { ...(await credentials(eastCa, "north")), caPem, expectedPeerName: "east" });
  });

  it("refuses a rogue CA that has the same name", async () => {
    const rogue = await createSiteCa("east");
    await refused(await credentials(rogue, "mallory"), /refused a link from .*not issued by this site's CA/);
  });

  it("refuses an expired certificate", async () => {
    await refused(await credentials(eastCa, "mallory", Date.now() - 2 * HOUR, HOUR), /refused a link from .*expired at/);
  });

  it("refuses a certificate that is not valid yet", async () => {
    await refused(await credentials(eastCa, "mallory", Date.now() + 2 * HOUR, HOUR), /refused a link from .*is not valid until/);
  });

  it("is refused by a dialer that expects another site name", async () => {
    const from = east.output.length;
    await expect(attemptLink(linkUrl, { ...(await credentials(eastCa, "north")), caPem, expectedPeerName: "south" })).rejects.toThrow(
      /certificate is for site "east", but this link expects "south"/,
    );
    await east.waitFor(/refused a link from/, 5000, from);
    await goodLinkStillWorks();
  });

  it("answers every failed redemption identically", async () => {
    const [token] = parseAccessTokens("t.yaml", await east.issueToken());
    const unknownGrant = await fetch(token!.url.replace(/[^/]+$/, "no-such-grant"), { method: "POST", body: "{}" });
    const garbage = await fetch(token!.url, { method: "POST", body: "not json" });
    expect([unknownGrant.status, garbage.status]).toEqual([403, 403]);
    expect(await unknownGrant.text()).toBe(await garbage.text());
  });

  it("refuses a token beyond its redemption count", async () => {
    const [token] = parseAccessTokens("t.yaml", await east.issueToken({ redemptionsAllowed: 1 }));
    await redeemToken(nodePlatform, token!, "north");
    const from = east.output.length;
    await expect(redeemToken(nodePlatform, token!, "south")).rejects.toThrow(/refused token .*Ask that site for a new token/);
    await east.waitFor(/refused a token redemption .*already redeemed 1 time/, 5000, from);
  });

  it("refuses an expired token", async () => {
    const [token] = parseAccessTokens("t.yaml", await east.issueToken({ expirationWindowMs: 1000 }));
    await new Promise((r) => setTimeout(r, 1500));
    const from = east.output.length;
    await expect(redeemToken(nodePlatform, token!, "north")).rejects.toThrow(/refused token/);
    await east.waitFor(/refused a token redemption .*expired at/, 5000, from);
  });

  it("refuses a wrong code, and burns the grant after 5 wrong codes", async () => {
    const [token] = parseAccessTokens("t.yaml", await east.issueToken());
    const wrong = { ...token!, code: token!.code.slice(0, -4) + (token!.code.endsWith("AAAA") ? "BBBB" : "AAAA") };
    for (let i = 1; i <= 5; i++) await expect(redeemToken(nodePlatform, wrong, "north")).rejects.toThrow(/refused token/);
    const from = east.output.length;
    await expect(redeemToken(nodePlatform, token!, "north")).rejects.toThrow(/refused token/);
    await east.waitFor(/burned at .* after 5 wrong codes/, 5000, from);
  });

  it("answers a repeated redemption with the same certificate, without counting it again", async () => {
    const [token] = parseAccessTokens("t.yaml", await east.issueToken({ redemptionsAllowed: 1 }));
    const { keyPair } = await generateSiteKey();
    const csr = await createCsr("north", keyPair);
    const grantId = new URL(token!.url).pathname.split("/").pop()!;
    const proof = await computeRedeemProof(token!.code, { grantId, csrDer: pemToDer(csr, "CERTIFICATE REQUEST") });
    const post = () => fetch(token!.url, { method: "POST", body: JSON.stringify({ site: "north", csr, proof }) }).then((r) => r.json());
    const first = (await post()) as { certificate: string };
    const second = (await post()) as { certificate: string };
    expect(second.certificate).toBe(first.certificate);
  });

  it("limits redemption attempts per source address", async () => {
    const [token] = parseAccessTokens("t.yaml", await east.issueToken());
    const statuses = await Promise.all(Array.from({ length: 40 }, () => fetch(token!.url, { method: "POST", body: "{}" }).then((r) => r.status)));
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s !== 429 && s !== 403)).toEqual([]);
  });

  it("renews the dialing site's certificate over the live link", async () => {
    // Certificates from east live 40 s here, so west renews at about 20 s.
    await west.waitFor(/link to-east has a renewed certificate/, 30_000);
    await east.waitFor(/issued a renewed link certificate to site west/, 5000);
    await goodLinkStillWorks();
  }, 40_000);

  it("closes and refuses a revoked site with a reason a person can act on", async () => {
    const from = west.output.length;
    const state = path.join(east.dir, ".skiff", "east");
    const endpoint = JSON.parse(readFileSync(path.join(state, "admin.json"), "utf8")) as { url: string };
    const secret = readFileSync(path.join(state, "admin-secret"), "utf8").trim();
    const response = await fetch(`${endpoint.url}/v1/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}` },
      body: JSON.stringify({ site: "west" }),
    });
    expect(await response.json()).toEqual({ closedLinks: 1 });
    await west.waitFor(/link to-east .* is down: .*(revoked|access_denied)/, 10_000, from);
    await east.waitFor(/refused a link from site west .*it was revoked at/, 10_000);
    const status = await west.status();
    expect(status.links[0]!.status).toBe("Error");
    expect(status.links[0]!.reason).toMatch(/access_denied|revoked/);
  });
});

describe.each(RUNTIMES)("a %s site serving wss:// with a certificate from its own CA", (runtime) => {
  it("links a site that has only the token, and carries traffic", async () => {
    const echo = await echoServer();
    const [east] = await startSites([{ name: "east", runtime, acceptLinks: true, wss: true, connectors: [{ name: "echo", routingKey: "echo", port: echo.port }] }]);
    const url = await east!.linkUrl();
    expect(url).toMatch(/^wss:\/\/127\.0\.0\.1:\d+\/skiff\/v1\/link$/);
    const west = new SiteProcess({ name: "west", runtime: RUNTIMES[(RUNTIMES.indexOf(runtime) + 1) % RUNTIMES.length]!, listeners: [{ name: "echo", routingKey: "echo" }], links: [{ name: "to-east", url }] });
    try {
      const port = await west.listenerPort("echo");
      await west.waitFor(/link to-east is up: linked to site east at wss:/);
      await waitForRoute(port);
      const request = pattern(11, 1024 * 1024);
      expect(sha256(await exchange(port, request))).toBe(sha256(request));
    } finally {
      await Promise.all([west.stop(), east!.stop()]);
      await echo.close();
    }
  });
});

describe("the state directory", () => {
  it("keeps the CA key and the admin secret readable by the owner only", async () => {
    const [site] = await startSites([{ name: "east", runtime: "node", acceptLinks: true }]);
    try {
      const state = path.join(site!.dir, ".skiff", "east");
      const { statSync } = await import("node:fs");
      expect(statSync(state).mode & 0o777).toBe(0o700);
      for (const file of ["ca-key.pem", "ca.pem", "admin-secret", "admin.json"]) {
        expect(statSync(path.join(state, file)).mode & 0o777, file).toBe(0o600);
      }
      expect(certificateToPem(pemToDer(readFileSync(path.join(state, "ca.pem"), "utf8"), "CERTIFICATE"))).toMatch(/BEGIN CERTIFICATE/);
    } finally {
      await site!.stop();
    }
  });
});
