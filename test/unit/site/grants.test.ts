import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generateSiteKey, pemToDer } from "../../../src/ca/keys.ts";
import { createCsr, createSiteCa, issueFromCsr, type SiteCa } from "../../../src/ca/site-ca.ts";
import { computeRedeemProof } from "../../../src/ca/token-crypto.ts";
import { createNodePlatform } from "../../../src/platform/node.ts";
import { GrantStore, MAX_WRONG_CODES, RateLimiter } from "../../../src/site/grants.ts";
import { StateDir } from "../../../src/site/state.ts";

const platform = createNodePlatform();
let dir: string;
let state: StateDir;
let ca: SiteCa;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "skiff-grants-"));
  state = new StateDir(platform, dir);
  ca ??= await createSiteCa("east");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function request(grantId: string, code: string, site = "west") {
  const { keyPair } = await generateSiteKey();
  const csr = await createCsr(site, keyPair);
  const proof = await computeRedeemProof(code, { grantId, csrDer: pemToDer(csr, "CERTIFICATE REQUEST") });
  return { site, csr, proof };
}

const issue = (siteName: string, csr: string) => issueFromCsr(ca, csr, { siteName, usage: "dialer" });

describe("GrantStore", () => {
  it("lets exactly one of two concurrent redemptions of a one-use grant through", async () => {
    const store = await GrantStore.load(platform, state);
    const { grant, code } = await store.create({ name: "adhoc", redemptionsAllowed: 1, expirationWindowMs: 60_000 });
    const outcomes = await Promise.all([store.redeem(grant.id, await request(grant.id, code, "west"), issue), store.redeem(grant.id, await request(grant.id, code, "north"), issue)]);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.find((o) => !o.ok)).toMatchObject({ reason: expect.stringMatching(/already redeemed 1 time/) });
  });

  it("commits the count to the state directory before answering", async () => {
    const store = await GrantStore.load(platform, state);
    const { grant, code } = await store.create({ name: "adhoc", redemptionsAllowed: 1, expirationWindowMs: 60_000 });
    expect((await store.redeem(grant.id, await request(grant.id, code), issue)).ok).toBe(true);
    const reloaded = await GrantStore.load(platform, state);
    expect(reloaded.grants[0]!.redemptions).toHaveLength(1);
    expect((await reloaded.redeem(grant.id, await request(grant.id, code, "north"), issue)).ok).toBe(false);
  });

  it("never stores the code itself", async () => {
    const store = await GrantStore.load(platform, state);
    const { code } = await store.create({ name: "adhoc", redemptionsAllowed: 1, expirationWindowMs: 60_000 });
    const text = await platform.readTextFile(state.file("grants.json"));
    expect(text).not.toContain(code);
    expect(await platform.fileMode(state.file("grants.json"))).toBe(0o600);
  });

  it(`burns a grant after ${MAX_WRONG_CODES} wrong codes, even for the right code afterwards`, async () => {
    const store = await GrantStore.load(platform, state);
    const { grant, code } = await store.create({ name: "adhoc", redemptionsAllowed: 3, expirationWindowMs: 60_000 });
    const wrong = code.slice(0, -2) + (code.endsWith("AA") ? "BB" : "AA");
    for (let i = 1; i <= MAX_WRONG_CODES; i++) {
      expect(await store.redeem(grant.id, await request(grant.id, wrong), issue)).toMatchObject({ ok: false, reason: expect.stringContaining(`(${i} of ${MAX_WRONG_CODES})`) });
    }
    expect(await store.redeem(grant.id, await request(grant.id, code), issue)).toMatchObject({ ok: false, reason: expect.stringMatching(/burned at/) });
  });

  it("judges expiry by its own clock", async () => {
    const store = await GrantStore.load(platform, state);
    const { grant, code } = await store.create({ name: "adhoc", redemptionsAllowed: 1, expirationWindowMs: 1000, now: Date.now() - 2000 });
    expect(await store.redeem(grant.id, await request(grant.id, code), issue)).toMatchObject({ ok: false, reason: expect.stringMatching(/expired at/) });
  });

  it("answers the same request twice with the same certificate and one count", async () => {
    const store = await GrantStore.load(platform, state);
    const { grant, code } = await store.create({ name: "adhoc", redemptionsAllowed: 1, expirationWindowMs: 60_000 });
    const req = await request(grant.id, code);
    const first = await store.redeem(grant.id, req, issue);
    const again = await store.redeem(grant.id, req, issue);
    expect(again).toMatchObject({ ok: true, repeated: true });
    expect(first.ok && again.ok && again.certificatePem === first.certificatePem).toBe(true);
    expect(store.grants[0]!.redemptions).toHaveLength(1);
  });

  it("refuses a proof made for another CSR", async () => {
    const store = await GrantStore.load(platform, state);
    const { grant, code } = await store.create({ name: "adhoc", redemptionsAllowed: 1, expirationWindowMs: 60_000 });
    const a = await request(grant.id, code);
    const b = await request(grant.id, code);
    expect(await store.redeem(grant.id, { ...a, proof: b.proof }, issue)).toMatchObject({ ok: false, reason: expect.stringMatching(/wrong code/) });
  });
});

describe("RateLimiter", () => {
  it("allows a burst up to its capacity per source, then refills over time", () => {
    const limiter = new RateLimiter({ attempts: 3, perMs: 3000 });
    const t = 1_000_000;
    expect([1, 2, 3, 4].map(() => limiter.allow("10.0.0.1", t))).toEqual([true, true, true, false]);
    expect(limiter.allow("10.0.0.2", t)).toBe(true);
    expect(limiter.allow("10.0.0.1", t + 1000)).toBe(true);
    expect(limiter.allow("10.0.0.1", t + 1000)).toBe(false);
  });
});
