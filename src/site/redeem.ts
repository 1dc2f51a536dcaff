// The redeeming side of an access token: make a key here, send only a CSR
// and a proof of the code, check what comes back, and store the link.

import { computeRedeemProof } from "../ca/token-crypto.ts";
import { pemToCertificate, pemToDer } from "../ca/keys.ts";
import { trustAnchorFromCaCertificate, validatePeerCertificate } from "../ca/validate.ts";
import type { AccessTokenConfig } from "../config/load.ts";
import { ErrorCode, errorMessage, SkiffError } from "../errors.ts";
import { newKeyAndCsr, type StoredLink } from "./identity.ts";
import * as z from "zod";
import type { HttpResponse, Platform } from "../platform/types.ts";

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const RedeemAnswer = z
  .object({
    site: z.string().min(1).max(253),
    certificate: z.string().max(16384),
    ca: z.string().max(16384),
    url: z.string().url(),
  })
  .strict();

const ATTEMPTS = 3;

/**
 * Redeem `token` for site `siteName`. Network failures are retried with the
 * same CSR and proof, which the granting site answers with the same
 * certificate, so a lost answer never uses up a redemption.
 */
export async function redeemToken(platform: Platform, token: AccessTokenConfig, siteName: string, linkName: string = token.name): Promise<StoredLink> {
  const { csrPem, privateKeyPem } = await newKeyAndCsr(siteName);
  const grantId = new URL(token.url).pathname.split("/").pop() ?? "";
  const proof = await computeRedeemProof(token.code, { grantId, csrDer: pemToDer(csrPem, "CERTIFICATE REQUEST") });
  const body = JSON.stringify({ site: siteName, csr: csrPem, proof });

  let response: HttpResponse | undefined;
  let lastError = "";
  for (let attempt = 1; attempt <= ATTEMPTS && response === undefined; attempt++) {
    try {
      // The token's CA also vouches for the granting site's own https:// certificate, when it made one.
      response = await platform.httpRequest(token.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        caCertificates: [token.ca],
        timeoutMs: 10_000,
      });
    } catch (err) {
      lastError = errorMessage(err);
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
  if (response === undefined) throw new SkiffError(ErrorCode.Token, `cannot reach ${token.url} to redeem token ${token.name}: ${lastError}`);
  if (response.status === 429) {
    throw new SkiffError(ErrorCode.Token, `the site at ${token.url} is limiting redemption attempts from this address; wait a minute and try again`);
  }
  if (response.status !== 200) {
    throw new SkiffError(
      ErrorCode.Token,
      `the site at ${token.url} refused token ${token.name} (HTTP ${response.status}): it has expired, was used up, or its code is wrong. Ask that site for a new token (skiff token issue).`,
    );
  }
  const parsed = RedeemAnswer.safeParse(parseJson(response.text));
  if (!parsed.success) throw new SkiffError(ErrorCode.Token, `the site at ${token.url} sent a malformed answer to the redemption`);
  const answer = parsed.data;

  // Trust comes from the token, never from the answer: the certificate must chain to the token's CA.
  const trust = await trustAnchorFromCaCertificate(token.ca);
  try {
    await validatePeerCertificate(pemToCertificate(answer.certificate), { trust, usedBy: "dialer", expectedName: siteName, now: Date.now() });
  } catch (err) {
    throw new SkiffError(ErrorCode.Token, `the certificate from ${token.url} is not usable: ${errorMessage(err)}`);
  }
  return {
    name: linkName,
    url: answer.url,
    cost: token.linkCost,
    peerSite: answer.site,
    caPem: token.ca,
    certificatePem: answer.certificate,
    privateKeyPem,
    redeemedAt: new Date().toISOString(),
  };
}

/** A stable fingerprint of a token, so one redeemed at start is not redeemed again. */
export async function tokenFingerprint(token: AccessTokenConfig): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${token.url}\n${token.code}`));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
