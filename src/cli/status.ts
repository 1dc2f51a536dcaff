// `skiff status`: ask the running site's admin endpoint and print what it says.

import { errorMessage, ErrorCode, SkiffError } from "../errors.ts";
import type { Platform } from "../platform/types.ts";
import { StateDir } from "../site/state.ts";
import type { SiteStatus } from "../site/status.ts";
import { formatStatus } from "./format-status.ts";
import { loadConfig } from "./load-config.ts";

export interface StatusOptions {
  config: string;
  output: "text" | "json";
}

export async function statusCommand(platform: Platform, options: StatusOptions): Promise<number> {
  const config = await loadConfig(platform, options.config);
  const status = await fetchStatus(platform, config.site.stateDir, config.site.name, options.config);
  platform.writeStdout(options.output === "json" ? JSON.stringify(status, null, 2) + "\n" : formatStatus(status, new Date()));
  return 0;
}

export async function adminRequest(platform: Platform, stateDir: string, siteName: string, configFile: string, path: string, init: RequestInit = {}): Promise<Response> {
  const state = new StateDir(platform, stateDir);
  let found: Awaited<ReturnType<StateDir["readAdminEndpoint"]>>;
  try {
    found = await state.readAdminEndpoint();
  } catch (err) {
    throw new SkiffError(
      ErrorCode.Admin,
      `cannot read the admin secret of site ${siteName} in ${stateDir}: ${errorMessage(err)}. Run this command as the user that runs the site.`,
    );
  }
  const notRunning = `site ${siteName} is not running (no admin endpoint recorded in ${stateDir}). Start it with: skiff run --config ${configFile}`;
  if (found === undefined) throw new SkiffError(ErrorCode.Admin, notRunning);
  let response: Response;
  try {
    response = await fetch(found.endpoint.url + path, {
      ...init,
      headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${found.secret}` },
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    throw new SkiffError(ErrorCode.Admin, `site ${siteName} is not running (nothing answers at ${found.endpoint.url}). Start it with: skiff run --config ${configFile}`);
  }
  if (response.status === 401) {
    throw new SkiffError(ErrorCode.Admin, `the site at ${found.endpoint.url} refused the admin secret from ${stateDir}; is another site using the same state directory?`);
  }
  return response;
}

async function fetchStatus(platform: Platform, stateDir: string, siteName: string, configFile: string): Promise<SiteStatus> {
  const response = await adminRequest(platform, stateDir, siteName, configFile, "/v1/status");
  if (!response.ok) throw new SkiffError(ErrorCode.Admin, `site ${siteName} answered status with HTTP ${response.status}: ${await response.text()}`);
  return (await response.json()) as SiteStatus;
}
