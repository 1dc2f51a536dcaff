/** The path of the bundled src/cli.ts for Node before 22.18, built first when the sources changed. */
export function nodeBundle(): Promise<string>;
