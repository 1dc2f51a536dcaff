// Skiff's command line, the same file on every runtime:
//   node bin/skiff.mjs ... | deno run -A src/cli.ts ... | bun src/cli.ts ...

import { main } from "./cli/main.ts";

await main();
