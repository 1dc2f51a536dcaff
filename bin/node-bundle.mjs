// A bundle of Skiff's TypeScript sources for a Node that cannot strip types
// (before 22.18), built with esbuild once per version of the sources and kept
// under node_modules/.cache/skiff/.
//
// Why not tsx: its loader hooks run on a thread of their own with a V8 heap of
// its own, about 30 MB of RSS for as long as the site runs (docs/benchmarks.md);
// a bundle costs nothing once built. tsx stays the fallback.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = path.join(ROOT, "src");
const ENTRY = path.join(SOURCES, "cli.ts");
// Inside node_modules, so that the bundle's imports of packages resolve as the sources' do.
const CACHE = path.join(ROOT, "node_modules", ".cache", "skiff");
const DAY_MS = 24 * 60 * 60 * 1000;

/** Every source file's path, size and modification time: a new key whenever a source changes. */
function sourcesKey(esbuildVersion) {
  const hash = createHash("sha256").update(`esbuild ${esbuildVersion}\n`);
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else {
        const { size, mtimeMs } = statSync(file);
        hash.update(`${path.relative(SOURCES, file)} ${size} ${mtimeMs}\n`);
      }
    }
  };
  walk(SOURCES);
  return hash.digest("hex").slice(0, 16);
}

/**
 * The path of the bundled src/cli.ts, building it first if this version of
 * the sources has none yet. Throws when esbuild is missing or the cache
 * cannot be written (a read-only install); the caller falls back to tsx.
 */
export async function nodeBundle() {
  // The version from package.json: esbuild itself is loaded only to build.
  const key = sourcesKey(createRequire(import.meta.url)("esbuild/package.json").version);
  const dir = path.join(CACHE, key);
  const entry = path.join(dir, "cli.mjs");
  if (existsSync(entry)) return entry;

  // Build beside the final place and rename: sites started at the same moment
  // never import a half-written bundle.
  const building = `${dir}.${process.pid}.tmp`;
  mkdirSync(CACHE, { recursive: true });
  const esbuild = await import("esbuild");
  try {
    await esbuild.build({
      entryPoints: [ENTRY],
      bundle: true,
      // Keeps the sources' dynamic imports and their order: src/cli.ts loads the platform before the rest.
      splitting: true,
      platform: "node",
      format: "esm",
      target: "node20",
      packages: "external",
      outdir: building,
      outExtension: { ".js": ".mjs" },
      logLevel: "warning",
    });
    try {
      renameSync(building, dir);
    } catch (error) {
      if (!existsSync(entry)) throw error; // another site renamed its own build first
    }
  } finally {
    rmSync(building, { recursive: true, force: true });
    await esbuild.stop?.();
  }
  // Builds of older sources go once they are a day old: a site started from one may still be running.
  for (const old of readdirSync(CACHE)) {
    const oldDir = path.join(CACHE, old);
    if (old !== key && statSync(oldDir).mtimeMs < Date.now() - DAY_MS) rmSync(oldDir, { recursive: true, force: true });
  }
  return entry;
}
