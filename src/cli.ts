// Skiff's command line, the same file on every runtime:
//   node bin/skiff.mjs ... | deno run -A --no-code-cache --v8-flags=--max-semi-space-size=1,--heap-growing-percent=300 bin/skiff.mjs ... | bun src/cli.ts ...
// (bin/skiff.mjs runs a bundle of this file and what it imports, or this file.)
//
// The runtime's platform is loaded first and handed to the commands, which
// load their own code only when they run.

import { loadPlatform } from "./platform/detect.ts";

const platform = await loadPlatform();
const { main } = await import("./cli/main.ts");
await main(platform);
