// Access grants on the accepting site: each grant lets a few sites redeem a
// token for a link certificate. Counts are written to the state directory
// before any answer, a grant burns after 5 wrong codes, and expiry follows
// this site's clock.

import { pemToDer } from "../ca/keys.ts";
import type { IssuedCertificate } from "../ca/site-ca.ts";
import { deriveCodeKey, generateCode, generateGrantId, verifyRedeemProof } from "../ca/token-crypto.ts";
import { fromBase64Url, toBase64Url, toHex } from "../ca/bytes.ts";
import { errorMessage } from "../errors.ts";
import type { Platform } from "../platform/types.ts";
import type { StateDir } from "./state.ts";

export const MAX_WRONG_CODES = 5;

export interface GrantRecord {
  id: string;
  /** The AccessGrant resource it came from, or "adhoc" for `skiff token issue` without --grant. */
  name: string;
  /** HKDF-Extract of the code: the code itself is never stored. */
  codeKey: string;
  createdAt: string;
  expiresAt: string;
  redemptionsAllowed: number;
  redemptions: { csrSha256: string; siteName: string; certificatePem: string; at: string }[];
  wrongCodes: number;
  burnedAt?: string;
}

export interface RedeemRequest {
  site: string;
  csr: string;
  proof: string;
}

export type RedeemOutcome =
  | { ok: true; certificatePem: string; siteName: string; repeated: boolean }
  /** `reason` is for this site's log only: the redeeming site is told nothing but "refused". */
  | { ok: false; reason: string };

export class GrantStore {
  readonly #platform: Platform;
  readonly #file: string;
  #grants: GrantRecord[] = [];
  /** Redemptions run one at a time, so counts cannot race. */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(platform: Platform, file: string) {
    this.#platform = platform;
    this.#file = file;
  }

  static async load(platform: Platform, state: StateDir): Promise<GrantStore> {
    const store = new GrantStore(platform, state.file("grants.json"));
    const text = await platform.readTextFileIfExists(store.#file);
    if (text !== undefined) store.#grants = JSON.parse(text) as GrantRecord[];
    return store;
  }

  get grants(): readonly GrantRecord[] {
    return this.#grants;
  }

  /** A new grant; the code is returned once, for the token, and never stored. */
  create(options: { name: string; redemptionsAllowed: number; expirationWindowMs: number; code?: string; now?: number }): Promise<{ grant: GrantRecord; code: string }> {
    return this.#serial(async () => {
      const now = options.now ?? Date.now();
      const code = options.code ?? generateCode();
      const grant: GrantRecord = {
        id: generateGrantId(),
        name: options.name,
        codeKey: toBase64Url(await deriveCodeKey(code)),
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + options.expirationWindowMs).toISOString(),
        redemptionsAllowed: options.redemptionsAllowed,
        redemptions: [],
        wrongCodes: 0,
      };
      // Expired grants are dropped when the next one is made, so the file stays small.
      this.#grants = [...this.#grants.filter((g) => Date.parse(g.expiresAt) > now), grant];
      await this.#save();
      return { grant, code };
    });
  }

  redeem(grantId: string, request: RedeemRequest, issue: (siteName: string, csrPem: string) => Promise<IssuedCertificate>, now = Date.now()): Promise<RedeemOutcome> {
    return this.#serial(async (): Promise<RedeemOutcome> => {
      const grant = this.#grants.find((g) => g.id === grantId);
      if (grant === undefined) return { ok: false, reason: `no grant ${grantId}` };
      if (grant.burnedAt !== undefined) return { ok: false, reason: `grant ${grantId} burned at ${grant.burnedAt} after ${MAX_WRONG_CODES} wrong codes` };
      if (now > Date.parse(grant.expiresAt)) return { ok: false, reason: `grant ${grantId} expired at ${grant.expiresAt}` };
      let csrDer: Uint8Array;
      try {
        csrDer = pemToDer(request.csr, "CERTIFICATE REQUEST");
      } catch (err) {
        return { ok: false, reason: `malformed certificate request: ${errorMessage(err)}` };
      }
      const proofOk = await verifyRedeemProof(fromBase64Url(grant.codeKey), request.proof, { grantId, csrDer });
      if (!proofOk) {
        grant.wrongCodes++;
        if (grant.wrongCodes >= MAX_WRONG_CODES) grant.burnedAt = new Date(now).toISOString();
        await this.#save();
        const burned = grant.burnedAt !== undefined ? "; the grant is now burned" : "";
        return { ok: false, reason: `wrong code for grant ${grantId} (${grant.wrongCodes} of ${MAX_WRONG_CODES})${burned}` };
      }
      const csrSha256 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", csrDer.slice())));
      const earlier = grant.redemptions.find((r) => r.csrSha256 === csrSha256 && r.siteName === request.site);
      if (earlier !== undefined) {
        // The same CSR again: the answer was lost on the way. Same certificate, no new count.
        return { ok: true, certificatePem: earlier.certificatePem, siteName: earlier.siteName, repeated: true };
      }
      if (grant.redemptions.length >= grant.redemptionsAllowed) {
        return { ok: false, reason: `grant ${grantId} was already redeemed ${grant.redemptions.length} time(s), all it allows` };
      }
      let issued: IssuedCertificate;
      try {
        issued = await issue(request.site, request.csr);
      } catch (err) {
        return { ok: false, reason: `cannot issue a certificate for ${JSON.stringify(request.site)}: ${errorMessage(err)}` };
      }
      grant.redemptions.push({ csrSha256, siteName: request.site, certificatePem: issued.certificatePem, at: new Date(now).toISOString() });
      await this.#save(); // committed before the answer leaves
      return { ok: true, certificatePem: issued.certificatePem, siteName: request.site, repeated: false };
    });
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #save(): Promise<void> {
    await this.#platform.writePrivateFile(this.#file, JSON.stringify(this.#grants, null, 2) + "\n");
  }
}

/** Per-source attempt limiter for the public redemption endpoint (token bucket). */
export class RateLimiter {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: { attempts: number; perMs: number }) {
    this.#capacity = options.attempts;
    this.#refillPerMs = options.attempts / options.perMs;
  }

  /** Take one attempt for `source`; false when it has none left. */
  allow(source: string, now = Date.now()): boolean {
    const bucket = this.#buckets.get(source) ?? { tokens: this.#capacity, at: now };
    bucket.tokens = Math.min(this.#capacity, bucket.tokens + (now - bucket.at) * this.#refillPerMs);
    bucket.at = now;
    if (this.#buckets.size > 10_000) this.#buckets.clear(); // bounded memory under a spray of sources
    this.#buckets.set(source, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
