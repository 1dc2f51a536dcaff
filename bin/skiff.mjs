#!/usr/bin/env node
// Runs Skiff's TypeScript sources on Node: natively where Node strips types
// (22.18 and later); elsewhere from a bundle of them built once with esbuild
// (bin/node-bundle.mjs), or through tsx when no bundle can be built.
import { pathToFileURL } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);
// Node refuses to strip types in files under node_modules (an installed copy of Skiff).
const installed = import.meta.url.includes("/node_modules/");
if (stripsTypes && !installed) {
  await import("../src/cli.ts");
} else {
  const { nodeBundle } = await import("./node-bundle.mjs");
  const bundle = await nodeBundle().catch((error) => {
    process.stderr.write(`skiff: running the sources through tsx (about 30 MB more memory): could not build a bundle of them: ${error?.message ?? error}\n`);
    return undefined;
  });
  if (bundle !== undefined) {
    await import(pathToFileURL(bundle).href);
  } else {
    const { register } = await import("tsx/esm/api");
    register();
    await import("../src/cli.ts");
  }
}
