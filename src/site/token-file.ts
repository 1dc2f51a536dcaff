// Writes an AccessToken resource: the file a granting site hands to the
// site that will link to it.

import { stringify } from "yaml";

export interface TokenContents {
  /** The resource name; the redeeming site names its link after it. */
  name: string;
  url: string;
  code: string;
  caPem: string;
  linkCost: number;
  expiresAt: string;
  redemptionsAllowed: number;
}

export function renderAccessToken(token: TokenContents): string {
  const header =
    `# Skiff access token: link a site to this one with\n` +
    `#   skiff token redeem <this file> --config <site.yaml>\n` +
    `# It can be redeemed ${token.redemptionsAllowed} time(s) until ${token.expiresAt}. Keep it secret until then.\n`;
  return (
    header +
    stringify({
      apiVersion: "skupper.io/v2alpha1",
      kind: "AccessToken",
      metadata: { name: token.name },
      spec: { url: token.url, code: token.code, ca: token.caPem, linkCost: token.linkCost },
    })
  );
}
