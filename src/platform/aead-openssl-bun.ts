// The OpenSSL record cipher (aead-openssl.ts) bound by Bun's FFI (bun:ffi,
// https://bun.sh/docs/api/ffi). A Uint8Array passed for a `ptr` parameter
// reaches C as the address of its first byte, its offset included. Without
// libcrypto 3, aead.ts keeps node:crypto.

import process from "node:process";
import { type LibCrypto, libCryptoSymbols, openLibCrypto, openSslAead } from "./aead-openssl.ts";
import type { RecordAead } from "./types.ts";

type BunType = "ptr" | "i32" | "void";

interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: BunType[]; returns: BunType }>): { symbols: unknown };
}

const SYMBOLS = libCryptoSymbols<BunType, { args: BunType[]; returns: BunType }>(
  { pointer: "ptr", buffer: "ptr", i32: "i32", void: "void" },
  (args, returns) => ({ args, returns }),
);

/** The OpenSSL record cipher, or an Error saying why it cannot load here. */
export async function loadOpenSslAead(): Promise<RecordAead | Error> {
  let ffi: BunFfi;
  try {
    // A specifier in a variable keeps bundlers and tsc from resolving a module only Bun has.
    const name = "bun:ffi";
    ffi = (await import(name)) as BunFfi;
  } catch (error) {
    return new Error(`bun:ffi is not available: ${(error as Error).message}`);
  }
  return openSslAead(() =>
    openLibCrypto(process.platform, (name) => ffi.dlopen(name, SYMBOLS).symbols as LibCrypto, () => undefined),
  );
}
