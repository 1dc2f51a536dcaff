// How tests run Skiff's TypeScript on each runtime: the command per runtime and the
// runtimes under test (env SITE_RUNTIMES, default "node,deno,bun"). The test runner stays on Node.

import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { RuntimeName } from "../../src/platform/types.ts";
import { HEAP_GROWING_PERCENT } from "../../src/platform/v8-heap-node.ts";

export type { RuntimeName };

/** The repository root (where package.json and node_modules are). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const ALL: readonly RuntimeName[] = ["node", "deno", "bun"];

/**
 * The V8 flags the README gives for Deno sites: semispaces of 1 MiB, so the
 * buffers of each record die in a young generation that is collected often
 * and cheaply, and a heap growing factor of 4, as Node sites set for
 * themselves (docs/benchmarks.md, "Deno's V8 flags"). Deno reads V8 flags
 * only from its command line.
 */
export const DENO_V8_FLAGS = `--v8-flags=--max-semi-space-size=1,--heap-growing-percent=${HEAP_GROWING_PERCENT}`;

/**
 * Every flag the README gives a Deno site after `run -A`: the V8 flags, and
 * no V8 code cache. The cache makes a start about 50 ms quicker and keeps
 * 3-4 MiB more resident for as long as the site runs (docs/benchmarks.md).
 */
export const DENO_SITE_FLAGS: readonly string[] = ["--no-code-cache", DENO_V8_FLAGS];

/**
 * The flag the README gives Node sites (in `NODE_OPTIONS` for `npx skiff`):
 * semispaces of 2 MiB instead of V8's 16, so that a scavenge under short
 * connections stops a site for about 2 ms rather than 6-7 (docs/benchmarks.md,
 * "Node's young generation"). V8 reads it only when the process starts.
 */
export const NODE_SITE_FLAGS: readonly string[] = ["--max-semi-space-size=2"];

/**
 * The environment the README gives Bun sites. mimalloc, Bun's allocator, gives
 * pages that stay free for 100 ms back to the system, and a busy site faults
 * them in again: every record passes through new 64 KiB buffers. With a
 * second (upstream mimalloc's own default), two Bun hops carried 10-19 % more
 * and their relay took 45,000 page faults per GiB instead of 110,000
 * (docs/benchmarks.md). Bun reads it only when it starts.
 */
export const BUN_SITE_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: "1000" };

/** `env`, with BUN_SITE_ENV under it: a value `env` sets itself wins. */
export function withBunSiteEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...BUN_SITE_ENV, ...env };
}

function bin(name: string): string {
  return path.join(REPO_ROOT, "node_modules", ".bin", name);
}

/**
 * The argv prefix that runs a .ts file on `runtime`; append the script and its arguments.
 * - node: this Node with tsx (Node 20 has no type stripping).
 * - deno: the npm `deno` binary, all permissions, and the flags the README gives.
 * - bun: the npm `bun` binary.
 */
export function runtimeCommand(runtime: RuntimeName): string[] {
  switch (runtime) {
    case "node":
      return [process.execPath, "--import", "tsx"];
    case "deno":
      return [bin("deno"), "run", "-A", ...DENO_SITE_FLAGS];
    case "bun":
      return [bin("bun")];
  }
}

/** Parse a comma-separated runtime list; unknown names are an error, not silently skipped. */
export function parseRuntimes(list: string): RuntimeName[] {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(ALL as readonly string[]).includes(name)) {
      throw new Error(`SITE_RUNTIMES: unknown runtime "${name}" (expected some of ${ALL.join(", ")})`);
    }
  }
  return names as RuntimeName[];
}

/** The runtimes to test: env SITE_RUNTIMES (e.g. "deno,bun"), default all three. */
export const RUNTIMES: readonly RuntimeName[] = parseRuntimes(process.env.SITE_RUNTIMES ?? ALL.join(","));

/** Start `script` (a path relative to the repo root, or absolute) on `runtime`. cwd defaults to the repo root. */
export function spawnScript(
  runtime: RuntimeName,
  script: string,
  args: readonly string[] = [],
  options: SpawnOptions = {},
): ChildProcess {
  // On Node and Deno, Skiff itself starts as the README starts it: bin/skiff.mjs, which runs the bundle.
  const asSkiff = runtime !== "bun" && script === "src/cli.ts";
  // On Node with the flags the README gives.
  const [command, ...prefix] = asSkiff && runtime === "node" ? [process.execPath, ...NODE_SITE_FLAGS] : runtimeCommand(runtime);
  // On Bun, with the environment the README gives.
  const env = runtime === "bun" && script === "src/cli.ts" ? withBunSiteEnv(options.env ?? process.env) : options.env;
  return spawn(command, [...prefix, path.resolve(REPO_ROOT, asSkiff ? "bin/skiff.mjs" : script), ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    ...options,
    env,
  });
}

export interface ScriptResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `script` on `runtime` to the end; kill it (SIGKILL) after `timeoutMs`. */
export function runScript(
  runtime: RuntimeName,
  script: string,
  args: readonly string[] = [],
  options: SpawnOptions & { timeoutMs?: number } = {},
): Promise<ScriptResult> {
  const { timeoutMs = 30_000, ...spawnOptions } = options;
  const child = spawnScript(runtime, script, args, spawnOptions);
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Resolve with the first stdout line that matches `pattern` (e.g. /^listening (\d+)$/);
 * reject when the process exits first or after `timeoutMs`. Output is kept for error messages.
 */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    let output = "";
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onErr);
      child.off("exit", onExit);
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += chunk.toString();
      output += chunk.toString();
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        const match = line.match(pattern);
        if (match) {
          done();
          resolve(match);
          return;
        }
      }
    };
    const onErr = (chunk: Buffer | string): void => {
      output += chunk.toString();
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`process exited (${code}) before printing ${pattern}:\n${output}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onErr);
    child.on("exit", onExit);
  });
}

/**
 * Stop a child: SIGTERM, then SIGKILL if it is still running after `timeoutMs`.
 * Resolves with its exit code (null when killed by a signal). Safe on an exited child.
 */
export function stopProcess(child: ChildProcess, timeoutMs = 5000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill("SIGTERM");
  });
}
