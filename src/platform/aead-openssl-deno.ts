// The OpenSSL record cipher (aead-openssl.ts) bound by Deno's FFI. Loading
// needs FFI permission (`deno run -A` or --allow-ffi) and libcrypto 3; without
// either, aead.ts keeps the split cipher (aead-split.ts).

import { type LibCrypto, libCryptoSymbols, openLibCrypto, openSslAead } from "./aead-openssl.ts";
import type { RecordAead } from "./types.ts";

type DenoType = "pointer" | "buffer" | "i32" | "void";

interface DenoFfi {
  build: { os: string };
  dlopen(path: string, symbols: Record<string, { parameters: DenoType[]; result: DenoType }>): { symbols: unknown };
}

const SYMBOLS = libCryptoSymbols<DenoType, { parameters: DenoType[]; result: DenoType }>(
  { pointer: "pointer", buffer: "buffer", i32: "i32", void: "void" },
  (parameters, result) => ({ parameters, result }),
);

/** The OpenSSL record cipher, or an Error saying why it cannot load here. */
export function loadOpenSslAead(): RecordAead | Error {
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  return openSslAead(() =>
    openLibCrypto(
      deno.build.os,
      (name) => deno.dlopen(name, SYMBOLS).symbols as LibCrypto,
      // Without --allow-ffi every name fails the same way: say that once.
      (error) => (error.name === "NotCapable" || error.name === "PermissionDenied" ? new Error("FFI is not permitted") : undefined),
    ),
  );
}
