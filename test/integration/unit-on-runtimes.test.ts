// The unit suites (codec, multiplexer, security, config, router, grants) run
// under Deno's and Bun's own engines too, not only under Node: WebCrypto,
// AES-GCM backends and byte handling differ between runtimes.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, RUNTIMES } from "../helpers/runtimes.ts";

const vitest = path.join(REPO_ROOT, "node_modules", "vitest", "vitest.mjs");
const commands: Record<string, string[]> = {
  // `--bun` makes Bun run vitest itself instead of handing it to Node.
  bun: [path.join(REPO_ROOT, "node_modules", ".bin", "bun"), "--bun", vitest],
  deno: [path.join(REPO_ROOT, "node_modules", ".bin", "deno"), "run", "-A", vitest],
};

describe.each(RUNTIMES.filter((r) => r !== "node"))("the unit suites on %s", (runtime) => {
  it("pass under that runtime's own engine", () => {
    const [command, ...args] = commands[runtime]!;
    const result = spawnSync(command!, [...args, "run", "test/unit"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      timeout: 180_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    expect(result.status, output).toBe(0);
    const summary = output.match(/Tests\s+(\d+) passed(?: \((\d+)\))?/);
    expect(summary, output).not.toBeNull();
    expect(Number(summary![1])).toBeGreaterThan(200);
    expect(output).not.toMatch(/\d+ failed/);
  }, 200_000);
});
