// `skiff token issue` and `skiff token redeem`, and `skiff revoke`.

import { parseAccessTokens } from "../config/load.ts";
import { parseDuration } from "../config/duration.ts";
import { ErrorCode, errorMessage, SkiffError } from "../errors.ts";
import type { Platform } from "../platform/types.ts";
import { SiteIdentity } from "../site/identity.ts";
import { redeemToken } from "../site/redeem.ts";
import { StateDir } from "../site/state.ts";
import { adminRequest } from "./status.ts";
import { loadConfig } from "./load-config.ts";

export interface IssueOptions {
  config: string;
  file: string;
  grant?: string;
  redemptionsAllowed?: string;
  expirationWindow?: string;
  cost?: string;
}

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new SkiffError(ErrorCode.Usage, `${flag} expects a whole number of at least 1, got "${text}"`);
  return value;
}

export async function tokenIssueCommand(platform: Platform, options: IssueOptions): Promise<number> {
  const config = await loadConfig(platform, options.config);
  let expirationWindowMs: number | undefined;
  if (options.expirationWindow !== undefined) {
    try {
      expirationWindowMs = parseDuration(options.expirationWindow);
    } catch (err) {
      throw new SkiffError(ErrorCode.Usage, `--expiration-window: ${errorMessage(err)}`);
    }
  }
  const body = {
    grant: options.grant,
    redemptionsAllowed: positiveInteger(options.redemptionsAllowed, "--redemptions-allowed"),
    expirationWindowMs,
    linkCost: positiveInteger(options.cost, "--cost"),
  };
  const response = await adminRequest(platform, config.site.stateDir, config.site.name, options.config, "/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as { token?: string; expiresAt?: string; redemptionsAllowed?: number; error?: string };
  if (!response.ok || answer.token === undefined) throw new SkiffError(ErrorCode.Token, `cannot issue a token: ${answer.error ?? `HTTP ${response.status}`}`);
  // The token holds a secret code: owner-only, like keys.
  await platform.writePrivateFile(platform.resolvePath(options.file), answer.token);
  platform.writeStdout(
    `wrote ${options.file}: ${answer.redemptionsAllowed} redemption(s) until ${answer.expiresAt}.\n` +
      `On the other site run: skiff token redeem ${options.file} --config <its site.yaml>\n`,
  );
  return 0;
}

export async function tokenRedeemCommand(platform: Platform, options: { config: string; file: string }): Promise<number> {
  const config = await loadConfig(platform, options.config);
  let text: string;
  try {
    text = await platform.readTextFile(options.file);
  } catch (err) {
    throw new SkiffError(ErrorCode.Usage, `cannot read token file ${options.file}: ${errorMessage(err)}`);
  }
  const tokens = parseAccessTokens(options.file, text);
  const state = new StateDir(platform, config.site.stateDir);
  const running = await state.readAdminEndpoint().catch(() => undefined);
  if (running !== undefined) {
    // The site is running: it redeems the token itself and starts the link at once.
    try {
      const response = await adminRequest(platform, config.site.stateDir, config.site.name, options.config, "/v1/redeem", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: text, file: options.file }),
      });
      const answer = (await response.json()) as { links?: { name: string; peer: string }[]; error?: string };
      if (!response.ok || answer.links === undefined) throw new SkiffError(ErrorCode.Token, answer.error ?? `HTTP ${response.status}`);
      for (const link of answer.links) platform.writeStdout(`link ${link.name} to site ${link.peer} is set up; site ${config.site.name} is connecting now\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof SkiffError) || err.code !== ErrorCode.Admin || !/not running/.test(err.message)) throw err;
    }
  }
  await state.prepare();
  const identity = await SiteIdentity.load({ platform, state, siteName: config.site.name, acceptsLinks: false });
  for (const token of tokens) {
    const stored = await redeemToken(platform, token, config.site.name);
    await identity.saveLink(stored);
    platform.writeStdout(`link ${stored.name} to site ${stored.peerSite} is stored in ${state.path}; it comes up when site ${config.site.name} starts\n`);
  }
  return 0;
}

export async function revokeCommand(platform: Platform, options: { config: string; site: string }): Promise<number> {
  const config = await loadConfig(platform, options.config);
  const response = await adminRequest(platform, config.site.stateDir, config.site.name, options.config, "/v1/revoke", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ site: options.site }),
  });
  const answer = (await response.json()) as { closedLinks?: number; error?: string };
  if (!response.ok) throw new SkiffError(ErrorCode.Usage, answer.error ?? `HTTP ${response.status}`);
  platform.writeStdout(`site ${options.site} is revoked: its links are refused from now on (${answer.closedLinks} closed now)\n`);
  return 0;
}
