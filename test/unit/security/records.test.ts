// The SL1 record layer: round trips, the sequence rule under concurrency,
// key updates, and every record-level attack from the design's negative tests
// (tamper, replay, reorder, drop, reflection, truncation, oversize).

import { describe, expect, it } from "vitest";
import { ClosedError, ProtocolError, SecurityError } from "../../../src/errors.ts";
import {
  maxRecordBytes,
  maxRecordPlaintext,
  recordNonce,
  RecordOpener,
  RecordSealer,
  RecordWriter,
  type OpenedRecord,
  type RecordOptions,
} from "../../../src/link/records.ts";
import { AlertCode } from "../../../src/protocol/handshake.ts";
import { hex } from "./helpers.ts";

function secrets() {
  return { aToB: crypto.getRandomValues(new Uint8Array(32)), bToA: crypto.getRandomValues(new Uint8Array(32)) };
}

function channel(options?: RecordOptions) {
  const s = secrets();
  return {
    sealer: new RecordSealer(s.aToB, options),
    opener: new RecordOpener(s.aToB, options),
    backSealer: new RecordSealer(s.bToA, options),
    backOpener: new RecordOpener(s.bToA, options),
  };
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const data = (r: OpenedRecord) => (r.type === "data" ? Array.from(r.data) : r.type);

async function fails(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a failure");
    },
    (err: Error) => err,
  );
}

describe("RecordSealer and RecordOpener", () => {
  it("round-trip data, and the record is header + ciphertext + 16-byte tag", async () => {
    const { sealer, opener } = channel();
    const record = await sealer.seal(bytes(1, 2, 3));
    expect(record.byteLength).toBe(2 + 3 + 16);
    expect(Array.from(record.subarray(0, 2))).toEqual([1, 0x17]);
    expect(data(await opener.open(record))).toEqual([1, 2, 3]);
  });

  it("carry a full 64 KiB record and refuse to seal a larger plaintext", async () => {
    const { sealer, opener } = channel();
    expect(maxRecordPlaintext).toBe(65536);
    const big = crypto.getRandomValues(new Uint8Array(maxRecordPlaintext));
    const record = await sealer.seal(big);
    expect(record.byteLength).toBe(maxRecordBytes);
    const opened = await opener.open(record);
    expect(opened.type === "data" && hex(opened.data) === hex(big)).toBe(true);
    await expect(sealer.seal(new Uint8Array(maxRecordPlaintext + 1))).rejects.toBeInstanceOf(RangeError);
  });

  it("derive the nonce as the static IV XOR the big-endian sequence number", () => {
    const iv = Uint8Array.from({ length: 12 }, (_, i) => i);
    expect(hex(recordNonce(iv, 0))).toBe(hex(iv));
    expect(hex(recordNonce(iv, 0x0102))).toBe("000102030405060708090b09"); // 0x0a^0x01, 0x0b^0x02
    expect(hex(recordNonce(new Uint8Array(12), 2 ** 40 + 5))).toBe("000000000000010000000005");
  });

  it("reject a record with any single bit flipped: header, ciphertext or tag (fatal)", async () => {
    const { sealer } = channel();
    const s = secrets();
    const record = await new RecordSealer(s.aToB).seal(bytes(9, 8, 7, 6));
    for (let i = 0; i < record.byteLength; i++) {
      const opener = new RecordOpener(s.aToB);
      const tampered = record.slice();
      tampered[i]! ^= 0x01;
      const err = await fails(opener.open(tampered));
      expect(err instanceof SecurityError || err instanceof ProtocolError, `byte ${i}`).toBe(true);
      // ...and the opener stays failed, even for a genuine record.
      await expect(opener.open(record)).rejects.toBe(err);
    }
    expect(sealer).toBeDefined();
  });

  it("reject a record whose content type was changed (the header is authenticated)", async () => {
    const { sealer, opener } = channel();
    const record = await sealer.seal(bytes(1));
    record[1] = 0x15;
    expect((await fails(opener.open(record))).message).toMatch(/bad_record_mac/);
  });

  it("reject a replayed record", async () => {
    const { sealer, opener } = channel();
    const first = await sealer.seal(bytes(1));
    await opener.open(first);
    expect((await fails(opener.open(first))).message).toMatch(/record 1 .*failed authentication.*replayed/);
  });

  it("reject reordered records", async () => {
    const { sealer, opener } = channel();
    const one = sealer.seal(bytes(1));
    const two = sealer.seal(bytes(2));
    expect(await fails(opener.open(await two))).toBeInstanceOf(SecurityError);
    await expect(opener.open(await one)).rejects.toBeInstanceOf(SecurityError);
  });

  it("reject a stream with a dropped record", async () => {
    const { sealer, opener } = channel();
    await sealer.seal(bytes(1));
    expect(await fails(opener.open(await sealer.seal(bytes(2))))).toBeInstanceOf(SecurityError);
  });

  it("reject a record reflected back to its sender (each direction has its own key)", async () => {
    const { sealer, backOpener } = channel();
    expect((await fails(backOpener.open(await sealer.seal(bytes(1))))).message).toMatch(/reflected/);
  });

  it("reject a record from another session", async () => {
    const a = channel();
    const b = channel();
    expect(await fails(b.opener.open(await a.sealer.seal(bytes(1))))).toBeInstanceOf(SecurityError);
  });

  it("treat an authenticated close_notify as a clean end and anything after it as an error", async () => {
    const { sealer, opener } = channel();
    await opener.open(await sealer.seal(bytes(1)));
    expect((await opener.open(await sealer.sealClose())).type).toBe("close");
    expect(opener.closed).toBe(true);
    expect(() => opener.end()).not.toThrow();
    await expect(sealer.seal(bytes(2))).rejects.toBeInstanceOf(ClosedError);
    await expect(opener.open(new Uint8Array(40))).rejects.toThrow(/after its closing alert/);
  });

  it("report a transport end without close_notify as truncation", async () => {
    const { sealer, opener } = channel();
    await opener.open(await sealer.seal(bytes(1)));
    expect(() => opener.end()).toThrow(SecurityError);
    expect(() => opener.end()).toThrow(/without an authenticated close_notify: the data may have been truncated/);
  });

  it("report a peer's fatal alert with its meaning", async () => {
    const { sealer, opener } = channel();
    const err = await fails(opener.open(await sealer.sealAlert(AlertCode.BadRecordMac)));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/the peer ended the link with alert bad_record_mac/);
  });

  it("reject oversized, short, wrong-version, unknown-type and handshake records before decrypting", async () => {
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(maxRecordBytes + 1), /exceeds the 65554-byte limit/],
      [new Uint8Array(17), /shorter than the 18-byte minimum/],
      [Uint8Array.of(2, 0x17, ...new Uint8Array(20)), /version 2/],
      [Uint8Array.of(1, 0x99, ...new Uint8Array(20)), /unknown content type 0x99/],
      [Uint8Array.of(1, 0x16, ...new Uint8Array(20)), /handshake record after the handshake/],
      ["text" as unknown as Uint8Array, /not binary/],
    ];
    for (const [record, message] of cases) {
      const { opener } = channel();
      const err = await fails(opener.open(record));
      expect(err).toBeInstanceOf(ProtocolError);
      expect(err.message).toMatch(message);
    }
  });
});

describe("the sequence rule", () => {
  it("64 concurrent seals of mixed sizes take consecutive numbers and settle in call order", async () => {
    const { sealer, opener } = channel();
    const sizes = Array.from({ length: 64 }, (_, i) => (i % 2 ? 65536 : 16));
    const settled: number[] = [];
    const sealing = sizes.map((size, i) => {
      const plaintext = new Uint8Array(size).fill(i);
      return sealer.seal(plaintext).then((record) => {
        settled.push(i);
        return record;
      });
    });
    const records = await Promise.all(sealing);
    expect(settled).toEqual(sizes.map((_, i) => i));
    // Opened in order, every record authenticates: no nonce was used twice or skipped.
    for (let i = 0; i < records.length; i++) {
      const opened = await opener.open(records[i]!);
      expect(opened.type === "data" && opened.data[0]).toBe(i);
    }
  });

  it("concurrent opens of records arriving in order all succeed and settle in arrival order", async () => {
    const { sealer, opener } = channel();
    const records: Uint8Array[] = [];
    for (let i = 0; i < 32; i++) records.push(await sealer.seal(new Uint8Array(i % 3 ? 30000 : 1).fill(i)));
    const settled: number[] = [];
    const opened = await Promise.all(records.map((r, i) => opener.open(r).then((o) => (settled.push(i), o))));
    expect(settled).toEqual(records.map((_, i) => i));
    expect(opened.map((o) => o.type === "data" && o.data[0])).toEqual(records.map((_, i) => i));
  });

  it("once the key is ready, the caller's buffer may be reused as soon as seal() returns", async () => {
    const { sealer, opener } = channel();
    await opener.open(await sealer.seal(bytes(0))); // both keys derived
    const buffer = new Uint8Array(1000).fill(1);
    const pending = sealer.seal(buffer);
    buffer.fill(2);
    const opened = await opener.open(await pending);
    expect(opened.type === "data" && opened.data.every((b) => b === 1)).toBe(true);
  });
});

describe("key updates", () => {
  it("a writer updates keys after the configured number of records and the reader follows", async () => {
    const limits = { keyUpdateAfterRecords: 3 };
    const s = secrets();
    const sealer = new RecordSealer(s.aToB, { limits });
    const opener = new RecordOpener(s.aToB, { limits });
    const wire: Uint8Array[] = [];
    const writer = new RecordWriter({ sealer, emit: (r) => wire.push(r), window: 3 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => writer.write(bytes(i))));
    expect(sealer.keyGeneration).toBe(3);
    const kinds: (string | number)[] = [];
    for (const record of wire) {
      const opened = await opener.open(record);
      kinds.push(opened.type === "data" ? opened.data[0]! : opened.type);
    }
    expect(kinds).toEqual([0, 1, 2, "keyUpdate", 3, 4, 5, "keyUpdate", 6, 7, 8, "keyUpdate", 9]);
    expect(opener.keyGeneration).toBe(3);
  });

  it("a key update also comes after the configured number of bytes and after the configured time", async () => {
    let now = 1_000_000;
    const s = secrets();
    const sealer = new RecordSealer(s.aToB, { now: () => now, limits: { keyUpdateAfterBytes: 100, keyUpdateAfterMs: 60_000 } });
    await sealer.seal(new Uint8Array(60));
    expect(sealer.needsKeyUpdate).toBe(false);
    await sealer.seal(new Uint8Array(60));
    expect(sealer.needsKeyUpdate).toBe(true);
    await sealer.sealKeyUpdate();
    expect(sealer.needsKeyUpdate).toBe(false);
    now += 61_000;
    expect(sealer.needsKeyUpdate).toBe(true);
  });

  it("records sealed after a key update do not open under the old key", async () => {
    const s = secrets();
    const sealer = new RecordSealer(s.aToB);
    const update = await sealer.sealKeyUpdate();
    const after = await sealer.seal(bytes(1));
    const opener = new RecordOpener(s.aToB);
    expect((await opener.open(update)).type).toBe("keyUpdate");
    expect(data(await opener.open(after))).toEqual([1]);
    // Without the key update record, the next record fails: the new key is needed.
    const other = new RecordOpener(s.aToB);
    await expect(other.open(after)).rejects.toBeInstanceOf(SecurityError);
  });

  it("concurrent opens across a key update use the right key for each record", async () => {
    const { sealer, opener } = channel();
    const records = [
      await sealer.seal(bytes(1)),
      await sealer.sealKeyUpdate(),
      await sealer.seal(bytes(2)),
      await sealer.sealKeyUpdate(),
      await sealer.seal(bytes(3)),
    ];
    const opened = await Promise.all(records.map((r) => opener.open(r)));
    expect(opened.map(data)).toEqual([[1], "keyUpdate", [2], "keyUpdate", [3]]);
  });

  it("sealing past the hard record limit without a key update is fatal", async () => {
    const { sealer } = channel({ limits: { maxRecordsPerKey: 2 } });
    await sealer.seal(bytes(1));
    await sealer.seal(bytes(2));
    const err = await fails(sealer.seal(bytes(3)));
    expect(err).toBeInstanceOf(SecurityError);
    expect(err.message).toMatch(/reached its limit of 2 records/);
    await expect(sealer.sealKeyUpdate()).rejects.toBe(err);
  });

  it("a peer that sends past the hard limit without a key update is cut off", async () => {
    const s = secrets();
    const sealer = new RecordSealer(s.aToB);
    const opener = new RecordOpener(s.aToB, { limits: { maxRecordsPerKey: 2 } });
    await opener.open(await sealer.seal(bytes(1)));
    await opener.open(await sealer.seal(bytes(2)));
    expect((await fails(opener.open(await sealer.seal(bytes(3))))).message).toMatch(/without a key update/);
  });
});

describe("RecordWriter", () => {
  it("emits records in sequence order while several encrypt at once", async () => {
    const { sealer, opener } = channel();
    const wire: Uint8Array[] = [];
    const writer = new RecordWriter({ sealer, emit: (r) => wire.push(r), window: 8 });
    const sizes = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 65536 : 10));
    await Promise.all(sizes.map((size, i) => writer.write(new Uint8Array(size).fill(i))));
    expect(writer.pending).toBe(0);
    for (let i = 0; i < wire.length; i++) {
      const opened = await opener.open(wire[i]!);
      expect(opened.type === "data" && opened.data[0]).toBe(i);
    }
  });

  it("close() sends close_notify after queued writes, is idempotent, and refuses later writes", async () => {
    const { sealer, opener } = channel();
    const wire: Uint8Array[] = [];
    const writer = new RecordWriter({ sealer, emit: (r) => wire.push(r) });
    void writer.write(bytes(1));
    const closed = writer.close();
    expect(writer.close()).toBe(closed);
    await closed;
    await expect(writer.write(bytes(2))).rejects.toBeInstanceOf(ClosedError);
    expect((await Promise.all(wire.map((r) => opener.open(r)))).map(data)).toEqual([[1], "close"]);
  });

  it("a failing transport fails every pending and later write", async () => {
    const { sealer } = channel();
    let count = 0;
    const writer = new RecordWriter({
      sealer,
      emit: () => {
        if (++count === 2) throw new Error("socket gone");
      },
    });
    const results = await Promise.allSettled([writer.write(bytes(1)), writer.write(bytes(2)), writer.write(bytes(3))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    await expect(writer.write(bytes(4))).rejects.toThrow(/socket gone/);
  });

  it("abort() sends a fatal alert the peer reports", async () => {
    const { sealer, opener } = channel();
    const wire: Uint8Array[] = [];
    const writer = new RecordWriter({ sealer, emit: (r) => wire.push(r) });
    await writer.abort(AlertCode.InternalError);
    await expect(opener.open(wire[0]!)).rejects.toThrow(/internal_error/);
  });
});
