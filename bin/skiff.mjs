#!/usr/bin/env node
// Runs Skiff on Node and Deno from one bundle of its sources and the packages
// they use (bin/bundle.mjs), built at the first start after a change. Without
// a bundle: the TypeScript sources module by module, as Deno and Node 22.18
// and later run them, or through tsx on older Node.
import process from "node:process";
import { pathToFileURL } from "node:url";

const onDeno = "Deno" in globalThis;
const [major, minor] = process.versions.node.split(".").map(Number);
// Node refuses to strip types in files under node_modules (an installed copy of Skiff).
const runsTypeScript = onDeno || ((major > 22 || (major === 22 && minor >= 18)) && !import.meta.url.includes("/node_modules/"));

// Specifiers Deno cannot follow ahead of time: it would otherwise read and parse every
// TypeScript module of the sources at each start, bundle or not.
const TSX = "tsx/esm/api";

const { skiffBundle } = await import("./bundle.mjs");
const bundle = await skiffBundle().catch((error) => {
  const instead = runsTypeScript ? "the sources as they are, module by module (more memory)" : "the sources through tsx (about 45 MB more memory)";
  process.stderr.write(`skiff: running ${instead}: could not build a bundle of them: ${error?.message ?? error}\n`);
  return undefined;
});
if (bundle !== undefined) {
  await import(pathToFileURL(bundle).href);
} else {
  if (!runsTypeScript) (await import(TSX)).register();
  await import(new URL("../src/cli.ts", import.meta.url).href);
}
