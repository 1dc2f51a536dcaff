// Property tests: random bytes and random mutations of genuine messages fed to
// the handshake decoders, the handshake state machine, the record opener and
// the certificate validator only ever produce Skiff's own errors, never
// anything else, and always settle.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProtocolError, SecurityError, SkiffError } from "../../../src/errors.ts";
import { validatePeerCertificate } from "../../../src/ca/validate.ts";
import { createHandshake } from "../../../src/link/handshake.ts";
import { RecordOpener, RecordSealer } from "../../../src/link/records.ts";
import {
  decodeAuthFlight,
  decodeFrames,
  decodeLinkAccepted,
  decodePlaintextMessage,
} from "../../../src/protocol/handshake.ts";
import { connect, network, within } from "./helpers.ts";

const runs = { numRuns: 300 };

function onlySkiffErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
  }
}

async function settlesWithSkiffError(promise: Promise<unknown>): Promise<boolean> {
  try {
    await within(promise, 3000);
    return true;
  } catch (err) {
    if (err instanceof SkiffError) return false;
    throw err;
  }
}

/** A genuine message with random byte flips, truncation or extension. */
const mutation = fc.record({
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  extra: fc.uint8Array({ maxLength: 8 }),
});

function mutate(message: Uint8Array, m: { flips: [number, number][]; cut: number | undefined; extra: Uint8Array }): Uint8Array {
  let out = message.slice();
  for (const [at, x] of m.flips) if (out.length) out[at % out.length]! ^= x;
  if (m.cut !== undefined && out.length) out = out.subarray(0, m.cut % out.length);
  return new Uint8Array([...out, ...m.extra]);
}

const changed = (a: Uint8Array, b: Uint8Array) => a.length !== b.length || a.some((x, i) => x !== b[i]);

describe("fuzzing the handshake decoders", () => {
  it("random bytes into every decoder give a result or a ProtocolError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlySkiffErrors(() => decodePlaintextMessage(bytes));
        onlySkiffErrors(() => decodeAuthFlight(bytes));
        onlySkiffErrors(() => decodeLinkAccepted(bytes));
        onlySkiffErrors(() => decodeFrames(bytes, 1));
      }),
      { numRuns: 2000 },
    );
  });

  it("framed random bodies with random lengths give a result or a ProtocolError", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffff }), fc.uint8Array({ maxLength: 200 }), (type, length, body) => {
        const frame = Uint8Array.of(1, 0x16, type, length >>> 16, (length >>> 8) & 255, length & 255, ...body);
        onlySkiffErrors(() => decodePlaintextMessage(frame));
        onlySkiffErrors(() => decodeAuthFlight(frame.subarray(2)));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("fuzzing the handshake state machine", () => {
  it("an acceptor fed random bytes fails with a Skiff error and never hangs", async () => {
    const net = await network();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (bytes) => {
        const acceptor = createHandshake({ role: "acceptor", identity: net.west, trust: net.ca.trust });
        await acceptor.start();
        await settlesWithSkiffError(acceptor.receive(bytes));
      }),
      runs,
    );
  });

  it("mutated genuine handshake messages never establish a link and only raise Skiff errors", async () => {
    const net = await network();
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 4 }), mutation, async (which, m) => {
        const dialer = createHandshake({ role: "dialer", identity: net.east, trust: net.ca.trust, expectedPeerName: "west" });
        const acceptor = createHandshake({ role: "acceptor", identity: net.west, trust: net.ca.trust });
        let mutatedAny = false;
        // Messages in flight order: 0 ClientHello, 1 ServerHello, 2 acceptor flight, 3 dialer flight, 4 LinkAccepted.
        const tamper = (message: Uint8Array, index: number) => {
          if (index !== which) return [message];
          const next = mutate(message, m);
          mutatedAny = changed(message, next);
          return [next];
        };
        const out = await within(
          connect(dialer, acceptor, {
            toAcceptor: (msg, i) => tamper(msg, i === 0 ? 0 : 3),
            toDialer: (msg, i) => tamper(msg, i === 0 ? 1 : i === 1 ? 2 : 4),
          }).then((o) => o),
          5000,
        );
        for (const side of [out.dialer, out.acceptor]) {
          if (side && !side.ok) expect(side.error).toBeInstanceOf(SkiffError);
        }
        if (mutatedAny) {
          // The tampered side (the receiver of the changed message) never finishes.
          const receiver = which === 0 || which === 3 ? out.acceptor : out.dialer;
          expect(receiver?.ok).not.toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("fuzzing the record opener", () => {
  it("random bytes give a SecurityError or ProtocolError, never data", async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const opener = new RecordOpener(key);
        try {
          await within(opener.open(bytes));
          throw new Error("random bytes opened as a record");
        } catch (err) {
          expect(err instanceof SecurityError || err instanceof ProtocolError).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("a mutated genuine record never opens; the original always does", async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 100 }), mutation, async (plaintext, m) => {
        const record = await new RecordSealer(key).seal(plaintext);
        const mutated = mutate(record, m);
        const opener = new RecordOpener(key);
        if (!changed(record, mutated)) {
          expect((await opener.open(mutated)).type).toBe("data");
          return;
        }
        const err = await opener.open(mutated).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err instanceof SecurityError || err instanceof ProtocolError).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("any interleaving of drop, duplicate, swap and bit flip is caught at the first anomaly", async () => {
    const key = crypto.getRandomValues(new Uint8Array(32));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("deliver", "drop", "duplicate", "swap", "flip"), { minLength: 1, maxLength: 12 }),
        async (actions) => {
          const sealer = new RecordSealer(key);
          const opener = new RecordOpener(key);
          const records = await Promise.all(actions.map((_, i) => sealer.seal(Uint8Array.of(i))));
          const wire: { record: Uint8Array; genuineIndex: number | undefined }[] = [];
          for (let i = 0; i < records.length; i++) {
            const r = records[i]!;
            switch (actions[i]) {
              case "deliver":
                wire.push({ record: r, genuineIndex: i });
                break;
              case "drop":
                break;
              case "duplicate":
                wire.push({ record: r, genuineIndex: i }, { record: r, genuineIndex: i });
                break;
              case "swap": {
                const prev = wire.pop();
                wire.push({ record: r, genuineIndex: i });
                if (prev) wire.push(prev);
                break;
              }
              case "flip": {
                const f = r.slice();
                f[f.length - 1]! ^= 1;
                wire.push({ record: f, genuineIndex: undefined });
                break;
              }
            }
          }
          // Only an exact in-order prefix may open; the first anomaly fails and so does everything after.
          let expected = 0;
          let failed = false;
          for (const item of wire) {
            const ok = await opener.open(item.record).then(
              () => true,
              (e: unknown) => {
                expect(e).toBeInstanceOf(SkiffError);
                return false;
              },
            );
            if (failed) {
              expect(ok).toBe(false);
              continue;
            }
            if (item.genuineIndex === expected) {
              expect(ok).toBe(true);
              expected++;
            } else {
              expect(ok).toBe(false);
              failed = true;
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("fuzzing certificate validation", () => {
  it("mutated certificates are refused with a SecurityError, never another exception", async () => {
    const net = await network();
    const der = net.east.certificate;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const mutated = mutate(der, m);
        if (!changed(der, mutated)) return;
        const err = await within(
          validatePeerCertificate(mutated, { trust: net.ca.trust, usedBy: "dialer", now: Date.now() }),
        ).then(
          () => undefined,
          (e: unknown) => e,
        );
        // A flip inside an unsigned part could leave it valid only if it changed nothing signed; the signature covers all but itself.
        expect(err).toBeInstanceOf(SecurityError);
      }),
      { numRuns: 300 },
    );
  });
});
