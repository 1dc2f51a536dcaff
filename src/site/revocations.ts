// Sites this accepting site no longer lets link, by name: their certificates
// are refused in the handshake even while still valid.

import type { Platform } from "../platform/types.ts";
import type { StateDir } from "./state.ts";

export class Revocations {
  readonly #platform: Platform;
  readonly #file: string;
  #revoked: Record<string, string> = {};

  private constructor(platform: Platform, file: string) {
    this.#platform = platform;
    this.#file = file;
  }

  static async load(platform: Platform, state: StateDir): Promise<Revocations> {
    const revocations = new Revocations(platform, state.file("revoked.json"));
    const text = await platform.readTextFileIfExists(revocations.#file);
    if (text !== undefined) revocations.#revoked = JSON.parse(text) as Record<string, string>;
    return revocations;
  }

  /** When `site` was revoked, or undefined if it was not. */
  revokedAt(site: string): string | undefined {
    return Object.hasOwn(this.#revoked, site) ? this.#revoked[site] : undefined;
  }

  async revoke(site: string): Promise<void> {
    this.#revoked = { ...this.#revoked, [site]: this.#revoked[site] ?? new Date().toISOString() };
    await this.#platform.writePrivateFile(this.#file, JSON.stringify(this.#revoked, null, 2) + "\n");
  }
}
