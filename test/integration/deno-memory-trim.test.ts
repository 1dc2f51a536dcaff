// On Deno, glibc's malloc_trim loads through FFI where the site may use FFI,
// and a site without that permission runs on without it.

import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";

/** The Deno binary that npm installed, without the site flags. */
const [deno] = runtimeCommand("deno") as [string, ...string[]];
const module = path.join(REPO_ROOT, "src", "platform", "memory-trim-deno.ts");

/** What loadMallocTrim() gives in `deno run` with `permissions`: "function" (after calling it once) or "undefined". */
function loadedWith(permissions: string[]): string {
  const script = `const { loadMallocTrim } = await import(${JSON.stringify("file://" + module)});
const trim = loadMallocTrim();
trim?.();
console.log(typeof trim);`;
  const result = spawnSync(deno, ["run", "--no-prompt", "--allow-read", ...permissions, "-"], { cwd: REPO_ROOT, input: script, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`deno run failed: ${result.stderr}`);
  return result.stdout.trim();
}

describe.skipIf(!RUNTIMES.includes("deno") || process.platform !== "linux")("malloc_trim on Deno", () => {
  it("loads and runs with FFI permission", () => {
    expect(loadedWith(["--allow-ffi"])).toBe("function");
  });

  it("is left out without FFI permission", () => {
    expect(loadedWith([])).toBe("undefined");
  });
});
