// Every record cipher behind src/platform/ (WebCrypto, node:crypto) passes the
// same Wycheproof AES-256-GCM vectors, agrees with the others byte for byte,
// and drives the record layer the same way, synchronously or not.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodeCryptoAead } from "../../../src/platform/aead-node.ts";
import { webCryptoAead } from "../../../src/platform/aead-web.ts";
import { SPLIT_AT, splitAead } from "../../../src/platform/aead-split.ts";
import { type LibCrypto, LIBCRYPTO_NAMES, openLibCrypto, openSslAead } from "../../../src/platform/aead-openssl.ts";
import type { RecordAead } from "../../../src/platform/types.ts";
import { RecordOpener, RecordSealer, RecordWriter, type OpenedRecord } from "../../../src/link/records.ts";
import { SecurityError } from "../../../src/errors.ts";
import { aesGcmVectors, wycheproofMismatches } from "../../helpers/wycheproof.ts";

const vectors = aesGcmVectors(readFileSync(new URL("../../fixtures/wycheproof/aes_gcm_test.json", import.meta.url), "utf8"));

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

const backends: RecordAead[] = [webCryptoAead, nodeCryptoAead, splitAead];

describe.each(backends.map((b) => [b.name, b] as const))("RecordAead %s", (_name, aead) => {
  it("passes the Wycheproof AES-256-GCM vectors (96-bit IV, 128-bit tag) for open and seal", async () => {
    expect(vectors.length).toBeGreaterThan(30);
    expect(await wycheproofMismatches(aead, vectors)).toEqual([]);
  });

  it("refuses a key that is not 32 bytes", async () => {
    await expect(aead.importKey(new Uint8Array(16))).rejects.toThrow(RangeError);
  });

  it("returns plain Uint8Arrays whose slice() is a copy", async () => {
    const key = await aead.importKey(new Uint8Array(32).fill(7));
    const sealed = await key.seal(new Uint8Array(12), Uint8Array.of(1, 23), Uint8Array.of(1, 2, 3), 2);
    const copy = sealed.slice();
    copy[2]! ^= 1;
    expect(copy[2]).not.toBe(sealed[2]);
    const opened = await key.open(new Uint8Array(12), Uint8Array.of(1, 23), sealed.subarray(2));
    expect(Array.from(opened)).toEqual([1, 2, 3]);
  });
});

describe("node:crypto record cipher", () => {
  it("puts the ciphertext on a 16-byte boundary of its buffer, after the prefix", async () => {
    const key = await nodeCryptoAead.importKey(new Uint8Array(32).fill(1));
    for (const prefix of [0, 2, 16]) {
      const sealed = key.seal(new Uint8Array(12), Uint8Array.of(1, 23), new Uint8Array(65536), prefix) as Uint8Array;
      expect((sealed.byteOffset + prefix) % 16).toBe(0);
      expect(Array.from(sealed.subarray(0, prefix))).toEqual(new Array(prefix).fill(0));
    }
  });
});

describe("node:crypto record buffers", () => {
  const key = () => nodeCryptoAead.importKey(crypto.getRandomValues(new Uint8Array(32)));
  const nonce = () => crypto.getRandomValues(new Uint8Array(12));
  const aad = Uint8Array.of(1, 2);

  it("a large sealed record given back to recycle() lends its buffer to a later seal, which still opens", async () => {
    const k = await key();
    const first = k.seal(nonce(), aad, new Uint8Array(60_000).fill(1), 2) as Uint8Array;
    k.recycle!(first);
    const n = nonce();
    const plaintext = new Uint8Array(60_000).fill(7);
    const second = k.seal(n, aad, plaintext, 2) as Uint8Array;
    expect(second.buffer).toBe(first.buffer);
    expect(same(k.open(n, aad, second.subarray(2)) as Uint8Array, plaintext)).toBe(true);
  });

  it("small records are not pooled: a recycled one is never lent to a large record", async () => {
    const k = await key();
    const small = k.seal(nonce(), aad, new Uint8Array(1000), 2) as Uint8Array;
    k.recycle!(small);
    const large = k.seal(nonce(), aad, new Uint8Array(60_000), 2) as Uint8Array;
    expect(large.buffer).not.toBe(small.buffer);
  });

  it("a record that was not given back is never handed out again", async () => {
    const k = await key();
    const held = k.seal(nonce(), aad, new Uint8Array(60_000).fill(3), 2) as Uint8Array;
    const copy = held.slice();
    for (let i = 0; i < 4; i++) k.seal(nonce(), aad, new Uint8Array(60_000).fill(9), 2);
    expect(same(held, copy)).toBe(true);
  });
});

describe("record ciphers agree", () => {
  it("a record sealed with one backend opens with the other, both ways", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    for (const [from, to] of [
      [webCryptoAead, nodeCryptoAead],
      [nodeCryptoAead, webCryptoAead],
      [splitAead, webCryptoAead],
      [nodeCryptoAead, splitAead],
    ] as const) {
      const sealer = new RecordSealer(secret, { aead: from });
      const opener = new RecordOpener(secret, { aead: to });
      for (const size of [0, 1, 100, SPLIT_AT, SPLIT_AT + 1, 65536]) {
        const plaintext = crypto.getRandomValues(new Uint8Array(size));
        const opened = await opener.open(await sealer.seal(plaintext));
        expect(opened.type).toBe("data");
        expect(same((opened as { data: Uint8Array }).data, plaintext)).toBe(true);
      }
    }
  });

  it("node:crypto seals and opens synchronously once the key is ready, in sequence order across key updates", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const limits = { keyUpdateAfterRecords: 5 };
    const sealer = new RecordSealer(secret, { aead: nodeCryptoAead, limits });
    const opener = new RecordOpener(secret, { aead: nodeCryptoAead, limits });
    const wire: Uint8Array[] = [];
    const writer = new RecordWriter({ sealer, emit: (r) => wire.push(r) });
    await writer.write(Uint8Array.of(0)); // the first key is ready after this
    let sync = 0;
    const pending: Promise<void>[] = [];
    for (let i = 1; i < 40; i++) {
      if (writer.tryWrite(Uint8Array.of(i))) sync++;
      else pending.push(writer.write(Uint8Array.of(i)));
      if (i % 7 === 0) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    expect(sync).toBeGreaterThan(10);
    expect(sealer.keyGeneration).toBeGreaterThan(3);
    const got: number[] = [];
    let syncOpened = 0;
    for (const record of wire) {
      let opened: OpenedRecord | undefined = opener.tryOpen(record);
      if (opened !== undefined) syncOpened++;
      else opened = await opener.open(record);
      if (opened.type === "data") got.push(opened.data[0]!);
    }
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(syncOpened).toBeGreaterThan(10);
  });

  it("split seals and opens records up to SPLIT_AT bytes synchronously, larger ones asynchronously, all in order", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const sealer = new RecordSealer(secret, { aead: splitAead });
    const opener = new RecordOpener(secret, { aead: splitAead });
    const wire: Uint8Array[] = [];
    const writer = new RecordWriter({ sealer, emit: (r) => wire.push(r) });
    await writer.write(Uint8Array.of(0)); // the first key is ready after this
    const sizes = [1, SPLIT_AT, SPLIT_AT + 1, 100, 65536, 5, 5, 40000, 13];
    const results: boolean[] = [];
    const pending: Promise<void>[] = [];
    for (const [i, size] of sizes.entries()) {
      const plaintext = new Uint8Array(size).fill(i + 1);
      const sync = writer.tryWrite(plaintext);
      results.push(sync);
      if (!sync) pending.push(writer.write(plaintext));
    }
    await Promise.all(pending);
    // Synchronous only while nothing asynchronous is in flight ahead of it.
    expect(results).toEqual([true, true, false, false, false, false, false, false, false]);
    const got: number[] = [];
    const syncOpens: boolean[] = [];
    for (const record of wire) {
      let opened = opener.tryOpen(record);
      syncOpens.push(opened !== undefined);
      opened ??= await opener.open(record);
      if (opened.type === "data") got.push(opened.data[0]!, opened.data.byteLength);
    }
    got.splice(0, 2); // the first record, which readied the key
    syncOpens.shift();
    expect(got).toEqual(sizes.flatMap((size, i) => [i + 1, size]));
    expect(syncOpens).toEqual(sizes.map((size) => size <= SPLIT_AT));
  });

  it("a synchronous open of a tampered record throws SecurityError and fails every later call", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const sealer = new RecordSealer(secret, { aead: nodeCryptoAead });
    const opener = new RecordOpener(secret, { aead: nodeCryptoAead });
    const good = await sealer.seal(Uint8Array.of(1));
    expect((await opener.open(good)).type).toBe("data");
    const bad = await sealer.seal(Uint8Array.of(2));
    bad[bad.length - 1]! ^= 1;
    expect(() => opener.tryOpen(bad)).toThrow(SecurityError);
    await expect(opener.open(await sealer.seal(Uint8Array.of(3)))).rejects.toThrow(SecurityError);
  });

  it("trySeal never overtakes a pending seal()", async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const sealer = new RecordSealer(secret, { aead: nodeCryptoAead });
    await sealer.seal(Uint8Array.of(0));
    const pending = sealer.seal(Uint8Array.of(1));
    expect(sealer.trySeal(Uint8Array.of(2))).toBeUndefined();
    await pending;
    expect(sealer.trySeal(Uint8Array.of(2))).toBeInstanceOf(Uint8Array);
  });
});

describe("loading libcrypto 3 for the OpenSSL record cipher (Deno and Bun)", () => {
  const notFound = (name: string): LibCrypto => {
    throw new Error(`${name}: cannot open shared object file`);
  };

  it("tries every name for the operating system and says what each attempt met", () => {
    const tried: string[] = [];
    const aead = openSslAead(() => openLibCrypto("darwin", (name) => (tried.push(name), notFound(name)), () => undefined));
    expect(tried).toEqual(LIBCRYPTO_NAMES.darwin);
    expect(aead).toBeInstanceOf(Error);
    expect((aead as Error).message).toMatch(/^libcrypto 3 was not found: libcrypto\.3\.dylib: cannot open shared object file; /);
  });

  it("stops at an error every name would meet, and reports that one", () => {
    const tried: string[] = [];
    const refused = Object.assign(new Error("Requires ffi access"), { name: "NotCapable" });
    const dlopen = (name: string): LibCrypto => {
      tried.push(name);
      throw refused;
    };
    const fatal = (e: Error) => (e.name === "NotCapable" ? new Error("FFI is not permitted") : undefined);
    const aead = openSslAead(() => openLibCrypto("linux", dlopen, fatal));
    expect(tried).toEqual(["libcrypto.so.3"]);
    expect((aead as Error).message).toBe("FFI is not permitted");
  });

  it("takes the first name that loads", () => {
    const lib = {} as LibCrypto;
    const aead = openSslAead(() => openLibCrypto("darwin", (name) => (name === LIBCRYPTO_NAMES.darwin![1] ? lib : notFound(name)), () => undefined));
    expect(aead).not.toBeInstanceOf(Error);
    expect((aead as RecordAead).name).toBe("openssl");
  });
});
