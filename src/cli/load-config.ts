// Reads and validates the configuration file named on the command line.

import { parseConfig, type SiteConfig } from "../config/load.ts";
import { errorMessage, ErrorCode, SkiffError } from "../errors.ts";
import type { Platform } from "../platform/types.ts";

export async function loadConfig(platform: Platform, file: string): Promise<SiteConfig> {
  let text: string;
  try {
    text = await platform.readTextFile(file);
  } catch (err) {
    throw new SkiffError(ErrorCode.Config, `cannot read configuration file ${file}: ${errorMessage(err)}`);
  }
  return parseConfig(file, text, { cwd: platform.resolvePath(".") });
}
