// `skiff` on a Node that cannot strip types (before 22.18) runs a bundle of
// the sources that esbuild builds once per version of them, not the sources
// through tsx, whose loader thread costs a site about 30 MB.

import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { nodeBundle } from "../../bin/node-bundle.mjs";
import { REPO_ROOT } from "../helpers/runtimes.ts";
import { siteYaml } from "../helpers/sites.ts";

const run = promisify(execFile);
const version = (JSON.parse((await import("node:fs")).readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { version: string }).version;

describe("the Node bundle", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "skiff-bundle-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("is built under node_modules/.cache/skiff and reused while the sources stay the same", async () => {
    const entry = await nodeBundle();
    expect(entry.startsWith(path.join(REPO_ROOT, "node_modules", ".cache", "skiff"))).toBe(true);
    const builtAt = statSync(entry).mtimeMs;
    expect(await nodeBundle()).toBe(entry);
    expect(statSync(entry).mtimeMs).toBe(builtAt);
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

  it("is what bin/skiff.mjs runs on this Node, without a word about tsx", async () => {
    const { stdout, stderr } = await run(process.execPath, [path.join(REPO_ROOT, "bin", "skiff.mjs"), "--version"]);
    expect(stdout.trim()).toBe(version);
    expect(stderr).toBe("");
    expect(existsSync(await nodeBundle())).toBe(true);
  });
});
