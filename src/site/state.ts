// The site's state directory: owner-only files that outlive one run (keys,
// certificates) and the files that let local commands find the running site.

import type { Platform } from "../platform/types.ts";
import { randomToken } from "../core/bytes.ts";
import { ErrorCode, SkiffError } from "../errors.ts";

export interface AdminEndpoint {
  url: string;
  site: string;
  startedAt: string;
}

export class StateDir {
  readonly path: string;
  readonly #platform: Platform;

  constructor(platform: Platform, path: string) {
    this.#platform = platform;
    this.path = path;
  }

  file(name: string): string {
    return this.#platform.resolvePath(this.path, name);
  }

  /** Create the directory (mode 0700); refuse one that other users can read. */
  async prepare(): Promise<void> {
    await this.#platform.makePrivateDir(this.path);
    const mode = await this.#platform.fileMode(this.path);
    if (mode !== undefined && (mode & 0o077) !== 0) {
      throw new SkiffError(
        ErrorCode.Config,
        `state directory ${this.path} is open to other users (mode ${mode.toString(8)}); it holds keys and the admin secret. Run: chmod 700 ${this.path}`,
      );
    }
  }

  /**
   * A fresh admin secret for this run, readable by the owner only. Local
   * commands must present it, so another user on the host cannot ask the
   * site for its status or for tokens.
   */
  async newAdminSecret(): Promise<string> {
    const secret = randomToken(32);
    await this.#platform.writePrivateFile(this.file("admin-secret"), secret + "\n");
    return secret;
  }

  async writeAdminEndpoint(endpoint: AdminEndpoint): Promise<void> {
    await this.#platform.writePrivateFile(this.file("admin.json"), JSON.stringify(endpoint, null, 2) + "\n");
  }

  async clearAdminEndpoint(): Promise<void> {
    await this.#platform.removeFile(this.file("admin.json"));
    await this.#platform.removeFile(this.file("admin-secret"));
  }

  async readAdminEndpoint(): Promise<{ endpoint: AdminEndpoint; secret: string } | undefined> {
    const json = await this.#platform.readTextFileIfExists(this.file("admin.json"));
    if (json === undefined) return undefined;
    const secret = await this.#platform.readTextFileIfExists(this.file("admin-secret"));
    if (secret === undefined) return undefined;
    return { endpoint: JSON.parse(json) as AdminEndpoint, secret: secret.trim() };
  }
}
