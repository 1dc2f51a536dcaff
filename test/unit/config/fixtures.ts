// Reads configuration fixtures and turns a ConfigError into the lines a person sees.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../../src/config/load.ts";
import { ConfigError, formatConfigIssue } from "../../../src/errors.ts";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/config/", import.meta.url));

export function fixture(name: string): string {
  return readFileSync(FIXTURES + name, "utf8");
}

/** The formatted issues parseConfig reports for `text`; fails the test when it accepts it. */
export function problems(file: string, text: string): string[] {
  try {
    parseConfig(file, text);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatConfigIssue);
    throw error;
  }
  throw new Error(`${file} was accepted`);
}

/** problems() of the fixture `bad/<name>`, reported under the file name `name`. */
export function badFixture(name: string): string[] {
  return problems(name, fixture(`bad/${name}`));
}
