// Node sites take a V8 flag from their command line or NODE_OPTIONS (README,
// "Run a site"): the README, the example, the tests and the benchmark must
// start Node sites with the same one, Node must take it from NODE_OPTIONS
// (it refuses most V8 flags there), and V8 must hold the young generation to it.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { NODE_SITE_FLAGS, REPO_ROOT } from "../helpers/runtimes.ts";

const run = promisify(execFile);

/** V8's young generation after enough short-lived garbage to grow it as far as it may, in MiB. */
async function grownYoungGeneration(options: { flags?: readonly string[]; nodeOptions?: string }): Promise<number> {
  const script = `
    const v8 = require("node:v8");
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i, list: [i] }); if (keep.length > 20000) keep = []; }
    const young = v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space");
    console.log(young.space_size / 1048576);`;
  const env = { ...process.env, NODE_OPTIONS: options.nodeOptions ?? "" };
  const { stdout } = await run(process.execPath, [...(options.flags ?? []), "-e", script], { cwd: REPO_ROOT, env });
  return Number(stdout.trim());
}

describe("Node's site flags", () => {
  it("are the ones the README and the example start Node sites with", () => {
    const readme = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const example = readFileSync(path.join(REPO_ROOT, "scripts", "example.ts"), "utf8");
    expect(readme).toContain(`NODE_OPTIONS=${NODE_SITE_FLAGS.join(" ")} npx skiff run --config site.yaml`);
    expect(example).toContain(`[process.execPath, ${NODE_SITE_FLAGS.map((flag) => `"${flag}"`).join(", ")}, path.join(root, "bin", "skiff.mjs")]`);
  });

  it("hold V8's young generation to two 2 MiB semispaces, on the command line and in NODE_OPTIONS", async () => {
    const unbounded = await grownYoungGeneration({});
    const onCommandLine = await grownYoungGeneration({ flags: NODE_SITE_FLAGS });
    const inNodeOptions = await grownYoungGeneration({ nodeOptions: NODE_SITE_FLAGS.join(" ") });
    expect(unbounded).toBeGreaterThan(8);
    expect(onCommandLine).toBeLessThanOrEqual(4);
    expect(inNodeOptions).toBe(onCommandLine);
  }, 30_000);
});
