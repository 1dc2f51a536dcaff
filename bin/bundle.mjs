// One file-set of Skiff for Node and Deno: src/cli.ts and the packages it
// imports, bundled by esbuild and kept under node_modules/.cache/skiff/ until
// one of the files that went into it changes.
//
// Why, on Node: Node before 22.18 cannot strip types, and tsx's loader hooks
// run on a thread with a V8 heap of its own, about 30 MB of RSS for as long as
// a site runs. Loading one bundle instead of some hundreds of modules saves
// another 13-19 MB on every Node.
// Why, on Deno: Deno holds each TypeScript module as the JavaScript it made of
// it, with an inline source map that carries the source once more (src/mux/mux.ts:
// 28 KB, 87 KB emitted). From the bundle an idle Deno site holds about 4 MiB
// less (docs/benchmarks.md).

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Inside node_modules, so that what stays outside the bundle resolves as it does for the sources.
const CACHE = path.join(ROOT, "node_modules", ".cache", "skiff");
const DAY_MS = 24 * 60 * 60 * 1000;
/** Native addons, which esbuild cannot bundle; ws loads them if they are there. */
const EXTERNAL = ["bufferutil", "utf-8-validate"];

/** What a file looks like now, to tell whether it changed since a build. */
function fingerprint(file) {
  try {
    const { size, mtimeMs } = statSync(file);
    return `${size}:${mtimeMs}`;
  } catch {
    return "missing";
  }
}

/** The last build, if no file that went into it has changed since. */
function currentBuild(cache) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(cache, "bundle.json"), "utf8"));
  } catch {
    return undefined;
  }
  const entry = path.join(cache, manifest.dir, "cli.mjs");
  if (!existsSync(entry)) return undefined;
  for (const [file, seen] of Object.entries(manifest.inputs)) {
    if (fingerprint(path.join(ROOT, file)) !== seen) return undefined;
  }
  return entry;
}

/**
 * The path of the bundled src/cli.ts, built first when there is none or a
 * file that went into it has changed. Throws when esbuild is missing or the
 * cache cannot be written (a read-only install); the caller falls back.
 * `cache` is for tests, which must not disturb the sites of other tests.
 */
export async function skiffBundle({ cache = CACHE } = {}) {
  const current = currentBuild(cache);
  if (current !== undefined) return current;

  const esbuild = await import("esbuild");
  // A directory per build: a site started from an older one keeps its files.
  const dir = `build-${Date.now()}-${randomBytes(4).toString("hex")}`;
  mkdirSync(cache, { recursive: true });
  let result;
  try {
    result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: ["src/cli.ts"],
      bundle: true,
      // Keeps the sources' dynamic imports and their order: src/cli.ts loads the platform before the rest.
      splitting: true,
      platform: "node",
      format: "esm",
      external: EXTERNAL,
      // Bundled CommonJS packages call require().
      banner: { js: 'import { createRequire as __skiffRequire } from "node:module"; const require = __skiffRequire(import.meta.url);' },
      outdir: path.join(cache, dir),
      outExtension: { ".js": ".mjs" },
      metafile: true,
      logLevel: "warning",
    });
  } finally {
    await esbuild.stop?.();
  }
  // This file too: how the bundle is built is part of what it is.
  const files = [...Object.keys(result.metafile.inputs), path.relative(ROOT, fileURLToPath(import.meta.url))];
  const inputs = Object.fromEntries(files.map((file) => [file, fingerprint(path.join(ROOT, file))]));
  // Written whole and renamed: a site starting now reads the old manifest or the new one.
  const manifest = path.join(cache, "bundle.json");
  const written = `${manifest}.${randomBytes(4).toString("hex")}.tmp`;
  writeFileSync(written, JSON.stringify({ dir, inputs }));
  renameSync(written, manifest);
  removeOldBuilds(cache, dir);
  return path.join(cache, dir, "cli.mjs");
}

/** Builds other than `keep` go once they are a day old: a site started from one may still be running. */
function removeOldBuilds(cache, keep) {
  for (const name of readdirSync(cache)) {
    const file = path.join(cache, name);
    if (name === keep || name === "bundle.json") continue;
    if (statSync(file).mtimeMs < Date.now() - DAY_MS) rmSync(file, { recursive: true, force: true });
  }
}
