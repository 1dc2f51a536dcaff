#!/usr/bin/env node
// Runs a TypeScript script on Node through tsx: node bin/run-ts.mjs scripts/x.ts [args]
import path from "node:path";
import { pathToFileURL } from "node:url";
const { register } = await import("tsx/esm/api");
register();
const [script, ...rest] = process.argv.slice(2);
if (!script) {
  process.stderr.write("usage: node bin/run-ts.mjs <script.ts> [args]\n");
  process.exit(2);
}
process.argv = [process.argv[0], path.resolve(script), ...rest];
await import(pathToFileURL(path.resolve(script)).href);
