// Bun sites give memory back through Bun.shrink() once they are quiet
// (src/platform/shrink-when-quiet.ts). bun.ts leaves it out where Bun lacks
// it, so a Bun without it would quietly keep more: this catches that here.

import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";

describe.skipIf(!RUNTIMES.includes("bun"))("Bun.shrink on the Bun that npm installed", () => {
  it("exists and runs", () => {
    const [bun] = runtimeCommand("bun") as [string];
    const script = "const before = typeof Bun.shrink; Bun.shrink(); console.log(before);";
    const result = spawnSync(bun, ["-e", script], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("function");
  });
});
