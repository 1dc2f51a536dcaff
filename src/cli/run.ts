// `skiff run`: start a site and keep it running until SIGINT or SIGTERM.

import { Logger, type LogFormat, type LogLevel } from "../core/logger.ts";
import type { Platform } from "../platform/types.ts";
import { Site } from "../site/site.ts";
import { loadConfig } from "./load-config.ts";

export interface RunOptions {
  config: string;
  logFormat: LogFormat;
  logLevel: LogLevel;
}

export async function runCommand(platform: Platform, options: RunOptions): Promise<number> {
  const config = await loadConfig(platform, options.config);
  const logger = new Logger({ format: options.logFormat, level: options.logLevel, write: (line) => platform.writeStdout(line) });
  const log = logger.with({ site: config.site.name });
  // Signals are handled from before the site starts: one that comes while it
  // starts (say, right after "site started" is logged) stops it once it has,
  // where the runtime's default would kill it half-way.
  let signalled: string | undefined;
  let stopStarted: ((signal: string) => void) | undefined;
  const onSignal = (signal: string) => {
    if (signalled !== undefined) {
      // A second signal means "now": skip the graceful close.
      log.warn("site.killed", `${signal} again: exiting without a clean shutdown`);
      platform.exit(130);
    }
    signalled = signal;
    stopStarted?.(signal);
  };
  const removeHandlers = [platform.onSignal("SIGINT", () => onSignal("SIGINT")), platform.onSignal("SIGTERM", () => onSignal("SIGTERM"))];
  let site: Site;
  try {
    site = await Site.start({ platform, config, logger });
  } catch (error) {
    for (const remove of removeHandlers) remove();
    throw error;
  }
  return await new Promise<number>((resolve) => {
    stopStarted = (signal) => {
      log.info("site.signal", `${signal} received, shutting down`);
      void site.stop().then(() => resolve(0));
    };
    if (signalled !== undefined) stopStarted(signalled);
  });
}
