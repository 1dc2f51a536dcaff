// Bun sites take an allocator setting from their environment (README, "Run a
// site"): the README must give the one the tests and the benchmark start Bun
// sites with, and Bun must read it. A name Bun no longer knows would be
// ignored without a word.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { BUN_SITE_ENV, REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";

const run = promisify(execFile);
const assignments = Object.entries(BUN_SITE_ENV).map(([name, value]) => `${name}=${value}`);

describe("Bun's site environment", () => {
  it("is the one the README starts Bun sites with", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    expect(readme).toContain(`${assignments.join(" ")} bun src/cli.ts run --config site.yaml`);
  });

  it.skipIf(!RUNTIMES.includes("bun"))("sets mimalloc's purge delay in Bun", async () => {
    const [bun] = runtimeCommand("bun") as [string];
    const { stderr, stdout } = await run(bun, ["-e", "0"], { cwd: REPO_ROOT, env: { ...process.env, ...BUN_SITE_ENV, MIMALLOC_VERBOSE: "1" } });
    expect(stderr + stdout).toMatch(new RegExp(`option 'purge_delay': ${BUN_SITE_ENV.MIMALLOC_PURGE_DELAY}\\b`));
  });
});
