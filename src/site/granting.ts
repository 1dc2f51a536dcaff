// The granting side of access tokens on an accepting site: make a grant and
// the AccessToken that redeems it, and answer redemptions on the link port.

import type { Logger } from "../core/logger.ts";
import type { SiteConfig } from "../config/load.ts";
import { ErrorCode, SkiffError } from "../errors.ts";
import type { TokenRequest } from "../api/admin.ts";
import { LINK_PATH, REDEEM_PATH } from "../api/links.ts";
import type { GrantStore, RedeemRequest } from "./grants.ts";
import type { SiteIdentity } from "./identity.ts";
import { renderAccessToken } from "./token-file.ts";

const DEFAULT_EXPIRATION_WINDOW_MS = 15 * 60_000;

export interface GrantingOptions {
  config: SiteConfig;
  grants: GrantStore;
  identity: SiteIdentity;
  logger: Logger;
  /** Where other sites reach the link port (known once it is bound). */
  linkUrl: () => string | undefined;
}

export class TokenGranting {
  readonly #options: GrantingOptions;

  constructor(options: GrantingOptions) {
    this.#options = options;
  }

  /** A new grant and its AccessToken (YAML), with `request` over the named AccessGrant's settings. */
  async issue(request: TokenRequest): Promise<{ token: string; expiresAt: string; redemptionsAllowed: number }> {
    const { config, grants, identity, logger } = this.#options;
    const linkUrl = this.#options.linkUrl();
    if (linkUrl === undefined) throw new SkiffError(ErrorCode.Token, `site ${config.site.name} is not accepting links yet`);
    const configured = request.grant === undefined ? undefined : config.accessGrants.find((g) => g.name === request.grant);
    if (request.grant !== undefined && configured === undefined) {
      const known = config.accessGrants.map((g) => g.name).join(", ") || "none";
      throw new SkiffError(ErrorCode.Token, `no AccessGrant named ${request.grant} in ${config.file} (grants: ${known})`);
    }
    const redemptionsAllowed = request.redemptionsAllowed ?? configured?.redemptionsAllowed ?? 1;
    const expirationWindowMs = request.expirationWindowMs ?? configured?.expirationWindowMs ?? DEFAULT_EXPIRATION_WINDOW_MS;
    const { grant, code } = await grants.create({ name: configured?.name ?? "adhoc", redemptionsAllowed, expirationWindowMs, code: configured?.code });
    // The redemption endpoint sits beside the link endpoint: same host, same path prefix.
    const base = linkUrl.replace(/^ws/, "http").slice(0, -LINK_PATH.length);
    const token = renderAccessToken({
      name: config.site.name,
      url: `${base}${REDEEM_PATH}/${grant.id}`,
      code,
      caPem: identity.caPem,
      linkCost: request.linkCost ?? 1,
      expiresAt: grant.expiresAt,
      redemptionsAllowed,
    });
    logger.info("token.issued", `issued a token (grant ${grant.id}): ${redemptionsAllowed} redemption(s) until ${grant.expiresAt}`);
    return { token, expiresAt: grant.expiresAt, redemptionsAllowed };
  }

  /** Answer a redemption from `source`; undefined means "refused" (the reason goes to this site's log only). */
  async answer(grantId: string, request: RedeemRequest, source: string): Promise<{ site: string; certificate: string; ca: string; url: string } | undefined> {
    const { config, grants, identity, logger } = this.#options;
    const outcome = await grants.redeem(grantId, request, (siteName, csr) => identity.issueFor(siteName, csr));
    if (!outcome.ok) {
      logger.warn("token.refused", `refused a token redemption from ${source}: ${outcome.reason}`);
      return undefined;
    }
    const again = outcome.repeated ? " (a repeated request: same certificate, not counted again)" : "";
    logger.info("token.redeemed", `site ${outcome.siteName} redeemed a token from ${source}${again}`, { peer: outcome.siteName });
    return { site: config.site.name, certificate: outcome.certificatePem, ca: identity.caPem, url: this.#options.linkUrl()! };
  }
}
