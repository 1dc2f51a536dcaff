#!/usr/bin/env node
// Runs Skiff's TypeScript sources on Node: natively where Node strips types
// (22.18 and later), through tsx on older Node.
const [major, minor] = process.versions.node.split(".").map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);
// Node refuses to strip types in files under node_modules (an installed copy of Skiff).
const installed = import.meta.url.includes("/node_modules/");
if (!stripsTypes || installed) {
  const { register } = await import("tsx/esm/api");
  register();
}
await import("../src/cli.ts");
