// Process access through Node's `process` object, for Node and Bun (Bun implements
// it natively). Deno uses Deno.* instead, in deno.ts.

import process from "node:process";
import { writeSync } from "node:fs";
import type { Platform, Signal } from "./types.ts";

type ProcessOps = Pick<Platform, "env" | "args" | "onSignal" | "exit" | "memoryRss" | "writeStdout" | "writeStderr">;

/**
 * Write all of `text` to fd 1 or 2 before returning, so a last line before
 * exit() is not lost. writeSync can throw EAGAIN when the fd is a non-blocking
 * pipe (https://github.com/nodejs/node/issues/11568); then fall back to the stream.
 */
function writeAll(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  try {
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EAGAIN") throw error;
    (fd === 1 ? process.stdout : process.stderr).write(bytes.subarray(offset));
  }
}

export const processOps: ProcessOps = {
  env: (name) => process.env[name],
  // `node --import tsx a.ts x` and `bun a.ts x` both give [runtime, script, x].
  args: () => process.argv.slice(2),
  onSignal(signal: Signal, handler: () => void): () => void {
    const listener = (): void => handler();
    process.on(signal, listener);
    return () => {
      process.off(signal, listener);
    };
  },
  exit: (code) => process.exit(code),
  memoryRss: () => process.memoryUsage.rss(),
  writeStdout: (text) => writeAll(1, text),
  writeStderr: (text) => writeAll(2, text),
};
