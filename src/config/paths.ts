// POSIX path helpers for the configuration loader, written without node:path so
// src/config stays runtime-neutral. Paths in a config file are relative to the file.

/** Removes `.` and `..` segments and doubled slashes. Keeps a leading `/`; `..` above the root stays at the root. */
export function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!absolute) out.push("..");
      continue;
    }
    out.push(segment);
  }
  const joined = out.join("/");
  if (absolute) return "/" + joined;
  return joined === "" ? "." : joined;
}

/** The directory part of `file`: `/etc/skiff` for `/etc/skiff/site.yaml`, `.` for `site.yaml`. */
export function dirName(file: string): string {
  const cut = file.lastIndexOf("/");
  if (cut < 0) return ".";
  if (cut === 0) return "/";
  return normalizePath(file.slice(0, cut));
}

/** `p` if it is absolute, else `p` taken relative to `baseDir`; the result is normalized. */
export function resolvePath(baseDir: string, p: string): string {
  if (p.startsWith("/")) return normalizePath(p);
  return normalizePath(`${baseDir}/${p}`);
}
