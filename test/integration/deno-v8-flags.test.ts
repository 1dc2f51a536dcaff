// Deno sites take V8 flags on their command line (README, "Run a site"): the
// README, the example and the tests must give the same ones, and Deno must
// accept them. A flag V8 no longer knows makes `deno run` exit before the site starts.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DENO_V8_FLAGS, REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";

const run = promisify(execFile);
/** The Deno binary that npm installed, without the site flags. */
const [deno] = runtimeCommand("deno") as [string, ...string[]];

/** V8's heap size limit in a Deno process started with `flags`; it includes the young generation's maximum. */
async function heapSizeLimit(flags: string[]): Promise<number> {
  const script = 'import v8 from "node:v8"; console.log(v8.getHeapStatistics().heap_size_limit)';
  const { stdout } = await run(deno, ["eval", ...flags, script], { cwd: REPO_ROOT });
  return Number(stdout.trim());
}

describe("Deno's V8 flags", () => {
  it("are the ones the README and the example start Deno sites with", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const example = readFileSync(path.join(REPO_ROOT, "scripts", "example.ts"), "utf8");
    expect(readme).toContain(`deno run -A ${DENO_V8_FLAGS} src/cli.ts run --config site.yaml`);
    expect(example).toContain(`"${DENO_V8_FLAGS}"`);
  });

  it.skipIf(!RUNTIMES.includes("deno"))("are accepted by Deno and shrink the young generation", async () => {
    const plain = await heapSizeLimit([]);
    const tuned = await heapSizeLimit([DENO_V8_FLAGS]);
    expect(Number.isFinite(plain) && Number.isFinite(tuned)).toBe(true);
    // Semispaces of 1 MiB instead of up to 32 (Deno 2.9): the limit drops by tens of MiB.
    expect(plain - tuned).toBeGreaterThan(32 * 1024 * 1024);
  });
});
