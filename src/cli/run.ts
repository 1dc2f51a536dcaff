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
  const site = await Site.start({ platform, config, logger });
  const log = site.logger;
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        // A second signal means "now": skip the graceful close.
        log.warn("site.killed", `${signal} again: exiting without a clean shutdown`);
        platform.exit(130);
      }
      stopping = true;
      log.info("site.signal", `${signal} received, shutting down`);
      void site.stop().then(() => resolve(0));
    };
    platform.onSignal("SIGINT", () => stop("SIGINT"));
    platform.onSignal("SIGTERM", () => stop("SIGTERM"));
  });
}
