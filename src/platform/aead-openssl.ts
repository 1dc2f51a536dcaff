// AES-256-GCM for link records through the system's OpenSSL (libcrypto 3),
// called over the runtime's FFI (aead-openssl-deno.ts, aead-openssl-bun.ts),
// synchronously and without copies: a record is sealed straight into a pooled
// buffer and opened in place.
//
// On Deno it is the fast cipher: WebCrypto runs every call on a worker thread
// and answers with a promise (155 us per 64 KiB record), and its node:crypto
// AES-GCM takes 363 us; libcrypto seals the same record in 15 us. On Bun,
// whose node:crypto is as fast, it spares the garbage: node:crypto returns a
// new 64 KiB buffer for every record sealed or opened, and toward a slow reader
// those outlive the young generation (docs/benchmarks.md). The bytes on the
// wire do not change: it is the same AES-256-GCM, checked against the
// Wycheproof vectors in the platform contract (test/platform/contract.ts).

import type { AeadKey, RecordAead } from "./types.ts";
import { recycleSealedRecord, sealedRecordBuffer } from "./sealed-records.ts";

const TAG_BYTES = 16;
const EVP_CTRL_GCM_GET_TAG = 0x10;
const EVP_CTRL_GCM_SET_TAG = 0x11;

/** An opaque C pointer (a Deno PointerObject, a number on Bun); null is the C null pointer. */
export type Pointer = object | number | null;

/** The libcrypto 3 calls a record cipher makes, bound by each runtime's FFI. Buffers are passed as views, offset included. */
export interface LibCrypto {
  EVP_CIPHER_CTX_new(): Pointer;
  EVP_CIPHER_CTX_free(ctx: Pointer): void;
  EVP_aes_256_gcm(): Pointer;
  EVP_CipherInit_ex(ctx: Pointer, cipher: Pointer, engine: Pointer, key: Uint8Array | null, iv: Uint8Array | null, enc: number): number;
  EVP_CipherUpdate(ctx: Pointer, out: Uint8Array | null, outLength: Uint8Array, input: Uint8Array, inputLength: number): number;
  EVP_CipherFinal_ex(ctx: Pointer, out: Uint8Array, outLength: Uint8Array): number;
  EVP_CIPHER_CTX_ctrl(ctx: Pointer, type: number, arg: number, ptr: Uint8Array): number;
}

/**
 * The C signatures of LibCrypto's functions as a runtime's dlopen() wants them:
 * `kinds` names its types, `describe` shapes one function's entry.
 */
export function libCryptoSymbols<T, S>(kinds: { pointer: T; buffer: T; i32: T; void: T }, describe: (parameters: T[], result: T) => S): Record<keyof LibCrypto, S> {
  const { pointer, buffer, i32 } = kinds;
  return {
    EVP_CIPHER_CTX_new: describe([], pointer),
    EVP_CIPHER_CTX_free: describe([pointer], kinds.void),
    EVP_aes_256_gcm: describe([], pointer),
    EVP_CipherInit_ex: describe([pointer, pointer, pointer, buffer, buffer, i32], i32),
    EVP_CipherUpdate: describe([pointer, buffer, buffer, buffer, i32], i32),
    EVP_CipherFinal_ex: describe([pointer, buffer, buffer], i32),
    EVP_CIPHER_CTX_ctrl: describe([pointer, i32, i32, buffer], i32),
  };
}

/** libcrypto 3's file names per operating system (as Node's process.platform and Deno's build.os name them), for the system's loader. */
export const LIBCRYPTO_NAMES: Record<string, string[]> = {
  linux: ["libcrypto.so.3"],
  darwin: ["libcrypto.3.dylib", "/opt/homebrew/lib/libcrypto.3.dylib", "/usr/local/lib/libcrypto.3.dylib"],
  windows: ["libcrypto-3-x64.dll"],
  win32: ["libcrypto-3-x64.dll"],
};

/**
 * The first of this operating system's libcrypto names that `dlopen` loads.
 * `fatal` turns an error that every name would meet (no FFI permission) into
 * the one to report.
 */
export function openLibCrypto(os: string, dlopen: (name: string) => LibCrypto, fatal: (error: Error) => Error | undefined): LibCrypto {
  const failures: string[] = [];
  for (const name of LIBCRYPTO_NAMES[os] ?? LIBCRYPTO_NAMES.linux!) {
    try {
      return dlopen(name);
    } catch (error) {
      const stop = fatal(error as Error);
      if (stop !== undefined) throw stop;
      failures.push((error as Error).message);
    }
  }
  throw new Error(`libcrypto 3 was not found: ${failures.join("; ")}`);
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

/**
 * The OpenSSL record cipher over `open()`'s binding of libcrypto, or an Error
 * saying why it cannot load here.
 */
export function openSslAead(open: () => LibCrypto): RecordAead | Error {
  let lib: LibCrypto;
  try {
    lib = open();
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
