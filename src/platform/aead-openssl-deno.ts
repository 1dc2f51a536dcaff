// AES-256-GCM for link records on Deno through the system's OpenSSL
// (libcrypto 3), called over Deno's FFI, synchronously and without copies.
//
// Deno's own ciphers are slow for records: WebCrypto runs every call on a
// worker thread and answers with a promise (155 us per 64 KiB record), and
// its node:crypto AES-GCM takes 363 us. libcrypto seals the same record in
// 15 us (docs/benchmarks.md). The bytes on the wire do not change: it is the
// same AES-256-GCM, checked against the Wycheproof vectors in the platform
// contract (test/platform/contract.ts).
//
// Loading needs FFI permission (`deno run -A` or --allow-ffi) and libcrypto 3;
// without either, aead.ts keeps the split cipher (aead-split.ts).

import type { AeadKey, RecordAead } from "./types.ts";
import { recycleSealedRecord, sealedRecordBuffer } from "./sealed-records.ts";

const TAG_BYTES = 16;
const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;

/** libcrypto 3's file names per operating system, for the system's loader. */
const LIBRARY_NAMES: Record<string, string[]> = {
  linux: ["libcrypto.so.3"],
  darwin: ["libcrypto.3.dylib", "/opt/homebrew/lib/libcrypto.3.dylib", "/usr/local/lib/libcrypto.3.dylib"],
  windows: ["libcrypto-3-x64.dll"],
};

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_CIPHER_CTX_free: { parameters: ["pointer"], result: "void" },
  EVP_aes_256_gcm: { parameters: [], result: "pointer" },
  EVP_CipherInit_ex: { parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_CipherUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  EVP_CipherFinal_ex: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  EVP_CIPHER_CTX_ctrl: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
} as const;

/** An opaque C pointer (Deno's PointerObject); null is the C null pointer. */
type Pointer = object | null;

interface LibCrypto {
  EVP_CIPHER_CTX_new(): Pointer;
  EVP_CIPHER_CTX_free(ctx: Pointer): void;
  EVP_aes_256_gcm(): Pointer;
  EVP_CipherInit_ex(ctx: Pointer, cipher: Pointer, engine: Pointer, key: Uint8Array | null, iv: Uint8Array | null, enc: number): number;
  EVP_CipherUpdate(ctx: Pointer, out: Uint8Array | null, outLength: Uint8Array, input: Uint8Array, inputLength: number): number;
  EVP_CipherFinal_ex(ctx: Pointer, out: Uint8Array, outLength: Uint8Array): number;
  EVP_CIPHER_CTX_ctrl(ctx: Pointer, type: number, arg: number, ptr: Uint8Array): number;
}

interface DenoFfi {
  build: { os: string };
  dlopen(path: string, symbols: typeof SYMBOLS): { symbols: LibCrypto };
}

/** Cipher contexts hold the expanded key; OpenSSL wipes it when a context is freed. */
let freeContexts: FinalizationRegistry<Pointer> | undefined;

class OpenSslKey implements AeadKey {
  readonly synchronousUpTo = Infinity;
  readonly #lib: LibCrypto;
  readonly #seal: Pointer;
  readonly #open: Pointer;
  /** Output length that libcrypto writes back; not read, GCM's lengths are known. */
  readonly #length = new Uint8Array(4);

  constructor(lib: LibCrypto, raw: Uint8Array) {
    this.#lib = lib;
    this.#seal = this.#context(raw, 1);
    this.#open = this.#context(raw, 0);
  }

  #context(raw: Uint8Array, encrypt: 0 | 1): Pointer {
    const lib = this.#lib;
    const ctx = lib.EVP_CIPHER_CTX_new();
    if (ctx === null) throw new Error("libcrypto could not allocate a cipher context");
    freeContexts ??= new FinalizationRegistry((c) => lib.EVP_CIPHER_CTX_free(c));
    freeContexts.register(this, ctx);
    if (lib.EVP_CipherInit_ex(ctx, lib.EVP_aes_256_gcm(), null, raw, null, encrypt) !== 1) {
      throw new Error("libcrypto refused the AES-256-GCM key");
    }
    return ctx;
  }

  seal(nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, prefix: number): Uint8Array {
    const lib = this.#lib;
    const ctx = this.#seal;
    const out = sealedRecordBuffer(prefix, plaintext.byteLength + TAG_BYTES, (bytes) => new Uint8Array(bytes));
    const body = out.subarray(prefix);
    // The key stays in the context; each record sets only its nonce.
    let ok = lib.EVP_CipherInit_ex(ctx, null, null, null, nonce, 1) === 1;
    if (ok && aad.byteLength > 0) ok = lib.EVP_CipherUpdate(ctx, null, this.#length, aad, aad.byteLength) === 1;
    if (ok && plaintext.byteLength > 0) ok = lib.EVP_CipherUpdate(ctx, body, this.#length, plaintext, plaintext.byteLength) === 1;
    // GCM's final step writes no bytes; it completes the tag.
    if (ok) ok = lib.EVP_CipherFinal_ex(ctx, body, this.#length) === 1;
    if (ok) ok = lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, body.subarray(plaintext.byteLength)) === 1;
    if (!ok) throw new Error("libcrypto failed to seal a record");
    return out;
  }

  open(nonce: Uint8Array, aad: Uint8Array, sealed: Uint8Array): Uint8Array {
    if (sealed.byteLength < TAG_BYTES) throw new Error("sealed data is shorter than the tag");
    const lib = this.#lib;
    const ctx = this.#open;
    const split = sealed.byteLength - TAG_BYTES;
    // In place (AeadKey.open allows it): GCM decrypts over its own ciphertext, which
    // spares a new, zeroed 64 KiB buffer per record.
    const out = sealed.subarray(0, split);
    const tag = sealed.subarray(split);
    let ok = lib.EVP_CipherInit_ex(ctx, null, null, null, nonce, 0) === 1;
    if (ok && aad.byteLength > 0) ok = lib.EVP_CipherUpdate(ctx, null, this.#length, aad, aad.byteLength) === 1;
    if (ok && split > 0) ok = lib.EVP_CipherUpdate(ctx, out, this.#length, out, split) === 1;
    if (ok) ok = lib.EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) === 1;
    if (!ok) throw new Error("libcrypto failed to open a record");
    // Final checks the tag: 1 when it matches, 0 when the record was changed.
    if (lib.EVP_CipherFinal_ex(ctx, out, this.#length) !== 1) {
      // Nothing unauthenticated is left behind.
      out.fill(0);
      throw new Error("Unsupported state or unable to authenticate data");
    }
    return out;
  }

  recycle(sealed: Uint8Array): void {
    recycleSealedRecord(sealed);
  }
}

function openLibrary(): LibCrypto {
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const names = LIBRARY_NAMES[deno.build.os] ?? LIBRARY_NAMES.linux!;
  const failures: string[] = [];
  for (const name of names) {
    try {
      return deno.dlopen(name, SYMBOLS).symbols;
    } catch (error) {
      // Without --allow-ffi every name fails the same way: say that once.
      const kind = (error as Error).name;
      if (kind === "NotCapable" || kind === "PermissionDenied") throw new Error("FFI is not permitted");
      failures.push((error as Error).message);
    }
  }
  throw new Error(`libcrypto 3 was not found: ${failures.join("; ")}`);
}

/** The OpenSSL record cipher, or an Error saying why it cannot load here. */
export function loadOpenSslAead(): RecordAead | Error {
  let lib: LibCrypto;
  try {
    lib = openLibrary();
  } catch (error) {
    return error as Error;
  }
  return {
    name: "openssl",
    importKey(raw) {
      if (raw.byteLength !== 32) return Promise.reject(new RangeError(`AES-256-GCM key of ${raw.byteLength} bytes, expected 32`));
      try {
        // The context keeps its own copy of the key schedule, so the caller may wipe `raw`.
        return Promise.resolve(new OpenSslKey(lib, raw));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}
