/**
 * The path of the bundled src/cli.ts that `skiff` runs on Node and Deno, built first when a file that went into it
 * changed. `cache` (default node_modules/.cache/skiff) is for tests.
 */
export function skiffBundle(options?: { cache?: string }): Promise<string>;
