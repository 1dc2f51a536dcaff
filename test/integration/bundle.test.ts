// On Node and Deno, bin/skiff.mjs runs one bundle of src/cli.ts and the
// packages it imports, built by esbuild and kept until a file that went into it
// changes: not the sources through tsx, whose loader thread costs a Node site
// about 30 MB, nor some hundreds of separate modules, which Deno holds with a
// source map each.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { skiffBundle } from "../../bin/bundle.mjs";
import { REPO_ROOT, RUNTIMES, runtimeCommand } from "../helpers/runtimes.ts";
import { siteYaml } from "../helpers/sites.ts";

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

describe("the bundle", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "skiff-bundle-"));
  // A cache of the tests' own for the rebuild below: other tests' sites use the default one meanwhile.
  const cache = mkdtempSync(path.join(REPO_ROOT, "node_modules", ".cache", "skiff-test-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it("is built under node_modules/.cache/skiff and reused while its files stay the same", async () => {
    const entry = await skiffBundle();
    expect(entry.startsWith(path.join(REPO_ROOT, "node_modules", ".cache", "skiff"))).toBe(true);
    const builtAt = statSync(entry).mtimeMs;
    expect(await skiffBundle()).toBe(entry);
    expect(statSync(entry).mtimeMs).toBe(builtAt);
  });

  it("takes in the sources and the packages they import, and is built again when one of them changes", async () => {
    const entry = await skiffBundle({ cache });
    const manifestFile = path.join(cache, "bundle.json");
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { dir: string; inputs: Record<string, string> };
    const inputs = Object.keys(manifest.inputs);
    expect(inputs).toContain("src/cli.ts");
    expect(inputs.some((file) => file.includes("node_modules/@peculiar/x509/"))).toBe(true);
    // As if src/cli.ts had been edited since the build.
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, inputs: { ...manifest.inputs, "src/cli.ts": "0:0" } }));
    const rebuilt = await skiffBundle({ cache });
    expect(rebuilt).not.toBe(entry);
    expect(await skiffBundle({ cache })).toBe(rebuilt);
  });

  it("runs the command line as the sources do", async () => {
    const entry = await skiffBundle();
    const { stdout } = await run(process.execPath, [entry, "--version"]);
    expect(stdout.trim()).toBe(version);
    const file = path.join(dir, "ok.yaml");
    writeFileSync(file, siteYaml({ name: "bundled", runtime: "node", listeners: [{ name: "web", routingKey: "web" }] }));
    const check = await run(process.execPath, [entry, "check", "--config", file]);
    expect(check.stdout).toMatch(/bundled/);
  });

  it("is what bin/skiff.mjs runs, without a word about tsx", async () => {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO_ROOT, "bin", "skiff.mjs"), "--version"]);
    expect(stdout.trim()).toBe(version);
    expect(stderr).toBe("");
  });

  describe.skipIf(!RUNTIMES.includes("deno"))("on Deno", () => {
    const [deno, ...denoRun] = runtimeCommand("deno") as [string, ...string[]];
    const launcher = path.join(REPO_ROOT, "bin", "skiff.mjs");

    it("is what bin/skiff.mjs runs, without a word about the sources", async () => {
      await skiffBundle();
      const { stdout, stderr } = await run(deno, [...denoRun, launcher, "--version"]);
      expect(stdout.trim()).toBe(version);
      expect(stderr).toBe("");
    });

    it("starts without Deno reading the TypeScript sources ahead of time", async () => {
      // Deno follows import() of a fixed string before the program runs and keeps what it parsed.
      const { stdout } = await run(deno, ["info", "--json", launcher], { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 });
      const modules = (JSON.parse(stdout) as { modules: { specifier: string }[] }).modules.map((m) => m.specifier);
      expect(modules).toContain(`${pathToFileURL(launcher).href}`);
      expect(modules.filter((specifier) => specifier.includes("/src/"))).toEqual([]);
    });

    it("runs the sources module by module, and says why, when it can neither read nor build a bundle", async () => {
      await skiffBundle();
      const cache = path.join(REPO_ROOT, "node_modules", ".cache", "skiff");
      const { stdout, stderr } = await run(deno, ["run", "--allow-read", `--deny-read=${cache}`, "--allow-env", launcher, "--version"]);
      expect(stdout.trim()).toBe(version);
      expect(stderr).toMatch(/^skiff: running the sources as they are, module by module \(more memory\): could not build a bundle of them: .*--allow-write/);
    });
  });
});
