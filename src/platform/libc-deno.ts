// The few glibc functions a Deno site calls through FFI, for what Deno has no
// API for: giving freed memory back (memory-trim-deno.ts) and a socket option
// on the link sockets Deno's WebSocket client opens (nodelay-deno.ts).
//
// Only on Linux, and only with FFI permission (`deno run -A` or --allow-ffi);
// elsewhere libc() is undefined and the site runs without them.

const SYMBOLS = {
  malloc_trim: { parameters: ["usize"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

export interface Libc {
  malloc_trim(pad: number | bigint): number;
  getpeername(fd: number, address: Uint8Array, addressLength: Uint8Array): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, valueLength: number): number;
}

interface DenoFfi {
  build: { os: string };
  permissions: { querySync(descriptor: { name: "ffi" }): { state: string } };
  dlopen(path: string, symbols: typeof SYMBOLS): { symbols: Libc };
}

let loaded: Libc | null | undefined;

/** glibc's functions, loaded once; undefined where they cannot be. */
export function libc(): Libc | undefined {
  if (loaded === undefined) {
    const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
    try {
      // Asked first, so that a site without FFI permission is not prompted for it: these are optional.
      const permitted = deno.permissions.querySync({ name: "ffi" }).state === "granted";
      loaded = deno.build.os === "linux" && permitted ? deno.dlopen("libc.so.6", SYMBOLS).symbols : null;
    } catch {
      // No FFI permission, or a C library other than glibc (musl has no malloc_trim).
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
