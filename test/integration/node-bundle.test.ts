// On Node, `skiff` runs one bundle of src/cli.ts and the packages it imports,
// built by esbuild and kept until a file that went into it changes: not the
// sources through tsx, whose loader thread costs a site about 30 MB, nor some
// hundreds of separate modules.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { nodeBundle } from "../../bin/node-bundle.mjs";
import { REPO_ROOT } from "../helpers/runtimes.ts";
import { siteYaml } from "../helpers/sites.ts";

const run = promisify(execFile);
const { version } = JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

describe("the Node bundle", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "skiff-bundle-"));
  // A cache of the tests' own for the rebuild below: other tests' sites use the default one meanwhile.
  const cache = mkdtempSync(path.join(REPO_ROOT, "node_modules", ".cache", "skiff-test-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  it("is built under node_modules/.cache/skiff and reused while its files stay the same", async () => {
    const entry = await nodeBundle();
    expect(entry.startsWith(path.join(REPO_ROOT, "node_modules", ".cache", "skiff"))).toBe(true);
    const builtAt = statSync(entry).mtimeMs;
    expect(await nodeBundle()).toBe(entry);
    expect(statSync(entry).mtimeMs).toBe(builtAt);
  });

  it("takes in the sources and the packages they import, and is built again when one of them changes", async () => {
    const entry = await nodeBundle({ cache });
    const manifestFile = path.join(cache, "bundle.json");
    const manifest = JSON.parse(readFileSync(manifestFile, "utf8")) as { dir: string; inputs: Record<string, string> };
    const inputs = Object.keys(manifest.inputs);
    expect(inputs).toContain("src/cli.ts");
    expect(inputs.some((file) => file.includes("node_modules/@peculiar/x509/"))).toBe(true);
    // As if src/cli.ts had been edited since the build.
    writeFileSync(manifestFile, JSON.stringify({ ...manifest, inputs: { ...manifest.inputs, "src/cli.ts": "0:0" } }));
    const rebuilt = await nodeBundle({ cache });
    expect(rebuilt).not.toBe(entry);
    expect(await nodeBundle({ cache })).toBe(rebuilt);
  });

  it("runs the command line as the sources do", async () => {
    const entry = await nodeBundle();
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
});
