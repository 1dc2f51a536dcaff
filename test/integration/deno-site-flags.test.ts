// Deno sites take their flags on the command line (README, "Run a site"): the
// README, the example and the tests must give the same ones, and Deno must
// accept them. A flag Deno or V8 no longer knows makes `deno run` exit before
// the site starts.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DENO_SITE_FLAGS, DENO_V8_FLAGS, REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";
import { SKIFF_VERSION } from "../../src/site/site.ts";

const run = promisify(execFile);
/** The Deno binary that npm installed, without the site flags. */
const [deno] = runtimeCommand("deno") as [string, ...string[]];

/** V8's heap size limit in a Deno process started with `flags`; it includes the young generation's maximum. */
async function heapSizeLimit(flags: string[]): Promise<number> {
  const script = 'import v8 from "node:v8"; console.log(v8.getHeapStatistics().heap_size_limit)';
  const { stdout } = await run(deno, ["eval", ...flags, script], { cwd: REPO_ROOT });
  return Number(stdout.trim());
}

describe("Deno's site flags", () => {
  it("are the ones the README and the example start Deno sites with", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const example = readFileSync(path.join(REPO_ROOT, "scripts", "example.ts"), "utf8");
    expect(readme).toContain(`deno run -A ${DENO_SITE_FLAGS.join(" ")} bin/skiff.mjs run --config site.yaml`);
    expect(example).toContain(`"-A", ${DENO_SITE_FLAGS.map((flag) => `"${flag}"`).join(", ")}, path.join(root, "bin", "skiff.mjs")`);
  });

  it.skipIf(!RUNTIMES.includes("deno"))("start Skiff's command line on Deno", async () => {
    const [command, ...args] = runtimeCommand("deno");
    expect(args).toEqual(["run", "-A", ...DENO_SITE_FLAGS]);
    const { stdout } = await run(command!, [...args, "bin/skiff.mjs", "--version"], { cwd: REPO_ROOT });
    expect(stdout.trim()).toBe(SKIFF_VERSION);
  });

  it.skipIf(!RUNTIMES.includes("deno"))("shrink V8's young generation", async () => {
    const plain = await heapSizeLimit([]);
    const tuned = await heapSizeLimit([DENO_V8_FLAGS]);
    expect(Number.isFinite(plain) && Number.isFinite(tuned)).toBe(true);
    // Semispaces of 1 MiB instead of up to 32 (Deno 2.9): the limit drops by tens of MiB.
    expect(plain - tuned).toBeGreaterThan(32 * 1024 * 1024);
  });
});
