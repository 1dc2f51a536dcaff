#!/usr/bin/env node
// Runs Skiff on Node from one bundle of its sources and the packages they use
// (bin/node-bundle.mjs), built at the first start after a change. Without a
// bundle: the TypeScript sources as they are where Node strips types (22.18
// and later), or through tsx.
import { pathToFileURL } from "node:url";

const [major, minor] = process.versions.node.split(".").map(Number);
// Node refuses to strip types in files under node_modules (an installed copy of Skiff).
const stripsTypes = (major > 22 || (major === 22 && minor >= 18)) && !import.meta.url.includes("/node_modules/");

const { nodeBundle } = await import("./node-bundle.mjs");
const bundle = await nodeBundle().catch((error) => {
  const instead = stripsTypes ? "the sources as they are, module by module (more memory)" : "the sources through tsx (about 45 MB more memory)";
  process.stderr.write(`skiff: running ${instead}: could not build a bundle of them: ${error?.message ?? error}\n`);
  return undefined;
});
if (bundle !== undefined) {
  await import(pathToFileURL(bundle).href);
} else {
  if (!stripsTypes) (await import("tsx/esm/api")).register();
  await import("../src/cli.ts");
}
