// Skiff's command line, the same file on every runtime:
//   node bin/skiff.mjs ... | deno run -A src/cli.ts ... | bun src/cli.ts ...
//
// The runtime's platform is loaded before the rest of Skiff, so that it can
// set up the runtime (on Node, the heap's young generation) before the bulk of
// the code and its packages are loaded.

import { loadPlatform } from "./platform/detect.ts";

const platform = await loadPlatform();
const { main } = await import("./cli/main.ts");
await main(platform);
