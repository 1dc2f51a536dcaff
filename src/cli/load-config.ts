// Reads and validates the configuration file named on the command line.

import { parseConfig, type SiteConfig } from "../config/load.ts";
import { errorMessage, ErrorCode, SkiffError } from "../errors.ts";
import type { Platform } from "../platform/types.ts";

export async function loadConfig(platform: Platform, file: string): Promise<SiteConfig> {
  let text: string;
  try {
    text = await platform.readTextFile(file);
  } catch (err) {
    const missing = (err as { code?: string }).code === "ENOENT";
    const why = missing ? "no such file" : errorMessage(err);
    throw new SkiffError(ErrorCode.Config, `cannot read configuration file ${file}: ${why}`);
  }
  return parseConfig(file, text, { cwd: platform.resolvePath(".") });
}
