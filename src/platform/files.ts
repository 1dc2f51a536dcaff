// Files and paths through node:fs/promises and node:path, which Node, Deno and Bun
// all implement the same way; every platform uses these.

import { chmod, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname as pathDirname, basename, join, resolve } from "node:path";
import type { Platform } from "./types.ts";

type FileOps = Pick<
  Platform,
  | "readTextFile"
  | "readTextFileIfExists"
  | "writePrivateFile"
  | "makePrivateDir"
  | "removeFile"
  | "fileMode"
  | "resolvePath"
  | "dirname"
>;

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "ENOENT";
}

export async function readTextFile(path: string): Promise<string> {
  return await readFile(path, "utf8");
}

export async function readTextFileIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Atomic private write: a temp file in the same directory (so rename stays on
 * one file system), created 0600 and synced, then renamed over the target. The
 * final chmod covers a target that a concurrent writer created with a looser mode.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  const random = Math.random().toString(36).slice(2, 10);
  const temp = join(pathDirname(path), `.${basename(path)}.${random}.tmp`);
  const handle = await open(temp, "wx", 0o600);
  try {
    try {
      await handle.writeFile(text, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await chmod(path, 0o600);
}

/**
 * mkdir -p with mode 0700. Only a directory this call created is chmod-ed
 * (umask may have narrowed the mode); an existing one, say /tmp, is left alone.
 */
export async function makePrivateDir(path: string): Promise<void> {
  const first = await mkdir(path, { recursive: true, mode: 0o700 });
  if (first !== undefined) await chmod(path, 0o700);
}

/** Remove a file; a file that is already gone is not an error. */
export async function removeFile(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export async function fileMode(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mode & 0o7777;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function resolvePath(...segments: string[]): string {
  return resolve(...segments);
}

export function dirname(path: string): string {
  return pathDirname(path);
}

/** The file part of a Platform, ready to spread into one. */
export const fileOps: FileOps = {
  readTextFile,
  readTextFileIfExists,
  writePrivateFile,
  makePrivateDir,
  removeFile,
  fileMode,
  resolvePath,
  dirname,
};
