// Process access through Node's `process` object, for Node and Bun (Bun implements
// it natively). Deno uses Deno.* instead, in deno.ts.

import process from "node:process";
import { writeSync } from "node:fs";
import type { Platform, Signal } from "./types.ts";

type ProcessOps = Pick<Platform, "env" | "args" | "onSignal" | "exit" | "memoryRss" | "writeStdout" | "writeStderr">;

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Write all of `text` to fd 1 or 2 before returning, so a last line before
 * exit() is not lost. process.stdout.write is asynchronous when the fd is a pipe
 * that libuv made non-blocking (https://nodejs.org/api/process.html#a-note-on-process-io);
 * writeSync then throws EAGAIN while the pipe is full, so wait 1 ms and retry.
 */
function writeAll(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as { code?: unknown }).code !== "EAGAIN") throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
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
