#!/usr/bin/env node
// `npm start`: runs the built-in two-site example (scripts/example.ts) on Node.
const { register } = await import("tsx/esm/api");
register();
await import("../scripts/example.ts");
